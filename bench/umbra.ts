// One unplanned-failover trial of umbra in namespaces: the same layout as
// the keepalived trial (hosts on one bridge, a client polling the VIP every
// 5 ms with a 30 ms timeout), the primary's link cut at a random point
// between renewals, downtime from the cut to the first answer from the new
// holder. Overlap is judged from the agents' own actuation logs (same wall
// clock): the new holder's "take-vip" must come after the old holder's
// "vip-removed".

import { startDemoCluster, sleep, type LogLine } from "../src/demo/cluster.ts";
import { downtimeFrom } from "../src/demo/downtime.ts";
import { cleanupStale } from "../src/demo/topology.ts";
import { rng } from "../src/shared/rng.ts";

export const UMBRA_PREFIX = "ub-";

export type TrialResult = { downtimeMs: number | null; maxGapMs: number | null; dualHolderObserved: boolean; newHolder: string | null };

export async function runUmbraTrial(o: { seed: number; pollIntervalMs?: number; pollTimeoutMs?: number; timing?: Record<string, number>; cut?: "link" | "partition" }): Promise<TrialResult> {
  await cleanupStale(UMBRA_PREFIX);
  const r = rng(o.seed);
  const cluster = await startDemoCluster({ prefix: UMBRA_PREFIX, timing: o.timing });
  try {
    await cluster.waitForHolders((h) => h.length === 1 && h[0] === "h1", 30_000);
    const poller = cluster.startPoller({ intervalMs: o.pollIntervalMs ?? 5, timeoutMs: o.pollTimeoutMs ?? 30 });
    // Let the client settle on h1, then cut at a random point in a 100 ms window.
    await sleep(1_000 + Math.floor(r.next() * 100));
    const cutAt = Date.now();
    if (o.cut === "partition") await cluster.topo.partition("h1");
    else await cluster.topo.cutLink("h1");
    let newHolder: string | null = null;
    try {
      const after = await cluster.waitForHolders((h) => h.length >= 1 && !h.includes("h1"), 10_000);
      newHolder = after[0] ?? null;
    } catch {
      newHolder = null;
    }
    await sleep(500);
    await poller.stop();
    const d = newHolder === null ? { downtimeMs: null, maxGapMs: null } : downtimeFrom(poller.samples, cutAt, newHolder);
    const dual = overlapInLogs(cluster.logs);
    if (dual) {
      // Say exactly what overlapped, so the margin can be read.
      for (const l of cluster.logs.filter((x) => ["take-vip", "drop-vip", "vip-removed", "vip-added", "certified", "loop-stall"].includes(x.event))) {
        process.stderr.write(`    ${l.ts} ${l.host} ${l.event} ${l.ms ?? l.gapMs ?? ""} ${l.why ?? l.reason ?? ""}\n`);
      }
    }
    return { downtimeMs: d.downtimeMs, maxGapMs: d.maxGapMs, dualHolderObserved: dual, newHolder };
  } finally {
    await cluster.destroy();
  }
}

/** True if some host started taking the VIP before the previous holder had finished removing it. */
export function overlapInLogs(logs: LogLine[]): boolean {
  type Ev = { at: number; host: string; kind: "take" | "removed" };
  const evs: Ev[] = [];
  for (const l of logs) {
    if (l.event === "take-vip") evs.push({ at: Date.parse(l.ts), host: l.host, kind: "take" });
    if (l.event === "vip-removed") evs.push({ at: Date.parse(l.ts), host: l.host, kind: "removed" });
  }
  evs.sort((a, b) => a.at - b.at);
  const holding = new Set<string>();
  for (const e of evs) {
    if (e.kind === "take") {
      if ([...holding].some((h) => h !== e.host)) return true;
      holding.add(e.host);
    } else holding.delete(e.host);
  }
  return false;
}
