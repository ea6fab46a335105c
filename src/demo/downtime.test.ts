// Proves the downtime arithmetic on hand-made poller traces: downtime ends
// at the arrival of the new holder's first answer, the old holder's late
// answers do not end it, and gaps are measured from the cut.
import { expect, test } from "bun:test";
import { downtimeFrom, type Sample } from "./downtime.ts";

const trace: Sample[] = [
  { t: 0, done: 1, ok: true, body: "h1" },
  { t: 5, done: 6, ok: true, body: "h1" },
  { t: 10, done: 40, ok: false, err: "timeout" },
  { t: 40, done: 70, ok: false, err: "timeout" },
  { t: 300, done: 302, ok: true, body: "h2\n" },
  { t: 305, done: 306, ok: true, body: "h2" },
];

test("downtime runs from the cut to the arrival of the first answer from the new holder", () => {
  expect(downtimeFrom(trace, 8, "h2")).toEqual({ downtimeMs: 294, maxGapMs: 294, answeredBy: ["h1", "h2"] });
});

test("the order of the samples does not matter", () => {
  expect(downtimeFrom([...trace].reverse(), 8, "h2")).toEqual(downtimeFrom(trace, 8, "h2"));
});

test("an answer from the old holder after the cut does not end the downtime, but closes a gap", () => {
  const samples: Sample[] = [
    { t: 10, done: 11, ok: true, body: "h1" },
    { t: 100, done: 101, ok: true, body: "h3" },
    { t: 104, done: 105, ok: true, body: "h1" },
  ];
  expect(downtimeFrom(samples, 0, "h3")).toEqual({ downtimeMs: 101, maxGapMs: 90, answeredBy: ["h1", "h3", "h1"] });
});

test.each([
  ["only failures", [{ t: 1, ok: false }]],
  ["only the old holder", [{ t: 1, done: 2, ok: true, body: "h1" }]],
  ["no samples", []],
] as Array<[string, Sample[]]>)("no answer from the new holder (%s): no downtime figure", (_name, samples) => {
  expect(downtimeFrom(samples, 0, "h2").downtimeMs).toBeNull();
});

test("a request sent before the cut does not count, even if the new holder answered it", () => {
  const samples: Sample[] = [
    { t: 9, done: 20, ok: true, body: "h2" },
    { t: 50, done: 51, ok: true, body: "h2" },
  ];
  expect(downtimeFrom(samples, 10, "h2")).toEqual({ downtimeMs: 41, maxGapMs: 41, answeredBy: ["h2"] });
});
