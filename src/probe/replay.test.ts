// Proves the replay probe parses NAB's CSV (naming a bad line and why) and
// plays a series' rows in order at the chosen speed-up, looped with its time
// going on.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSeries, parseSeriesCounted, parseTimestamp, sampleOf, startReplaySampler } from "./replay.ts";
import type { HostSample } from "./types.ts";

test("parses NAB's CSV; says which line is wrong and why", () => {
  const rows = parseSeries("timestamp,value\n2014-03-07 03:41:00,45.868\n2014-03-07 03:46:00,47.606\n", "x.csv");
  expect(rows).toEqual([{ ts: Date.parse("2014-03-07T03:41:00Z"), value: 45.868 }, { ts: Date.parse("2014-03-07T03:46:00Z"), value: 47.606 }]);
  expect(() => parseSeries("time,v\n", "x.csv")).toThrow('x.csv:1: expected the header "timestamp,value"');
  expect(() => parseSeries("timestamp,value\n2014-03-07 03:41:00,abc\n2014-03-07 03:46:00,1", "x.csv")).toThrow('x.csv:2: "abc" is not a number');
  expect(() => parseSeries("timestamp,value\nyesterday,1\n2014-03-07 03:41:00,2", "x.csv")).toThrow('x.csv:2: "yesterday" is not a timestamp');
  expect(() => parseSeries("timestamp,value\n2014-03-07 03:46:00,1\n2014-03-07 03:41:00,2", "x.csv")).toThrow("x.csv:3: a series needs at least two rows with increasing timestamps");
});

test("reads epoch seconds, epoch milliseconds and ISO 8601 as well; skips and counts repeated and backward rows", () => {
  const t0 = Date.parse("2014-03-07T03:41:00Z");
  expect(parseTimestamp(String(t0 / 1000))).toBe(t0);
  expect(parseTimestamp(String(t0))).toBe(t0);
  expect(parseTimestamp("1394163660.5")).toBe(t0 + 500);
  expect(parseTimestamp("2014-03-07T03:41:00Z")).toBe(t0);
  expect(parseTimestamp("2014-03-07 03:41:00")).toBe(t0);
  // NAB's DST change: a timestamp repeated; and a clock stepped back.
  const csv = ["timestamp,value", "1394163660,1", "1394163960,2", "1394163960,3", "1394163900,4", "1394164260,5"].join("\n");
  const p = parseSeriesCounted(csv, "x.csv");
  expect(p.rows.map((r) => r.value)).toEqual([1, 2, 5]);
  expect([p.repeated, p.backward]).toEqual([1, 1]);
});

test("a row becomes a sample of the chosen metric, scaled, with the series' own time", () => {
  expect(sampleOf({ ts: 5, value: 87 }, "memoryUsage", 0.01)).toMatchObject({ ts: 5, memoryUsage: 0.87, cpuLoad: 0 });
});

test("plays the rows in order at the speed-up, then ends", async () => {
  const dir = mkdtempSync(join(tmpdir(), "umbra-replay-"));
  try {
    const f = join(dir, "s.csv");
    // 5 rows, 5 minutes apart; speed 30000: 10 ms apart in real time
    writeFileSync(f, "timestamp,value\n" + [0, 1, 2, 3, 4].map((k) => `2014-03-07 00:${String(k * 5).padStart(2, "0")}:00,${k}`).join("\n"));
    const got: HostSample[] = [];
    const t0 = performance.now();
    await new Promise<void>((res) => startReplaySampler({ file: f, metric: "cpuLoad", speed: 30_000, scale: 1, loop: false }, (s) => got.push(s), res));
    expect(got.map((s) => s.cpuLoad)).toEqual([0, 1, 2, 3, 4]);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(38);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("looped, the series starts over with its time going on: each lap's timestamps follow the last lap's", async () => {
  const dir = mkdtempSync(join(tmpdir(), "umbra-replay-"));
  try {
    const f = join(dir, "s.csv");
    // 3 rows, 5 minutes apart; speed 30000: 10 ms apart in real time
    writeFileSync(f, "timestamp,value\n" + [0, 1, 2].map((k) => `2014-03-07 00:${String(k * 5).padStart(2, "0")}:00,${k}`).join("\n"));
    const got: HostSample[] = [];
    const t0 = Date.parse("2014-03-07T00:00:00Z");
    const sampler = startReplaySampler({ file: f, metric: "cpuLoad", speed: 30_000, scale: 1, loop: true }, (s) => got.push(s));
    for (let i = 0; i < 500 && got.length < 7; i++) await new Promise((res) => setTimeout(res, 2));
    await sampler.stop();
    expect(got.slice(0, 7).map((s) => s.cpuLoad)).toEqual([0, 1, 2, 0, 1, 2, 0]);
    expect(got.slice(0, 7).map((s) => (s.ts - t0) / 300_000)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
