// Scenario (slow): the single executable, built here (scripts/build.ts), runs
// a three-host cluster in network namespaces with no Node and no
// node_modules within its reach: every umbra process starts in a mount
// namespace of its own where each `node` on PATH is covered by /dev/null and
// this checkout's node_modules by an empty tmpfs. In it: a first holder, a
// state write acknowledged by a shadow, forecasts by the ONNX model (h1's
// memory replayed from a series), and a failover when the holder's agent is
// killed, the state still there on the new holder; and `umbra install`
// into a staged root. The native code's cache
// is the test's own folder (UMBRA_CACHE_DIR).
//
// Run alone: bun test test/executable.slow.test.ts   (needs root; CI is root)

import { afterAll, describe, expect, test } from "bun:test";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startDemoCluster, withDigest, sleep, type DemoCluster } from "../src/demo/cluster.ts";
import { cleanupStale } from "../src/demo/topology.ts";
import { apiJson, type StatusDoc } from "../src/api/index.ts";

const PREFIX = "ux-";
const ROOT = resolve(import.meta.dirname, "..");
const isRoot = process.getuid?.() === 0;
const dir = mkdtempSync(join(tmpdir(), "umbra-exe-"));
let cluster: DemoCluster | null = null;

afterAll(async () => {
  await cluster?.destroy();
  await cleanupStale(PREFIX);
  rmSync(dir, { recursive: true, force: true });
});

/** A system PATH: no node_modules/.bin on it. */
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * Runs the executable with every `node` on PATH and this checkout's
 * node_modules out of reach (a mount namespace of its own), and refuses to
 * run it if a node still answers there.
 */
const HIDE = [
  `export PATH=${PATH} UMBRA_CACHE_DIR=${JSON.stringify(join(dir, "cache"))}`,
  `for d in $(echo "$PATH" | tr : ' '); do if [ -e "$d/node" ]; then mount --bind /dev/null "$d/node" || exit 97; fi; done`,
  `mount -t tmpfs none ${JSON.stringify(join(ROOT, "node_modules"))} || exit 97`,
  `if node --version >/dev/null 2>&1; then echo "a node still runs here" >&2; exit 97; fi`,
  `cd ${JSON.stringify(dir)}`,
  `exec "$0" "$@"`,
].join("; ");
const hidden = (exe: string): string[] => ["unshare", "--mount", "--propagation", "private", "sh", "-c", HIDE, exe];

/** Memory use, a row a minute, calm (NAB's CSV layout): replayed at 60x, the model has a series to forecast from within seconds. */
function calmSeries(): string {
  const t0 = Date.parse("2026-01-05T00:00:00Z");
  return "timestamp,value\n" + Array.from({ length: 600 }, (_, i) => `${new Date(t0 + i * 60_000).toISOString().replace("T", " ").slice(0, 19)},${(0.5 + 0.02 * Math.sin(i / 30)).toFixed(4)}`).join("\n") + "\n";
}

describe.skipIf(!isRoot)("the single executable (slow)", () => {
  test("built, it holds, writes state, forecasts with ONNX and fails over with no Node and no node_modules in reach", withDigest(async () => {
    const built = spawnSync(join(ROOT, "node_modules/.bin/bun"), [join(ROOT, "scripts/build.ts"), "--out-dir", join(dir, "dist"), "--json"], { encoding: "utf8", timeout: 300_000 });
    if (built.status !== 0) console.log(built.stderr);
    expect(built.status).toBe(0);
    const b = JSON.parse(built.stdout) as { executable: string; bytes: number; seconds: number };
    console.log(`executable: ${b.executable} ${(b.bytes / 2 ** 20).toFixed(1)} MiB, built in ${b.seconds.toFixed(1)} s`);
    const exe = join(dir, "umbra");
    execFileSync("cp", [b.executable, exe]);
    expect(existsSync(exe)).toBe(true);

    // Outside a cluster first: it runs, and says its version, hidden from Node.
    const version = spawnSync(hidden(exe)[0]!, [...hidden(exe).slice(1), "--version"], { encoding: "utf8", timeout: 30_000 });
    expect(version.stderr).toBe("");
    expect(version.stdout).toMatch(/^umbra \d+\.\d+\.\d+/);

    // It installs itself into a staged root: the unit it writes is the one it carries.
    const stage = join(dir, "stage");
    mkdirSync(join(stage, "etc"), { recursive: true });
    writeFileSync(join(stage, "etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n");
    writeFileSync(join(stage, "etc/group"), "root:x:0:\n");
    writeFileSync(join(stage, "etc/shadow"), "root:*::0:99999:7:::\n", { mode: 0o640 });
    writeFileSync(join(stage, "etc/gshadow"), "root:*::\n", { mode: 0o640 });
    const installed = spawnSync(hidden(exe)[0]!, [...hidden(exe).slice(1), "install", "--root", stage, "--json"], { encoding: "utf8", timeout: 60_000 });
    expect(installed.stderr).toBe("");
    expect(JSON.parse(installed.stdout).done).toContain("/etc/systemd/system/umbra.service");
    expect(readFileSync(join(stage, "etc/systemd/system/umbra.service"), "utf8")).toContain("ExecStart=/usr/local/bin/umbra agent --config /etc/umbra/umbra.toml");
    expect(readFileSync(join(stage, "usr/local/bin/umbra")).equals(readFileSync(exe))).toBe(true);

    const series = join(dir, "calm.csv");
    writeFileSync(series, calmSeries());
    await cleanupStale(PREFIX);
    cluster = await startDemoCluster({
      prefix: PREFIX,
      umbra: hidden(exe),
      onLog: (l) => l.level === "error" && console.log(`executable: ${l.host} ${JSON.stringify(l)}`),
      extraToml: (h) => ["[forecast]", "stepMs = 1000", ...(h === "h1" ? ["[probe]", `replay = { file = ${JSON.stringify(series)}, metric = "memoryUsage", speed = 60 }`] : [])].join("\n"),
    });
    const c = cluster;
    expect(await c.waitForHolders((h) => h.length === 1, 60_000)).toEqual(["h1"]);

    const cli = (host: string, args: string[]) => c.topo.exec(host, [...hidden(exe), ...args, "--config", c.configOf(host)]);
    const set = await cli("h1", ["state", "set", "web", "release=42", "--json"]);
    expect(set.stderr).toBe("");
    expect(set.code).toBe(0);

    // The ONNX forecaster runs inside the executable: h2 forecasts h1 from its beacons.
    let forecast: NonNullable<StatusDoc["forecasts"]>[number] | undefined;
    for (let i = 0; i < 120 && forecast === undefined; i++) {
      const st = (await apiJson({ socket: c.apiSocketOf("h2") }, "GET", "/status", undefined, 1_000).catch(() => null)) as StatusDoc | null;
      forecast = st?.forecasts?.find((f) => f.host === "h1" && f.metrics.some((m) => m.metric === "memoryUsage"));
      if (forecast === undefined) await sleep(250);
    }
    expect(forecast).toBeDefined();
    const mem = forecast!.metrics.find((m) => m.metric === "memoryUsage")!;
    console.log(`executable: h2's forecast of h1's memory: last ${mem.last}, p10 ${mem.p10}, p50 ${mem.p50}, p90 ${mem.p90}`);
    expect(mem.p10).toBeLessThanOrEqual(mem.p90);

    // kill -9: h1's address stays (its kernel fence keeps it quiet); a shadow takes the VIP.
    c.signalAgent("h1", "SIGKILL");
    const after = (await c.waitForHolders((h) => h.some((x) => x !== "h1"), 30_000)).filter((x) => x !== "h1");
    expect(after.length).toBe(1);
    const taker = after[0]!;
    expect(["h2", "h3"]).toContain(taker);
    const got = await cli(taker, ["state", "get", "web", "release", "--json"]);
    expect(got.code).toBe(0);
    expect(got.stdout).toContain("42");
  }), 600_000);
});
