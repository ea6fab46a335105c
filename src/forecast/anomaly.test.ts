// Proves the anomaly score: its sorted window counts exactly, scores are
// quiet while learning and on flat series, high on a spike, 1 on a level
// never visited (the context view), quiet for the rest after an alarm,
// always in [0, 1]; and the forecaster's features stay finite.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ANOMALY_DEFAULTS, AnomalyScorer, HISTORY, LEARNING, REST_BASE, REST_ROWS, SortedWindow, SUPPRESS_MS, surpriseZ } from "./anomaly.ts";
import { extract, FEATURE_COUNT, horizonSteps } from "./features.ts";

describe("SortedWindow", () => {
  test("counts at-least and at-most exactly as a brute force over the last `capacity` readings", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: -1, max: 21 }), (xs, cap, q) => {
        const w = new SortedWindow(cap);
        for (const x of xs) w.push(x);
        const kept = xs.slice(-cap);
        expect(w.length).toBe(kept.length);
        expect(w.atLeast(q)).toBe(kept.filter((x) => x >= q).length);
        expect(w.atMost(q)).toBe(kept.filter((x) => x <= q).length);
      }),
      { seed: 4, numRuns: 300 },
    );
  });
});

describe("anomaly score", () => {
  const STEP = 300_000;
  const calmForecast = { p10: 9, p50: 10, p90: 11 };

  test("z counts σ on the side the value fell, σ from that side's quantile", () => {
    expect(surpriseZ({ p10: 8, p50: 10, p90: 11 }, 11)).toBeCloseTo(1.2816, 3);
    expect(surpriseZ({ p10: 8, p50: 10, p90: 11 }, 8)).toBeCloseTo(1.2816, 3);
  });

  test("silent while learning and on a flat series; a spike after scores high; a second as strong within the suppression window is halved", () => {
    // A range so wide that 10 and 30 share a level: the context view stays out of it.
    const s = new AnomalyScorer(undefined, { lo: 0, hi: 1000 });
    let ts = 0;
    const scores: number[] = [];
    for (let i = 0; i < LEARNING + 500; i++) scores.push(s.push((ts += STEP), 10, calmForecast));
    expect(Math.max(...scores)).toBe(0);
    const spike = s.push((ts += STEP), 30, calmForecast);
    // A value beyond everything seen scores as a record among that many: log(n + 1) / log(HISTORY + 1).
    expect(spike).toBeCloseTo(Math.log10(LEARNING + 501) / Math.log10(HISTORY + 1), 9);
    s.push((ts += STEP), 10, calmForecast);
    const again = s.push((ts += STEP), 30, calmForecast);
    expect(again).toBeLessThanOrEqual(spike / 2 + 1e-9);
    // Long after the window, the same spike is news again (if still rare).
    for (let t = 0; t < SUPPRESS_MS / STEP + 10; t++) s.push((ts += STEP), 10, calmForecast);
    expect(s.push((ts += STEP), 30, calmForecast)).toBeGreaterThan(0.5);
  });

  test("with a known range, a level never visited scores 1 (the context view); the next REST_ROWS values rest at 0, then it speaks again", () => {
    const s = new AnomalyScorer(undefined, { lo: 0, hi: 1 });
    let ts = 0;
    const share = { p10: 0.25, p50: 0.3, p90: 0.35 };
    for (let i = 0; i < LEARNING + 400; i++) expect(s.push((ts += STEP), 0.3 + 0.02 * Math.sin(i), share)).toBeLessThan(REST_BASE);
    expect(s.push((ts += STEP), 0.95, share)).toBe(1);
    const resting = Array.from({ length: REST_ROWS }, () => s.push((ts += STEP), 0.95, share));
    expect(Math.max(...resting)).toBe(0);
    expect(s.push((ts += STEP), 0.02, share)).toBe(1); // a level never visited, once the rest is over
  });

  test("a rest starts only at restBase: a 0.75 under a base of 0.9 does not silence the 1 that follows; a reading that is no number scores 0 and is not remembered", () => {
    const s = new AnomalyScorer({ ...ANOMALY_DEFAULTS, restBase: 0.9 }, { lo: 0, hi: 1 });
    let ts = 0;
    const share = { p10: 0.28, p50: 0.3, p90: 0.32 };
    for (let i = 0; i < LEARNING + 400; i++) s.push((ts += STEP), i % 2 === 0 ? 0.3 : 0.45, share); // levels 2 and 3, alternating
    expect(s.push((ts += STEP), 0.45, share)).toBe(0.75); // 3 after 3: a pair never seen
    expect(s.push((ts += STEP), NaN, share)).toBe(0);
    expect(s.push((ts += STEP), 0.95, share)).toBe(1); // a level never seen, no rest in the way
    expect(s.push((ts += STEP), 0.3, share)).toBe(0); // the 1 started the rest
  });

  test("a learned range is read at every scale: a value a narrow scale finds new scores 1 where the widest alone would not", () => {
    const s = new AnomalyScorer(undefined, null);
    let ts = 0;
    const calm = { p10: 9, p50: 10, p90: 11 };
    for (let i = 0; i < LEARNING + 400; i++) s.push((ts += STEP), 10 + (i % 3) * 0.5, calm); // 10..11: the narrowest scale reads 9.5..11.5
    // 10.25 falls between 10 and 10.5 at the narrowest scale (9.5..11.5 in steps of 0.29: a level never seen),
    // and with 10 or 10.5 at every wider one (steps of 0.43 and more): only the narrow scale finds it new.
    expect(s.push((ts += STEP), 10.25, calm)).toBe(1);
  });

  test("scores stay in [0, 1] on arbitrary input", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 600 }), (xs) => {
        const s = new AnomalyScorer();
        xs.forEach((x, i) => {
          const v = s.push(i * STEP, x, i === 0 ? null : { p10: xs[i - 1]! - 1, p50: xs[i - 1]!, p90: xs[i - 1]! + 1 });
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1);
        });
      }),
      { seed: 9, numRuns: 40 },
    );
  });
});

describe("features", () => {
  test("a flat series has a floored scale and zero offsets; features are finite and clipped", () => {
    const out = new Float32Array(FEATURE_COUNT);
    const f = extract(new Float64Array(50).fill(7), 50, STEP_5M, 0, 3, out, 0);
    expect(f.last).toBe(7);
    expect(f.scale).toBeCloseTo(0.007, 6);
    for (let i = 0; i < 8; i++) expect(out[i]).toBe(0);
    const spiky = Float64Array.from({ length: 3_000 }, (_, i) => (i === 2_990 ? 1e9 : i % 7));
    extract(spiky, spiky.length, STEP_5M, 0, 12, out, 0);
    for (const x of out) {
      expect(Number.isFinite(x)).toBe(true);
      expect(Math.abs(x)).toBeLessThanOrEqual(10);
    }
    expect(horizonSteps(15 * 60_000, 60_000)).toBe(15);
    expect(horizonSteps(1, 60_000)).toBe(1);
  });
});
const STEP_5M = 300_000;
