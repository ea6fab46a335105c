// bench/nab/cv: the NAB score of umbra's anomaly detector, cross-validated
// by series. Every constant chosen on NAB (the anomaly score's settings and
// NAB's per-profile threshold) is chosen on the other folds' series and
// scored on the held-out fold's, never on the series it is scored on; the
// held-out raw scores are summed over all folds and normalised over the
// whole corpus, as NAB normalises. The in-sample figure (every choice made
// on all 58 series, the way NAB's scoreboard was made) is printed beside.
// Each is scored twice: with the context view reading each series' range
// as NAB gives it to every detector (look-ahead, as CAD OSE, HTM and ARTime
// read it), and with the range learned from NAB's probation rows.
//
//   node bench/nab/cv.ts [--model FILE] [--nab-dir DIR] [--folds 5] [--seed 1] [--repeats 5] [--json]
//
// The one-step forecasts the score reads are made once per series with the
// model given (default: the shipped one); the model card says which rows
// it was trained on. The folds are a seeded shuffle of the series; with
// 58 series of unequal weight a single deal moves the score by several
// points, so the deal is repeated (seeds seed..seed+repeats-1) and the
// median reported, with the range.
import { parseArgs } from "node:util";
import { checkNabDir, NAB_DIR_DEFAULT, readProfiles, readWindows } from "./data.ts";
import { normalise, optimiseThreshold, scoreSwept, sweepFile, type CostMatrix, type DetectorFile, type NabWindow, type SweptFile } from "./scorer.ts";
import { anomalyScoresOf, NAB_RANGES, nabScoring, nabSeries, oneStepForecasts, type NabRange } from "../forecast.ts";
import { DEFAULT_MODEL_PATH, loadForecaster } from "../../src/forecast/model.ts";
import { ANOMALY_DEFAULTS, type AnomalySettings } from "../../src/forecast/anomaly.ts";
import { rng } from "../../src/shared/rng.ts";

const DAY_MS = 86_400_000;

/** The settings tried: the history the ranks are taken in (a week, 15 and 30 days of 5-minute rows) × how long an alarm stands. */
export const GRID: readonly AnomalySettings[] = [2_016, 4_320, 8_640].flatMap((history) => [1, 3, 7].map((days) => ({ ...ANOMALY_DEFAULTS, history, suppressMs: days * DAY_MS })));

/** The fold of each file: a seeded shuffle dealt round-robin, so folds differ in size by one at most. */
export function foldsOf(fileCount: number, k: number, seed: number): number[] {
  const order = Array.from({ length: fileCount }, (_, i) => i);
  const r = rng(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const fold = new Array<number>(fileCount);
  order.forEach((file, pos) => (fold[file] = pos % k));
  return fold;
}

/** What NAB's normalisation needs of a set of files: the null detector's and the perfect detector's raw scores. */
function bounds(files: readonly SweptFile[], profile: CostMatrix): { nullRaw: number; perfectRaw: number } {
  let nullRaw = 0;
  let perfectRaw = 0;
  for (const f of files) {
    nullRaw -= profile.fnWeight * f.scoredWindows.length;
    perfectRaw += profile.tpWeight * f.windowCount;
  }
  return { nullRaw, perfectRaw };
}

/** The best setting and threshold on these files: the setting whose optimised threshold earns the most raw score. */
export function choose(swept: readonly (readonly SweptFile[])[], files: readonly number[], profile: CostMatrix): { setting: number; threshold: number; raw: number } {
  let best = { setting: -1, threshold: Infinity, raw: -Infinity };
  swept.forEach((bySetting, setting) => {
    const t = optimiseThreshold(files.map((i) => bySetting[i]!), profile);
    if (t.raw > best.raw) best = { setting, threshold: t.threshold, raw: t.raw };
  });
  return best;
}

export type FoldChoice = { fold: number; setting: number; threshold: number; trainNormalized: number; heldOutFiles: number };
export type CvResult = { normalized: number; raw: number; nullRaw: number; perfectRaw: number; folds: FoldChoice[] };

/**
 * Cross-validation by file. `swept[s][f]` is file f swept under setting s
 * (the same files, in the same order, for every setting). For each fold, the
 * setting and threshold are chosen on the other folds and the fold's files
 * scored at them; the corpus score is the held-out raw scores' sum,
 * normalised over the whole corpus.
 */
export function crossValidate(swept: readonly (readonly SweptFile[])[], profile: CostMatrix, foldOf: readonly number[], k: number): CvResult {
  const fileCount = swept[0]!.length;
  let raw = 0;
  const folds: FoldChoice[] = [];
  for (let fold = 0; fold < k; fold++) {
    const train = Array.from({ length: fileCount }, (_, i) => i).filter((i) => foldOf[i] !== fold);
    const test = Array.from({ length: fileCount }, (_, i) => i).filter((i) => foldOf[i] === fold);
    if (test.length === 0) continue;
    const c = choose(swept, train, profile);
    for (const i of test) raw += scoreSwept(swept[c.setting]![i]!, profile, c.threshold).raw;
    const b = bounds(train.map((i) => swept[c.setting]![i]!), profile);
    folds.push({ fold, setting: c.setting, threshold: c.threshold, trainNormalized: normalise(c.raw, b.nullRaw, b.perfectRaw), heldOutFiles: test.length });
  }
  const b = bounds(swept[0]!, profile);
  return { normalized: normalise(raw, b.nullRaw, b.perfectRaw), raw, ...b, folds };
}

/** Every choice made on every file: the scoreboard's way, optimistic. */
export function inSample(swept: readonly (readonly SweptFile[])[], profile: CostMatrix): { normalized: number; setting: number; threshold: number } {
  const all = Array.from({ length: swept[0]!.length }, (_, i) => i);
  const c = choose(swept, all, profile);
  const b = bounds(swept[0]!, profile);
  return { normalized: normalise(c.raw, b.nullRaw, b.perfectRaw), setting: c.setting, threshold: c.threshold };
}

const USAGE = `usage: node bench/nab/cv.ts [options]
  --model FILE    the forecaster whose one-step forecasts the score reads (default ${DEFAULT_MODEL_PATH})
  --nab-dir DIR   NAB v1.1 folder (default: $NAB_DIR or ${NAB_DIR_DEFAULT})
  --folds K       folds of series (default 5)
  --seed N        the first shuffle of series into folds (default 1)
  --repeats N     deals of the series into folds, seeds N apart by one (default 5)
  --json          one JSON object
  -h, --help      this text
`;

const RANGE_TEXT: Record<NabRange, string> = { nab: "NAB's (each series' min and max, as NAB gives every detector)", learned: "learned from the probation rows (no look-ahead)" };

/** One profile, every deal: the cross-validated scores' median and spread, and the in-sample figure. */
function crossValidateProfile(files: readonly (readonly DetectorFile[])[], windows: Record<string, NabWindow[]>, profile: string, cost: CostMatrix, seeds: readonly number[], k: number) {
  const swept = files.map((bySetting) => bySetting.map((f) => sweepFile(f, windows[f.name] ?? [], cost)));
  const runs = seeds.map((sd) => crossValidate(swept, cost, foldsOf(swept[0]!.length, k, sd), k));
  const scores = runs.map((r) => r.normalized).sort((x, y) => x - y);
  return { profile, cvMedian: scores[Math.floor((scores.length - 1) / 2)]!, cvMin: scores[0]!, cvMax: scores[scores.length - 1]!, runs, inSample: inSample(swept, cost) };
}

const describe = (s: AnomalySettings) => `history ${s.history}, alarm stands ${s.suppressMs / DAY_MS} d`;

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      model: { type: "string", default: DEFAULT_MODEL_PATH },
      "nab-dir": { type: "string", default: process.env["NAB_DIR"] ?? NAB_DIR_DEFAULT },
      folds: { type: "string", default: "5" },
      seed: { type: "string", default: "1" },
      repeats: { type: "string", default: "5" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (a.help) return void process.stdout.write(USAGE);
  const k = Number(a.folds);
  const seed = Number(a.seed);
  const repeats = Number(a.repeats);
  if (!Number.isInteger(k) || k < 2 || k > 58 || !Number.isInteger(seed) || !Number.isInteger(repeats) || repeats < 1 || repeats > 100) {
    process.stderr.write(`bench/nab/cv: --folds takes 2-58, --seed a whole number, --repeats 1-100\n${USAGE}`);
    process.exit(2);
  }
  const nabDir = a["nab-dir"]!;
  checkNabDir(nabDir);
  const progress = (s: string) => process.stderr.write(`bench/nab/cv: ${s}\n`);
  const model = await loadForecaster(a.model!);
  const windows = readWindows(nabDir);
  const profiles = readProfiles(nabDir);
  const series = nabSeries(nabDir);
  const forecasts: Awaited<ReturnType<typeof oneStepForecasts>>[] = [];
  for (const [i, s] of series.entries()) {
    forecasts.push(await oneStepForecasts(model, s));
    if ((i + 1) % 10 === 0) progress(`one-step forecasts: ${i + 1}/${series.length} series`);
  }
  const seeds = Array.from({ length: repeats }, (_, i) => seed + i);
  const results = NAB_RANGES.flatMap((range) => {
    // files[s][f]: file f's anomaly scores under setting s.
    const files = GRID.map((settings, g) => {
      progress(`range ${range}, setting ${g + 1}/${GRID.length}: ${describe(settings)}`);
      return series.map((s, f) => {
        const how = nabScoring(s, settings, range);
        return { name: s.name, timestamps: Array.from(s.ts), scores: anomalyScoresOf(s, forecasts[f]!, how.settings, how.range) };
      });
    });
    return Object.entries(profiles).map(([profile, cost]) => ({ range, ...crossValidateProfile(files, windows, profile, cost, seeds, k) }));
  });
  const out = { model: a.model, folds: k, seeds, grid: GRID, results };
  if (a.json) return void process.stdout.write(JSON.stringify(out) + "\n");
  const lines = [`bench/nab/cv: ${series.length} series, ${k} folds dealt ${repeats} times (seeds ${seeds[0]}-${seeds[seeds.length - 1]}), ${GRID.length} settings × each profile's threshold chosen per fold`, ""];
  lines.push("| range the context view reads | profile | cross-validated (median of deals) | deals' spread | in-sample | in-sample choice |", "|---|---|---|---|---|---|");
  for (const r of results) {
    lines.push(`| ${RANGE_TEXT[r.range]} | ${r.profile} | ${r.cvMedian.toFixed(1)} | ${r.cvMin.toFixed(1)}-${r.cvMax.toFixed(1)} | ${r.inSample.normalized.toFixed(1)} | ${describe(GRID[r.inSample.setting]!)}; threshold ${r.inSample.threshold.toFixed(4)} |`);
  }
  lines.push("", `settings: ${GRID.map((s, i) => `${i} = ${describe(s)}`).join("; ")}`);
  process.stdout.write(lines.join("\n") + "\n");
}

if (import.meta.main ?? process.argv[1]?.endsWith("cv.ts")) {
  main().catch((err: Error) => {
    process.stderr.write(`bench/nab/cv: ${err.message}\n`);
    process.exit(1);
  });
}
