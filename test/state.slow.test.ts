// Scenario (slow): state replication between real agents in network
// namespaces, over real hyperswarm. Proves that a config change on the
// primary reaches both shadows and shows as in-sync in `umbra status`, and
// that when the primary is cut off in the middle of a stream of writes,
// every write it acknowledged is on the new holder.
//
// Run alone: bun test test/state.slow.test.ts   (needs root; CI is root)
import { afterAll, describe, expect, test } from "bun:test";
import { createInterface } from "node:readline";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { NODE, startDemoCluster, withDigest, type DemoCluster } from "../src/demo/cluster.ts";
import { cleanupStale } from "../src/demo/topology.ts";
import { until } from "./adapters/cluster-waits.ts";

const PREFIX = "us-";
const ROOT = resolve(import.meta.dir, "..");
const MAIN = join(ROOT, "src/cli/main.ts");
const isRoot = process.getuid?.() === 0;
let cluster: DemoCluster | null = null;
let hookDir: string | null = null;

afterAll(async () => {
  await cluster?.destroy();
  if (hookDir !== null) rmSync(hookDir, { recursive: true, force: true });
  await cleanupStale(PREFIX);
});

async function umbra(c: DemoCluster, host: string, args: string[]) {
  return c.topo.exec(host, [NODE, MAIN, ...args, "--config", c.configOf(host)]);
}

describe.skipIf(!isRoot)("state replication in namespaces (slow)", () => {
  test("a config change on the primary appears on both shadows; status shows them in-sync", withDigest(async () => {
    await cleanupStale(PREFIX);
    // The reconcile hook writes its report where the test can read it.
    hookDir = mkdtempSync(join(tmpdir(), "umbra-state-hook-"));
    const hook = join(hookDir, "reconcile.sh");
    writeFileSync(hook, `#!/bin/sh\nprintf '%s' "$UMBRA_RECONCILE_REPORT" > "${hookDir}/report-$UMBRA_HOST.json"\n`, { mode: 0o755 });
    cluster = await startDemoCluster({ prefix: PREFIX, hooks: { reconcile: hook } });
    const c = cluster;
    await c.waitForHolders((h) => h.length === 1, 30_000);
    const set = await until("h1 to acknowledge a write", 20_000, async () => {
      const r = await umbra(c, "h1", ["state", "set", "web", "image=registry.local/web:2.4", "replicas=3", "--message", "roll out 2.4"]);
      return r.code === 0 ? r : null;
    });
    expect(set.stdout).toMatch(/^acknowledged in \d+ ms: durable here and on h[23]/);
    for (const h of ["h2", "h3"]) {
      const got = await until(`${h} to hold the change`, 10_000, async () => {
        const r = await umbra(c, h, ["state", "get", "web", "image"]);
        return r.code === 0 ? r.stdout.trim() : null;
      });
      expect(got).toBe("registry.local/web:2.4");
      const hist = await umbra(c, h, ["state", "history", "web"]);
      expect(hist.stdout).toContain("roll out 2.4");
    }
    const status = await until("h1 to see both shadows in-sync", 10_000, async () => {
      const r = await umbra(c, "h1", ["status", "--json"]);
      const doc = JSON.parse(r.stdout);
      const rows = doc.replication.map((x: { shadowHostID: string; syncStatus: string }) => `${x.shadowHostID}:${x.syncStatus}`).sort();
      return rows.join(",") === "h2:in-sync,h3:in-sync" ? r : null;
    });
    expect(status.code).toBe(0);
    const table = await umbra(c, "h1", ["status"]);
    expect(table.stdout).toMatch(/\nweb +h1 +h2 +h2 +in-sync +0 /);
    // A bad write is refused with the reason, and changes nothing.
    const bad = await umbra(c, "h1", ["state", "set", "web", "=oops"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('"=oops" is not KEY=VALUE');
  }), 120_000);

  test("a blob reaches both shadows; a 1 MiB change in its middle moves only the chunks around it", withDigest(async () => {
    const c = cluster!;
    const { randomBytes, createHash } = await import("node:crypto");
    const blob = join(c.dir, "app.bin");
    const data = randomBytes(24 * 1024 * 1024);
    writeFileSync(blob, data);
    const put = await umbra(c, "h1", ["state", "put-blob", "web", "app", blob]);
    const logsBefore = c.logs.length;
    expect(put.code).toBe(0);
    expect(put.stdout).toMatch(/^acknowledged in \d+ ms after chunking: app \(24\.0MiB, \d+ chunks/);
    expect(put.stderr).toContain("chunking app: 100%");
    const fetchedOn = (h: string, n: number) => c.logs.filter((l) => l.host === h && l.event === "blob-complete" && l.name === "app").slice(n - 1, n)[0];
    for (const h of ["h2", "h3"]) {
      const done = await until(`${h} to hold the blob`, 30_000, async () => fetchedOn(h, 1) ?? null);
      expect(done.bytesFetched).toBe(24 * 1024 * 1024);
      const out = join(c.dir, `${h}-app.bin`);
      const got = await umbra(c, h, ["state", "get-blob", "web", "app", "--out", out]);
      expect(got.code).toBe(0);
      expect(createHash("sha256").update(readFileSync(out)).digest("hex")).toBe(createHash("sha256").update(data).digest("hex"));
      rmSync(out);
    }
    // 1 MiB changed in the middle: only the chunks around it move.
    randomBytes(1024 * 1024).copy(data, 12 * 1024 * 1024);
    writeFileSync(blob, data);
    expect((await umbra(c, "h1", ["state", "put-blob", "web", "app", blob])).code).toBe(0);
    for (const h of ["h2", "h3"]) {
      const done = await until(`${h} to hold the new blob`, 30_000, async () => fetchedOn(h, 2) ?? null);
      expect(done.bytesFetched).toBeLessThan(2 * 1024 * 1024);
      expect(done.chunksSkipped).toBeGreaterThan(100);
      console.log(`state.slow: ${h} fetched ${done.bytesFetched} bytes (${done.chunksFetched} chunks) for a 1 MiB edit in 24 MiB; ${done.chunksSkipped} chunks already there`);
    }
    const table = await umbra(c, "h2", ["status"]);
    expect(table.stdout).toMatch(/\nweb +binary +app +24\.0MiB +complete/);
    // What the transfers cost the lease loops (three agents and their transfers share this machine's two cores).
    const during = c.logs.slice(logsBefore);
    const stalls = during.filter((l) => l.event === "loop-stall").map((l) => l.gapMs as number);
    const expired = during.filter((l) => l.event === "drop-vip" && l.why === "lease-expired").length;
    console.log(`state.slow: during the blob transfers: ${stalls.length} loop stalls (worst ${Math.max(0, ...stalls)} ms), ${expired} leases expired`);
  }), 120_000);

  test("the primary cut off mid-stream of writes: every acknowledged write is on the new holder", withDigest(async () => {
    const c = cluster!;
    const writer = c.topo.spawn("h1", [NODE, join(ROOT, "test/fixtures/state-writer.ts"), "--api", c.apiSocketOf("h1"), "--count", "400", "--duration-ms", "20000"], {});
    const results: Array<{ k: string; acked: boolean }> = [];
    createInterface({ input: writer.stdout! }).on("line", (l) => results.push(JSON.parse(l)));
    await until("20 acknowledged writes", 20_000, async () => (results.filter((r) => r.acked).length >= 20 ? true : null));
    await c.topo.partition("h1");
    const holder = (await c.waitForHolders((h) => h.length === 1 && h[0] !== "h1", 15_000))[0]!;
    await new Promise<void>((res) => {
      if (writer.exitCode !== null) return res();
      writer.once("exit", () => res());
      writer.kill("SIGTERM");
    });
    const acked = results.filter((r) => r.acked).map((r) => r.k);
    expect(acked.length).toBeGreaterThanOrEqual(20);
    const r = await umbra(c, holder, ["state", "get", "web", "--json"]);
    const cfg = JSON.parse(r.stdout).state.hostConfiguration.deploymentConfig as Record<string, number>;
    const lost = acked.filter((k) => cfg[k] === undefined);
    console.log(`state.slow: ${acked.length} writes acknowledged before and during the cut, ${results.length - acked.length} not; new holder ${holder} holds ${Object.keys(cfg).length} keys`);
    expect(lost).toEqual([]);
    // The new holder reconciled on its own after the failover, and reported it.
    const rec = await until("the new holder's reconcile report", 10_000, async () => c.logs.find((l) => l.host === holder && l.event === "reconciled") ?? null);
    expect(rec).toMatchObject({ reason: "failover", incomplete: false, rolledBack: [] });
    const st = JSON.parse((await umbra(c, holder, ["status", "--json"])).stdout);
    expect(st.reconciliations[0]).toMatchObject({ service: "web", reason: "failover", incomplete: false });
    // ...and ran the service's reconcile hook with the report.
    const reportFile = join(hookDir!, `report-${holder}.json`);
    await until("the reconcile hook's report", 10_000, async () => (existsSync(reportFile) ? true : null));
    expect(JSON.parse(readFileSync(reportFile, "utf8"))).toMatchObject({ service: "web", reason: "failover", incomplete: false });
    // An operator rolls back to the first acknowledged version: later keys go, as a new change.
    const hist = JSON.parse((await umbra(c, holder, ["state", "history", "web", "--json"])).stdout).changes as Array<{ hash: string; message: string }>;
    const first = hist.find((x) => x.message === "roll out 2.4")!;
    const back = await umbra(c, holder, ["state", "reconcile", "web", "--to", first.hash]);
    expect(back.code).toBe(0);
    expect(back.stdout).toMatch(/rolled back: .*k1/);
    const now = JSON.parse((await umbra(c, holder, ["state", "get", "web", "--json"])).stdout).state.hostConfiguration.deploymentConfig;
    expect(now).toEqual({ image: "registry.local/web:2.4", replicas: 3 });
    await c.topo.heal("h1");
    expect(c.logs.filter((l) => l.level === "error")).toEqual([]);
  }), 120_000);
});

if (!isRoot) console.warn("state.slow.test.ts: skipped, needs root for network namespaces");
