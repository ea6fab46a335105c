// The series the forecaster is trained and evaluated on: NAB's, read in
// place, and synthetic ones drawn from a seeded generator (daily and weekly
// seasons, noise, level shifts, bursts, memory leaks that climb to
// exhaustion and restart, and surges: a steady climb to saturation or to a
// plateau below it, held, then back). Shared by scripts/train-forecaster.ts and
// bench/forecast.ts so both cut the same held-out part.
import { rng, type Rng } from "../shared/rng.ts";
import { DAY_MS, WEEK_MS } from "./features.ts";

export type Series = {
  name: string;
  ts: Float64Array;
  values: Float64Array;
  intervalMs: number;
};

/** The median spacing of a series' timestamps. */
export function medianInterval(ts: ArrayLike<number>): number {
  const d: number[] = [];
  for (let i = 1; i < ts.length; i++) d.push(ts[i]! - ts[i - 1]!);
  d.sort((a, b) => a - b);
  return Math.max(1, d[Math.floor(d.length / 2)] ?? 60_000);
}

/** The share of AWS CloudWatch series held out for evaluation (their last 30 %). */
export const HELD_OUT_FRACTION = 0.3;

function gauss(r: Rng): number {
  const u = Math.max(r.next(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.next());
}

function uniform(r: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * r.next();
}

/** One synthetic series of `n` steps; the kind is drawn from the seed. */
export function syntheticSeries(seed: number, n: number): Series {
  const r = rng(seed);
  const intervalMs = r.next() < 0.7 ? 300_000 : 60_000;
  const start = Date.UTC(2026, 0, 5) + r.int(7) * DAY_MS + r.int(288) * 300_000;
  const ts = new Float64Array(n);
  const values = new Float64Array(n);
  const kind = r.int(3); // 0: a usage share in [0, 1]; 1: a rate (positive, bursty); 2: a drifting level
  const base = kind === 0 ? uniform(r, 0.05, 0.6) : kind === 1 ? Math.exp(uniform(r, 2, 16)) : uniform(r, 10, 1000);
  const dayAmp = r.next() < 0.7 ? uniform(r, 0, 0.5) : 0;
  const weekAmp = r.next() < 0.4 ? uniform(r, 0, 0.3) : 0;
  const dayPhase = uniform(r, 0, 2 * Math.PI);
  const noise = uniform(r, 0.002, 0.15);
  const ar = uniform(r, 0, 0.95);
  const leaks = kind === 0 && r.next() < 0.5;
  // Surges: a share climbs steadily for 15 minutes to 2 hours, either to saturation (a runaway) or to a plateau below it (a busy spell), holds, and falls back.
  const surgeRate = kind === 0 && r.next() < 0.5 ? uniform(r, 0.0005, 0.004) : 0;
  let surge = { to: 0, climb: 0, hold: 0, at: -1 };
  const shiftRate = r.next() < 0.5 ? uniform(r, 0, 0.002) : 0;
  const burstRate = kind === 1 ? uniform(r, 0, 0.01) : 0;
  let level = 1;
  let e = 0;
  let leak = 0;
  let leakSlope = 0;
  let drift = 0;
  for (let i = 0; i < n; i++) {
    const t = start + i * intervalMs;
    ts[i] = t;
    const season = 1 + dayAmp * Math.sin((2 * Math.PI * (t % DAY_MS)) / DAY_MS + dayPhase) + weekAmp * Math.sin((2 * Math.PI * (t % WEEK_MS)) / WEEK_MS);
    e = ar * e + noise * gauss(r);
    if (r.next() < shiftRate) level *= Math.exp(0.5 * gauss(r));
    let v: number;
    if (kind === 0) {
      // A leak climbs to full over 1 to 24 hours, then the process restarts.
      if (leaks && leakSlope === 0 && r.next() < 0.002) leakSlope = (1 - base) / (uniform(r, 3_600_000, 24 * 3_600_000) / intervalMs);
      leak += leakSlope;
      if (surge.at < 0 && r.next() < surgeRate) {
        const to = r.next() < 0.5 ? 1.05 : uniform(r, 0.5, 0.95);
        surge = { to, climb: Math.max(2, Math.round(uniform(r, 900_000, 7_200_000) / intervalMs)), hold: Math.round(uniform(r, 3_600_000, 6 * 3_600_000) / intervalMs), at: 0 };
      }
      let lift = 0;
      if (surge.at >= 0) {
        const x = surge.at / surge.climb;
        const target = Math.max(0, surge.to - base * level * season);
        lift = x < 1 ? target * x : target;
        if (++surge.at > surge.climb + surge.hold) surge.at = -1;
      }
      v = Math.min(1, Math.max(0, base * level * season + e * base + leak + lift));
      if (v >= 1 && leakSlope > 0 && r.next() < 0.2) {
        leak = 0;
        leakSlope = 0;
      }
    } else if (kind === 1) {
      const burst = r.next() < burstRate ? Math.exp(uniform(r, 0.5, 2.5)) : 1;
      v = base * level * Math.max(0.01, season) * Math.exp(e) * burst;
    } else {
      drift += noise * gauss(r) * 0.1;
      v = base * level * season + base * (e + drift);
    }
    values[i] = v;
  }
  return { name: `synthetic-${seed}`, ts, values, intervalMs };
}
