// Scenario (slow): the NAT lab. Three sites, each host behind its own NAT
// router on a bridged "internet" (203.0.113.0/24): h1 behind a NAT that
// keeps source ports, h2 and h3 behind ones that draw a random port for
// every destination (no punching gets through between those two); one
// bootstrap host on the internet, and one `bootstrap` entry in every
// agent's config, as the README's bring-up shows. The mesh must form (h2
// and h3 through the bootstrap host's relay, and `umbra status` saying so),
// the service must have a holder, and state must replicate.
//
// It failed at first for two reasons of ours (issue 16): the bootstrap host
// ran one DHT node, and an agent behind NAT needs replies from at least
// three to learn what kind of NAT it is behind; and an agent without an
// address forced its DHT node persistent, which behind a NAT left its
// routing table empty. And the pair behind random NATs never connected:
// nothing relayed for them.
//
// Run alone: bun test test/natlab.slow.test.ts   (needs root; CI is root)
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { join, resolve } from "node:path";
import { BOOTSTRAP, INTERNET, NODE, startDemoCluster, withDigest, type DemoCluster } from "../src/demo/cluster.ts";
import { cleanupStale } from "../src/demo/topology.ts";
import { connectedOf, reachOf, until } from "./adapters/cluster-waits.ts";

const PREFIX = "un-";
const ROOT = resolve(import.meta.dir, "..");
const MAIN = join(ROOT, "src/cli/main.ts");
const isRoot = process.getuid?.() === 0;
let cluster: DemoCluster | null = null;

afterEach(async () => {
  await cluster?.destroy();
  cluster = null;
});
afterAll(async () => {
  await cleanupStale(PREFIX);
});

describe.skipIf(!isRoot)("the NAT lab (slow)", () => {
  test("behind port-preserving and randomizing NATs with one bootstrap entry: the mesh forms, relayed where it must be, the service has a holder, state replicates", withDigest(async () => {
    await cleanupStale(PREFIX);
    const t0 = Date.now();
    cluster = await startDemoCluster({ prefix: PREFIX, nat: { h1: "preserving", h2: "random", h3: "random" } });
    const c = cluster;
    // No host has an address: each found the others through the DHT nodes
    // of the one bootstrap entry, and punched through its NAT or relayed.
    const meshMs = await everyPairConnected(c, t0);
    const h2sees = await reachOf(c, "h2");
    expect(h2sees.get("h3")).toEqual({ reach: "relayed", via: `bootstrap ${INTERNET.bootstrap}:${BOOTSTRAP.port}` });
    // One holder, mostly h1 (listed first); a lease that lapses in the mesh's first second hands it on (CI at a69f840: h1 dropped it 30 ms after taking it, h3 took over).
    const holders = await c.waitForHolders((h) => h.length === 1, 30_000);
    expect(holders.length).toBe(1);
    const holder = holders[0]!;
    const write = await until(`${holder} (the holder) to acknowledge a write`, 30_000, async () => {
      const r = await c.topo.exec(holder, [NODE, MAIN, "state", "set", "web", "image=registry.local/web:2.5", "--config", c.configOf(holder)]);
      return r.code === 0 ? r.stdout.trim() : null;
    });
    expect(write).toMatch(/^acknowledged in \d+ ms/);
    for (const h of ["h1", "h2", "h3"].filter((x) => x !== holder)) {
      const got = await until(`${h} to hold the write`, 20_000, async () => {
        const r = await c.topo.exec(h, [NODE, MAIN, "state", "get", "web", "image", "--config", c.configOf(h)]);
        return r.code === 0 ? r.stdout.trim() : null;
      });
      expect(got).toBe("registry.local/web:2.5");
    }
    console.log(`natlab: every pair connected ${meshMs} ms after the lab's start; holder ${holder}; write: ${write}; ${await reachLine(c)}`);
  }), 240_000);

  test("a host reachable at its address relays for the two behind randomizing NATs, and status names it", withDigest(async () => {
    await cleanupStale(PREFIX);
    const t0 = Date.now();
    // h1 sits on the internet with its [[hosts]] address: the relay asked
    // first. The bootstrap node relays for no one here, so the pair is linked
    // by an agent's relay or not at all (with it, a pair that met before h1
    // did went through the bootstrap's: correct, but not this test's point).
    cluster = await startDemoCluster({ prefix: PREFIX, nat: { h2: "random", h3: "random" }, bootstrapRelay: false });
    const c = cluster;
    const meshMs = await everyPairConnected(c, t0);
    expect((await reachOf(c, "h2")).get("h3")).toEqual({ reach: "relayed", via: "h1" });
    expect((await reachOf(c, "h3")).get("h2")).toEqual({ reach: "relayed", via: "h1" });
    // One holder; which one depends on when the pairs connected against h1's start-up grace.
    expect((await c.waitForHolders((h) => h.length === 1, 30_000)).length).toBe(1);
    console.log(`natlab: with h1 reachable, every pair connected ${meshMs} ms after the lab's start; ${await reachLine(c)}`);
  }), 240_000);
});

/** Waits until every agent is connected to both others (directly or relayed); the time since t0. */
function everyPairConnected(c: DemoCluster, t0: number): Promise<number> {
  return until("every pair connected", 60_000, async () => {
    const all = await Promise.all(["h1", "h2", "h3"].map((h) => connectedOf(c, h)));
    return all.map((x) => x.join()).join(" ") === "h2,h3 h1,h3 h1,h2" ? Date.now() - t0 : null;
  });
}

/** How each host reaches the others, in one line. */
async function reachLine(c: DemoCluster): Promise<string> {
  const seen = await Promise.all(["h1", "h2", "h3"].map(async (h) => `${h}: ${[...(await reachOf(c, h))].map(([id, r]) => `${id} ${r.reach}${r.via === null ? "" : ` via ${r.via}`}`).join(", ")}`));
  return seen.join("; ");
}
