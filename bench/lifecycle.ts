// bench/lifecycle: the shadow lifecycle on real agents in namespaces (issue
// 18's bench). Two parts, one cluster each:
//
//   scale   h1 (the holder) replays a CPU load that climbs and falls
//           `--cycles` times (the shipped ONNX model forecasting it, the
//           replay probe at 1,500x: a 5-minute row every 200 ms). Per scale
//           out: from the holder's decision (its `pool` log line) to the
//           redirect hook having run, and to the client's first answer from
//           the active shadow; the client reads the pool the hook writes
//           (a load balancer's part) before every request, every 20 ms, and
//           asks its members in turn. Client errors are counted throughout.
//           Four workloads (records in the service's document) follow the
//           pool through the migrate hook: per move, the hook's run to its
//           record acknowledged; per scale out, the decision to its last
//           move recorded.
//   swap    the holder swaps roles every 10 s (window all day), `--swaps`
//           times; a client polls the VIP every 2 ms with one retry and a
//           10 ms timeout (bench/handover's): failed requests, and the
//           longest gap between answers around each swap. As in
//           bench/handover, the services and the client run under SCHED_RR
//           at `--apparatus-rt` (default 5, below the agents' 10; 0:
//           ordinary): at ordinary priority the agents' work at a swap
//           starved the client here for 10 ms and more (no request sent),
//           which read as the swap's gap.
//
//   node bench/lifecycle.ts [--parts scale,swap] [--cycles 3] [--swaps 5] [--apparatus-rt 5] [--json]   (root)
//   (--json: one line { scale, swap, apparatusRt }, a part not run null)

import { parseArgs } from "node:util";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { HOSTS, MAIN, NODE, SERVICE_PORT, startDemoCluster, sleep, type DemoCluster, type LogLine } from "../src/demo/cluster.ts";
import { cleanupStale } from "../src/demo/topology.ts";
import { loadRamp } from "../src/demo/ramp.ts";

const PREFIX = "ul2-";
const STEP_MS = 5 * 60_000;
const SPEED = 1_500;
const CALM_ROWS = 60;
/** One cycle's rows: a climb from 0.35 to 0.95, a plateau, a fall to 0.3, a calm. */
const CYCLE = { climb: 20, top: 10, fall: 10, calm: 30 } as const;
const SWAP_EVERY_S = 10;
const SWAP_CLIENT = { intervalMs: 2, timeoutMs: 10, retries: 1 };
/** The services' and the swap client's SCHED_RR priority by default (bench/handover's). */
const APPARATUS_RT_DEFAULT = 5;

const median = (xs: number[]): number | null => (xs.length === 0 ? null : [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!);

const rampCsv = (cycles: number): string => loadRamp({ seed: 11, t0: Date.parse("2024-03-04T00:00:00Z"), stepMs: STEP_MS, calmRows: CALM_ROWS, cycles: Array.from({ length: cycles }, () => CYCLE) }).csv;

/** The load balancer's part: before each request, the pool the redirect hook last wrote; its members asked in turn. One JSON line per request. */
const POOL_CLIENT = (poolFile: string) => `
const fs = require("node:fs");
let k = 0;
const t0 = Date.now();
setInterval(async () => {
  let pool = [];
  try { pool = fs.readFileSync(${JSON.stringify(poolFile)}, "utf8").trim().split(",").filter(Boolean).map((m) => m.split("=")); } catch {}
  if (pool.length === 0) return;
  const [host, addr] = pool[k++ % pool.length];
  const t = Date.now();
  try {
    const r = await fetch("http://" + addr + ":${SERVICE_PORT}/", { signal: AbortSignal.timeout(200) });
    await r.text();
    console.log(JSON.stringify({ t, host, ok: r.ok }));
  } catch (e) { console.log(JSON.stringify({ t, host, ok: false })); }
  if (Date.now() - t0 > 600000) process.exit(0);
}, 20);
`;

type ScaleResult = { outs: Array<{ decidedToHookMs: number | null; decidedToAnswerMs: number | null; decidedToMovedMs: number | null }>; ins: number; requests: number; failed: number; moves: Array<{ workload: string; from: string; to: string; ms: number }> };
/** The service's workloads, all on the holder at first. */
const WORKLOADS = ["w1", "w2", "w3", "w4"];

async function scalePart(cycles: number, dir: string): Promise<ScaleResult> {
  const csv = join(dir, "ramp.csv");
  writeFileSync(csv, rampCsv(cycles));
  const poolFile = join(dir, "pool");
  const hook = join(dir, "redirect.sh");
  writeFileSync(hook, `#!/bin/sh\necho "$UMBRA_POOL" > '${poolFile}.tmp' && mv '${poolFile}.tmp' '${poolFile}'\n`);
  chmodSync(hook, 0o755);
  const migrate = join(dir, "migrate.sh");
  writeFileSync(migrate, `#!/bin/sh\necho "$2 $3 $4" >> '${join(dir, "moves")}'\n`);
  chmodSync(migrate, 0o755);
  const extraToml = (host: string) => ["[forecast]", "limits = { memoryUsage = 0.95 }", ...(host === "h1" ? ["[probe]", `replay = { file = ${JSON.stringify(csv)}, metric = "cpuLoad", speed = ${SPEED} }`] : [])].join("\n");
  const c = await startDemoCluster({ prefix: PREFIX, extraToml, redirect: { hook }, scaling: 'metric = "cpuLoad", threshold = 0.8, lowThreshold = 0.5, cooldownMs = 3000, maxActive = 1', migrate: { hook: migrate } });
  const samples: Array<{ t: number; host: string; ok: boolean }> = [];
  try {
    await c.waitForHolders((h) => h.length === 1, 30_000);
    for (let i = 0; i < 100 && !existsSync(poolFile); i++) await sleep(100);
    for (const w of WORKLOADS) {
      const r = await c.topo.exec("h1", [NODE, MAIN, "state", "workload", "web", w, "--host", "h1", "--require", "cpu=1", "--config", c.configOf("h1")]);
      if (r.code !== 0) throw new Error(`umbra state workload ${w}: ${r.stderr}`);
    }
    const client = c.topo.spawn("client", [NODE, "-e", POOL_CLIENT(poolFile)], {});
    createInterface({ input: client.stdout! }).on("line", (l) => {
      try {
        samples.push(JSON.parse(l));
      } catch {
        // a partial line at exit
      }
    });
    const rows = CALM_ROWS + cycles * (CYCLE.climb + CYCLE.top + CYCLE.fall + CYCLE.calm);
    await sleep((rows * STEP_MS) / SPEED + 5_000);
    client.kill("SIGTERM");
    await sleep(300);
    return scaleFigures(c.logs, samples);
  } finally {
    await c.destroy();
  }
}

function scaleFigures(logs: LogLine[], samples: Array<{ t: number; host: string; ok: boolean }>): ScaleResult {
  const pools = logs.filter((l) => l.host === "h1" && l.event === "pool");
  const hooks = logs.filter((l) => l.host === "h1" && l.part === "hook" && l.event === "redirect");
  const starts = logs.filter((l) => l.host === "h1" && l.event === "migrating");
  const moved = logs.filter((l) => l.host === "h1" && l.event === "migrated");
  const moves = moved.map((m) => {
    const start = starts.filter((s) => s.workload === m.workload && s.to === m.to && s.ts <= m.ts).at(-1);
    return { workload: String(m.workload), from: String(m.from), to: String(m.to), ms: start === undefined ? NaN : Date.parse(m.ts) - Date.parse(start.ts) };
  });
  const outs = pools.filter((p) => (p.hosts as string[]).length > 1).map((p) => {
    const at = Date.parse(p.ts);
    const shadow = (p.hosts as string[])[1]!;
    const hookDone = hooks.map((h) => Date.parse(h.ts)).find((t) => t >= at);
    const answered = samples.find((s) => s.t >= at && s.ok && s.host === shadow);
    // Half the workloads go to the new active shadow: the decision to the second one recorded there.
    const there = moved.filter((m) => m.to === shadow && Date.parse(m.ts) >= at).slice(0, WORKLOADS.length / 2);
    const lastMoved = there.length === WORKLOADS.length / 2 ? Date.parse(there.at(-1)!.ts) : undefined;
    return { decidedToHookMs: hookDone === undefined ? null : hookDone - at, decidedToAnswerMs: answered === undefined ? null : answered.t - at, decidedToMovedMs: lastMoved === undefined ? null : lastMoved - at };
  });
  return { outs, ins: pools.filter((p) => (p.hosts as string[]).length === 1).length, requests: samples.length, failed: samples.filter((s) => !s.ok).length, moves };
}

type SwapResult = { swaps: number; requests: number; failed: number; gapsMs: number[] };

async function swapPart(swaps: number, apparatusRt: number | undefined): Promise<SwapResult> {
  const c: DemoCluster = await startDemoCluster({ prefix: PREFIX, swap: { every: `${SWAP_EVERY_S}s`, window: "00:00-24:00" }, apparatusRt });
  try {
    await c.waitForHolders((h) => h.length === 1, 30_000);
    const client = c.startPoller({ ...SWAP_CLIENT, rt: apparatusRt });
    await sleep(swaps * SWAP_EVERY_S * 1000 + 3_000);
    await client.stop();
    const certs = c.logs.filter((l) => l.event === "certified" && l.host === l.from && l.reason === "handover").map((l) => Date.parse(l.ts));
    const oks = client.samples.filter((s) => s.ok).map((s) => s.done ?? s.t).sort((a, b) => a - b);
    const gapsMs = certs.map((t) => {
      const near = oks.filter((x) => x >= t - 200 && x <= t + 500);
      return Math.round(near.slice(1).reduce((m, x, i) => Math.max(m, x - near[i]!), 0) * 10) / 10;
    });
    return { swaps: certs.length, requests: client.samples.length, failed: client.samples.filter((s) => !s.ok).length, gapsMs };
  } finally {
    await c.destroy();
  }
}

const PARTS = ["scale", "swap"] as const;
type Part = (typeof PARTS)[number];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { parts: { type: "string", default: PARTS.join(",") }, cycles: { type: "string", default: "3" }, swaps: { type: "string", default: "5" }, "apparatus-rt": { type: "string", default: String(APPARATUS_RT_DEFAULT) }, json: { type: "boolean", default: false }, help: { type: "boolean", short: "h", default: false } } });
  const usage = `usage: node bench/lifecycle.ts [--parts scale,swap] [--cycles N (load climbs, 1-10, default 3)] [--swaps N (1-60, default 5)] [--apparatus-rt N (the swap's services and client under SCHED_RR at N, 1-9, default ${APPARATUS_RT_DEFAULT}; 0: ordinary)] [--json]\n  needs root: it creates network namespaces\n`;
  if (values.help) return void process.stdout.write(usage);
  const parts = values.parts!.split(",").map((x) => x.trim());
  const cycles = Number(values.cycles);
  const swaps = Number(values.swaps);
  const rt = Number(values["apparatus-rt"]);
  const bad = [
    ...parts.filter((x) => !(PARTS as readonly string[]).includes(x)).map((x) => `--parts: no part "${x}" (${PARTS.join(", ")})`),
    ...(Number.isInteger(cycles) && cycles >= 1 && cycles <= 10 ? [] : [`--cycles: ${values.cycles} is not a whole number from 1 to 10`]),
    ...(Number.isInteger(swaps) && swaps >= 1 && swaps <= 60 ? [] : [`--swaps: ${values.swaps} is not a whole number from 1 to 60`]),
    ...(Number.isInteger(rt) && rt >= 0 && rt <= 9 ? [] : [`--apparatus-rt: ${values["apparatus-rt"]} is not a whole number from 0 to 9 (below the agents' 10)`]),
  ];
  if (bad.length > 0) {
    process.stderr.write(`${bad.join("\n")}\n${usage}`);
    process.exit(2);
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write("bench/lifecycle needs root: it creates network namespaces\n");
    process.exit(1);
  }
  const want = (p: Part) => parts.includes(p);
  const dir = mkdtempSync(join(tmpdir(), "umbra-lifecycle-"));
  await cleanupStale(PREFIX);
  try {
    if (want("scale")) process.stderr.write(`scale: ${cycles} load climbs on ${HOSTS[0].name}...\n`);
    const scale = want("scale") ? await scalePart(cycles, dir) : null;
    if (want("swap")) process.stderr.write(`swap: ${swaps} swaps, ${SWAP_EVERY_S} s apart...\n`);
    const swap = want("swap") ? await swapPart(swaps, rt === 0 ? undefined : rt) : null;
    if (values.json) return void process.stdout.write(JSON.stringify({ scale, swap, apparatusRt: rt }) + "\n");
    process.stdout.write(report(scale, swap, cycles));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await cleanupStale(PREFIX);
  }
}

/** The markdown table (and the workloads' line) of what ran. */
function report(scale: ScaleResult | null, swap: SwapResult | null, cycles: number): string {
  const lines = ["| part | events | decision to redirect hook run (median) | decision to the active shadow's first answer (median) | client requests | failed | longest gap around a swap (median / p90 / worst) |", "|---|---|---|---|---|---|---|"];
  if (scale !== null) {
    const hookMs = scale.outs.map((o) => o.decidedToHookMs).filter((x): x is number => x !== null);
    const answerMs = scale.outs.map((o) => o.decidedToAnswerMs).filter((x): x is number => x !== null);
    lines.push(`| scale out / in | ${scale.outs.length} out, ${scale.ins} in (of ${cycles} climbs) | ${median(hookMs) ?? "-"} ms | ${median(answerMs) ?? "-"} ms | ${scale.requests} | ${scale.failed} | - |`);
  }
  if (swap !== null) {
    const g = [...swap.gapsMs].sort((a, b) => a - b);
    const p90 = g.length === 0 ? "-" : g[Math.min(g.length - 1, Math.ceil(0.9 * g.length) - 1)];
    lines.push(`| swap | ${swap.swaps} swaps | - | - | ${swap.requests} | ${swap.failed} | ${median(g) ?? "-"} / ${p90} / ${g.length === 0 ? "-" : g.at(-1)} ms |`);
  }
  if (scale !== null) {
    const movedMs = scale.outs.map((o) => o.decidedToMovedMs).filter((x): x is number => x !== null);
    const moveMs = scale.moves.map((m) => m.ms).filter((x) => Number.isFinite(x));
    lines.push("", `workloads: ${scale.moves.length} moves (${WORKLOADS.length} workloads), each from its hook's start to its record acknowledged ${median(moveMs) ?? "-"} ms (median), ${moveMs.length === 0 ? "-" : Math.max(...moveMs)} ms worst; scale out decision to half of them recorded on the new shadow ${median(movedMs) ?? "-"} ms (median)`);
  }
  return lines.join("\n") + "\n";
}

if (import.meta.main ?? process.argv[1]?.endsWith("lifecycle.ts")) await main();
