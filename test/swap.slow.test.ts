// Scenario (slow): swaps on real agents in namespaces. The service's swap
// window is the whole day and `every` 10 s: h1, the primary, hands the
// service over in person to a shadow once it has held it 10 s, and the
// shadow hands it back 10 s later. The swap hook runs on the host that
// left. A client polls every 2 ms with one retry: no request fails; the
// gap it saw is printed (bench/handover measures the handover's gap).
//
// Run alone: bun test test/swap.slow.test.ts   (needs root; CI is root)

import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDemoCluster, withDigest, sleep, type DemoCluster } from "../src/demo/cluster.ts";
import { cleanupStale } from "../src/demo/topology.ts";
import { apiJson, type StatusDoc } from "../src/api/index.ts";

const PREFIX = "uz-";
const isRoot = process.getuid?.() === 0;
let cluster: DemoCluster | null = null;
const scratch = mkdtempSync(join(tmpdir(), "umbra-swap-"));

afterAll(async () => {
  await cluster?.destroy();
  await cleanupStale(PREFIX);
  rmSync(scratch, { recursive: true, force: true });
});

describe.skipIf(!isRoot)("swaps (slow)", () => {
  test("in its window, the holder swaps roles with a shadow every 10 s, in person; the swap hook runs where it left; no client request fails", withDigest(async () => {
    await cleanupStale(PREFIX);
    const hook = join(scratch, "swap.sh");
    writeFileSync(hook, `#!/bin/sh\necho "$UMBRA_HOST $1" >> '${scratch}/swapped'\n`);
    chmodSync(hook, 0o755);
    const c = (cluster = await startDemoCluster({ prefix: PREFIX, swap: { every: "10s", window: "00:00-24:00" }, hooks: { swap: hook } }));
    expect(await c.waitForHolders((h) => h.length === 1, 30_000)).toEqual(["h1"]);
    const st = (await apiJson({ socket: c.apiSocketOf("h1") }, "GET", "/status", undefined, 1_000)) as StatusDoc;
    expect(st.services[0]!.swap?.inMs).toBeLessThanOrEqual(10_000); // the holder says with whom and when
    const client = c.startPoller({ intervalMs: 2, timeoutMs: 50, retries: 1 });
    const seen: string[] = ["h1"];
    let twoHolders = 0;
    const t0 = Date.now();
    for (let i = 0; i < 5_000 && Date.now() - t0 < 40_000 && seen.length < 3; i++) {
      const h = await c.vipHolders();
      if (h.length > 1) twoHolders++;
      if (h.length === 1 && h[0] !== seen[seen.length - 1]) seen.push(h[0]!);
      await sleep(20);
    }
    await sleep(300);
    await client.stop();
    expect({ twoHolders, seen }).toEqual({ twoHolders: 0, seen: ["h1", "h2", "h1"] }); // the primary, its first shadow, the primary
    const swaps = c.logs.filter((l) => l.event === "certified" && l.host === l.from && l.reason === "handover");
    expect(swaps.length).toBeGreaterThanOrEqual(2);
    expect(existsSync(join(scratch, "swapped"))).toBe(true);
    expect(readFileSync(join(scratch, "swapped"), "utf8")).toContain("h1 web");
    const ok = client.samples.filter((s) => s.ok).map((s) => s.done ?? s.t).sort((a, b) => a - b);
    const failed = client.samples.filter((s) => !s.ok);
    const gap = ok.slice(1).reduce((m, t, i) => Math.max(m, t - ok[i]!), 0);
    console.log(`swap.slow: ${seen.join(" -> ")}; ${client.samples.length} requests, ${failed.length} failed, longest gap between answers ${gap.toFixed(1)} ms`);
    expect(failed).toEqual([]);
  }), 120_000);
});

if (!isRoot) console.warn("swap.slow.test.ts: skipped, needs root for network namespaces");
