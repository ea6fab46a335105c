// Scenario (slow): real agents in namespaces; both voters of a service are
// frozen (SIGSTOP) together for longer than a lease while the holder runs,
// as a loaded virtual machine stalls some of its processes at once. The
// holder loses its lease (nobody granted it) and drops the VIP, as it must;
// when the voters wake, they read its renewals and its lapsed renewal, and
// the holder takes its lease back: a stall of the voters is not a lost
// holder, and nothing moves.
//
// Run alone: bun test test/stall.slow.test.ts   (needs root; CI is root)

import { afterAll, describe, expect, test } from "bun:test";
import { startDemoCluster, withDigest, sleep, type DemoCluster } from "../src/demo/cluster.ts";
import { cleanupStale } from "../src/demo/topology.ts";

const PREFIX = "ul-";
const isRoot = process.getuid?.() === 0;
/** Past lan's lease (100 ms) and the holder's lapsed renewal (99 ms after its last grant). */
const FREEZE_MS = 160;
const TRIALS = 3;
let cluster: DemoCluster | null = null;

afterAll(async () => {
  await cluster?.destroy();
  await cleanupStale(PREFIX);
});

describe.skipIf(!isRoot)("voters frozen together (slow)", () => {
  test("the holder rides out its voters' stall: it takes its lease back, no vote moves the VIP", withDigest(async () => {
    await cleanupStale(PREFIX);
    const c = (cluster = await startDemoCluster({ prefix: PREFIX }));
    expect(await c.waitForHolders((h) => h.length === 1, 30_000)).toEqual(["h1"]);
    await sleep(1_000);
    for (let i = 0; i < TRIALS; i++) {
      const logsBefore = c.logs.length;
      c.signalAgent("h2", "SIGSTOP");
      c.signalAgent("h3", "SIGSTOP");
      await sleep(FREEZE_MS);
      c.signalAgent("h2", "SIGCONT");
      c.signalAgent("h3", "SIGCONT");
      await sleep(1_500);
      const during = c.logs.slice(logsBefore);
      // The freeze was long enough to cost the lease (else this test shows nothing).
      expect(during.some((l) => l.host === "h1" && l.event === "drop-vip" && l.why === "lease-expired")).toBe(true);
      expect(during.filter((l) => l.event === "certified").map((l) => `${l.host}: ${String(l.holder)}`)).toEqual([]);
      expect(await c.vipHolders()).toEqual(["h1"]);
    }
    const stalls = c.logs.filter((l) => l.event === "loop-stall").map((l) => `${l.host} ${String(l.gapMs)} ms`);
    console.log(`stall.slow: ${TRIALS} freezes of h2 and h3 for ${FREEZE_MS} ms; the loops' stall warnings: ${stalls.join(", ")}`);
    expect(c.logs.filter((l) => l.level === "error")).toEqual([]);
  }), 120_000);
});

if (!isRoot) console.warn("stall.slow.test.ts: skipped, needs root for network namespaces");
