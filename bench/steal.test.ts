// Proves what bench/steal makes of /proc/stat's steal (read as
// src/agent/steal.ts reads it): the stretches in which a CPU lost 20 ms or more, the
// share of the CPUs' time taken, and the failed requests no pause accounts
// for. And that the watch reads this machine's /proc/stat.
import { expect, test } from "bun:test";
import { failedBesidePauses, pauses, startStealWatch, stealIn, type StealReading } from "./steal.ts";
import type { Sample } from "../src/demo/downtime.ts";

test("pauses: stretches in which some CPU lost at least 20 ms; the share over a window", () => {
  const r: StealReading[] = [
    { t: 0, stolenMs: [0, 0] },
    { t: 100, stolenMs: [10, 0] }, // 10 ms: no pause
    { t: 200, stolenMs: [40, 30] }, // 30 ms on cpu0: a pause
    { t: 300, stolenMs: [40, 30] },
  ];
  expect(pauses(r)).toEqual([{ from: 100, to: 200, stolenMs: 30 }]);
  const s = stealIn(r, 0, 400);
  expect(s.pauses).toBe(1);
  expect(s.share).toBeCloseTo(70 / 600, 6); // 70 ms of 2 CPUs × 300 ms
  expect(stealIn(r, 250, 400)).toEqual({ share: 0, pauses: 0 }); // one reading: nothing to tell
});

test("failedBesidePauses: a failure whose wait overlapped a pause is the machine's; others count", () => {
  const ps = [{ from: 100, to: 200, stolenMs: 40 }];
  const samples: Sample[] = [
    { t: 80, done: 110, ok: false, err: "timeout" }, // its wait runs into the pause
    { t: 150, ok: false, err: "ECONNRESET" }, // no done: its wait counts as the timeout
    { t: 300, done: 330, ok: false, err: "timeout" }, // no pause: counts
    { t: 310, done: 311, ok: true },
    { t: 999, done: 1_029, ok: false, err: "timeout" }, // outside the window
  ];
  expect(failedBesidePauses(samples, ps, 0, 900, 30)).toBeCloseTo(1 / 4, 9);
  expect(failedBesidePauses([], ps, 0, 900, 30)).toBe(0);
});

test("the watch reads this machine's /proc/stat, one reading at start and one at stop", () => {
  const w = startStealWatch();
  w.stop();
  expect(w.readings.length).toBe(2);
  expect(w.readings[0]!.stolenMs.length).toBeGreaterThan(0);
  expect(w.readings[1]!.stolenMs.every((x, c) => x >= w.readings[0]!.stolenMs[c]!)).toBe(true);
});
