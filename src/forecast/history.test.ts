// Proves a host's history averages live samples into steps, closes each with
// its last sample, and fills one step per row of a replayed series, reading
// the interval from the data.
import { expect, test } from "bun:test";
import type { HostSample } from "../probe/index.ts";
import { HostHistory } from "./history.ts";

const s = (ts: number, memoryUsage: number): HostSample => ({ ts, memoryUsage, cpuLoad: 0, diskIO: 0, networkLatency: null, storageUsage: 0, storageIOBytesPerSec: 0, networkBandwidthBytesPerSec: 0 });

test("live samples are averaged into steps; a step closes with its last sample, once the samples' spacing is known", () => {
  const h = new HostHistory(60_000, 10);
  expect(h.add(s(0, 0.2))).toBe(false);
  expect(h.add(s(20_000, 0.4))).toBe(false); // the next, 20 s on, is in this step too
  expect(h.add(s(40_000, 0.6))).toBe(true); // the next would be in the next step: this was the step's last
  expect([...h.values("memoryUsage")].map((x) => Math.round(x * 10) / 10)).toEqual([0.4]);
  expect(h.lastTs).toBe(40_000);
  expect(h.add(s(65_000, 0.9))).toBe(false);
  // a longer gap than usual: the step closes when the next one starts, as before the spacing was known
  expect(h.add(s(125_000, 0.5))).toBe(true);
  expect([...h.values("memoryUsage")].map((x) => Math.round(x * 10) / 10)).toEqual([0.4, 0.9]);
  expect(h.add(s(10_000, 1))).toBe(false); // older than the open step: ignored
  // Each step's peak and trough beside its mean.
  expect([...h.peaks("memoryUsage")]).toEqual([0.6, 0.9]);
  expect([...h.troughs("memoryUsage")]).toEqual([0.2, 0.9]);
});

test("one sample a minute: each closes its own step, not a minute later when the next comes", () => {
  const h = new HostHistory(60_000, 10);
  expect(h.add(s(0, 0.1))).toBe(false); // no spacing known yet
  expect(h.add(s(60_000, 0.2))).toBe(true); // closes the first step, and its own
  expect(h.closedSteps).toBe(2);
  for (let i = 2; i < 5; i++) {
    expect(h.add(s(i * 60_000, i / 10))).toBe(true);
    expect(h.lastTs).toBe(i * 60_000);
  }
  expect([...h.values("memoryUsage")]).toEqual([0.1, 0.2, 0.2, 0.3, 0.4]);
  // A sample a little early for its minute (in the step the one before closed): it counts in the next step, none is lost.
  expect(h.add(s(299_990, 0.9))).toBe(false);
  expect(h.add(s(360_000, 0.5))).toBe(true); // closes that step, and its own
  expect([...h.values("memoryUsage")]).toEqual([0.1, 0.2, 0.2, 0.3, 0.4, 0.9, 0.5]);
});

test("one sample a second: the step closes at its 60th sample; one come after that counts in the next", () => {
  const h = new HostHistory(60_000, 10);
  const closedAt: number[] = [];
  for (let t = 0; t < 120_000; t += 1_000) if (h.add(s(t, t < 60_000 ? 0.5 : 0.7))) closedAt.push(t);
  expect(closedAt).toEqual([59_000, 119_000]);
  expect(h.add(s(119_500, 1))).toBe(false);
  for (let t = 120_000; t < 180_000; t += 1_000) if (h.add(s(t, 0.7))) closedAt.push(t);
  expect(closedAt).toEqual([59_000, 119_000, 179_000]);
  expect([...h.values("memoryUsage")].map((x) => Math.round(x * 1000) / 1000)).toEqual([0.5, 0.7, 0.705]);
  expect([...h.peaks("memoryUsage")]).toEqual([0.5, 0.7, 1]);
});

test("a host going from a sample a minute to a sample a second: within two steps its steps hold a minute of samples again", () => {
  const h = new HostHistory(60_000, 100);
  for (let i = 0; i < 10; i++) h.add(s(i * 60_000, 0.1));
  const sizes: number[] = [];
  let n = 0;
  for (let t = 541_000; t < 1_200_000; t += 1_000) {
    n += 1;
    if (h.add(s(t, t % 60_000 === 30_000 ? 1 : 0.5))) {
      sizes.push(n);
      n = 0;
    }
  }
  // the change costs a step or two, then every step closes on the minute's 60th sample, its spike seen
  expect(sizes.slice(-8)).toEqual([60, 60, 60, 60, 60, 60, 60, 60]);
  expect([...h.peaks("memoryUsage")].slice(-8)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
});

test("a replayed 5-minute series fills one step per row; the interval is read from the data", () => {
  const h = new HostHistory(60_000, 10);
  for (let i = 0; i < 6; i++) h.add(s(i * 300_000, i / 10));
  expect([...h.values("memoryUsage")].map((x) => Math.round(x * 10) / 10)).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5]);
  expect(h.intervalMs()).toBe(300_000);
  expect([...h.peaks("memoryUsage")]).toEqual([...h.values("memoryUsage")]); // one sample a step: its peak is its mean
});

test("closedSteps counts every step ever closed, past what the ring holds: the newest value is step closedSteps - 1", () => {
  const h = new HostHistory(60_000, 4);
  expect(h.closedSteps).toBe(0);
  for (let i = 0; i <= 10; i++) h.add(s(i * 60_000, i));
  // steps 0..10 closed (each sample its own step's last); the ring keeps the last 4
  expect(h.closedSteps).toBe(11);
  expect([...h.values("memoryUsage")]).toEqual([7, 8, 9, 10]);
  expect(h.values("memoryUsage")[h.length - 1]).toBe(h.closedSteps - 1); // each value here is its own step number
});
