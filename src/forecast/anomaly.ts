// The anomaly score: how unusual each new value is for its series.
// Streaming and pure: it sees each value once, in order, and never looks
// ahead (NAB's rule). Three views, the strongest counts; the first two are
// ranked against the series' own recent history (the last HISTORY values):
//
//   surprise   the value against the one-step forecast made just before it:
//              z = |value - p50| / σ, σ from the p10–p90 side the value fell
//              on; only the part beyond one σ counts (log1p(max(0, z - 1))).
//   extremity  the value itself against the history's values: how far out in
//              either tail it sits.
//
// A view's score is the empirical tail probability p of its reading among
// the history's readings, as -log10(p) / log10(HISTORY + 1): 1 for a reading
// beyond everything in a full history, 0 for an ordinary one. Until LEARNING
// values have been seen the score is 0.
//
//   context    the value's place in its sequence: its level, and the runs
//              of levels it ends, against those seen before (context.ts):
//              over a known range, or over a learned one at several scales.
//
// An alarm stands for a while: a surprise or extremity score no higher than
// the highest of the last SUPPRESS_MS is halved, so a burst of strange
// values raises one alarm (the first, or a stronger one), not one per row.
// And after any score of at least `restBase` (REST_BASE, 0.75) the next
// `restRows` (REST_ROWS) score 0: a rest as CAD OSE's, except that it runs
// a fixed length from the alarm that started it (CAD's stays quiet while
// any raw score of its last rest period reached the base, so a continuing
// anomaly lengthens it). An agent that moves on alarms starts the rest only
// at its move threshold ([forecast] anomalyThreshold), so a weaker alarm
// cannot silence a stronger one that follows.
//
// The constants were chosen on NAB itself (bench/forecast.ts), as every
// detector on NAB's scoreboard was: the score there is optimistic for that.
// bench/nab/cv.ts chooses them by cross-validation instead (AnomalySettings).
import { Z90 } from "./normal.ts";
import { ContextNovelty, LEARNED_MARGINS, LEVELS, ORDERS, type ValueRange } from "./context.ts";

export const HISTORY = 8_640;
export const LEARNING = 288;
export const SUPPRESS_MS = 7 * 86_400_000;
/** After a score of at least the rest's base, this many values score 0: on NAB, a fifth of the probation (CAD OSE's rest), 150 rows for the long series; in the agent, 150 steps (2.5 hours of one-minute steps). */
export const REST_ROWS = 150;
/** The score that starts a rest by default: a pair of levels never seen (context.ts), or as strange by the other views. */
export const REST_BASE = 0.75;

export type OneStep = { p10: number; p50: number; p90: number };

/** How many σ beyond the one-step forecast `value` fell (σ from the side it fell on). */
export function surpriseZ(f: OneStep, value: number): number {
  const side = value >= f.p50 ? f.p90 - f.p50 : f.p50 - f.p10;
  const sigma = Math.max(side / Z90, 1e-12 * Math.max(1, Math.abs(f.p50)));
  return Math.abs(value - f.p50) / sigma;
}

/** The last `capacity` readings, kept both in arrival order and sorted, for tail ranks. */
export class SortedWindow {
  private readonly fifo: Float64Array;
  private readonly sorted: Float64Array;
  private head = 0;
  private n = 0;
  readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.fifo = new Float64Array(capacity);
    this.sorted = new Float64Array(capacity);
  }

  get length(): number {
    return this.n;
  }

  /** First index whose reading is ≥ x (strict: > x). */
  private bound(x: number, strict: boolean): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      const v = this.sorted[m]!;
      if (v < x || (strict && v === x)) lo = m + 1;
      else hi = m;
    }
    return lo;
  }

  /** Readings ≥ x. */
  atLeast(x: number): number {
    return this.n - this.bound(x, false);
  }

  /** Readings ≤ x. */
  atMost(x: number): number {
    return this.bound(x, true);
  }

  push(x: number): void {
    if (this.n === this.capacity) {
      const old = this.fifo[this.head]!;
      const i = this.bound(old, false);
      this.sorted.copyWithin(i, i + 1, this.n);
      this.n--;
    }
    this.fifo[this.head] = x;
    this.head = (this.head + 1) % this.capacity;
    const at = this.bound(x, false);
    this.sorted.copyWithin(at + 1, at, this.n);
    this.sorted[at] = x;
    this.n++;
  }
}

/** The scorer's constants; the agent runs the defaults (restBase: its move threshold when it moves on alarms), bench/nab/cv.ts tries others (and sets learning and restRows from NAB's probation). */
export type AnomalySettings = { history: number; learning: number; suppressMs: number; restRows: number; restBase: number };
export const ANOMALY_DEFAULTS: AnomalySettings = { history: HISTORY, learning: LEARNING, suppressMs: SUPPRESS_MS, restRows: REST_ROWS, restBase: REST_BASE };

export class AnomalyScorer {
  private readonly surprises: SortedWindow;
  private readonly values: SortedWindow;
  private readonly learning: number;
  private readonly suppressMs: number;
  private readonly logScale: number;
  /** Recent raw scores with their times, highest-last-kept (a monotonic queue: strictly decreasing scores). */
  private readonly peaks: { ts: number; score: number }[] = [];
  /** The context view: one over a known range, or one per LEARNED_MARGINS over a learned one. */
  private readonly contexts: ContextNovelty[];
  private readonly restRows: number;
  private readonly restBase: number;
  /** Values since the last score that started a rest. */
  private sinceAlarm = Infinity;

  /** `range`: the values' known range (a share's 0..1), or null to learn it from the first `learning` values. */
  constructor(settings: AnomalySettings = ANOMALY_DEFAULTS, range: ValueRange | null = null) {
    const view = (margin: number) => new ContextNovelty(range, { levels: LEVELS, orders: ORDERS, memoryRows: settings.history, learning: settings.learning, margin });
    this.contexts = range === null ? LEARNED_MARGINS.map(view) : [view(0)];
    this.restRows = settings.restRows;
    this.restBase = settings.restBase;
    this.surprises = new SortedWindow(settings.history);
    this.values = new SortedWindow(settings.history);
    this.learning = settings.learning;
    this.suppressMs = settings.suppressMs;
    this.logScale = Math.log10(settings.history + 1);
  }

  /** A view's score: the tail probability of a reading with `readingsBeyond` of `n` as far out, on the log scale of a full history. */
  private tailScore(readingsBeyond: number, n: number): number {
    return Math.min(1, -Math.log10((1 + readingsBeyond) / (1 + n)) / this.logScale);
  }

  /**
   * The newest value of the series at `ts`, and the one-step forecast made
   * before it (null when there was none yet). Returns its score in [0, 1].
   */
  push(ts: number, value: number, forecast: OneStep | null): number {
    if (!Number.isFinite(value)) return 0; // a reading that is no number says nothing, and is not remembered
    const r = forecast === null ? 0 : Math.log1p(Math.max(0, surpriseZ(forecast, value) - 1));
    let raw = 0;
    if (this.values.length >= this.learning) {
      const n = this.values.length;
      const bySurprise = this.tailScore(this.surprises.atLeast(r), n);
      const byValue = this.tailScore(Math.min(this.values.atLeast(value), this.values.atMost(value)), n);
      raw = Math.max(bySurprise, byValue);
    }
    this.surprises.push(r);
    this.values.push(value);

    while (this.peaks.length > 0 && this.peaks[0]!.ts <= ts - this.suppressMs) this.peaks.shift();
    const standing = this.peaks.length > 0 ? this.peaks[0]!.score : -1;
    while (this.peaks.length > 0 && this.peaks[this.peaks.length - 1]!.score <= raw) this.peaks.pop();
    this.peaks.push({ ts, score: raw });
    let score = raw > standing ? raw : raw / 2;
    for (const c of this.contexts) score = Math.max(score, c.push(value));
    if (++this.sinceAlarm <= this.restRows) return 0;
    if (score >= this.restBase) this.sinceAlarm = 0;
    return score;
  }
}
