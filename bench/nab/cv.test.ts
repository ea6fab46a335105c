// Cross-validation by file: choices come from the other folds only.
import { expect, test } from "bun:test";
import { choose, crossValidate, foldsOf, inSample } from "./cv.ts";
import { NAB_PROFILES, sweepFile, type DetectorFile, type NabWindow } from "./scorer.ts";

const STD = NAB_PROFILES.standard;
const MIN = 60_000;
/** A 100-row file, one row a minute, one window at rows 60-70; `hit` scores 1 at that row (-1: nowhere). */
function file(name: string, hit: number): { f: DetectorFile; w: NabWindow[] } {
  const timestamps = Array.from({ length: 100 }, (_, i) => i * MIN);
  return { f: { name, timestamps, scores: timestamps.map((_, i) => (i === hit ? 1 : 0)) }, w: [{ startMs: 60 * MIN, endMs: 70 * MIN }] };
}

test("folds are a seeded deal: every file in one, sizes within one, the same seed the same folds", () => {
  const f = foldsOf(58, 5, 1);
  expect(f.length).toBe(58);
  const sizes = [0, 1, 2, 3, 4].map((k) => f.filter((x) => x === k).length);
  expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  expect(foldsOf(58, 5, 1)).toEqual(f);
  expect(foldsOf(58, 5, 2)).not.toEqual(f);
});

test("a setting right on the other folds but wrong on the held-out one costs the held-out score; in-sample never pays it", () => {
  // Setting 0 detects inside the window for files a, b, c and outside it for d; setting 1 the reverse.
  const hits = { a: [65, 10], b: [65, 10], c: [65, 10], d: [10, 65] } as const;
  const names = Object.keys(hits) as (keyof typeof hits)[];
  const swept = [0, 1].map((s) => names.map((n) => { const { f, w } = file(n, hits[n][s]!); return sweepFile(f, w, STD); }));
  const foldOf = [0, 0, 0, 1]; // d alone in fold 1
  const cv = crossValidate(swept, STD, foldOf, 2);
  // Fold 1 (d) is scored with the choice of a, b, c: setting 0, which misses d's window.
  expect(cv.folds.find((x) => x.fold === 1)!.setting).toBe(0);
  // Fold 0 (a, b, c) is scored with d's choice: setting 1, which misses theirs.
  expect(cv.folds.find((x) => x.fold === 0)!.setting).toBe(1);
  const ins = inSample(swept, STD);
  expect(ins.setting).toBe(0);
  expect(cv.normalized).toBeLessThan(ins.normalized);
  expect(choose(swept, [3], STD).setting).toBe(1);
});
