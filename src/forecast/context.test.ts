// Proves the context view: silent while learning, 0 on runs it has seen, 1
// on a level never visited, 0.75 on a familiar level reached a new way; a
// known range never moves, a learned one takes in what falls outside it
// and forgets what its old levels meant;
// runs not seen within the memory are news again; memory stays bounded;
// scores stay in [0, 1] whatever comes in.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ContextNovelty, LEVELS, ORDERS, type ContextSettings } from "./context.ts";

const SETTINGS: ContextSettings = { levels: LEVELS, orders: ORDERS, memoryRows: 1_000, learning: 20, margin: 1 };
const UNIT = { lo: 0, hi: 1 };
/** A value in the middle of level `l` of 8 over 0..1 (each level 1/7 wide). */
const at = (l: number) => (l + 0.5) / (LEVELS - 1);

describe("context view", () => {
  test("silent while learning; a seen rhythm scores 0; a new level 1; a familiar level reached a new way 0.75", () => {
    const c = new ContextNovelty(UNIT, SETTINGS);
    const rhythm = [2, 3, 2, 3];
    const first: number[] = [];
    for (let i = 0; i < SETTINGS.learning; i++) first.push(c.push(at(rhythm[i % 4]!)));
    expect(first.every((s) => s === 0)).toBe(true);
    for (let i = 0; i < 40; i++) expect(c.push(at(rhythm[i % 4]!))).toBe(0);
    // Level 5 was never visited.
    expect(c.push(at(5))).toBe(1);
    // Level 2 was, but never straight after level 5.
    expect(c.push(at(2))).toBe(1 - 1 / (ORDERS + 1));
    // 2 -> 3 is familiar, but not after 5 -> 2: the run of three is new.
    expect(c.push(at(3))).toBe(1 - 2 / (ORDERS + 1));
  });

  test("a known range never moves: values beyond it read as below or above, each new once", () => {
    const c = new ContextNovelty(UNIT, { ...SETTINGS, learning: 0 });
    for (let i = 0; i < 30; i++) c.push(at(3));
    expect(c.push(1.5)).toBe(1);
    expect(c.push(9)).toBe(1 - 1 / (ORDERS + 1)); // above again: the level is known, staying there is not
    expect(c.push(at(3))).toBe(1 - 1 / (ORDERS + 1));
    for (let i = 0; i < 30; i++) c.push(at(3));
    expect(c.push(-4)).toBe(1);
  });

  test("a learned range: a value beyond it is a new level, and the range takes it in", () => {
    const c = new ContextNovelty(null, SETTINGS);
    for (let i = 0; i < SETTINGS.learning + 30; i++) c.push(10 + (i % 2)); // learned over 10..11, widened to 9..12
    expect(c.push(40)).toBe(1);
    // The range now reaches past 40, so 40 reads as a level inside it: new
    // once, then its runs, then familiar. Nothing stays "above".
    const next = Array.from({ length: 6 }, () => c.push(40));
    expect(next).toEqual([1, 0.75, 0.5, 0.25, 0, 0]);
    // What was remembered by the old levels is forgotten: the old normal is news at the new scale.
    expect(c.push(10)).toBe(1);
  });

  test("a run not seen within the memory is news again", () => {
    const c = new ContextNovelty(UNIT, { ...SETTINGS, learning: 0, memoryRows: 50 });
    for (let i = 0; i < 10; i++) c.push(at(1));
    expect(c.push(at(6))).toBe(1);
    for (let i = 0; i < 30; i++) c.push(at(1));
    expect(c.push(at(6))).toBe(0); // 31 values ago: every run it ends is remembered
    for (let i = 0; i < 60; i++) c.push(at(1));
    expect(c.push(at(6))).toBe(1);
  });

  test("memory stays bounded and scores stay in [0, 1] on arbitrary input", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.double({ min: -1e9, max: 1e9 }), fc.constantFrom(NaN, Infinity, -Infinity, 0, 1e308, -1e308)), { maxLength: 800 }), fc.boolean(), (xs, known) => {
        const c = new ContextNovelty(known ? UNIT : null, { ...SETTINGS, memoryRows: 100 });
        for (const x of xs) {
          const s = c.push(x);
          expect(s).toBeGreaterThanOrEqual(0);
          expect(s).toBeLessThanOrEqual(1);
        }
        expect(c.runsKept).toBeLessThanOrEqual(Math.max(1024, 2 * 100 * (ORDERS + 1)) + ORDERS + 1);
      }),
      { seed: 7, numRuns: 200 },
    );
  });

  test("settings whose runs a key cannot hold are refused, saying which", () => {
    expect(() => new ContextNovelty(null, { ...SETTINGS, levels: 1000, orders: 6 })).toThrow(/levels 1000 and orders 6/);
    expect(() => new ContextNovelty(null, { ...SETTINGS, levels: 1 })).toThrow(/levels 1/);
  });
});
