// Waits on a demo cluster that several scenario tests share: which hosts an
// agent is connected to, by its own status, and a bounded poll.
import { sleep, type DemoCluster } from "../../src/demo/cluster.ts";
import { apiJson, type StatusDoc } from "../../src/api/index.ts";

/** Between two polls of `until`. */
const POLL_MS = 100;

/** The other members as `host`'s agent's status lists them; throws while its API does not answer. */
async function othersOf(c: DemoCluster, host: string): Promise<StatusDoc["members"]> {
  const s = (await apiJson({ socket: c.apiSocketOf(host) }, "GET", "/status", undefined, 1_000)) as StatusDoc;
  return s.members.filter((m) => m.id !== host);
}

/** The hosts `host`'s agent has a mesh connection to, by its status, sorted; [] while its API does not answer. */
export async function connectedOf(c: DemoCluster, host: string): Promise<string[]> {
  try {
    return (await othersOf(c, host)).filter((m) => m.connected).map((m) => m.id).sort();
  } catch {
    return [];
  }
}

/** How `host` reaches each other member (MemberDoc.reach and via), by its status. */
export async function reachOf(c: DemoCluster, host: string): Promise<Map<string, { reach: string | undefined; via: string | null }>> {
  return new Map((await othersOf(c, host)).map((m) => [m.id, { reach: m.reach, via: m.via ?? null }]));
}

/** Polls `f` until it gives a value (returned), or throws naming `what` after timeoutMs. */
export async function until<T>(what: string, timeoutMs: number, f: () => Promise<T | null>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (let i = 0; i < 1_000_000 && Date.now() < end; i++) {
    const v = await f();
    if (v !== null) return v;
    await sleep(POLL_MS);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
