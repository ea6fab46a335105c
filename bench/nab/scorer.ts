// bench/nab/scorer: the Numenta Anomaly Benchmark (NAB v1.1) scoring rules,
// as pure functions (no I/O, no clock). It mirrors NAB's nab/sweeper.py
// (calcSweepScore, calcScoreByThreshold, scoreDataSet), nab/optimizer.py
// (optimizeThreshold) and Runner.normalize in nab/runner.py, so a detector's
// rows give the number NAB's scoreboard would print.
//
// ── API (stable: src/forecast/ and scripts/train-forecaster.ts use it) ──────
//
//   scoreDetector(files, windows, profile, threshold?) → DetectorScore
//     files:     { name, timestamps (epoch ms, one per row), scores ([0,1]) }[]
//     windows:   Record<name, NabWindow[]>, each { startMs, endMs } inclusive,
//                sorted, on row timestamps (NAB's combined_windows.json)
//     profile:   CostMatrix { tpWeight, fpWeight, fnWeight }; NAB_PROFILES
//                holds the three published ones
//     threshold: a row with score >= threshold is a detection; omit it to
//                let NAB's optimizer choose (the best corpus-wide threshold)
//     → { raw, normalized, threshold, nullRaw, perfectRaw, tp, fp, fn,
//         perFile: [{ name, raw, tp, fp, fn }] }
//       normalized = 100 * (raw - nullRaw) / (perfectRaw - nullRaw), the
//       scoreboard number (Numenta HTM: 70.1 standard).
//
//   Lower-level pieces, for tests and tools: scaledSigmoid, probationRows,
//   sweepFile, scoreFile, sweepThresholds, optimiseThreshold, normalise.
//
// ── The rules, as NAB implements them ────────────────────────────────────────
// - Probation: the first min(floor(0.15 * rows), 750) rows of each file are not
//   scored at all (no TP, FP nor FN comes from them).
// - A window is entered on the row whose timestamp equals its start and left
//   after the row equal to its end. Inside, row i of a window whose right edge
//   is row R and width W rows earns, if detected,
//     tpWeight * scaledSigmoid(-(R - i + 1) / W) / scaledSigmoid(-1)
//   i.e. tpWeight for the first row, falling towards 0 at the right edge.
//   Only the best (= earliest) scored detection of a window counts; a window
//   with no detection among its scored rows costs -fnWeight. A window whose
//   rows all fall in probation counts for nothing (it is not scored).
// - Outside windows every detection is an FP worth
//     fpWeight * scaledSigmoid(|i - R_prev| / (W_prev - 1))
//   where R_prev, W_prev belong to the window that ended last; with no
//   window before it, an FP is worth -fpWeight (full weight).
// - scaledSigmoid(x) = 2 / (1 + e^(5x)) - 1, and -1 for x > 3.
// - Raw score: the sum over files. Null detector: no detections at all.
//   Perfect: every window of the label file detected at its first row
//   (windows × tpWeight, as NAB's normalize counts them).
//
// Counts reported here are per window for tp/fn (detected/missed windows)
// and per row for fp (NAB's own TP/FN columns count rows instead).

import { assert } from "../../src/shared/assert.ts";

/** One labelled anomaly window, both ends inclusive, on row timestamps. */
export type NabWindow = { readonly startMs: number; readonly endMs: number };

/** A profile's cost matrix (NAB's profiles.json "CostMatrix"; tnWeight is unused by NAB). */
export type CostMatrix = { readonly tpWeight: number; readonly fpWeight: number; readonly fnWeight: number };

/** One series as a detector saw it: a timestamp and an anomaly score per row. */
export type DetectorFile = {
  /** NAB's relative path, e.g. "realKnownCause/nyc_taxi.csv"; keys `windows`. */
  readonly name: string;
  /** Row timestamps, epoch ms, in order (NAB's series repeat some at DST changes; a window bound matches the first). */
  readonly timestamps: readonly number[];
  /** Anomaly score per row, in [0, 1]. */
  readonly scores: readonly number[];
};

export type FileScore = {
  readonly name: string;
  /** The file's NAB score at the threshold. */
  readonly raw: number;
  /** Windows detected (at least one detection among their scored rows). */
  readonly tp: number;
  /** Detections outside every window, after probation. */
  readonly fp: number;
  /** Scored windows with no detection. */
  readonly fn: number;
};

export type DetectorScore = {
  /** Sum of the files' scores. */
  readonly raw: number;
  /** 100 * (raw - nullRaw) / (perfectRaw - nullRaw): the scoreboard number. */
  readonly normalized: number;
  /** The threshold used (given, or chosen by the optimizer). */
  readonly threshold: number;
  /** Raw score of the null detector (no detections) on the same files. */
  readonly nullRaw: number;
  /** Raw score of the perfect detector: windows × tpWeight. */
  readonly perfectRaw: number;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  readonly perFile: readonly FileScore[];
};

/** NAB's probationary share of each file, and the row count it is capped at (0.15 × 5000). */
export const PROBATION_FRACTION = 0.15;
export const PROBATION_ROWS_MAX = 750;

/** The threshold NAB's sweep starts from: above every score, so nothing is detected. */
export const THRESHOLD_NONE = 1.1;

/** The three published profiles (NAB v1.1 config/profiles.json). */
export const NAB_PROFILES = {
  /** Balanced: an FP costs 0.11 of a window. */
  standard: { tpWeight: 1.0, fpWeight: 0.11, fnWeight: 1.0 },
  /** FPs cost twice as much. */
  reward_low_FP_rate: { tpWeight: 1.0, fpWeight: 0.22, fnWeight: 1.0 },
  /** A missed window costs twice as much. */
  reward_low_FN_rate: { tpWeight: 1.0, fpWeight: 0.11, fnWeight: 2.0 },
} as const satisfies Record<string, CostMatrix>;

export type ProfileName = keyof typeof NAB_PROFILES;
export const PROFILE_NAMES = Object.keys(NAB_PROFILES) as ProfileName[];

/** NAB's reward curve: ~+1 at a window's left edge (x = -1), 0 at its right edge, ~-1 one width after. */
export function scaledSigmoid(relativePosition: number): number {
  if (relativePosition > 3.0) return -1.0;
  return 2 / (1 + Math.exp(5 * relativePosition)) - 1.0;
}

/** Rows at the start of a file that are never scored. */
export function probationRows(rowCount: number): number {
  assert(Number.isInteger(rowCount) && rowCount >= 0, "rowCount is a non-negative integer");
  return Math.min(Math.floor(PROBATION_FRACTION * rowCount), PROBATION_ROWS_MAX);
}

/**
 * One file's rows after probation, each with what it is worth if detected.
 * `window` is the index of the window holding the row, or -1 outside windows.
 */
export type SweptFile = {
  readonly name: string;
  /** Number of windows of the file (scored or not). */
  readonly windowCount: number;
  /** Windows holding at least one scored row: the ones a miss costs. */
  readonly scoredWindows: readonly number[];
  readonly scores: readonly number[];
  readonly values: readonly number[];
  readonly window: readonly number[];
};

/** NAB's calcSweepScore: what each scored row would earn as a detection. */
export function sweepFile(file: DetectorFile, windows: readonly NabWindow[], profile: CostMatrix): SweptFile {
  const { timestamps, scores } = file;
  assert(timestamps.length === scores.length, `${file.name}: one score per timestamp`);
  checkProfile(profile);
  const rowByMs = new Map<number, number>();
  for (let i = 0; i < timestamps.length; i++) {
    const t = timestamps[i]!;
    assert(Number.isFinite(t), `${file.name}: timestamp ${i} is finite`);
    assert(Number.isFinite(scores[i]!), `${file.name}: score ${i} is finite`);
    // NAB's series repeat timestamps at DST changes; list.index() finds the first.
    if (!rowByMs.has(t)) rowByMs.set(t, i);
  }
  // NAB looks both ends up with list.index(): a window off the row grid is a
  // label error, so refuse it instead of silently dropping it.
  const bounds = windows.map((w, k) => {
    const left = rowByMs.get(w.startMs);
    const right = rowByMs.get(w.endMs);
    assert(left !== undefined, `${file.name}: window ${k} starts on a row timestamp`);
    assert(right !== undefined, `${file.name}: window ${k} ends on a row timestamp`);
    assert(left <= right, `${file.name}: window ${k} starts before it ends`);
    assert(left > prevEndRow(windows, k, rowByMs), `${file.name}: windows sorted, disjoint`);
    return { left, right, width: right - left + 1 };
  });

  const maxTp = scaledSigmoid(-1.0);
  const probation = probationRows(timestamps.length);
  const outScores: number[] = [];
  const outValues: number[] = [];
  const outWindow: number[] = [];
  const scored = new Set<number>();
  let next = 0; // the next window to enter
  let cur = -1; // the window we are in, or -1
  let prev = -1; // the last window we left, or -1
  for (let i = 0; i < timestamps.length; i++) {
    if (cur === -1 && next < bounds.length && bounds[next]!.left === i) cur = next++;
    let value: number;
    if (cur !== -1) {
      const b = bounds[cur]!;
      value = (scaledSigmoid(-(b.right - i + 1) / b.width) * profile.tpWeight) / maxTp;
    } else if (prev === -1) {
      value = -1.0 * profile.fpWeight;
    } else {
      const p = bounds[prev]!;
      // NAB divides by (width - 1): a one-row window followed by an FP is a
      // division by zero there, so we refuse it too.
      assert(p.width > 1, `${file.name}: window ${prev} spans more than one row`);
      value = scaledSigmoid(Math.abs(p.right - i) / (p.width - 1)) * profile.fpWeight;
    }
    if (i >= probation) {
      outScores.push(scores[i]!);
      outValues.push(value);
      outWindow.push(cur);
      if (cur !== -1) scored.add(cur);
    }
    if (cur !== -1 && bounds[cur]!.right === i) {
      prev = cur;
      cur = -1;
    }
  }
  return {
    name: file.name,
    windowCount: windows.length,
    scoredWindows: [...scored].sort((a, b) => a - b),
    scores: outScores,
    values: outValues,
    window: outWindow,
  };
}

/** The row the window before window k ends on (-1 for the first window). */
function prevEndRow(windows: readonly NabWindow[], k: number, rowByMs: ReadonlyMap<number, number>): number {
  if (k === 0) return -1;
  const row = rowByMs.get(windows[k - 1]!.endMs);
  assert(row !== undefined, "the previous window was checked first");
  return row;
}

function checkProfile(p: CostMatrix): void {
  assert(Number.isFinite(p.tpWeight) && p.tpWeight >= 0, "tpWeight is finite, non-negative");
  assert(Number.isFinite(p.fpWeight) && p.fpWeight >= 0, "fpWeight is finite, non-negative");
  assert(Number.isFinite(p.fnWeight) && p.fnWeight >= 0, "fnWeight is finite, non-negative");
}

/** One file's score at a threshold: NAB's scoreDataSet (detection iff score >= threshold). */
export function scoreSwept(swept: SweptFile, profile: CostMatrix, threshold: number): FileScore {
  const best = new Map<number, number>();
  for (const k of swept.scoredWindows) best.set(k, -profile.fnWeight);
  let fpValue = 0;
  let fp = 0;
  for (let j = 0; j < swept.scores.length; j++) {
    if (!(swept.scores[j]! >= threshold)) continue;
    const k = swept.window[j]!;
    if (k === -1) {
      fpValue += swept.values[j]!;
      fp++;
    } else {
      best.set(k, Math.max(best.get(k)!, swept.values[j]!));
    }
  }
  let raw = fpValue;
  let tp = 0;
  for (const v of best.values()) {
    raw += v;
    if (v !== -profile.fnWeight) tp++;
  }
  return { name: swept.name, raw, tp, fp, fn: best.size - tp };
}

/** scoreFile(rows, windows, profile, threshold): one file, NAB's rules. */
export function scoreFile(file: DetectorFile, windows: readonly NabWindow[], profile: CostMatrix, threshold: number): FileScore {
  return scoreSwept(sweepFile(file, windows, profile), profile, threshold);
}

/** The corpus score for one candidate threshold (NAB's ThresholdScore, without row counts). */
export type ThresholdScore = { readonly threshold: number; readonly raw: number };

/**
 * NAB's calcScoreByThreshold over the whole corpus: every distinct anomaly
 * score (plus THRESHOLD_NONE) with the corpus score when rows scoring at
 * least that much are detections. Highest threshold first.
 */
export function sweepThresholds(swept: readonly SweptFile[], profile: CostMatrix): ThresholdScore[] {
  const rows: { score: number; value: number; window: number; file: number }[] = [];
  const parts: Map<number, number>[] = [];
  let total = 0;
  swept.forEach((f, fi) => {
    const m = new Map<number, number>();
    for (const k of f.scoredWindows) {
      m.set(k, -profile.fnWeight);
      total -= profile.fnWeight;
    }
    parts.push(m);
    for (let j = 0; j < f.scores.length; j++) rows.push({ score: f.scores[j]!, value: f.values[j]!, window: f.window[j]!, file: fi });
  });
  // Stable sort, highest score first, as Python's sorted(reverse=True).
  rows.sort((a, b) => b.score - a.score);
  const out: ThresholdScore[] = [];
  let threshold = THRESHOLD_NONE;
  for (const r of rows) {
    if (r.score !== threshold) {
      out.push({ threshold, raw: total });
      threshold = r.score;
    }
    if (r.window === -1) {
      total += r.value;
    } else {
      const m = parts[r.file]!;
      const old = m.get(r.window)!;
      if (r.value > old) {
        m.set(r.window, r.value);
        total += r.value - old;
      }
    }
  }
  out.push({ threshold, raw: total });
  return out;
}

/** NAB's optimizer: the candidate with the best corpus score; on ties, the highest threshold. */
export function optimiseThreshold(swept: readonly SweptFile[], profile: CostMatrix): ThresholdScore {
  const all = sweepThresholds(swept, profile);
  let best = all[0];
  assert(best !== undefined, "the sweep yields at least one threshold");
  for (const s of all) if (s.raw > best.raw) best = s;
  return best;
}

/** Scoreboard normalisation: null detector → 0, perfect detector → 100. */
export function normalise(raw: number, nullRaw: number, perfectRaw: number): number {
  assert(perfectRaw > nullRaw, "the perfect score beats the null score");
  return (100 * (raw - nullRaw)) / (perfectRaw - nullRaw);
}

/**
 * Score a detector over a corpus, NAB's way. Every file needs an entry in
 * `windows` (an empty list for a series without anomalies). With no
 * threshold, NAB's optimizer picks the one that maximises the raw score.
 */
export function scoreDetector(
  files: readonly DetectorFile[],
  windows: Readonly<Record<string, readonly NabWindow[]>>,
  profile: CostMatrix,
  threshold?: number,
): DetectorScore {
  assert(files.length > 0, "at least one file to score");
  assert(new Set(files.map((f) => f.name)).size === files.length, "file names are unique");
  const swept = files.map((f) => {
    const w = Object.hasOwn(windows, f.name) ? windows[f.name] : undefined;
    assert(w !== undefined, `windows for ${f.name}`);
    return sweepFile(f, w, profile);
  });
  const chosen = threshold ?? optimiseThreshold(swept, profile).threshold;
  assert(Number.isFinite(chosen), "threshold is finite");
  const perFile = swept.map((s) => scoreSwept(s, profile, chosen));
  const raw = sum(perFile.map((f) => f.raw));
  // The null detector loses fnWeight on every scored window; the perfect one
  // earns tpWeight on every labelled window (NAB counts them from the labels).
  const nullRaw = 0 - profile.fnWeight * sum(swept.map((s) => s.scoredWindows.length));
  const perfectRaw = profile.tpWeight * sum(swept.map((s) => s.windowCount));
  return {
    raw,
    normalized: normalise(raw, nullRaw, perfectRaw),
    threshold: chosen,
    nullRaw,
    perfectRaw,
    tp: sum(perFile.map((f) => f.tp)),
    fp: sum(perFile.map((f) => f.fp)),
    fn: sum(perFile.map((f) => f.fn)),
    perFile,
  };
}

function sum(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}
