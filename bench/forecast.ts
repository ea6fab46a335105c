// bench/forecast: how good and how cheap the shipped forecaster is.
//
//   node bench/forecast.ts [--model FILE] [--nab-dir DIR] [--runs 10000] [--json]
//
// 1. Quantiles on the AWS CloudWatch series' held-out last 30 % (the trainer
//    never saw it), 15 minutes (3 steps) and 1 hour (12 steps) ahead: mean
//    pinball loss of p10/p50/p90 against a seasonal-naive baseline (p50 = the
//    value a day before the target, p10/p90 from its residuals on the
//    training part) and a persistence one (p50 = the last value, p10/p90 from
//    its h-step residuals there), and how often p10–p90 holds the value.
//    umbra's quantiles are the agent's: the model's, blended with robust
//    experts (src/forecast/blend.ts), the blend starting afresh at the
//    held-out part and learning as its targets come; the model alone beside.
// 2. Exhaustion probability on the same rows, for limits at each series'
//    90/95/99th training percentile: Brier score beside the base rate's, and
//    the calibration error (10 bins).
// 3. NAB: the anomaly score over all 58 series, streaming, scored with
//    bench/nab's scorer (NAB's optimiser picks each profile's threshold, as
//    for every detector on the scoreboard), beside the published rows. The
//    context view reads each series' range as NAB gives it to every
//    detector; bench/nab/cv.ts scores it with the range learned too.
// 4. Inference latency of one agent tick (6 metrics at the horizon and one
//    step ahead: a batch of 12, features included): median of --runs.
// 5. Model size.
import { statSync } from "node:fs";
import { parseArgs } from "node:util";
import { checkNabDir, listSeries, NAB_DIR_DEFAULT, readPublished, readProfiles, readSeries, readWindows } from "./nab/data.ts";
import { PROBATION_FRACTION, probationRows, scoreDetector, type DetectorFile } from "./nab/scorer.ts";
import { DEFAULT_MODEL_PATH, loadForecaster, type ForecastInput, type ForecastOutput, type Forecaster } from "../src/forecast/model.ts";
import { ANOMALY_DEFAULTS, AnomalyScorer, type AnomalySettings } from "../src/forecast/anomaly.ts";
import type { ValueRange } from "../src/forecast/context.ts";
import { DAY_MS, QUANTILE_LEVELS } from "../src/forecast/features.ts";
import { HELD_OUT_FRACTION, medianInterval, type Series } from "../src/forecast/series.ts";
import { pinball, QuantileBlend } from "../src/forecast/blend.ts";

const USAGE = `usage: node bench/forecast.ts [options]
  --model FILE    the model (default ${DEFAULT_MODEL_PATH})
  --nab-dir DIR   NAB v1.1 folder (default: $NAB_DIR or ${NAB_DIR_DEFAULT})
  --runs N        latency runs (default 10000)
  --skip-nab      leave out the NAB scoring (the slowest part)
  --json          one JSON object instead of tables
  -h, --help      this text
`;

/** The mean pinball loss of a p10/p50/p90 forecast. */
function pinball3(y: number, q: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < 3; i++) s += pinball(y, q[i]!, QUANTILE_LEVELS[i]!);
  return s / 3;
}

function quantileOf(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.floor(q * (s.length - 1))))]!;
}

function median(xs: number[]): number {
  return quantileOf(xs, 0.5);
}

/** Forecasts at every position of `positions` (a value's index: forecast from values[0..t) for values[t+h-1]). */
async function forecastAt(model: Forecaster, s: Series, positions: number[], h: number, limit: (t: number) => number): Promise<ForecastOutput[]> {
  const out: ForecastOutput[] = [];
  const chunk = 4_096;
  for (let c = 0; c < positions.length; c += chunk) {
    const batch: ForecastInput[] = positions.slice(c, c + chunk).map((t) => ({
      values: s.values.subarray(0, t),
      intervalMs: s.intervalMs,
      ts: s.ts[t - 1]!,
      limit: limit(t),
      horizonMs: h * s.intervalMs,
    }));
    out.push(...(await model.run(batch)));
  }
  return out;
}

type QuantileFigures = {
  horizonSteps: number;
  rows: number;
  /** umbra's quantiles: the model's, blended (src/forecast/blend.ts). */
  pinballModel: number;
  pinballNaive: number;
  improvement: number;
  geomeanRatio: number;
  coverage: number;
  pinballPersistence: number;
  improvementOverPersistence: number;
  /** The model's own quantiles, unblended. */
  modelAlone: { pinball: number; improvementOverPersistence: number; coverage: number };
};
type ExhaustionFigures = { rows: number; events: number; brier: number; brierBaseRate: number; ece: number; bins: { p: number; observed: number; n: number }[] };

async function quantileBench(model: Forecaster, aws: Series[], h: number): Promise<{ q: QuantileFigures; e: ExhaustionFigures }> {
  let sumModel = 0;
  let sumAlone = 0;
  let coveredAlone = 0;
  let sumNaive = 0;
  let sumPersist = 0;
  let logRatio = 0;
  let covered = 0;
  let rows = 0;
  const probs: { p: number; hit: boolean }[] = [];
  for (const s of aws) {
    const n = s.values.length;
    const split = Math.floor(n * (1 - HELD_OUT_FRACTION));
    const day = Math.round(DAY_MS / s.intervalMs);
    // Seasonal-naive and persistence residuals on the training part, and the series' scale (mean |1-step change|) to pool across series.
    const resid: number[] = [];
    const residP: number[] = [];
    let diff = 0;
    for (let t = 1; t < split; t++) {
      diff += Math.abs(s.values[t]! - s.values[t - 1]!);
      const target = t + h - 1;
      if (target - day >= 0 && target < split) resid.push(s.values[target]! - s.values[target - day]!);
      if (target < split) residP.push(s.values[target]! - s.values[t - 1]!);
    }
    const unit = Math.max(diff / (split - 1), 1e-9);
    const r10 = quantileOf(resid, 0.1);
    const r90 = quantileOf(resid, 0.9);
    const p10 = quantileOf(residP, 0.1);
    const p90 = quantileOf(residP, 0.9);
    const sorted = Array.from(s.values.subarray(0, split)).sort((a, b) => a - b);
    const limits = [0.9, 0.95, 0.99].map((q) => sorted[Math.floor(q * (sorted.length - 1))]!);
    const positions: number[] = [];
    for (let t = split; t + h - 1 < n; t++) positions.push(t);
    const outs: ForecastOutput[][] = [];
    for (const lim of limits) outs.push(await forecastAt(model, s, positions, h, () => lim));
    let lm = 0;
    let la = 0;
    let ln = 0;
    let lp = 0;
    const blend = new QuantileBlend();
    positions.forEach((t, i) => {
      const y = s.values[t + h - 1]!;
      const alone = outs[0]![i]!;
      // The blend sees the series up to the forecast's newest value (index t-1) only.
      const f = blend.push(s.values, t, t - 1, h, alone);
      const naive = s.values[t + h - 1 - day]!;
      lm += pinball3(y, [f.p10, f.p50, f.p90]);
      la += pinball3(y, [alone.p10, alone.p50, alone.p90]);
      if (y >= alone.p10 && y <= alone.p90) coveredAlone++;
      ln += pinball3(y, [naive + r10, naive, naive + r90]);
      // Persistence: the last value before the forecast, its h-step residuals' p10/p90 around it.
      const last = s.values[t - 1]!;
      lp += pinball3(y, [last + p10, last, last + p90]);
      if (y >= f.p10 && y <= f.p90) covered++;
      let mx = -Infinity;
      for (let j = t; j < t + h; j++) mx = Math.max(mx, s.values[j]!);
      limits.forEach((lim, k) => probs.push({ p: outs[k]![i]!.exhaustionProbability, hit: mx > lim }));
    });
    rows += positions.length;
    sumModel += lm / unit;
    sumAlone += la / unit;
    sumNaive += ln / unit;
    sumPersist += lp / unit;
    logRatio += Math.log(lm / Math.max(ln, 1e-12));
  }
  const events = probs.filter((x) => x.hit).length;
  const base = events / probs.length;
  let brier = 0;
  let brierBase = 0;
  const bins = Array.from({ length: 10 }, () => ({ sp: 0, hits: 0, n: 0 }));
  for (const x of probs) {
    const o = x.hit ? 1 : 0;
    brier += (x.p - o) ** 2;
    brierBase += (base - o) ** 2;
    const b = bins[Math.min(9, Math.floor(x.p * 10))]!;
    b.sp += x.p;
    b.hits += o;
    b.n++;
  }
  let ece = 0;
  for (const b of bins) if (b.n > 0) ece += (b.n / probs.length) * Math.abs(b.sp / b.n - b.hits / b.n);
  return {
    q: {
      horizonSteps: h,
      rows,
      pinballModel: sumModel / rows,
      pinballNaive: sumNaive / rows,
      improvement: 1 - sumModel / sumNaive,
      geomeanRatio: Math.exp(logRatio / aws.length),
      coverage: covered / rows,
      pinballPersistence: sumPersist / rows,
      improvementOverPersistence: 1 - sumModel / sumPersist,
      modelAlone: { pinball: sumAlone / rows, improvementOverPersistence: 1 - sumAlone / sumPersist, coverage: coveredAlone / rows },
    },
    e: {
      rows: probs.length,
      events,
      brier: brier / probs.length,
      brierBaseRate: brierBase / probs.length,
      ece,
      bins: bins.filter((b) => b.n > 0).map((b) => ({ p: b.sp / b.n, observed: b.hits / b.n, n: b.n })),
    },
  };
}

/** Every NAB series, as the forecaster reads a series (its spacing from its timestamps). */
export function nabSeries(nabDir: string): Series[] {
  return listSeries(nabDir).map((name): Series => {
    const { timestamps, values } = readSeries(nabDir, name);
    return { name, ts: Float64Array.from(timestamps), values: Float64Array.from(values), intervalMs: medianInterval(timestamps) };
  });
}

/** The one-step forecast of every row but the first, each from the rows before it (what the anomaly score reads). */
export async function oneStepForecasts(model: Forecaster, s: Series): Promise<ForecastOutput[]> {
  const positions: number[] = [];
  for (let t = 1; t < s.values.length; t++) positions.push(t);
  return forecastAt(model, s, positions, 1, () => Infinity);
}

/** How a NAB series is scored: which range the context view reads (NAB's own, the series' min and max that NAB gives every detector, or learned from the probation), and NAB's probation as the learning period, a fifth of it as the rest. */
export type NabRange = "nab" | "learned";
export const NAB_RANGES: readonly NabRange[] = ["nab", "learned"];

export function nabScoring(s: Series, settings: AnomalySettings, range: NabRange): { settings: AnomalySettings; range: ValueRange | null } {
  const probation = probationRows(s.values.length);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of s.values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return { settings: { ...settings, learning: probation, restRows: Math.round(probation / 5) }, range: range === "nab" ? { lo, hi } : null };
}

/** Anomaly scores of one series, streaming: the one-step forecast from values[0..t) scores values[t]. */
export function anomalyScoresOf(s: Series, forecasts: readonly ForecastOutput[], settings: AnomalySettings = ANOMALY_DEFAULTS, range: ValueRange | null = null): number[] {
  const scorer = new AnomalyScorer(settings, range);
  const scores = [scorer.push(s.ts[0]!, s.values[0]!, null)];
  for (let i = 0; i < forecasts.length; i++) scores.push(scorer.push(s.ts[i + 1]!, s.values[i + 1]!, forecasts[i]!));
  return scores;
}

/** NAB's way (nabScoring, with NAB's range): what bench/forecast's table compares with the scoreboard. */
export async function anomalyScores(model: Forecaster, s: Series): Promise<number[]> {
  const { settings, range } = nabScoring(s, ANOMALY_DEFAULTS, "nab");
  return anomalyScoresOf(s, await oneStepForecasts(model, s), settings, range);
}

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      model: { type: "string", default: DEFAULT_MODEL_PATH },
      "nab-dir": { type: "string", default: process.env["NAB_DIR"] ?? NAB_DIR_DEFAULT },
      runs: { type: "string", default: "10000" },
      "skip-nab": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (a.help) {
    process.stdout.write(USAGE);
    return;
  }
  const runs = Number(a.runs);
  if (!Number.isInteger(runs) || runs < 1) {
    process.stderr.write(`bench/forecast: --runs takes a whole number ≥ 1\n${USAGE}`);
    process.exit(2);
  }
  const nabDir = a["nab-dir"]!;
  checkNabDir(nabDir);
  const progress = (s: string) => process.stderr.write(`bench/forecast: ${s}\n`);
  const model = await loadForecaster(a.model!);
  const all = nabSeries(nabDir);
  const aws = all.filter((s) => s.name.startsWith("realAWSCloudwatch/"));

  progress(`quantiles on ${aws.length} AWS CloudWatch series (held-out last ${HELD_OUT_FRACTION * 100} %)`);
  const q15 = await quantileBench(model, aws, 3);
  const q60 = await quantileBench(model, aws, 12);

  let nab: { profile: string; score: number; threshold: number; tp: number; fp: number; fn: number }[] = [];
  const published = readPublished(nabDir);
  if (!a["skip-nab"]) {
    const windows = readWindows(nabDir);
    const profiles = readProfiles(nabDir);
    const files: DetectorFile[] = [];
    for (const [i, s] of all.entries()) {
      files.push({ name: s.name, timestamps: Array.from(s.ts), scores: await anomalyScores(model, s) });
      if ((i + 1) % 10 === 0) progress(`NAB: ${i + 1}/${all.length} series scored`);
    }
    nab = Object.entries(profiles).map(([profile, cost]) => {
      const r = scoreDetector(files, windows, cost);
      return { profile, score: r.normalized, threshold: r.threshold, tp: r.tp, fp: r.fp, fn: r.fn };
    });
  }

  progress(`latency: ${runs} ticks of 12 forecasts`);
  const host = all.find((s) => s.name.endsWith("ec2_cpu_utilization_5f5533.csv"))!;
  const tickInputs: ForecastInput[] = [];
  for (let m = 0; m < 6; m++) {
    const values = host.values.subarray(0, 2_016); // a week of five-minute steps
    for (const h of [3, 1]) tickInputs.push({ values, intervalMs: host.intervalMs, ts: host.ts[2_015]!, limit: 95, horizonMs: h * host.intervalMs });
  }
  // A tick blends each metric's quantiles at the horizon too (one blend per metric, a step further each tick).
  const blends = Array.from({ length: 6 }, () => new QuantileBlend());
  let at = 2_015;
  const tick = async () => {
    const outs = await model.run(tickInputs);
    at++;
    blends.forEach((b, m) => b.push(tickInputs[2 * m]!.values, 2_016, at, 3, outs[2 * m]!));
  };
  for (let i = 0; i < 200; i++) await tick();
  const lat: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await tick();
    lat.push(performance.now() - t0);
  }
  const latency = { medianMs: median(lat), p99Ms: quantileOf(lat, 0.99), runs };
  const modelBytes = statSync(a.model!).size;

  const result = { model: a.model, modelBytes, info: model.info, quantiles15m: q15.q, quantiles1h: q60.q, exhaustion15m: q15.e, exhaustion1h: q60.e, nab, latency, probationFraction: PROBATION_FRACTION };
  if (a.json) {
    process.stdout.write(JSON.stringify(result) + "\n");
    return;
  }
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const lines: string[] = [];
  lines.push(`model ${a.model} (${modelBytes} bytes, ${model.info.model_type})`, "");
  lines.push("quantiles, AWS CloudWatch held-out (pinball in units of each series' mean 1-step change):");
  lines.push("horizon   rows    umbra   seasonal-naive   better by   persistence   better by   geomean ratio   p10-p90 coverage");
  for (const [label, q] of [["15 min", q15.q], ["1 hour", q60.q]] as const) {
    lines.push(`${label.padEnd(8)} ${String(q.rows).padStart(5)}  ${q.pinballModel.toFixed(3).padStart(7)}  ${q.pinballNaive.toFixed(3).padStart(15)}  ${pct(q.improvement).padStart(10)}  ${q.pinballPersistence.toFixed(3).padStart(12)}  ${pct(q.improvementOverPersistence).padStart(10)}  ${q.geomeanRatio.toFixed(3).padStart(14)}  ${pct(q.coverage).padStart(17)}`);
  }
  lines.push("umbra: the model's quantiles blended with robust medians (src/forecast/blend.ts); the model alone:");
  for (const [label, q] of [["15 min", q15.q], ["1 hour", q60.q]] as const) {
    lines.push(`${label.padEnd(8)} pinball ${q.modelAlone.pinball.toFixed(3)}, ${pct(q.modelAlone.improvementOverPersistence)} below persistence, p10-p90 coverage ${pct(q.modelAlone.coverage)}`);
  }
  lines.push("", "exhaustion probability (limits at the 90/95/99th training percentile):");
  lines.push("horizon    rows  events   Brier   base-rate Brier   calibration error");
  for (const [label, e] of [["15 min", q15.e], ["1 hour", q60.e]] as const) {
    lines.push(`${label.padEnd(8)} ${String(e.rows).padStart(6)}  ${String(e.events).padStart(6)}  ${e.brier.toFixed(4)}  ${e.brierBaseRate.toFixed(4).padStart(16)}  ${e.ece.toFixed(4).padStart(18)}`);
  }
  if (nab.length > 0) {
    lines.push("", "NAB v1.1 (58 series, streaming; thresholds by NAB's optimiser):");
    lines.push("detector               standard   low FP   low FN");
    const row = (name: string, r: Record<string, number> | undefined) =>
      `${name.padEnd(22)} ${(r?.["standard"] ?? NaN).toFixed(1).padStart(8)} ${(r?.["reward_low_FP_rate"] ?? NaN).toFixed(1).padStart(8)} ${(r?.["reward_low_FN_rate"] ?? NaN).toFixed(1).padStart(8)}`;
    const ours = Object.fromEntries(nab.map((r) => [r.profile, r.score]));
    for (const [key, name] of [["ARTime", "ARTime"], ["numenta", "Numenta HTM"], ["contextOSE", "CAD OSE"]] as const) lines.push(row(name, published[key]));
    lines.push(row("umbra", ours) + "   <-");
    for (const [key, name] of [["randomCutForest", "Random Cut Forest"], ["twitterADVec", "Twitter ADVec"], ["windowedGaussian", "Windowed Gaussian"], ["random", "Random"]] as const) lines.push(row(name, published[key]));
    lines.push(`umbra thresholds: ${nab.map((r) => `${r.profile} ${r.threshold.toFixed(4)} (tp ${r.tp}, fp ${r.fp}, fn ${r.fn})`).join("; ")}`);
  }
  lines.push("", `inference per tick (12 forecasts, features and 6 blends included): median ${latency.medianMs.toFixed(3)} ms, p99 ${latency.p99Ms.toFixed(3)} ms over ${runs} runs`);
  process.stdout.write(lines.join("\n") + "\n");
}

if (import.meta.main ?? process.argv[1]?.endsWith("forecast.ts")) {
  main().catch((err: Error) => {
    process.stderr.write(`bench/forecast: ${err.message}\n`);
    process.exit(1);
  });
}
