// Proves the auto swap window is the quietest stretch of the day (around
// midnight too, the earliest of equals), none before every slot was seen,
// and that a window in use stays until another is clearly quieter.
import { expect, test } from "bun:test";
import fc from "fast-check";
import { DAY_SLOTS } from "../shared/dayslots.ts";
import { daySeenShare, OFFPEAK_KEEP_MARGIN, quietestWindow, type LoadProfile } from "./offpeak.ts";

/** A profile seen on one day in every slot, with these means. */
const seen = (mean: number[]): LoadProfile => ({ mean, samples: mean.map(() => 900), daysSeen: mean.map(() => 1) });
/** Busy (0.6) all day but for these slots' loads. */
const day = (quiet: Record<number, number>): LoadProfile => seen(Array.from({ length: DAY_SLOTS }, (_, i) => quiet[i] ?? 0.6));
/** Slots from a clock time: 02:15 is slot 9. */
const slot = (hh: number, mm = 0) => (hh * 60 + mm) / 15;
const range = (from: number, to: number, load: number) => Object.fromEntries(Array.from({ length: to - from }, (_, k) => [from + k, load]));

test.each([
  ["a night dip", day(range(slot(3), slot(5), 0.1)), 120, { fromMin: 180, toMin: 300, load: 0.1 }],
  ["across midnight", day({ ...range(slot(23), DAY_SLOTS, 0.1), ...range(0, slot(1), 0.1) }), 120, { fromMin: 23 * 60, toMin: 60, load: 0.1 }],
  ["up to midnight: to is 00:00", day(range(slot(22), DAY_SLOTS, 0.1)), 120, { fromMin: 22 * 60, toMin: 0, load: 0.1 }],
  ["on the quarter hour", day(range(slot(2, 15), slot(4, 15), 0.2)), 120, { fromMin: 135, toMin: 255, load: 0.2 }],
  ["a flat day: the earliest, from 00:00", day({}), 120, { fromMin: 0, toMin: 120, load: 0.6 }],
  ["two equal dips: the earlier", day({ ...range(slot(14), slot(15), 0.1), ...range(slot(3), slot(4), 0.1) }), 60, { fromMin: 180, toMin: 240, load: 0.1 }],
  ["longer than the dip: the earliest window holding all of it, its load the mean over all of it", day(range(slot(3), slot(4), 0.0)), 120, { fromMin: 120, toMin: 240, load: 0.3 }],
  ["a deep short dip loses to a long shallow one", day({ ...range(slot(3), slot(3, 30), 0.0), ...range(slot(13), slot(15), 0.2) }), 120, { fromMin: 13 * 60, toMin: 15 * 60, load: 0.2 }],
  ["one slot", day({ [slot(6, 45)]: 0.05 }), 15, { fromMin: 405, toMin: 420, load: 0.05 }],
])("%s", (_, profile, lengthMin, expected) => {
  const w = quietestWindow(profile, lengthMin)!;
  expect({ ...w, load: Math.round(w.load * 1e9) / 1e9 }).toEqual(expected);
});

test("no window until every slot was seen on some day; the share says how far it got", () => {
  const p = day(range(slot(3), slot(5), 0.1));
  const learning = { ...p, daysSeen: p.daysSeen.map((d, i) => (i < 35 ? d : 0)) };
  expect(quietestWindow(learning, 120)).toBeNull();
  expect(daySeenShare(learning)).toBeCloseTo(35 / 96, 12);
  // Samples without a day's worth of span (the agent started inside the slot) are not seen.
  const oneShort = { ...p, daysSeen: p.daysSeen.map((d, i) => (i === slot(12) ? 0 : d)) };
  expect(quietestWindow(oneShort, 120)).toBeNull();
  expect(daySeenShare(p)).toBe(1);
});

test("the window in use stays until another is quieter by more than the margin of the day's range", () => {
  // Range 0.6 - 0.1 = 0.5: a margin of 0.025.
  const used = slot(3) * 15;
  const nearly = day({ ...range(slot(3), slot(5), 0.12), ...range(slot(14), slot(16), 0.1) });
  expect(quietestWindow(nearly, 120)).toMatchObject({ fromMin: 14 * 60 });
  expect(quietestWindow(nearly, 120, used)).toMatchObject({ fromMin: used, toMin: 300 });
  const clearly = day({ ...range(slot(3), slot(5), 0.13), ...range(slot(14), slot(16), 0.1) });
  expect(0.13 - 0.1).toBeGreaterThan(OFFPEAK_KEEP_MARGIN * 0.5);
  expect(quietestWindow(clearly, 120, used)).toMatchObject({ fromMin: 14 * 60, toMin: 16 * 60 });
  // A kept window needs a ready profile too.
  expect(quietestWindow({ ...nearly, daysSeen: nearly.daysSeen.map(() => 0) }, 120, used)).toBeNull();
});

test("a malformed profile or length is a bug", () => {
  expect(() => quietestWindow(seen([0.1, 0.2]), 120)).toThrow("a value per slot");
  expect(() => quietestWindow(day({}), 20)).toThrow("whole slots");
  expect(() => quietestWindow(day({}), 24 * 60)).toThrow("less than the day");
  expect(() => quietestWindow(day({}), 120, 10)).toThrow("starts on a slot");
  const p = day({});
  expect(() => quietestWindow({ ...p, samples: p.samples.map((n, i) => (i === 4 ? 0 : n)) }, 120)).toThrow("a slot seen has samples");
});

test("property: the chosen window is on the grid, its load is its slots' mean, and no window is quieter", () => {
  const arbProfile = fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: DAY_SLOTS, maxLength: DAY_SLOTS }).map(seen);
  fc.assert(
    fc.property(arbProfile, fc.integer({ min: 1, max: 48 }), (p, slots) => {
      const w = quietestWindow(p, slots * 15)!;
      expect(w.fromMin % 15).toBe(0);
      expect((w.toMin - w.fromMin + 1440) % 1440).toBe(slots * 15);
      const load = (start: number) => Array.from({ length: slots }, (_, k) => p.mean[(start + k) % DAY_SLOTS]!).reduce((a, b) => a + b, 0) / slots;
      expect(w.load).toBeCloseTo(load(w.fromMin / 15), 6);
      const span = Math.max(...p.mean) - Math.min(...p.mean);
      for (let s = 0; s < DAY_SLOTS; s++) expect(load(s)).toBeGreaterThanOrEqual(w.load - 1e-6 * Math.max(1, span));
    }),
    { seed: 42, numRuns: 300 },
  );
});
