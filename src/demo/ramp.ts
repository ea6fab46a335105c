// A replayable CPU load with climbs, for the lifecycle's scenarios and
// bench (the replay probe reads it: `timestamp,value` rows, one every
// stepMs). Calm at 0.35, then per cycle a climb to 0.95, a plateau, a fall
// to 0.3 and a calm at 0.3; every row with ±0.015 of seeded noise, clamped
// to [0, 1].

import { rng } from "../shared/rng.ts";

/** One cycle's rows of each phase. */
export type RampCycle = { climb: number; top: number; fall: number; calm: number };
export type Ramp = { csv: string; /** The series time of the first row at or above v (null: none). */ firstAtOrAbove(v: number): number | null };

const CALM = 0.35;
const TOP = 0.95;
const LOW = 0.3;
const NOISE = 0.03;

/** The ramp's CSV (rows from t0, one every stepMs; the same for the same seed) and where it first reaches a level. */
export function loadRamp(o: { seed: number; t0: number; stepMs: number; calmRows: number; cycles: readonly RampCycle[] }): Ramp {
  const levels: number[] = Array.from({ length: o.calmRows }, () => CALM);
  for (const c of o.cycles) {
    for (let i = 0; i < c.climb; i++) levels.push(CALM + ((i + 1) / c.climb) * (TOP - CALM));
    for (let i = 0; i < c.top; i++) levels.push(TOP);
    for (let i = 0; i < c.fall; i++) levels.push(TOP - ((i + 1) / c.fall) * (TOP - LOW));
    for (let i = 0; i < c.calm; i++) levels.push(LOW);
  }
  const r = rng(o.seed);
  const values = levels.map((v) => Math.max(0, Math.min(1, v + (r.next() - 0.5) * NOISE)));
  const ts = (i: number) => o.t0 + i * o.stepMs;
  const rows = values.map((v, i) => `${new Date(ts(i)).toISOString().replace("T", " ").slice(0, 19)},${v.toFixed(4)}`);
  return {
    csv: ["timestamp,value", ...rows].join("\n") + "\n",
    firstAtOrAbove(v) {
      const i = values.findIndex((x) => x >= v);
      return i < 0 ? null : ts(i);
    },
  };
}
