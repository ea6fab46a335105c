// Scenario (slow): rolling maintenance on real agents in namespaces.
// `umbra maintenance --rolling` walks h1, h2, h3 one at a time; its --run
// command for each host asks the test (the operator's hands) to restart
// that host's agent, as an upgrade would, and waits until it has. A client
// polls the VIP every 5 ms throughout, each request with one retry: none
// fails, and no two hosts hold the VIP at any look.
//
// Run alone: bun test test/rolling.slow.test.ts   (needs root; CI is root)

import { afterAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDemoCluster, withDigest, sleep, type DemoCluster } from "../src/demo/cluster.ts";
import { cleanupStale } from "../src/demo/topology.ts";

const PREFIX = "ur-";
const ROOT = join(import.meta.dir, "..");
const NODE = join(ROOT, "node_modules/.bin/node");
const isRoot = process.getuid?.() === 0;
let cluster: DemoCluster | null = null;
const scratch = mkdtempSync(join(tmpdir(), "umbra-rolling-"));

afterAll(async () => {
  await cluster?.destroy();
  await cleanupStale(PREFIX);
  rmSync(scratch, { recursive: true, force: true });
});

describe.skipIf(!isRoot)("rolling maintenance (slow)", () => {
  test("three hosts, one at a time, each agent restarted while drained: no client request fails (one retry), never two holders", withDigest(async () => {
    // Usage errors come before anything is signed: exit 2.
    const usage = (args: string[]) => spawnSync(NODE, [join(ROOT, "src/cli/main.ts"), "maintenance", "--rolling", ...args, "--key", "/nonexistent"], { encoding: "utf8", timeout: 20_000 });
    expect(usage(["h1", "--reason", "x"]).status).toBe(2); // names no host: it walks them itself
    expect(usage([]).stderr).toContain("--reason TEXT is required");
    expect(usage(["--reason", "x", "--hosts", "h1,h1"]).stderr).toContain("names each host once");
    await cleanupStale(PREFIX);
    const c = (cluster = await startDemoCluster({ prefix: PREFIX }));
    expect(await c.waitForHolders((h) => h.length === 1, 30_000)).toEqual(["h1"]);
    const client = c.startPoller({ intervalMs: 5, timeoutMs: 100, retries: 1 });
    // The command asks for the host's restart (a file) and waits for the test to say it is done (another).
    const run = `touch '${scratch}'/restart-$UMBRA_HOST; i=0; while [ ! -e '${scratch}'/restarted-$UMBRA_HOST ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; [ -e '${scratch}'/restarted-$UMBRA_HOST ]`;
    const cli = spawn(NODE, [join(ROOT, "src/cli/main.ts"), "maintenance", "--rolling", "--hosts", "h1,h2,h3", "--run", run, "--reason", "kernel update", "--key", c.operatorKey, "--wait-seconds", "60", "--api", c.apiSocketOf("h2")], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    cli.stdout!.on("data", (b: Buffer) => (out += b.toString()));
    cli.stderr!.on("data", (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => cli.on("exit", (code) => r(code)));
    let twoHolders = 0;
    let code: number | null | undefined;
    const t0 = Date.now();
    for (let i = 0; i < 10_000 && Date.now() - t0 < 240_000 && code === undefined; i++) {
      for (const h of ["h1", "h2", "h3"]) {
        if (!existsSync(join(scratch, `restart-${h}`)) || existsSync(join(scratch, `restarted-${h}`)) ) continue;
        await c.stopAgent(h);
        c.restartAgent(h);
        writeFileSync(join(scratch, `restarted-${h}`), "");
      }
      if ((await c.vipHolders()).length > 1) twoHolders++;
      code = await Promise.race([exited, sleep(50).then(() => undefined)]);
    }
    await sleep(500);
    await client.stop();
    console.log(`rolling.slow: ${out.trim().split("\n").join(" | ")}`);
    expect(code).toBe(0);
    expect(out).toContain("[3/3] h3: back in");
    expect(twoHolders).toBe(0);
    const failed = client.samples.filter((s) => !s.ok);
    expect(client.samples.length).toBeGreaterThan(1_000);
    expect(failed).toEqual([]);
    const retried = client.samples.filter((s) => (s as { attempts?: number }).attempts === 2).length;
    console.log(`rolling.slow: ${client.samples.length} requests, ${retried} needed the retry, ${failed.length} failed; ${(Date.now() - t0) / 1000} s`);
    expect(await c.vipHolders()).toHaveLength(1);
  }), 300_000);
});

if (!isRoot) console.warn("rolling.slow.test.ts: skipped, needs root for network namespaces");
