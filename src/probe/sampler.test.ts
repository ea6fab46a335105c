// Proves the sampler reads this machine for real: every figure finite and in
// range, twice in a row (the second call has the per-second rates), a steady
// sample well under the 1 s interval, and the worker-thread sampler delivers
// samples. The pure helpers are table-tested on fixed inputs.
import { describe, expect, test } from "bun:test";
import type { NetworkInterfaceInfo } from "node:os";
import { createSampler, nonLoopbackInterfaces, rateOrZero, storageUsageOf } from "./sampler.ts";
import { startBackgroundSampler } from "./background.ts";
import type { HostSample } from "./types.ts";

/** A steady sample must leave most of the 1 s default interval free; measured ~15 ms. */
const STEADY_SAMPLE_MS_MAX = 500;

function expectInRange(x: HostSample): void {
  for (const k of ["cpuLoad", "memoryUsage", "storageUsage"] as const) {
    expect(Number.isFinite(x[k])).toBe(true);
    expect(x[k]).toBeGreaterThanOrEqual(0);
    expect(x[k]).toBeLessThanOrEqual(1);
  }
  for (const k of ["diskIO", "storageIOBytesPerSec", "networkBandwidthBytesPerSec"] as const) {
    expect(Number.isFinite(x[k]) && x[k] >= 0).toBe(true);
  }
  expect(x.networkLatency).toBeNull();
  expect(Math.abs(x.ts - Date.now())).toBeLessThan(10_000);
}

describe("on this machine", () => {
  test("two samples in a row, every figure finite and in range; a steady one is fast", async () => {
    const s = createSampler({ warn: (m) => expect(m).toBe("no warning") });
    const a = await s.sample();
    expectInRange(a);
    // Past systeminformation's 500 ms cache of CPU figures, so every figure is measured afresh.
    await Bun.sleep(600);
    const t0 = performance.now();
    const b = await s.sample();
    const tookMs = performance.now() - t0;
    expectInRange(b);
    expect(tookMs).toBeLessThan(STEADY_SAMPLE_MS_MAX);
    expect(b.ts).toBeGreaterThan(a.ts);
    // A running machine always has memory in use and a disk with something on it.
    expect(b.memoryUsage).toBeGreaterThan(0);
    expect(b.storageUsage).toBeGreaterThan(0);
  }, 30_000);

  test("the worker-thread sampler delivers samples and stops", async () => {
    const errors: string[] = [];
    let stop = () => Promise.resolve();
    const got = await new Promise<HostSample>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no sample within 10 s; errors: ${errors.join("; ")}`)), 10_000);
      const bg = startBackgroundSampler(100, (s) => (clearTimeout(timer), resolve(s)), (m) => errors.push(m));
      stop = bg.stop;
    });
    await stop();
    expectInRange(got);
    expect(errors).toEqual([]);
  }, 30_000);
});

describe("pure helpers", () => {
  test.each([
    [null, 0],
    [undefined, 0],
    [Number.NaN, 0],
    [-3, 0],
    [Number.POSITIVE_INFINITY, 0],
    [12.5, 12.5],
  ])("rateOrZero(%p) = %p", (x, want) => {
    expect(rateOrZero(x)).toBe(want);
  });

  test("storage usage is the fullest real, writable filesystem", () => {
    const fs = (type: string, size: number, used: number, rw: boolean | null = true) => ({ type, size, used, rw });
    expect(storageUsageOf([])).toBe(0);
    expect(storageUsageOf([fs("ext4", 100, 25), fs("xfs", 200, 100), fs("overlay", 100, 25)])).toBe(0.5);
    // memory, image, read-only, network, fuse and empty filesystems do not count
    expect(storageUsageOf([fs("ext4", 100, 10), fs("tmpfs", 100, 99), fs("squashfs", 100, 100), fs("ext4", 100, 100, false), fs("nfs4", 100, 95), fs("fuse.lxcfs", 100, 90), fs("ext4", 0, 0)])).toBe(0.1);
    // rw unknown counts; a used figure over the size is clamped
    expect(storageUsageOf([fs("btrfs", 100, 150, null)])).toBe(1);
  });

  test("loopback and address-less interfaces are left out", () => {
    const addr = (internal: boolean) => ({ internal }) as NetworkInterfaceInfo;
    expect(nonLoopbackInterfaces({ lo: [addr(true), addr(true)], eth1: [addr(false)], eth0: [addr(false), addr(false)], br0p1: [], gone: undefined })).toEqual(["eth0", "eth1"]);
  });
});
