// What the forecaster sees of a series: the same function builds the
// training rows (scripts/train-forecaster.ts) and the agent's inputs
// (model.ts), so the two cannot drift apart.
//
// Everything is relative to the newest value and a scale, so one small model
// serves CPU shares and bytes per second alike, and every horizon: the recent
// past is read in blocks as long as the horizon (the last BLOCKS of them),
// beside the daily and weekly seasonal lags at the target time and the time
// of day and week of the target. The model predicts (value - last) / scale;
// the graph turns that back into the metric's units.
//
// scale: the mean absolute change over one horizon in the recent past (how
// far the series usually moves in that time), floored so a flat series does
// not divide by zero.

export const BLOCKS = 8;
export const FEATURE_COUNT = BLOCKS + 11;
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

/**
 * Features of the series values[0..end) (values[end-1] the newest, taken at
 * `ts`, one every `intervalMs`) for a forecast `h` steps ahead, written to
 * out[o .. o+FEATURE_COUNT). Returns the frame the model's outputs are in.
 */
export function extract(values: ArrayLike<number>, end: number, intervalMs: number, ts: number, h: number, out: Float32Array, o: number): Frame {
  const last = values[end - 1]!;
  // Scale: mean |x[i] - x[i-h]| over the recent past.
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
  scale = Math.max(scale, 1e-3 * Math.abs(last), 1e-9);

  // Block means of the last BLOCKS horizons; a block before the start reads the oldest value.
  for (let k = 0; k < BLOCKS; k++) {
    let s = 0;
    for (let j = 0; j < h; j++) {
      const i = end - 1 - k * h - j;
      s += values[i >= 0 ? i : 0]!;
    }
    out[o + k] = clip((s / h - last) / scale);
  }
  let f = o + BLOCKS;
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
