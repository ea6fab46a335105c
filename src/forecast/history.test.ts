// Proves a host's history averages live samples into steps and fills one
// step per row of a replayed series, reading the interval from the data.
import { expect, test } from "bun:test";
import type { HostSample } from "../probe/index.ts";
import { HostHistory } from "./history.ts";

const s = (ts: number, memoryUsage: number): HostSample => ({ ts, memoryUsage, cpuLoad: 0, diskIO: 0, networkLatency: null, storageUsage: 0, storageIOBytesPerSec: 0, networkBandwidthBytesPerSec: 0 });

test("live samples are averaged into steps; a step closes when the next one starts", () => {
  const h = new HostHistory(60_000, 10);
  expect(h.add(s(0, 0.2))).toBe(false);
  expect(h.add(s(30_000, 0.4))).toBe(false);
  expect(h.add(s(60_000, 0.9))).toBe(true);
  expect([...h.values("memoryUsage")]).toEqual([0.30000000000000004]);
  expect(h.add(s(59_000, 0.1))).toBe(false); // older than the current step: ignored
  expect(h.add(s(125_000, 0.5))).toBe(true);
  expect([...h.values("memoryUsage")].map((x) => Math.round(x * 10) / 10)).toEqual([0.3, 0.9]);
  // Each step's peak and trough beside its mean.
  expect([...h.peaks("memoryUsage")]).toEqual([0.4, 0.9]);
  expect([...h.troughs("memoryUsage")]).toEqual([0.2, 0.9]);
});

test("a replayed 5-minute series fills one step per row; the interval is read from the data", () => {
  const h = new HostHistory(60_000, 10);
  for (let i = 0; i < 6; i++) h.add(s(i * 300_000, i / 10));
  expect([...h.values("memoryUsage")].map((x) => Math.round(x * 10) / 10)).toEqual([0, 0.1, 0.2, 0.3, 0.4]);
  expect(h.intervalMs()).toBe(300_000);
  expect([...h.peaks("memoryUsage")]).toEqual([...h.values("memoryUsage")]); // one sample a step: its peak is its mean
});

test("closedSteps counts every step ever closed, past what the ring holds: the newest value is step closedSteps - 1", () => {
  const h = new HostHistory(60_000, 4);
  expect(h.closedSteps).toBe(0);
  for (let i = 0; i <= 10; i++) h.add(s(i * 60_000, i));
  // steps 0..9 closed (the sample of minute 10 opened step 10); the ring keeps the last 4
  expect(h.closedSteps).toBe(10);
  expect([...h.values("memoryUsage")]).toEqual([6, 7, 8, 9]);
  expect(h.values("memoryUsage")[h.length - 1]).toBe(h.closedSteps - 1); // each value here is its own step number
});
