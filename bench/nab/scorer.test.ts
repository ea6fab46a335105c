// Proves scorer.ts follows NAB v1.1's rules: hand-computed single-file cases,
// the optimizer's sweep agreeing with direct scoring, and the published
// Numenta HTM scores reproduced from the real NAB folder.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { NAB_DIR_DEFAULT, parseCsv, readDetectorResults, readProfiles, readPublished, readThresholds, readWindows } from "./data.ts";
import {
  NAB_PROFILES,
  normalise,
  optimiseThreshold,
  probationRows,
  scaledSigmoid,
  scoreDetector,
  scoreFile,
  sweepFile,
  sweepThresholds,
  type DetectorFile,
  type NabWindow,
} from "./scorer.ts";

const STD = NAB_PROFILES.standard;
const MIN_MS = 60_000;

// A 20-row series, one row a minute. Probation: floor(0.15 * 20) = 3 rows.
// The window spans rows 8..11 (width 4, right edge row 11).
const ROWS = 20;
const ts = Array.from({ length: ROWS }, (_, i) => i * MIN_MS);
const WIN: NabWindow[] = [{ startMs: 8 * MIN_MS, endMs: 11 * MIN_MS }];

/** A file whose rows `hits` score 1 and the rest 0. */
function file(hits: readonly number[], rows = ROWS): DetectorFile {
  return { name: "t.csv", timestamps: ts.slice(0, rows), scores: Array.from({ length: rows }, (_, i) => (hits.includes(i) ? 1 : 0)) };
}

// 2*sigmoid(x) - 1 = tanh(x/2): an independent form of NAB's curve.
const tpAt = (row: number) => Math.tanh((5 * (11 - row + 1)) / 4 / 2) / Math.tanh(5 / 2);
const fpAfter = (row: number) => -Math.tanh((5 * Math.abs(row - 11)) / 3 / 2);

describe("scaledSigmoid", () => {
  test.each([
    [-1, 0.98661],
    [-0.5, 0.84828],
    [0, 0],
    [1, -0.98661],
    [3, -0.99999969],
    [3.01, -1],
    [-10, 1],
  ])("at %p is %p (NAB's docstring values)", (x, y) => {
    expect(scaledSigmoid(x)).toBeCloseTo(y, 5);
  });
});

describe("probation", () => {
  test.each([
    [20, 3],
    [4999, 749],
    [5000, 750],
    [22_695, 750],
    [0, 0],
  ])("%p rows → %p unscored rows: min(floor(0.15 n), 750)", (n, p) => {
    expect(probationRows(n)).toBe(p);
  });

  test("a detection in probation is neither FP nor TP", () => {
    const s = scoreFile(file([2]), [], STD, 0.5);
    expect(s).toEqual({ name: "t.csv", raw: 0, tp: 0, fp: 0, fn: 0 });
  });

  test("a window inside probation is not scored: no FN, and not in the null score", () => {
    const early: NabWindow[] = [{ startMs: 0, endMs: 2 * MIN_MS }];
    const s = scoreDetector([file([])], { "t.csv": early }, STD, 0.5);
    expect(s.raw).toBe(0);
    expect(s.fn).toBe(0);
    expect(s.nullRaw).toBe(0);
    expect(s.perfectRaw).toBe(1); // NAB's perfect counts every labelled window
  });

  test("a window straddling probation is scored from its first scored row on", () => {
    const straddle: NabWindow[] = [{ startMs: 1 * MIN_MS, endMs: 6 * MIN_MS }]; // rows 1..6, width 6
    const s = scoreFile(file([3]), straddle, STD, 0.5);
    expect(s.raw).toBeCloseTo(Math.tanh((5 * 4) / 6 / 2) / Math.tanh(2.5), 12);
  });
});

describe("one file, standard profile", () => {
  test("detection at the window's first row earns the full tpWeight", () => {
    expect(scoreFile(file([8]), WIN, STD, 0.5)).toEqual({ name: "t.csv", raw: 1, tp: 1, fp: 0, fn: 0 });
  });

  test("detection at the window's last row earns tanh(5/8)/tanh(5/2) ≈ 0.562", () => {
    const s = scoreFile(file([11]), WIN, STD, 0.5);
    expect(s.raw).toBeCloseTo(tpAt(11), 12);
    expect(s.raw).toBeCloseTo(0.5621, 4);
  });

  test("only the first detection in a window counts", () => {
    const s = scoreFile(file([9, 10, 11]), WIN, STD, 0.5);
    expect(s.raw).toBeCloseTo(tpAt(9), 12);
    expect(s.tp).toBe(1);
  });

  test("a missed window costs fnWeight (2 under reward_low_FN_rate)", () => {
    expect(scoreFile(file([]), WIN, STD, 0.5).raw).toBe(-1);
    expect(scoreFile(file([]), WIN, NAB_PROFILES.reward_low_FN_rate, 0.5).raw).toBe(-2);
    expect(scoreFile(file([]), WIN, STD, 0.5).fn).toBe(1);
  });

  test("an FP before any window costs the full fpWeight", () => {
    const s = scoreFile(file([5]), WIN, STD, 0.5);
    expect(s.raw).toBeCloseTo(-1 - 0.11, 12);
    expect(s.fp).toBe(1);
  });

  test("an FP after a window is weighted by its distance from the right edge in widths-1", () => {
    const s = scoreFile(file([13]), WIN, STD, 0.5);
    expect(s.raw).toBeCloseTo(-1 + 0.11 * fpAfter(13), 12);
    // Right after the window an FP costs little; farther, nearly all of fpWeight.
    const near = scoreFile(file([12]), WIN, STD, 0.5).raw + 1;
    const far = scoreFile(file([19]), WIN, STD, 0.5).raw + 1;
    expect(near).toBeCloseTo(0.11 * fpAfter(12), 12);
    expect(near).toBeGreaterThan(far);
  });

  test("a TP and FPs on both sides add up", () => {
    const s = scoreFile(file([4, 9, 15]), WIN, STD, 0.5);
    expect(s.raw).toBeCloseTo(-0.11 + tpAt(9) + 0.11 * fpAfter(15), 12);
    expect([s.tp, s.fp, s.fn]).toEqual([1, 2, 0]);
  });

  test("a score equal to the threshold is a detection", () => {
    const f: DetectorFile = { ...file([]), scores: ts.map((_, i) => (i === 8 ? 0.7 : 0)) };
    expect(scoreFile(f, WIN, STD, 0.7).raw).toBe(1);
    expect(scoreFile(f, WIN, STD, 0.7000001).raw).toBe(-1);
  });

  test("a window bound on a repeated timestamp (DST) matches its first row, as list.index()", () => {
    const dup = [...ts];
    dup[9] = dup[8]!; // rows 8 and 9 share a timestamp
    const f: DetectorFile = { name: "t.csv", timestamps: dup, scores: ts.map((_, i) => (i === 8 ? 1 : 0)) };
    expect(scoreFile(f, WIN, STD, 0.5).raw).toBe(1);
  });

  test("a window off the row grid is refused", () => {
    expect(() => scoreFile(file([]), [{ startMs: 30_000, endMs: 11 * MIN_MS }], STD, 0.5)).toThrow("starts on a row timestamp");
  });
});

describe("optimiser and normalisation", () => {
  test("picks the threshold that catches the window without the FP", () => {
    // Row 13 (an FP) scores 0.95, row 8 (window start) 0.9, the rest 0.
    const f: DetectorFile = { ...file([]), scores: ts.map((_, i) => (i === 13 ? 0.95 : i === 8 ? 0.9 : 0)) };
    const swept = [sweepFile(f, WIN, STD)];
    expect(sweepThresholds(swept, STD).map((t) => t.threshold)).toEqual([1.1, 0.95, 0.9, 0]);
    const best = optimiseThreshold(swept, STD);
    expect(best.threshold).toBe(0.9);
    expect(best.raw).toBeCloseTo(1 + 0.11 * fpAfter(13), 12);
    expect(scoreDetector([f], { "t.csv": WIN }, STD).threshold).toBe(0.9);
  });

  test("on a tie the optimiser keeps the highest threshold", () => {
    const f: DetectorFile = { ...file([]), scores: ts.map((_, i) => (i === 8 ? 0.9 : i === 9 ? 0.8 : 0)) };
    expect(optimiseThreshold([sweepFile(f, WIN, STD)], STD).threshold).toBe(0.9);
  });

  test("normalise maps null to 0 and perfect to 100", () => {
    expect(normalise(-2, -2, 2)).toBe(0);
    expect(normalise(2, -2, 2)).toBe(100);
    expect(normalise(-1, -2, 2)).toBe(25);
  });

  test("the sweep's corpus score at each threshold equals scoring at that threshold", () => {
    const arbFile = fc.array(fc.constantFrom(0, 0.2, 0.5, 0.8, 1), { minLength: ROWS, maxLength: ROWS });
    fc.assert(
      fc.property(arbFile, arbFile, (a, b) => {
        const files: DetectorFile[] = [
          { name: "a.csv", timestamps: ts, scores: a },
          { name: "b.csv", timestamps: ts, scores: b },
        ];
        const windows = { "a.csv": WIN, "b.csv": [{ startMs: 4 * MIN_MS, endMs: 6 * MIN_MS }, { startMs: 14 * MIN_MS, endMs: 17 * MIN_MS }] };
        const swept = files.map((f) => sweepFile(f, windows[f.name as "a.csv"], STD));
        for (const t of sweepThresholds(swept, STD)) {
          expect(scoreDetector(files, windows, STD, t.threshold).raw).toBeCloseTo(t.raw, 9);
        }
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});

// The real NAB v1.1 folder: Numenta HTM's published rows and thresholds must
// give its published scores (70.10 / 63.12 / 74.32).
const NAB_DIR = process.env["NAB_DIR"] ?? NAB_DIR_DEFAULT;
const haveNab = existsSync(join(NAB_DIR, "results/numenta"));
if (!haveNab) console.warn(`bench/nab: skipping the published-score tests: no NAB folder at ${NAB_DIR} (set NAB_DIR)`);

describe.skipIf(!haveNab)(`published Numenta HTM scores (${NAB_DIR})`, () => {
  test("all three profiles within 0.01, raw equal to thresholds.json, per file equal to the published score files", () => {
    const files = readDetectorResults(NAB_DIR, "numenta");
    const windows = readWindows(NAB_DIR);
    const profiles = readProfiles(NAB_DIR);
    const thresholds = readThresholds(NAB_DIR)["numenta"]!;
    const published = readPublished(NAB_DIR)["numenta"]!;
    expect(files.length).toBe(58);
    for (const [name, cost] of Object.entries(profiles)) {
      const s = scoreDetector(files, windows, cost, thresholds[name]!.threshold);
      expect(Math.abs(s.normalized - published[name]!)).toBeLessThan(0.01);
      expect(s.raw).toBeCloseTo(thresholds[name]!.score, 8);
      const path = join(NAB_DIR, `results/numenta/numenta_${name}_scores.csv`);
      const cols = parseCsv(readFileSync(path, "utf8"), path);
      const byFile = new Map(cols["File"]!.map((f, i) => [f, Number(cols["Score"]![i])]));
      for (const f of s.perFile) expect(f.raw).toBeCloseTo(byFile.get(f.name)!, 8);
    }
  });

  test("standard profile: 70.1 within ±0.5", () => {
    const files = readDetectorResults(NAB_DIR, "numenta");
    const s = scoreDetector(files, readWindows(NAB_DIR), NAB_PROFILES.standard, readThresholds(NAB_DIR)["numenta"]!["standard"]!.threshold);
    expect(Math.abs(s.normalized - 70.1)).toBeLessThanOrEqual(0.5);
  });
});
