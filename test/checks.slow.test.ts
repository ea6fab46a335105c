// Scenario (slow): a service's HTTP health check on real agents in network
// namespaces. The holder's check starts failing (its service answers 503 on
// /health): after `fall` failed runs it hands the VIP over in person to a
// healthy shadow, and no voter votes it back while it stays sick; healthy
// again, it is a candidate again (nothing moves back by itself). Status
// shows each host's health of the service. How fast it moves is measured in
// bench/handover's sibling, not asserted here.
//
// Run alone: bun test test/checks.slow.test.ts   (needs root; CI is root)

import { afterAll, describe, expect, test } from "bun:test";
import { startDemoCluster, withDigest, sleep, type DemoCluster } from "../src/demo/cluster.ts";
import { cleanupStale } from "../src/demo/topology.ts";
import { apiJson, type StatusDoc } from "../src/api/index.ts";

const PREFIX = "uk-";
const isRoot = process.getuid?.() === 0;
let cluster: DemoCluster | null = null;

afterAll(async () => {
  await cluster?.destroy();
  await cleanupStale(PREFIX);
});

const statusOf = async (c: DemoCluster, h: string) => (await apiJson({ socket: c.apiSocketOf(h) }, "GET", "/status", undefined, 5_000)) as StatusDoc;

describe.skipIf(!isRoot)("service health checks on real agents (slow)", () => {
  test("a failing HTTP check moves the VIP to a healthy shadow and keeps it away until it passes", withDigest(async () => {
    await cleanupStale(PREFIX);
    cluster = await startDemoCluster({ prefix: PREFIX, checks: true });
    const c = cluster;
    expect(await c.waitForHolders((h) => h.length === 1, 30_000)).toEqual(["h1"]);
    const web = (await statusOf(c, "h1")).services.find((s) => s.name === "web")!;
    expect(web.health).toMatchObject({ healthy: true });

    c.setSick("h1", true);
    const moved = await c.waitForHolders((h) => h.length === 1 && h[0] !== "h1", 10_000);
    expect(["h2", "h3"]).toContain(moved[0]!);
    const sick = (await statusOf(c, "h1")).services.find((s) => s.name === "web")!;
    expect(sick.health?.healthy).toBe(false);
    expect(sick.health?.why).toContain("HTTP 503");
    // The others hear it from h1's beacons: h1 is kept out everywhere.
    await sleep(1_500);
    for (const h of ["h2", "h3"]) expect((await statusOf(c, h)).services.find((s) => s.name === "web")!.excluded).toEqual(["h1"]);

    // The new holder sick too: the one healthy host left takes it, not h1.
    c.setSick(moved[0]!, true);
    const third = moved[0] === "h2" ? "h3" : "h2";
    expect(await c.waitForHolders((h) => h.length === 1 && h[0] === third, 10_000)).toEqual([third]);

    c.setSick("h1", false);
    c.setSick(moved[0]!, false);
    await sleep(2_000);
    expect(await c.vipHolders()).toEqual([third]); // healthy again is a candidate again, not a reason to move back
    expect((await statusOf(c, third)).services.find((s) => s.name === "web")!.excluded).toEqual([]);
  }), 120_000);
});
