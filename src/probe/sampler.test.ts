// Proves the sampler reads this machine for real: every figure finite and in
// range, twice in a row (the second call has the per-second rates), and the
// worker-thread sampler delivers samples.
import { expect, test } from "bun:test";
import { createSampler } from "./sampler.ts";

test("two real samples, every figure finite and in range", async () => {
  const s = createSampler();
  for (let i = 0; i < 2; i++) {
    const x = await s.sample();
    for (const k of ["cpuLoad", "memoryUsage", "storageUsage"] as const) {
      expect(x[k]).toBeGreaterThanOrEqual(0);
      expect(x[k]).toBeLessThanOrEqual(1);
    }
    for (const k of ["diskIO", "storageIOBytesPerSec", "networkBandwidthBytesPerSec"] as const) {
      expect(Number.isFinite(x[k]) && x[k] >= 0).toBe(true);
    }
    expect(x.networkLatency).toBeNull();
    expect(Math.abs(x.ts - Date.now())).toBeLessThan(10_000);
  }
  // memory in use is never zero on a running machine
  expect((await s.sample()).memoryUsage).toBeGreaterThan(0);
}, 30_000);
