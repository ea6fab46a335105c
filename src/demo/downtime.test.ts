// Proves the downtime arithmetic on hand-made poller traces.
import { expect, test } from "bun:test";
import { downtimeFrom } from "./downtime.ts";

test("downtime runs from the cut to the first answer from the new holder", () => {
  const samples = [
    { t: 0, done: 1, ok: true, body: "h1" },
    { t: 5, done: 6, ok: true, body: "h1" },
    { t: 10, done: 40, ok: false },
    { t: 40, done: 70, ok: false },
    { t: 300, done: 302, ok: true, body: "h2" },
    { t: 305, done: 306, ok: true, body: "h2" },
  ];
  const d = downtimeFrom(samples, 8, "h2");
  expect(d.downtimeMs).toBe(294);
  expect(d.maxGapMs).toBe(294);
  expect(d.answeredBy).toEqual(["h1", "h2"]);
});

test("an answer from the old holder after the cut does not end the downtime", () => {
  const samples = [
    { t: 10, done: 11, ok: true, body: "h1" },
    { t: 100, done: 101, ok: true, body: "h3" },
  ];
  expect(downtimeFrom(samples, 0, "h3").downtimeMs).toBe(101);
  expect(downtimeFrom(samples, 0, "h3").maxGapMs).toBe(90);
});

test("no answer from the new holder: no downtime figure", () => {
  expect(downtimeFrom([{ t: 1, ok: false }], 0, "h2").downtimeMs).toBeNull();
});
