// Scenario (slow): scale out and in on real agents in namespaces, with the
// shipped ONNX model and the replay probe. h1 (the primary, holding) replays
// a CPU load ramp: calm, a climb to 0.95, a plateau, a fall to calm. Its own
// forecast of cpuLoad (the p90 at the horizon) reaches 0.8 on the climb: a
// warm shadow becomes active beside it, and the redirect hook gets the pool
// (UMBRA_POOL); calm again for the cooldown, the shadow goes back to waiting
// and the hook gets h1 alone. No VIP moves meanwhile. The service's four
// workloads (records in its document) follow: two move to the active
// shadow through the migrate hook, each move recorded and acknowledged, and
// they come back to h1 after the ramp.
//
// Run alone: bun test test/scaling.slow.test.ts   (needs root; CI is root)

import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDemoCluster, withDigest, sleep, MAIN, NODE, type DemoCluster } from "../src/demo/cluster.ts";
import { cleanupStale } from "../src/demo/topology.ts";
import { loadRamp } from "../src/demo/ramp.ts";

const PREFIX = "uk2-";
const isRoot = process.getuid?.() === 0;
const dir = mkdtempSync(join(tmpdir(), "umbra-scaling-"));
let cluster: DemoCluster | null = null;

afterAll(async () => {
  await cluster?.destroy();
  await cleanupStale(PREFIX);
  rmSync(dir, { recursive: true, force: true });
});

const STEP_MS = 5 * 60_000; // the series' spacing
const SPEED = 1_500; // a row every 200 ms
const T0 = Date.parse("2024-03-04T06:00:00Z");
/** Calm rows, then one climb to 0.95, plateau, fall to 0.3, calm. */
const RAMP = { calmRows: 60, cycles: [{ climb: 30, top: 15, fall: 15, calm: 45 }] } as const;
const ROWS = RAMP.calmRows + Object.values(RAMP.cycles[0]).reduce((a, b) => a + b, 0);

/** The CPU ramp's CSV, and the series time the load first reaches 0.8. */
function rampSeries(): { csv: string; crossTs: number } {
  const ramp = loadRamp({ seed: 7, t0: T0, stepMs: STEP_MS, ...RAMP });
  return { csv: ramp.csv, crossTs: ramp.firstAtOrAbove(0.8)! };
}

describe.skipIf(!isRoot)("scale out and in (slow)", () => {
  test("a CPU ramp on the holder activates a shadow beside it, the redirect hook sees both, workloads move to it; calm again, the shadow goes back and the workloads come home", withDigest(async () => {
    await cleanupStale(PREFIX);
    const { csv, crossTs } = rampSeries();
    const file = join(dir, "ramp.csv");
    writeFileSync(file, csv);
    const pools = join(dir, "pools");
    const hook = join(dir, "redirect.sh");
    writeFileSync(hook, `#!/bin/sh\necho "$(date +%s%3N) $2 $UMBRA_POOL" >> '${pools}'\n`);
    chmodSync(hook, 0o755);
    const moves = join(dir, "moves");
    const migrate = join(dir, "migrate.sh");
    writeFileSync(migrate, `#!/bin/sh\necho "$(date +%s%3N) $2 $3 $4" >> '${moves}'\n`);
    chmodSync(migrate, 0o755);
    const extraToml = (host: string) => ["[forecast]", "limits = { memoryUsage = 0.95 }", ...(host === "h1" ? ["[probe]", `replay = { file = ${JSON.stringify(file)}, metric = "cpuLoad", speed = ${SPEED} }`] : [])].join("\n");
    const c = (cluster = await startDemoCluster({ prefix: PREFIX, extraToml, redirect: { hook }, scaling: 'metric = "cpuLoad", threshold = 0.8, lowThreshold = 0.5, cooldownMs = 3000, maxActive = 1', migrate: { hook: migrate } }));
    expect(await c.waitForHolders((h) => h.length === 1, 30_000)).toEqual(["h1"]);
    for (const w of ["w1", "w2", "w3", "w4"]) {
      const r = await c.topo.exec("h1", [NODE, MAIN, "state", "workload", "web", w, "--host", "h1", "--require", "cpu=1", "--config", c.configOf("h1")]);
      expect(r.code).toBe(0);
    }
    const workloadsOn = async (): Promise<Record<string, string>> => {
      const r = await c.topo.exec("h1", [NODE, MAIN, "status", "--json", "--config", c.configOf("h1")]);
      const list = (JSON.parse(r.stdout) as { services: Array<{ workloads?: { list: Array<{ id: string; host: string }> } | null }> }).services[0]!.workloads?.list ?? [];
      return Object.fromEntries(list.map((x) => [x.id, x.host]));
    };
    const poolsNow = () => (existsSync(pools) ? readFileSync(pools, "utf8").trim().split("\n") : []);
    let out: string | undefined;
    let back: string | undefined;
    const t0 = Date.now();
    for (let i = 0; i < 1_000 && Date.now() - t0 < (ROWS * STEP_MS) / SPEED + 20_000 && back === undefined; i++) {
      const p = poolsNow();
      out ??= p.find((l) => l.includes("h1=") && /h[23]=/.test(l));
      if (out !== undefined) back = p.slice(p.indexOf(out) + 1).find((l) => !/h[23]=/.test(l) && l.includes(" h1 "));
      await sleep(200);
    }
    console.log(`scaling.slow: pools: ${poolsNow().join(" | ")}`);
    expect(out).toBeDefined();
    expect(back).toBeDefined();
    // The workloads home again: every one on h1 in the document, within a few hook runs.
    let home: Record<string, string> = {};
    for (let i = 0; i < 50; i++) {
      home = await workloadsOn();
      if (Object.values(home).every((h) => h === "h1")) break;
      await sleep(200);
    }
    const moved = existsSync(moves) ? readFileSync(moves, "utf8").trim().split("\n") : [];
    console.log(`scaling.slow: moves: ${moved.join(" | ")}`);
    expect(home).toEqual({ w1: "h1", w2: "h1", w3: "h1", w4: "h1" });
    const shadow = out!.match(/(h[23])=/)![1]!;
    const outAt = Number(out!.split(" ")[0]);
    const away = moved.filter((l) => l.endsWith(`h1 ${shadow}`));
    const homeward = moved.filter((l) => l.endsWith(`${shadow} h1`));
    expect(away).toHaveLength(2); // 4 | 0 becomes 2 | 2
    expect(homeward).toHaveLength(2);
    expect(Math.min(...away.map((l) => Number(l.split(" ")[0])))).toBeGreaterThanOrEqual(outAt - 1_000); // after the scale out (clocks of one machine)
    const recorded = c.logs.filter((l) => l.host === "h1" && l.event === "migrated");
    expect(recorded).toHaveLength(4);
    for (const l of recorded) expect((l as unknown as { durableOn: string[] }).durableOn.length).toBeGreaterThanOrEqual(1); // acknowledged by a replica
    expect(await c.vipHolders()).toEqual(["h1"]); // no VIP moved
    const replayStart = Date.parse(c.logs.find((l) => l.host === "h1" && l.event === "replaying")!.ts);
    const seriesAtOut = T0 + (outAt - replayStart) * SPEED;
    console.log(`scaling.slow: scaled out at series time ${new Date(seriesAtOut).toISOString()}, the load first reached 0.8 at ${new Date(crossTs).toISOString()} (${Math.round((crossTs - seriesAtOut) / 60_000)} min of series ahead)`);
    expect(c.logs.filter((l) => l.level === "error")).toEqual([]);
  }), 180_000);
});

if (!isRoot) console.warn("scaling.slow.test.ts: skipped, needs root for network namespaces");
