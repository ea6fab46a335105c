// Waits on a demo cluster that several scenario tests share: which hosts an
// agent is connected to, by its own status, and a bounded poll.
import { sleep, type DemoCluster } from "../../src/demo/cluster.ts";
import { apiJson, type StatusDoc } from "../../src/api/index.ts";

/** Between two polls of `until`. */
const POLL_MS = 100;

/** The hosts `host`'s agent has a mesh connection to, by its status, sorted; [] while its API does not answer. */
export async function connectedOf(c: DemoCluster, host: string): Promise<string[]> {
  try {
    const s = (await apiJson({ socket: c.apiSocketOf(host) }, "GET", "/status", undefined, 1_000)) as StatusDoc;
    return s.members.filter((m) => m.id !== host && m.connected).map((m) => m.id).sort();
  } catch {
    return [];
  }
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
