// bench/failover: unplanned failover (primary's link cut) for umbra and, in
// the same run and the same namespace layout, keepalived VRRPv3 at 1 s,
// 0.1 s and 0.05 s adverts. Prints median and worst client-visible downtime for each,
// the ratio umbra/keepalived, and whether any trial saw two VIP holders.
//
//   npm run bench:failover -- [--trials 10] [--json]     (needs root)

import { parseArgs } from "node:util";
import { runUmbraTrial, type TrialResult } from "./umbra.ts";
import { runKeepalivedTrial } from "./keepalived.ts";

const { values } = parseArgs({
  options: {
    trials: { type: "string", default: "10" },
    json: { type: "boolean", default: false },
    "skip-keepalived": { type: "boolean", default: false },
    "lease-ms": { type: "string" },
    partition: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  process.stdout.write("usage: node bench/failover.ts [--trials N (default 10)] [--json] [--skip-keepalived] [--lease-ms N] [--partition]\n  --partition: a silent partition (bridge port disabled, carrier up) instead of a link cut\n  needs root: it creates network namespaces and installs keepalived from Debian's packages\n");
  process.exit(0);
}
const trials = Number(values.trials);
if (!Number.isInteger(trials) || trials < 1 || trials > 100) {
  process.stderr.write(`bench/failover: --trials must be a whole number from 1 to 100, got "${values.trials}"\n`);
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  process.stderr.write("bench/failover: needs root (network namespaces)\n");
  process.exit(1);
}

type Row = { name: string; results: TrialResult[] };
const rows: Row[] = [];

async function series(name: string, run: (seed: number) => Promise<TrialResult>): Promise<Row> {
  const results: TrialResult[] = [];
  for (let i = 0; i < trials; i++) {
    const r = await run(1000 + i);
    results.push(r);
    process.stderr.write(`  ${name} trial ${i + 1}/${trials}: downtime ${fmt(r.downtimeMs)}, longest gap ${fmt(r.maxGapMs)}${r.dualHolderObserved ? ", TWO HOLDERS" : ""}\n`);
  }
  const row = { name, results };
  rows.push(row);
  return row;
}

const fmt = (ms: number | null | undefined) => (ms === null || ms === undefined ? "n/a" : `${Math.round(ms)} ms`);
function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
const downtimes = (r: Row) => r.results.map((x) => x.downtimeMs).filter((x): x is number => x !== null);

// --lease-ms N tries a shorter (or longer) lease: renewals at a sixth of it.
const leaseMs = values["lease-ms"] === undefined ? null : Number(values["lease-ms"]);
if (leaseMs !== null && (!Number.isInteger(leaseMs) || leaseMs < 60)) {
  process.stderr.write(`bench/failover: --lease-ms must be a whole number of at least 60, got "${values["lease-ms"]}"\n`);
  process.exit(2);
}
const timing = leaseMs === null ? undefined : { leaseMs, renewIntervalMs: Math.floor(leaseMs / 6), proposalTimeoutMs: Math.floor(leaseMs / 2), actuationGuardMs: Math.floor(leaseMs / 3) };
const cut = values.partition ? ("partition" as const) : ("link" as const);
const umbra = await series(leaseMs === null ? "umbra (lan profile)" : `umbra (lease ${leaseMs} ms)`, (seed) => runUmbraTrial({ seed, timing, cut }));
if (!values["skip-keepalived"]) {
  await series("keepalived VRRPv3 advert 1 s", (seed) => runKeepalivedTrial({ advertIntMs: 1000, seed, cut }));
  await series("keepalived VRRPv3 advert 0.1 s", (seed) => runKeepalivedTrial({ advertIntMs: 100, seed, cut }));
  // DESIGN.md's anchor: keepalived's fastest practical setting.
  await series("keepalived VRRPv3 advert 0.05 s", (seed) => runKeepalivedTrial({ advertIntMs: 50, seed, cut }));
}

const umbraMedian = median(downtimes(umbra));
const table = rows.map((r) => {
  const d = downtimes(r);
  const med = median(d);
  return {
    name: r.name,
    trials: r.results.length,
    failed: r.results.length - d.length,
    medianMs: med === null ? null : Math.round(med),
    worstMs: d.length ? Math.round(Math.max(...d)) : null,
    dualHolderTrials: r.results.filter((x) => x.dualHolderObserved).length,
    umbraOverThis: umbraMedian !== null && med !== null ? Math.round((umbraMedian / med) * 100) / 100 : null,
  };
});
if (values.json) {
  process.stdout.write(JSON.stringify({ trials, rows: table }, null, 2) + "\n");
} else {
  process.stdout.write(`\nunplanned failover (${cut === "partition" ? "silent partition of the primary" : "primary's link cut"}), ${trials} trials each (client polls every 5 ms, 30 ms timeout)\n`);
  process.stdout.write("| setup | median downtime | worst | failed trials | trials with two VIP holders | umbra median / this median |\n|---|---|---|---|---|---|\n");
  for (const t of table) {
    process.stdout.write(`| ${t.name} | ${fmt(t.medianMs)} | ${fmt(t.worstMs)} | ${t.failed} | ${t.dualHolderTrials} | ${t.umbraOverThis ?? "n/a"} |\n`);
  }
}
