// The agent's forecasting on the real model (onnxruntime): a CPU climb to
// saturation sampled every 5 s, the case issue 17 found missed (its
// one-minute means hid the peaks), is seen coming at least a minute before
// its trend saturates; a calm, noisy host at the same sampling is not.
// Every closed step is scored for anomalies, also two closed by one sample.
//
// Measured (session 15): judged on the steps' means alone it warned 105 s
// after the trend saturated; with the peaks, 75 s before. Both are later
// than the first noisy sample over the limit (the bar: a minute
// before that): the crossing probability itself must learn climbs (issue
// 17's training on degradation examples).
import { expect, test } from "bun:test";
import { startForecasting, type Forecasting } from "./forecasting.ts";
import { logger } from "../shared/log.ts";
import { rng } from "../shared/rng.ts";
import type { HostSample } from "../probe/index.ts";
import type { HostId } from "../shared/ids.ts";

const HOST = "h1" as HostId;
const SAMPLE_MS = 5_000;
const LIMIT = 0.95;
const THRESHOLD = 0.8;
const cfg = { enabled: true, horizonMinutes: 15, stepMs: 60_000, threshold: THRESHOLD, sustainMs: 60_000, cooldownMs: 300_000, limits: { cpuLoad: LIMIT } };
const sample = (ts: number, cpuLoad: number): HostSample => ({ ts, cpuLoad, memoryUsage: 0.3, diskIO: 0, networkLatency: null, storageUsage: 0.2, storageIOBytesPerSec: 0, networkBandwidthBytesPerSec: 0 });

/** Feeds `cpu(t)` every 5 s for `ms`; the first time a forecast said P ≥ THRESHOLD, and the first sample at or over the limit (null: never). */
async function play(f: Forecasting, ms: number, cpu: (t: number) => number, as: (t: number, v: number) => HostSample = sample, crossed = (v: number) => v >= LIMIT): Promise<{ warnedAt: number | null; crossedAt: number | null }> {
  let warnedAt: number | null = null;
  let crossedAt: number | null = null;
  for (let t = 0; t < ms; t += SAMPLE_MS) {
    const v = cpu(t);
    if (crossedAt === null && crossed(v)) crossedAt = t;
    f.sample(HOST, as(t, v));
    if ((t + SAMPLE_MS) % 60_000 === 0) {
      // The step's last sample closed it: wait (bounded) for its forecast to come back from onnxruntime's threads.
      for (let i = 0; i < 200 && (f.latest()[0]?.atTs ?? -1) < t; i++) await new Promise((r) => setTimeout(r, 1));
    }
    for (const x of f.drain()) if (warnedAt === null && x.exhaustionProbability >= THRESHOLD) warnedAt = t;
  }
  return { warnedAt, crossedAt };
}

const CALM_MS = 6 * 3_600_000;
const CLIMB_MS = 45 * 60_000;

test("a CPU climb sampled every 5 s is seen a minute or more before its trend saturates; a calm noisy host is not", async () => {
  const log = logger("test", "warn");
  const r = rng(7);
  const noise = () => (r.next() - 0.5) * 0.12;
  const climbing = (await startForecasting(cfg, log))!;
  const climb = await play(climbing, CALM_MS + CLIMB_MS, (t) => Math.min(1, (t < CALM_MS ? 0.45 : 0.45 + (0.6 * (t - CALM_MS)) / CLIMB_MS) + noise()));
  const saturatesAt = CALM_MS + ((1 - 0.45) / 0.6) * CLIMB_MS; // the trend reaches 1.0
  console.log(`forecasting: climb warned ${(climb.warnedAt! - CALM_MS) / 1000} s into it, its trend saturates at ${(saturatesAt - CALM_MS) / 1000} s, first sample ≥ ${LIMIT} at ${(climb.crossedAt! - CALM_MS) / 1000} s`);
  expect(climb.warnedAt).not.toBeNull();
  expect(saturatesAt - climb.warnedAt!).toBeGreaterThanOrEqual(60_000);
  const calm = (await startForecasting(cfg, log))!;
  const steady = await play(calm, CALM_MS + CLIMB_MS, () => 0.45 + noise());
  expect(steady.warnedAt).toBeNull();
}, 120_000);

test("traffic falling to nothing is seen coming against a lower line; steady traffic is not", async () => {
  const log = logger("test", "warn");
  const r = rng(11);
  const FULL = 2e6; // bytes a second
  const FLOOR = 1e5;
  const drops = { ...cfg, limits: { networkBandwidthBytesPerSec: { below: FLOOR } } };
  const traffic = (t: number, v: number): HostSample => ({ ...sample(t, 0.3), networkBandwidthBytesPerSec: v });
  const noise = () => (r.next() - 0.5) * 0.12 * FULL;
  const falling = (await startForecasting(drops, log))!;
  // 6 h at 1.1 MB/s, then a fall over 45 minutes through the floor to nothing.
  const fall = await play(falling, CALM_MS + CLIMB_MS, (t) => Math.max(0, (t < CALM_MS ? 0.55 * FULL : 0.55 * FULL - (0.6 * FULL * (t - CALM_MS)) / CLIMB_MS) + noise()), traffic, (v) => v <= FLOOR);
  const emptiesAt = CALM_MS + (0.55 / 0.6) * CLIMB_MS; // the trend reaches 0
  console.log(`forecasting: the fall warned ${(fall.warnedAt! - CALM_MS) / 1000} s into it, its trend reaches 0 at ${(emptiesAt - CALM_MS) / 1000} s, first sample ≤ the floor at ${(fall.crossedAt! - CALM_MS) / 1000} s`);
  expect(fall.warnedAt).not.toBeNull();
  expect(emptiesAt - fall.warnedAt!).toBeGreaterThanOrEqual(60_000);
  const m = falling.latest()[0]!.metrics[0]!;
  expect(m).toMatchObject({ metric: "networkBandwidthBytesPerSec", limit: FLOOR, side: "below" });
  const steady = (await startForecasting(drops, log))!;
  expect((await play(steady, CALM_MS + CLIMB_MS, () => 0.55 * FULL + noise(), traffic)).warnedAt).toBeNull();
}, 120_000);

test("a metric only scaling watches is forecast for this host alone: its p90 comes with this host's forecast, no exhaustion, nothing for a peer", async () => {
  const log = logger("test", "warn");
  const peer = "h2" as HostId;
  const f = (await startForecasting({ ...cfg, limits: { memoryUsage: 0.95 } }, log, ["cpuLoad"], HOST))!;
  const r = rng(3);
  for (let t = 0; t < 3 * 3_600_000; t += 60_000) {
    for (const h of [HOST, peer]) f.sample(h, sample(t, 0.9 + (r.next() - 0.5) * 0.02));
    for (let i = 0; i < 200 && f.latest().length < 2 && t > 2 * 3_600_000; i++) await new Promise((res) => setTimeout(res, 1));
  }
  for (let i = 0; i < 500 && f.latest().filter((x) => x.host === HOST).length === 0; i++) await new Promise((res) => setTimeout(res, 2));
  const own = f.latest().find((x) => x.host === HOST)!;
  const other = f.latest().find((x) => x.host === peer)!;
  expect(own.p90?.cpuLoad).toBeGreaterThan(0.8); // a steady 0.9
  expect(own.metrics.map((m) => m.metric)).toEqual(["memoryUsage"]); // cpuLoad has no limit: no exhaustion from it
  expect(other.p90?.cpuLoad).toBeUndefined();
  expect(other.p90?.memoryUsage).toBeDefined();
}, 60_000);

test("a spike in a step that closed together with the next (a sample a little early for its minute) is still scored", async () => {
  const f = (await startForecasting(cfg, logger("test", "warn")))!;
  const r = rng(11);
  const settle = async (ts: number) => {
    for (let i = 0; i < 500 && (f.latest()[0]?.atTs ?? -1) < ts; i++) await new Promise((res) => setTimeout(res, 1));
  };
  // Over five calm hours at one sample a minute, each step's forecast awaited: the scorer is past its learning (288 values).
  const calm = 5 * 60 + 10;
  for (let i = 0; i < calm; i++) {
    f.sample(HOST, sample(i * 60_000, 0.3 + (r.next() - 0.5) * 0.02));
    await settle(i * 60_000);
  }
  // 0.97, 10 ms before its minute: in the step the sample before closed, so it opens the next one alone; the next sample closes both.
  f.sample(HOST, sample(calm * 60_000 - 10, 0.97));
  f.sample(HOST, sample((calm + 1) * 60_000, 0.3));
  await settle((calm + 1) * 60_000);
  const latest = f.latest()[0]!;
  expect(latest.atTs).toBe((calm + 1) * 60_000);
  expect(latest.metrics.find((m) => m.metric === "cpuLoad")!.anomaly).toBeGreaterThanOrEqual(0.75);
}, 60_000);
