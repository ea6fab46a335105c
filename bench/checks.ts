// bench/checks: how long a failing health check takes to move a VIP, on
// real agents in network namespaces. Each trial makes the holder's demo
// service answer 503 on /health (the check: every 200 ms, failing after 3,
// DEMO_CHECK) and times, by the agents' logs, the sick host's
// service-unhealthy line and the new holder's vip-answering line from the
// moment the service turned sick. The bound to meet: fall × interval (the
// third failed run; the first comes within one interval) plus one handover.
//
//   node bench/checks.ts [--trials 10] [--json]
//   needs root: it creates network namespaces
import { parseArgs } from "node:util";
import { startDemoCluster, sleep, DEMO_CHECK, type DemoCluster, type LogLine } from "../src/demo/cluster.ts";
import { cleanupStale } from "../src/demo/topology.ts";
import { quantile } from "./handover.ts";

const PREFIX = "uc-";
const FIRST_HOLDER_WAIT_MS = 30_000;
const MOVE_WAIT_MS = 10_000;
/** After a trial the sick host recovers: rise runs, and a second to be heard. */
const RECOVER_MS = DEMO_CHECK.rise * DEMO_CHECK.intervalMs + 1_500;
const LOG_POLL_MS = 10;
/** The acceptance's bound: fall × interval, plus one handover (counted generously: 50 ms). */
export const BOUND_MS = DEMO_CHECK.fall * DEMO_CHECK.intervalMs + 50;

export type CheckTrial = { from: string; to: string | null; unhealthyMs: number | null; answeringMs: number | null };

/** The first log line of `event` from `host` (any host if null) at or after `since`, as a time. */
function firstAfter(logs: readonly LogLine[], host: string | null, event: string, since: number, exceptHost?: string): { at: number; host: string } | null {
  for (const l of logs) {
    const at = Date.parse(l.ts);
    if (at >= since && l.event === event && (host === null || l.host === host) && l.host !== exceptHost) return { at, host: l.host };
  }
  return null;
}

async function trial(c: DemoCluster): Promise<CheckTrial> {
  const [from] = await c.waitForHolders((h) => h.length === 1, MOVE_WAIT_MS);
  const t0 = Date.now();
  c.setSick(from!, true);
  let answering: { at: number; host: string } | null = null;
  for (let i = 0; i < MOVE_WAIT_MS / LOG_POLL_MS && answering === null; i++) {
    await sleep(LOG_POLL_MS);
    answering = firstAfter(c.logs, null, "vip-answering", t0, from);
  }
  const unhealthy = firstAfter(c.logs, from!, "service-unhealthy", t0);
  c.setSick(from!, false);
  await sleep(RECOVER_MS);
  return { from: from!, to: answering?.host ?? null, unhealthyMs: unhealthy === null ? null : unhealthy.at - t0, answeringMs: answering === null ? null : answering.at - t0 };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { trials: { type: "string", default: "10" }, json: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } } });
  if (values.help) return void process.stdout.write("usage: node bench/checks.ts [--trials N (1-100, default 10)] [--json]\n  needs root: it creates network namespaces\n");
  const trials = Number(values.trials);
  if (!(Number.isInteger(trials) && trials >= 1 && trials <= 100)) {
    process.stderr.write("usage: node bench/checks.ts [--trials N (1-100)] [--json]\n");
    process.exit(2);
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write("bench/checks needs root: it creates network namespaces\n");
    process.exit(1);
  }
  await cleanupStale(PREFIX);
  const c = await startDemoCluster({ prefix: PREFIX, checks: true, apparatusRt: 5 });
  const out: CheckTrial[] = [];
  try {
    await c.waitForHolders((h) => h.length === 1, FIRST_HOLDER_WAIT_MS);
    for (let i = 0; i < trials; i++) {
      const t = await trial(c);
      out.push(t);
      process.stderr.write(`  trial ${i + 1}/${trials}: ${t.from} sick -> unhealthy after ${t.unhealthyMs ?? "-"} ms, ${t.to ?? "nobody"} answering after ${t.answeringMs ?? "-"} ms\n`);
    }
  } finally {
    await c.destroy();
  }
  const moved = out.map((t) => t.answeringMs).filter((x): x is number => x !== null);
  const summary = { trials: out.length, moved: moved.length, p50Ms: quantile(moved, 0.5), p99Ms: quantile(moved, 0.99), maxMs: moved.length === 0 ? null : Math.max(...moved), boundMs: BOUND_MS, met: moved.length === out.length && moved.every((x) => x <= BOUND_MS) };
  if (values.json) process.stdout.write(JSON.stringify({ summary, trials: out }) + "\n");
  else process.stdout.write(`| trials | moved | sick to answering p50 | p99 | max | bound (fall × interval + a handover) |\n|---|---|---|---|---|---|\n| ${summary.trials} | ${summary.moved} | ${summary.p50Ms} ms | ${summary.p99Ms} ms | ${summary.maxMs} ms | ${BOUND_MS} ms: ${summary.met ? "met" : "NOT met"} |\n`);
}

if (import.meta.main ?? process.argv[1]?.endsWith("checks.ts")) await main();
