// Proves a day profile pools each slot's samples over the last week, counts
// a slot seen on a day only when that day's samples span half of it, drops
// days a week older than the newest, and comes back from its JSON (and
// refuses malformed JSON).
import { expect, test } from "bun:test";
import { DAY_SLOTS } from "../shared/dayslots.ts";
import { DayProfile, DAYS_KEPT, localDayOf } from "./dayprofile.ts";

const DAY_MS = 86_400_000;
/** Local ms of day `d` (from the epoch), hh:mm:ss. */
const at = (d: number, hh: number, mm = 0, ss = 0) => d * DAY_MS + ((hh * 60 + mm) * 60 + ss) * 1000;
/** A sample every `everyS` seconds over [from, to) local ms. */
function fill(p: DayProfile, fromMs: number, toMs: number, value: (ms: number) => number, everyS = 1): void {
  for (let t = fromMs; t < toMs; t += everyS * 1000) p.add(t, value(t));
}

test("local ms splits into a day number and a second of that day", () => {
  expect(localDayOf(at(20_000, 2, 15, 7))).toEqual({ day: 20_000, second: 2 * 3600 + 15 * 60 + 7 });
  expect(localDayOf(-1)).toEqual({ day: -1, second: 86_399 });
});

test("a slot's mean pools its samples over the days; a day's slot is seen when its samples span half of it", () => {
  const p = new DayProfile();
  fill(p, at(100, 0), at(101, 0), () => 0.2, 10); // all of day 100, every 10 s
  fill(p, at(101, 3), at(101, 3, 15), () => 0.6, 10); // day 101, 03:00-03:15
  p.add(at(101, 4, 14, 50), 1); // one sample at the end of 04:00-04:15: not seen that day
  fill(p, at(101, 5), at(101, 5, 7), () => 1, 10); // 05:00-05:07, every 10 s: spans 410 s, under half
  fill(p, at(101, 6), at(101, 6, 8), () => 1, 10); // 06:00-06:08: spans 470 s
  const r = p.profile();
  expect(r.mean.length).toBe(DAY_SLOTS);
  expect(r.mean[12]).toBeCloseTo(0.4, 12); // 03:00: 90 samples of 0.2, 90 of 0.6
  expect([r.samples[12], r.daysSeen[12]]).toEqual([180, 2]);
  expect([r.samples[16], r.daysSeen[16]]).toEqual([91, 1]);
  expect([r.samples[20], r.daysSeen[20]]).toEqual([132, 1]);
  expect([r.samples[24], r.daysSeen[24]]).toEqual([138, 2]);
  expect(r.mean[0]).toBeCloseTo(0.2, 12);
});

test("an agent started inside a slot has not seen it until a later day covers it", () => {
  const p = new DayProfile();
  fill(p, at(7, 2, 14, 59), at(8, 2, 0), () => 0.5); // from 02:14:59 to 02:00 the next day, every second
  const unseen = (r: ReturnType<DayProfile["profile"]>) => r.daysSeen.flatMap((d, i) => (d === 0 ? [i] : []));
  expect(unseen(p.profile())).toEqual([8]); // 02:00-02:15: one sample, at 02:14:59
  expect(p.profile().samples[8]).toBe(1);
  fill(p, at(8, 2, 0), at(8, 2, 7, 30), () => 0.5); // 02:00:00-02:07:29: spans 449 s
  expect(unseen(p.profile())).toEqual([8]);
  p.add(at(8, 2, 7, 30), 0.5); // 450 s: half the slot
  expect(unseen(p.profile())).toEqual([]);
});

test("a week is kept, counted from the newest sample's day; a sample older than that is a clock stepped back: the days after it go", () => {
  const p = new DayProfile();
  for (let d = 0; d < 10; d++) fill(p, at(d, 12), at(d, 12, 15), () => d, 60);
  expect(p.dayCount).toBe(DAYS_KEPT);
  expect(p.profile().mean[48]).toBeCloseTo((3 + 4 + 5 + 6 + 7 + 8 + 9) / 7, 12);
  expect(p.add(at(5, 12), 100)).toBe(false); // within the week: counted
  const far = new DayProfile();
  fill(far, at(0, 12), at(0, 12, 15), () => 1, 60);
  expect(far.add(at(400, 12), 9)).toBe(false); // a clock a year ahead...
  expect(far.add(at(1, 12), 2)).toBe(true); // ...and back: the far day goes, learning goes on
  expect(far.dayCount).toBe(1); // day 0 went with the far sample; day 1 is kept
  p.add(at(30, 0), 1); // three weeks on: the old days go
  expect(p.dayCount).toBe(1);
  expect(p.profile().samples[48]).toBe(0);
  p.add(Number.NaN, 1);
  p.add(at(30, 0), Number.POSITIVE_INFINITY);
  expect(p.profile().samples[0]).toBe(1);
});

test("the JSON round trip keeps counts, spans and means to six digits; malformed JSON is refused", () => {
  const p = new DayProfile();
  fill(p, at(200, 0), at(201, 0), (t) => (t % 7) / 3, 30);
  fill(p, at(201, 0), at(201, 1), () => 0.25, 30);
  const json = JSON.parse(JSON.stringify(p));
  const q = DayProfile.fromJSON(json)!;
  expect(q).not.toBeNull();
  const [a, b] = [p.profile(), q.profile()];
  expect(b.samples).toEqual(a.samples);
  expect(b.daysSeen).toEqual(a.daysSeen);
  for (let i = 0; i < DAY_SLOTS; i++) expect(b.mean[i]!).toBeCloseTo(a.mean[i]!, 5);
  const day0 = json.days[0];
  const bad = (change: Record<string, unknown>) => DayProfile.fromJSON({ days: [{ ...day0, ...change }] });
  expect(DayProfile.fromJSON(null)).toBeNull();
  expect(DayProfile.fromJSON({ days: "x" })).toBeNull();
  expect(bad({ mean: day0.mean.slice(1) })).toBeNull();
  expect(bad({ n: day0.n.map((n: number, i: number) => (i === 3 ? -1 : n)) })).toBeNull();
  expect(bad({ n: day0.n.map((n: number, i: number) => (i === 3 ? 1.5 : n)) })).toBeNull();
  expect(bad({ first: day0.first.map((f: number, i: number) => (i === 3 ? 900 : f)) })).toBeNull();
  expect(bad({ last: day0.last.map((f: number, i: number) => (i === 3 ? -1 : f)) })).toBeNull();
  expect(bad({ day: "monday" })).toBeNull();
  expect(DayProfile.fromJSON({ days: [day0, day0] })).toBeNull(); // one day twice
  expect(DayProfile.fromJSON({ days: [day0, { ...day0, day: day0.day + DAYS_KEPT }] })).toBeNull(); // a week apart
  expect(DayProfile.fromJSON({ days: [] })!.dayCount).toBe(0);
});
