// The quantile blend: its weights follow each expert's scored losses, a
// forecast is scored only once its target has come, and a series that starts
// over starts the weights over.
import { describe, expect, test } from "bun:test";
import { BLEND_DEFAULTS, QuantileBlend, type Quantiles } from "./blend.ts";
import { robustForecast } from "./features.ts";
import { rng } from "../shared/rng.ts";

const H = 3;
const equal = [1 / 3, 1 / 3, 1 / 3];

/** A noisy level series of n values. */
function noisy(n: number, seed: number): Float64Array {
  const r = rng(seed);
  return Float64Array.from({ length: n }, () => 10 + r.next());
}

/** Pushes every step from `from` to the series' end with the model's quantiles from `model(t)` (t: values[0..t) known); returns the last blend. */
function feed(b: QuantileBlend, v: Float64Array, from: number, model: (t: number) => Quantiles): Quantiles {
  let q: Quantiles = model(from);
  // only values[0..t) in reach: a read past the newest value would be undefined, not the future
  for (let t = from; t <= v.length; t++) q = b.push(v.subarray(0, t), t, t - 1, H, model(t));
  return q;
}

describe("weights", () => {
  test("a model far off on a level series loses its weight to the robust medians; the blend comes back to the level", () => {
    const v = noisy(600, 1);
    const b = new QuantileBlend();
    const q = feed(b, v, 100, () => ({ p10: 19, p50: 20, p90: 21 }));
    for (const w of b.weights()) expect(w[0]!).toBeLessThan(0.01);
    expect(q.p50).toBeGreaterThan(10.2);
    expect(q.p50).toBeLessThan(10.8);
    expect(q.p10).toBeLessThanOrEqual(q.p50);
    expect(q.p50).toBeLessThanOrEqual(q.p90);
  });

  test("a level series the medians read best, until it climbs faster and faster: they trail, and a model that sees it takes the weight", () => {
    const r = rng(6);
    const v = Float64Array.from({ length: 360 }, (_, i) => 10 + r.next() + (i > 300 ? Math.exp((i - 300) / 12) : 0));
    const b = new QuantileBlend();
    // the model: before the climb the level with too wide a band (worse than the medians), from its start the truth h steps on
    const model = (t: number) => (t + H <= 301 ? { p10: 9.5, p50: 10.5, p90: 11.5 } : { p10: truth(t) - 0.4, p50: truth(t), p90: truth(t) + 0.4 });
    const truth = (t: number) => v[Math.min(v.length - 1, t - 1 + H)]!;
    for (let t = 100; t <= 300; t++) b.push(v, t, t - 1, H, model(t));
    // its p50 (the level) is as good as theirs; its p10 and p90 are not
    const [w10, , w90] = b.weights();
    expect(w10![0]!).toBeLessThan(0.2);
    expect(w90![0]!).toBeLessThan(0.2);
    feed(b, v, 301, model);
    for (const w of b.weights()) expect(w[0]!).toBeGreaterThan(0.9);
  });

  test("weights are equal until the first forecast's target comes, and move at that step, not before", () => {
    const v = noisy(300, 2);
    const b = new QuantileBlend();
    const off = () => ({ p10: 29, p50: 30, p90: 31 });
    b.push(v, 200, 199, H, off());
    for (let t = 201; t < 200 + H; t++) {
      b.push(v, t, t - 1, H, off());
      for (const w of b.weights()) expect(w).toEqual(equal);
    }
    b.push(v, 200 + H, 199 + H, H, off()); // values[199 + H], the first forecast's target, is in
    for (const w of b.weights()) expect(w[0]!).toBeLessThan(1 / 3);
  });
});

describe("the stream", () => {
  test("the same step twice is scored once; a series that starts over starts the weights over; a new horizon keeps them", () => {
    const v = noisy(300, 3);
    const off = { p10: 29, p50: 30, p90: 31 };
    const once = new QuantileBlend();
    const twice = new QuantileBlend();
    for (let t = 100; t <= 200; t++) {
      once.push(v, t, t - 1, H, off);
      twice.push(v, t, t - 1, H, off);
      twice.push(v, t, t - 1, H, off);
    }
    expect(twice.weights()).toEqual(once.weights());
    const before = once.weights();
    twice.push(v, 50, 49, H, off); // back in time: an agent's history that began again
    for (const w of twice.weights()) expect(w).toEqual(equal);
    once.push(v, 201, 200, H + 1, off); // the step's spacing drifted: the horizon is one step longer
    expect(once.weights()[0]![0]!).toBeLessThanOrEqual(before[0]![0]!);
    for (const w of once.weights()) expect(w).not.toEqual(equal);
  });

  test("a target the window no longer holds is dropped unscored", () => {
    const v = noisy(300, 4);
    const b = new QuantileBlend();
    const off = { p10: 29, p50: 30, p90: 31 };
    b.push(v, 100, 99, H, off);
    // 500 steps later, with only the last 200 values in the window: the forecast made at step 99 cannot be scored
    b.push(v, 200, 599, H, off);
    for (const w of b.weights()) expect(w).toEqual(equal);
  });

  test("after a gap in steps, a target the window still holds is scored, against the value of its own step", () => {
    const v = noisy(300, 8);
    const off = { p10: 29, p50: 30, p90: 31 };
    // forecast at step 99 (newest value v[99]) for step 102; the next call comes 10 steps later, v[109] the newest
    const gap = new QuantileBlend();
    gap.push(v.subarray(0, 100), 100, 99, H, off);
    gap.push(v.subarray(0, 110), 110, 109, H, off);
    for (const w of gap.weights()) expect(w[0]!).toBeLessThan(1 / 3);
    // scored at its own step instead, the same forecast gives the same weights: it read v[102] both ways
    const onTime = new QuantileBlend();
    onTime.push(v.subarray(0, 100), 100, 99, H, off);
    onTime.push(v.subarray(0, 103), 103, 102, H, off);
    expect(gap.weights()).toEqual(onTime.weights());
  });

  test("a model's forecast that is no number is passed through, neither scored nor kept", () => {
    const v = noisy(300, 9);
    const b = new QuantileBlend();
    const bad = { p10: NaN, p50: 10, p90: 11 };
    expect(b.push(v.subarray(0, 100), 100, 99, H, bad)).toEqual(bad);
    const q = feed(b, v, 101, () => ({ p10: 10.1, p50: 10.5, p90: 10.9 }));
    for (const x of [q.p10, q.p50, q.p90]) expect(Number.isFinite(x)).toBe(true);
  });

  test("too little history for a robust forecast: the medians say what the model says", () => {
    const v = noisy(10, 5);
    const b = new QuantileBlend();
    const m = { p10: 9, p50: 10, p90: 11 };
    expect(b.push(v, 10, 9, H, m)).toEqual(m);
  });

  test("settings out of range are refused", () => {
    expect(() => new QuantileBlend({ ...BLEND_DEFAULTS, spans: [0] })).toThrow(/spans/);
    expect(() => new QuantileBlend({ ...BLEND_DEFAULTS, spans: [37] })).toThrow(/spans/);
    expect(() => new QuantileBlend({ ...BLEND_DEFAULTS, eta: 0 })).toThrow(/eta/);
    expect(() => new QuantileBlend({ ...BLEND_DEFAULTS, discount: 1.5 })).toThrow(/discount/);
  });
});

test("a robust forecast is the median of the span plus its errors' quantiles, as a sort gives them", () => {
  const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * (xs.length - 1)))]!;
  const r = rng(7);
  const out = new Float64Array(3);
  for (let k = 0; k < 60; k++) {
    const n = 20 + r.int(400);
    const v = Float64Array.from({ length: n }, () => (r.next() < 0.1 ? 50 * r.next() : r.int(5)));
    for (const span of [12, 36]) {
      const median = (to: number) => quantile(Array.from(v.subarray(Math.max(0, to - span), to)), 0.5);
      const errors: number[] = [];
      for (let u = Math.max(span, n - H + 1 - 144); u <= n - H; u++) errors.push(v[u + H - 1]! - median(u));
      const ok = robustForecast(v, n, H, span, out);
      expect(ok).toBe(errors.length >= 16);
      if (ok) expect(Array.from(out)).toEqual([0.1, 0.5, 0.9].map((q) => median(n) + quantile(errors, q)));
    }
  }
});
