import { expect, test } from "bun:test";
import { loadRamp } from "./ramp.ts";

const STEP = 300_000;
const T0 = Date.parse("2024-03-04T00:00:00Z");

test("a ramp: calm rows, then each cycle's climb, plateau, fall and calm; seeded", () => {
  const o = { seed: 3, t0: T0, stepMs: STEP, calmRows: 4, cycles: [{ climb: 2, top: 2, fall: 2, calm: 2 }, { climb: 3, top: 1, fall: 1, calm: 1 }] };
  const ramp = loadRamp(o);
  const rows = ramp.csv.trim().split("\n");
  expect(rows[0]).toBe("timestamp,value");
  expect(rows).toHaveLength(1 + 4 + 8 + 6);
  expect(rows[1]).toStartWith("2024-03-04 00:00:00,");
  expect(rows[2]).toStartWith("2024-03-04 00:05:00,");
  const v = rows.slice(1).map((r) => Number(r.split(",")[1]));
  for (const x of v.slice(0, 4)) expect(x).toBeCloseTo(0.35, 1); // calm, ±0.015
  expect(v[5]).toBeCloseTo(0.95, 1); // the climb's last row
  expect(v[11]).toBeCloseTo(0.3, 1); // calm after the fall
  expect(ramp.firstAtOrAbove(0.9)).toBe(T0 + 5 * STEP);
  expect(ramp.firstAtOrAbove(1.5)).toBeNull();
  expect(loadRamp(o).csv).toBe(ramp.csv);
  expect(loadRamp({ ...o, seed: 4 }).csv).not.toBe(ramp.csv);
});
