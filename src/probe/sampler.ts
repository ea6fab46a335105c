// Samples the host with systeminformation. Rates (disk, network) need two
// calls; the first sample reports them as 0. fsSize shells out to df, the
// slowest call, so it is refreshed only every FS_SIZE_EVERY samples.

import si from "systeminformation";
import type { HostSample } from "./types.ts";

/** Refresh filesystem usage every this many samples (it runs `df`). */
export const FS_SIZE_EVERY = 10;

export type Sampler = { sample(): Promise<HostSample> };

const finite = (x: unknown): number => (typeof x === "number" && Number.isFinite(x) && x >= 0 ? x : 0);
const ratio = (x: number): number => Math.min(1, Math.max(0, x));

export function createSampler(): Sampler {
  let n = 0;
  let storageUsage = 0;
  return {
    async sample() {
      const [load, mem, disk, fs, net] = await Promise.all([
        si.currentLoad(),
        si.mem(),
        si.disksIO().catch(() => null),
        si.fsStats().catch(() => null),
        si.networkStats("*").catch(() => []),
      ]);
      if (n % FS_SIZE_EVERY === 0) {
        const sizes = await si.fsSize().catch(() => []);
        const real = sizes.filter((f) => f.size > 0 && !/^(tmpfs|devtmpfs|overlay|squashfs)$/.test(f.type));
        storageUsage = real.length === 0 ? 0 : Math.max(...real.map((f) => f.used / f.size));
      }
      n += 1;
      const netBytes = (net as Array<{ iface: string; rx_sec: number | null; tx_sec: number | null }>)
        .filter((x) => x.iface !== "lo")
        .reduce((a, x) => a + finite(x.rx_sec) + finite(x.tx_sec), 0);
      return {
        ts: Date.now(),
        cpuLoad: ratio(finite(load.currentLoad) / 100),
        memoryUsage: ratio(mem.total > 0 ? finite(mem.active) / mem.total : 0),
        diskIO: finite(disk?.tIO_sec),
        networkLatency: null,
        storageUsage: ratio(storageUsage),
        storageIOBytesPerSec: finite(fs?.tx_sec),
        networkBandwidthBytesPerSec: netBytes,
      };
    },
  };
}
