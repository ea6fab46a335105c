// Scenario (slow): real agents in namespaces. The primary h1 is cut off and
// a shadow takes over; h1 comes back, and once it has been alive, healthy
// and in sync with the holder's state for the service's moveBackAfterMs
// (3 s here), the holder hands the service back to it in person. Never two
// hosts with the VIP while it happens; the client sees no gap near a lease.
//
// Run alone: bun test test/moveback.slow.test.ts   (needs root; CI is root)

import { afterAll, describe, expect, test } from "bun:test";
import { startDemoCluster, sleep, type DemoCluster } from "../src/demo/cluster.ts";
import { cleanupStale } from "../src/demo/topology.ts";
import { apiJson, type StatusDoc } from "../src/api/index.ts";

const PREFIX = "ue-";
const MOVE_BACK_MS = 3_000;
const isRoot = process.getuid?.() === 0;
let cluster: DemoCluster | null = null;

afterAll(async () => {
  await cluster?.destroy();
  await cleanupStale(PREFIX);
});

describe.skipIf(!isRoot)("moving back to the primary (slow)", () => {
  test("after a failover, the service goes back to the primary once it has been fit and in sync for moveBackAfterMs, handed over in person", async () => {
    await cleanupStale(PREFIX);
    const c = (cluster = await startDemoCluster({ prefix: PREFIX, moveBackAfterMs: MOVE_BACK_MS }));
    expect(await c.waitForHolders((h) => h.length === 1, 30_000)).toEqual(["h1"]);
    await c.topo.partition("h1");
    const shadow = (await c.waitForHolders((h) => h.length === 1 && h[0] !== "h1", 15_000))[0]!;
    await c.topo.heal("h1");
    const healedAt = Date.now();
    // Not at once: h1 must be heard alive and in sync for MOVE_BACK_MS first.
    let twoHolders = 0;
    let backAt: number | null = null;
    let shown: NonNullable<StatusDoc["services"][number]["moveBack"]> | null = null;
    for (let i = 0; i < 1_000 && Date.now() - healedAt < MOVE_BACK_MS + 15_000; i++) {
      // The holder's status says where and when it will move the service back.
      if (shown === null) {
        const st = (await apiJson({ socket: c.apiSocketOf(shadow) }, "GET", "/status", undefined, 1_000)) as StatusDoc;
        shown = st.services.find((sv) => sv.name === "web")?.moveBack ?? null;
      }
      const holders = await c.vipHolders();
      if (holders.length > 1) twoHolders++;
      if (holders.length === 1 && holders[0] === "h1") {
        backAt = Date.now();
        break;
      }
      await sleep(20);
    }
    expect(twoHolders).toBe(0);
    expect(shown?.to).toBe("h1");
    expect(shown!.inMs).toBeLessThanOrEqual(MOVE_BACK_MS);
    expect(backAt).not.toBeNull();
    expect(backAt! - healedAt).toBeGreaterThanOrEqual(MOVE_BACK_MS);
    const back = c.logs.find((l) => l.host === "h1" && l.event === "certified" && l.holder === "h1" && l.from === shadow);
    expect(back).toMatchObject({ reason: "handover" });
    console.log(`moveback.slow: ${shadow} took over; h1 back ${backAt! - healedAt} ms after the heal (moveBackAfterMs ${MOVE_BACK_MS})`);
    // and it stays there
    await sleep(1_000);
    expect(await c.vipHolders()).toEqual(["h1"]);
    expect(c.logs.filter((l) => l.level === "error")).toEqual([]);
  }, 120_000);
});

if (!isRoot) console.warn("moveback.slow.test.ts: skipped, needs root for network namespaces");
