// What the forecaster sees of a series: the same function builds the
// training rows (scripts/train-forecaster.ts) and the agent's inputs
// (model.ts), so the two cannot drift apart.
//
// Everything is relative to the newest value and a scale, so one small model
// serves CPU shares and bytes per second alike, and every horizon: the recent
// past is read in blocks as long as the horizon (the last BLOCKS of them);
// then a local view (robust levels, the recent errors of a robust predictor,
// the recent spread, the last few values, how much the series moved step to
// step lately, and its trend over one, two and four horizons); the daily and
// weekly seasonal lags at the target time; and the time of day and week of
// the target. The model predicts (value - last) / scale; the graph turns
// that back into the metric's units.
//
// scale: the mean absolute change over one horizon in the recent past (how
// far the series usually moves in that time), floored so a flat series does
// not divide by zero.

export const BLOCKS = 8;
/** Steps of history before the model is asked anything: the trainer's rows start here, so a younger series would be a question it never saw (an agent's first minutes, a spike at start-up read as a climb). */
export const HISTORY_MIN_STEPS = 16;
/** Medians of the last few steps (robust levels), beside the block means. */
const MEDIAN_SPANS = [4, 12, 36] as const;
/** The robust predictor whose recent errors the model sees: the median of this many steps. */
const ANCHOR_SPAN = 12;
/** Its errors, and the values' spread, are read over this many recent steps. */
const LOCAL_STEPS = 144;
/** The quantile levels the forecaster speaks in (p10, p50, p90): the model's outputs, the errors' quantiles it reads, a robust forecast's. */
export const QUANTILE_LEVELS = [0.1, 0.5, 0.9] as const;
/** Fewer errors than this, and the error features are zero (their flag says so). */
const LOCAL_MIN = 16;
/** The last few values one by one, and how much the series moved step to step lately (over these spans). */
const RECENT_VALUES = 3;
const MOTION_SPANS = [6, 24] as const;
/** Trends: the least-squares slope over the last this-many horizons, as the change it makes over one horizon. */
const TREND_HORIZONS = [1, 2, 4] as const;
const LOCAL_COUNT = MEDIAN_SPANS.length + 6 + RECENT_VALUES + MOTION_SPANS.length + TREND_HORIZONS.length;
export const FEATURE_COUNT = BLOCKS + 11 + LOCAL_COUNT;
/** Where the local view starts (after the block means); its first 9: three medians, the errors' p10/p50/p90 and flag, the values' p10/p90. */
export const LOCAL_FEATURE = BLOCKS;
/** Where the horizon feature sits (the graph reads it to recalibrate the exhaustion probability). */
export const HORIZON_FEATURE = FEATURE_COUNT - 1;
export const DAY_MS = 86_400_000;
export const WEEK_MS = 7 * DAY_MS;
/** Steps of history the scale is measured over: at least this many, or 8 horizons. */
const SCALE_STEPS_MIN = 128;
/** Normalised features are clipped to ±CLIP: a spike should not swamp the model. */
export const CLIP = 10;

export type Frame = {
  /** The newest value: forecasts are offsets from it. */
  last: number;
  /** The unit of those offsets. */
  scale: number;
};

/** Steps in a horizon: at least one. */
export function horizonSteps(horizonMs: number, intervalMs: number): number {
  return Math.max(1, Math.round(horizonMs / Math.max(1, intervalMs)));
}

/** Steps in a seasonal lag, or 0 when the series is too coarse to tell. */
function lagSteps(periodMs: number, intervalMs: number): number {
  const n = Math.round(periodMs / Math.max(1, intervalMs));
  return n >= 4 ? n : 0;
}

function clip(x: number): number {
  return x > CLIP ? CLIP : x < -CLIP ? -CLIP : x;
}

/** Scratch for medians and quantiles (the agent forecasts one series at a time). */
const scratch = new Float64Array(Math.max(LOCAL_STEPS, ...MEDIAN_SPANS));
const errors = new Float64Array(LOCAL_STEPS);
/** The longest median a robust forecast takes (robustForecast's span). */
export const ROBUST_SPAN_MAX = 36;
const anchorWindow = new Float64Array(ROBUST_SPAN_MAX);

/** The k-th smallest of a[0..n) (0-based), in place: a's order changes, not its values (Wirth's selection, linear on average). */
function select(a: Float64Array, n: number, k: number): number {
  let l = 0;
  let r = n - 1;
  while (r > l) {
    const x = a[k]!;
    let i = l;
    let j = r;
    do {
      while (a[i]! < x) i++;
      while (x < a[j]!) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    } while (i <= j);
    if (j < k) l = i;
    if (k < i) r = j;
  }
  return a[k]!;
}

/** The q-quantile of a[0..n) (the lower of two middles, as bench/forecast's quantiles); reorders a. */
function quantileInPlace(a: Float64Array, n: number, q: number): number {
  return select(a, n, Math.min(n - 1, Math.floor(q * (n - 1))));
}

/** values[end-k .. end) (fewer at the start) copied into scratch; returns how many. */
function window(values: ArrayLike<number>, end: number, k: number): number {
  const from = Math.max(0, end - k);
  for (let i = from; i < end; i++) scratch[i - from] = values[i]!;
  return end - from;
}

/** In the sorted window w[0..m), `out` (one of its values) replaced by `into`, kept sorted. */
function slide(w: Float64Array, m: number, out: number, into: number): void {
  let i = 0;
  while (i < m - 1 && w[i] !== out) i++;
  if (into > w[i]!) {
    while (i + 1 < m && w[i + 1]! < into) {
      w[i] = w[i + 1]!;
      i++;
    }
  } else {
    while (i > 0 && w[i - 1]! > into) {
      w[i] = w[i - 1]!;
      i--;
    }
  }
  w[i] = into;
}

/** errors[0..n): values[u+h-1] less the median of values[u-span .. u), for the last LOCAL_STEPS origins u whose target is known; returns n. The median slides with u. */
function anchorErrors(values: ArrayLike<number>, end: number, h: number, span: number): number {
  const u0 = Math.max(span, end - h + 1 - LOCAL_STEPS);
  if (u0 > end - h) return 0;
  const w = anchorWindow.subarray(0, span);
  for (let i = 0; i < span; i++) w[i] = values[u0 - span + i]!;
  w.sort();
  const mid = Math.floor(0.5 * (span - 1));
  let n = 0;
  for (let u = u0; u <= end - h; u++) {
    if (u > u0) slide(w, span, values[u - 1 - span]!, values[u - 1]!);
    errors[n++] = values[u + h - 1]! - w[mid]!;
  }
  return n;
}

/**
 * A robust forecast of values[end+h-1] from values[0..end): the median of
 * the last `span` steps, plus the p10/p50/p90 of the errors that median made
 * h steps ahead over the last LOCAL_STEPS origins whose targets are known.
 * Written to out[0..3) in the series' units; false (out untouched) while
 * fewer than LOCAL_MIN such errors exist. The model's inputs read one of
 * these (span ANCHOR_SPAN); the quantile blend takes them as experts.
 */
export function robustForecast(values: ArrayLike<number>, end: number, h: number, span: number, out: Float64Array): boolean {
  if (span < 1 || span > ROBUST_SPAN_MAX) throw new RangeError(`a robust forecast's span is 1..${ROBUST_SPAN_MAX}, not ${span}`);
  const n = anchorErrors(values, end, h, span);
  if (n < LOCAL_MIN) return false;
  const level = quantileInPlace(scratch, window(values, end, span), 0.5);
  for (let i = 0; i < 3; i++) out[i] = level + quantileInPlace(errors, n, QUANTILE_LEVELS[i]!);
  return true;
}

/**
 * The local view, written to out[o ..]: medians of the last few steps; the
 * p10/p50/p90 of the errors a median of the last ANCHOR_SPAN steps made
 * over the recent LOCAL_STEPS forecasts h steps ahead, with a flag that
 * there were enough of them; the p10/p90 of the recent values; the last
 * few values; the mean step-to-step change over MOTION_SPANS; the trend
 * over TREND_HORIZONS. All against the newest value, in scale units. A
 * robust level and its own recent errors are what a noisy, spiky series is
 * best forecast from; the trends are what a climb is.
 */
function local(values: ArrayLike<number>, end: number, h: number, last: number, scale: number, out: Float32Array, o: number): void {
  let f = o;
  for (const k of MEDIAN_SPANS) out[f++] = clip((quantileInPlace(scratch, window(values, end, k), 0.5) - last) / scale);
  // Forecasts made at u (from values[0..u)) for values[u+h-1], all known now.
  const n = anchorErrors(values, end, h, ANCHOR_SPAN);
  if (n >= LOCAL_MIN) {
    for (const q of QUANTILE_LEVELS) out[f++] = clip(quantileInPlace(errors, n, q) / scale);
    out[f++] = 1;
  } else {
    for (let i = 0; i < 4; i++) out[f++] = 0;
  }
  const m = window(values, end, LOCAL_STEPS);
  out[f++] = clip((quantileInPlace(scratch, m, 0.1) - last) / scale);
  out[f++] = clip((quantileInPlace(scratch, m, 0.9) - last) / scale);
  for (let k = 1; k <= RECENT_VALUES; k++) out[f++] = clip((values[Math.max(0, end - 1 - k)]! - last) / scale);
  for (const k of MOTION_SPANS) {
    let moved = 0;
    const from2 = Math.max(1, end - k);
    for (let i = from2; i < end; i++) moved += Math.abs(values[i]! - values[i - 1]!);
    out[f++] = clip(end > from2 ? moved / (end - from2) / scale : 0);
  }
  for (const k of TREND_HORIZONS) out[f++] = clip((slope(values, end, Math.max(3, k * h)) * h) / scale);
}

/** The least-squares slope of values[end-n .. end) per step (over what there is; 0 for fewer than 2). */
function slope(values: ArrayLike<number>, end: number, n: number): number {
  const from = Math.max(0, end - n);
  const m = end - from;
  if (m < 2) return 0;
  const xm = (m - 1) / 2;
  let ym = 0;
  for (let i = from; i < end; i++) ym += values[i]!;
  ym /= m;
  let sxy = 0;
  let sxx = 0;
  for (let i = from; i < end; i++) {
    const x = i - from - xm;
    sxy += x * (values[i]! - ym);
    sxx += x * x;
  }
  return sxy / sxx;
}

/** The scale of values[0..end) h steps ahead (see the head of this file): the mean |x[i] - x[i-h]| over the recent past; half the range when the series is shorter than h; floored. */
export function scaleOf(values: ArrayLike<number>, end: number, h: number): number {
  const last = values[end - 1]!;
  const span = Math.min(end - h, Math.max(SCALE_STEPS_MIN, 8 * h));
  let moved = 0;
  for (let i = end - span; i < end; i++) moved += Math.abs(values[i]! - values[i - h]!);
  let scale = span > 0 ? moved / span : 0;
  if (span <= 0) {
    let lo = last;
    let hi = last;
    for (let i = 0; i < end; i++) {
      lo = Math.min(lo, values[i]!);
      hi = Math.max(hi, values[i]!);
    }
    scale = (hi - lo) / 2;
  }
  return Math.max(scale, 1e-3 * Math.abs(last), 1e-9);
}

/**
 * Features of the series values[0..end) (values[end-1] the newest, taken at
 * `ts`, one every `intervalMs`) for a forecast `h` steps ahead, written to
 * out[o .. o+FEATURE_COUNT). Returns the frame the model's outputs are in.
 */
export function extract(values: ArrayLike<number>, end: number, intervalMs: number, ts: number, h: number, out: Float32Array, o: number): Frame {
  const last = values[end - 1]!;
  const scale = scaleOf(values, end, h);

  // Block means of the last BLOCKS horizons; a block before the start reads the oldest value.
  for (let k = 0; k < BLOCKS; k++) {
    let s = 0;
    for (let j = 0; j < h; j++) {
      const i = end - 1 - k * h - j;
      s += values[i >= 0 ? i : 0]!;
    }
    out[o + k] = clip((s / h - last) / scale);
  }
  local(values, end, h, last, scale, out, o + BLOCKS);
  let f = o + BLOCKS + LOCAL_COUNT;
  // Seasonal lags: how the series moved over the same horizon a day (a week)
  // ago, and where it stood at the target time then, against now.
  for (const period of [DAY_MS, WEEK_MS]) {
    const lag = lagSteps(period, intervalMs);
    const now = end - 1 - lag;
    if (lag > 0 && now >= 0 && now + h < end) {
      out[f] = clip((values[now + h]! - values[now]!) / scale);
      out[f + 1] = clip((values[now + h]! - last) / scale);
      out[f + 2] = 1;
    } else {
      out[f] = 0;
      out[f + 1] = 0;
      out[f + 2] = 0;
    }
    f += 3;
  }
  // When the target falls: time of day and of week.
  const target = ts + h * intervalMs;
  const day = (2 * Math.PI * (((target % DAY_MS) + DAY_MS) % DAY_MS)) / DAY_MS;
  // Epoch day 0 was a Thursday; the phase only needs to be fixed, not named.
  const week = (2 * Math.PI * (((target % WEEK_MS) + WEEK_MS) % WEEK_MS)) / WEEK_MS;
  out[f++] = Math.sin(day);
  out[f++] = Math.cos(day);
  out[f++] = Math.sin(week);
  out[f++] = Math.cos(week);
  // The horizon, in steps (log scale: 1 step → 0, 64 steps → 1).
  out[f++] = Math.log2(h) / 6;
  return { last, scale };
}
