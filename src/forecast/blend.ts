// The quantile blend: what a forecast says at the horizon (the quantiles
// status shows and scaling reads) is, quantile by quantile, a weighted mix of
// experts: the model, and robust forecasts (the median of the last 12 and of
// the last 36 steps, plus the quantiles of the errors that median made
// lately; features.ts's robustForecast). Each quantile's weights follow each
// expert's discounted pinball loss on its own forecasts whose targets have
// come since (exponential weights, Hedge: Freund and Schapire 1997; for
// quantiles, the online aggregation of Gaillard et al.), so a series the
// model reads poorly leans on the medians, and a climb, which the medians
// trail, leans back on the model once their errors show.
//
// Streaming and per series: a forecast is scored only once its target is a
// value of the series, never before (no look-ahead). The loss is in units of
// the series' scale at forecast time, so the weights mean the same for CPU
// shares and bytes per second. The exhaustion probability is not blended:
// it stays the model's (trained and calibrated for crossings).
import { QUANTILE_LEVELS as TAUS, robustForecast, ROBUST_SPAN_MAX, scaleOf } from "./features.ts";

export type Quantiles = { p10: number; p50: number; p90: number };

export type BlendSettings = {
  /** How hard the weights follow the losses: weight ∝ exp(-eta × discounted loss in scale units). */
  eta: number;
  /** Each resolved forecast first multiplies the losses so far by this (0.995: a memory of about 200 steps). */
  discount: number;
  /** The robust experts' median spans, in steps (1..ROBUST_SPAN_MAX). */
  spans: readonly number[];
};

/** Chosen on NAB's series other than the AWS ones bench/forecast holds out; the held-out figure barely moves over eta 0.5..8 and discount 0.99..1 (models/README.md). */
export const BLEND_DEFAULTS: BlendSettings = { eta: 1, discount: 0.995, spans: [12, 36] };

/** A forecast waiting for its target: every expert's three quantiles (expert-major) and the scale they are judged in. */
type Pending = { target: number; scale: number; experts: Float64Array };

/** The pinball (quantile) loss of forecasting `q` as the tau-quantile when `y` came. */
export function pinball(y: number, q: number, tau: number): number {
  const d = y - q;
  return d >= 0 ? tau * d : (tau - 1) * d;
}

export class QuantileBlend {
  private readonly settings: BlendSettings;
  /** Experts: 0 the model, then one per span. */
  private readonly count: number;
  /** Discounted loss per quantile per expert (quantile-major). */
  private readonly loss: Float64Array;
  private pending: Pending[] = [];
  private lastAt = -Infinity;
  private readonly robust = new Float64Array(3);
  private readonly w: Float64Array;

  constructor(settings: BlendSettings = BLEND_DEFAULTS) {
    for (const s of settings.spans) if (!Number.isInteger(s) || s < 1 || s > ROBUST_SPAN_MAX) throw new RangeError(`a blend's spans are whole steps 1..${ROBUST_SPAN_MAX}, not ${s}`);
    if (!(settings.eta > 0) || !(settings.discount > 0 && settings.discount <= 1)) throw new RangeError("a blend's eta is above 0 and its discount in (0, 1]");
    this.settings = settings;
    this.count = 1 + settings.spans.length;
    this.loss = new Float64Array(3 * this.count);
    this.w = new Float64Array(this.count);
  }

  /**
   * The blended quantiles of a forecast `h` steps ahead from values[0..end),
   * whose newest value is step `at` of the series (steps count up by one per
   * value: at + h is the target), given the model's quantiles for it. First
   * scores the forecasts whose targets values[] now holds. A second forecast
   * from the same step is blended but not scored (the first one is); a
   * series that starts over (at below the last call's) starts the blend
   * over, weights equal. A horizon that changes (the step's spacing is
   * measured, and may drift) keeps the weights: each forecast waits for its
   * own target. A forecast with a value that is no number is neither
   * scored nor kept.
   */
  push(values: ArrayLike<number>, end: number, at: number, h: number, model: Quantiles): Quantiles {
    if (at < this.lastAt) this.reset();
    const again = at === this.lastAt;
    this.lastAt = at;
    if (!again) this.resolve(values, end, at);
    const experts = new Float64Array(3 * this.count);
    experts.set([model.p10, model.p50, model.p90], 0);
    if (!experts.subarray(0, 3).every(Number.isFinite)) return model;
    this.settings.spans.forEach((span, k) => {
      // Too little history for a robust forecast: the expert says what the model says.
      const ok = robustForecast(values, end, h, span, this.robust);
      experts.set(ok ? this.robust : experts.subarray(0, 3), 3 * (k + 1));
    });
    if (!again) this.pending.push({ target: at + h, scale: scaleOf(values, end, h), experts });
    const q = TAUS.map((_, j) => this.mix(experts, j)).sort((a, b) => a - b);
    return { p10: q[0]!, p50: q[1]!, p90: q[2]! };
  }

  /** Each quantile's weights now (p10's, p50's, p90's; model first, then the spans'), summing to 1. */
  weights(): number[][] {
    return TAUS.map((_, j) => {
      this.weigh(j);
      return Array.from(this.w);
    });
  }

  private reset(): void {
    this.pending = [];
    this.loss.fill(0);
    this.lastAt = -Infinity;
  }

  /** Scores every pending forecast whose target is at or before `at` (dropped unscored if the window no longer holds it). */
  private resolve(values: ArrayLike<number>, end: number, at: number): void {
    let i = 0;
    for (; i < this.pending.length && this.pending[i]!.target <= at; i++) {
      const p = this.pending[i]!;
      const back = at - p.target;
      if (back >= end) continue;
      const y = values[end - 1 - back]!;
      if (!Number.isFinite(y)) continue;
      for (let j = 0; j < 3; j++) {
        const o = j * this.count;
        let min = Infinity;
        for (let k = 0; k < this.count; k++) {
          this.loss[o + k] = this.settings.discount * this.loss[o + k]! + pinball(y, p.experts[3 * k + j]!, TAUS[j]!) / p.scale;
          min = Math.min(min, this.loss[o + k]!);
        }
        // Only the differences weigh: keep the smallest at 0, so a long run cannot grow them past what a double holds exactly.
        for (let k = 0; k < this.count; k++) this.loss[o + k] = this.loss[o + k]! - min;
      }
    }
    if (i > 0) this.pending.splice(0, i);
  }

  /** this.w: quantile j's weights. */
  private weigh(j: number): void {
    const o = j * this.count;
    let min = Infinity;
    for (let k = 0; k < this.count; k++) min = Math.min(min, this.loss[o + k]!);
    let sum = 0;
    for (let k = 0; k < this.count; k++) sum += this.w[k] = Math.exp(-this.settings.eta * (this.loss[o + k]! - min));
    for (let k = 0; k < this.count; k++) this.w[k] = this.w[k]! / sum;
  }

  private mix(experts: Float64Array, j: number): number {
    this.weigh(j);
    let q = 0;
    for (let k = 0; k < this.count; k++) q += this.w[k]! * experts[3 * k + j]!;
    return q;
  }
}
