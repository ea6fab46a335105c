// Scenario (slow): discovery without a single point of failure, on real
// agents in network namespaces. Every agent's DHT node listens on its
// [[hosts]] address, and the agents bootstrap from one another as well as
// from the bootstrap node. With the bootstrap node stopped, a restarted
// agent rejoins its peers through them; with every node it knows down, an
// agent says so within two seconds of trying, keeps trying, and joins the
// first peer that comes back.
//
// Run alone: bun test test/discovery.slow.test.ts   (needs root; CI is root)

import { afterAll, describe, expect, test } from "bun:test";
import { startDemoCluster, withDigest, sleep, BOOTSTRAP, type DemoCluster, type LogLine } from "../src/demo/cluster.ts";
import { cleanupStale } from "../src/demo/topology.ts";
import { connectedOf } from "./adapters/cluster-waits.ts";

const PREFIX = "uy-";
const isRoot = process.getuid?.() === 0;
let cluster: DemoCluster | null = null;

afterAll(async () => {
  await cluster?.destroy();
  await cleanupStale(PREFIX);
});

/** Polls until `host` is connected to `peers`; the time it took, or null after timeoutMs. */
async function untilConnected(c: DemoCluster, host: string, peers: string[], timeoutMs: number): Promise<number | null> {
  const t0 = Date.now();
  for (let i = 0; i < 10_000 && Date.now() - t0 < timeoutMs; i++) {
    if ((await connectedOf(c, host)).join() === peers.join()) return Date.now() - t0;
    await sleep(50);
  }
  return null;
}

const eventsOf = (logs: readonly LogLine[], host: string, event: string, since: number) => logs.filter((l) => l.host === host && l.event === event && Date.parse(l.ts) >= since);

describe.skipIf(!isRoot)("discovery without a single point of failure (slow)", () => {
  test("with the bootstrap node stopped a restarted agent rejoins through its peers; with every node down it says so, keeps trying, and joins the first back", withDigest(async () => {
    await cleanupStale(PREFIX);
    cluster = await startDemoCluster({ prefix: PREFIX });
    const c = cluster;
    expect(await c.waitForHolders((h) => h.length === 1, 30_000)).toEqual(["h1"]);
    expect(await untilConnected(c, "h3", ["h1", "h2"], 10_000)).not.toBeNull();

    await c.stopAgent(BOOTSTRAP.name);
    await c.stopAgent("h3");
    c.restartAgent("h3");
    const rejoinMs = await untilConnected(c, "h3", ["h1", "h2"], 15_000);
    console.log(`discovery: h3 restarted with the bootstrap node down, connected to h1 and h2 ${rejoinMs} ms after its start`);
    expect(rejoinMs).not.toBeNull();
    expect(await c.waitForHolders((h) => h.length === 1, 5_000)).toEqual(["h1"]);

    // Every node h3 knows down: it starts anyway, says so, and keeps asking.
    await Promise.all([c.stopAgent("h1"), c.stopAgent("h2"), c.stopAgent("h3")]);
    const aloneAt = Date.now();
    c.restartAgent("h3");
    // It says so first, then goes on starting: wait for both lines.
    const logged = () => eventsOf(c.logs, "h3", "dht-unreachable", aloneAt).length > 0 && eventsOf(c.logs, "h3", "started", aloneAt).length > 0;
    for (let i = 0; i < 100 && !logged(); i++) await sleep(100);
    const said = eventsOf(c.logs, "h3", "dht-unreachable", aloneAt);
    console.log(`discovery: alone, h3 said dht-unreachable ${said.map((l) => Date.parse(l.ts) - aloneAt)} ms and started ${eventsOf(c.logs, "h3", "started", aloneAt).map((l) => Date.parse(l.ts) - aloneAt)} ms after its restart`);
    expect(said.length).toBe(1);
    expect(said[0]!.effect).toContain("still trying");
    expect(eventsOf(c.logs, "h3", "started", aloneAt).length).toBe(1);
    c.restartAgent("h1");
    const backMs = await untilConnected(c, "h3", ["h1"], 30_000);
    console.log(`discovery: h1 restarted, h3 connected to it ${backMs} ms later`);
    expect(backMs).not.toBeNull();
  }), 180_000);
});
