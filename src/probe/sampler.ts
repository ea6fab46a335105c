// Samples this host with systeminformation. Runs in a worker thread
// (worker.ts): systeminformation parses command output synchronously.
//
// What systeminformation does underneath, and what follows from it:
// - Rates (disk ops/s, disk bytes/s, network bytes/s) are differences between
//   two calls, kept in module-global state: the first call reports null (we
//   report 0), and a call less than 500 ms after the previous one returns the
//   previous figures again. So use one sampler per thread, and expect repeated
//   rates below a 500 ms probe interval.
// - The first currentLoad() call primes its counters and waits 500 ms, so the
//   first sample takes ~0.5-0.6 s; later ones measure CPU since the last call.
// - fsSize() runs `cat /proc/mounts` synchronously and then `df`, which can
//   hang on a dead network mount. Storage usage changes slowly, so it is
//   refreshed in the background at most every STORAGE_REFRESH_MS, one refresh
//   in flight, and each sample reuses the last figure. Only the first sample
//   waits for it, and at most STORAGE_FIRST_WAIT_MS.
// - networkStats("*") lists interfaces through si.networkInterfaces(), which
//   rescans with several synchronous commands per interface whenever an address changes
//   (every VIP move); we name the interfaces ourselves from os.networkInterfaces().
//
// Measured on a 2-core VM (node 24, loadavg ~0.4), 20 samples 1 s apart:
// the first took 568 ms (the currentLoad priming), then min 29, p50 39,
// p90 60, max 68 ms. The five calls run in parallel and finish together
// (~37 ms: disksIO, fsStats and networkStats each spawn a shell); fsSize alone
// takes ~10 ms, off the sample path. Well under the 1 s default interval.

import { networkInterfaces, type NetworkInterfaceInfo } from "node:os";
import si from "systeminformation";
import type { HostSample } from "./types.ts";

/** Storage usage is re-read this often; it moves over minutes, not seconds. */
export const STORAGE_REFRESH_MS = 10_000;
/** The first sample waits this long for the first storage figure, then reports 0 until it arrives. */
export const STORAGE_FIRST_WAIT_MS = 2_000;

/**
 * Filesystem types that are not this host's storage: memory-backed, kernel,
 * image and network mounts. overlay stays: inside a container it is the only
 * view of the disk, and duplicates do not change a maximum.
 */
const FS_TYPES_IGNORED = /^(tmpfs|devtmpfs|ramfs|squashfs|iso9660|proc|sysfs|cgroup2?|nsfs|efivarfs|autofs|nfs4?|cifs|smb3|9p|fuse\..*)$/;

export type Sampler = { sample(): Promise<HostSample> };
export type SamplerOptions = {
  /** Told about failures that do not spoil a sample (a failed storage refresh). */
  warn?: (message: string) => void;
};

/** A non-negative finite number, else 0: systeminformation reports a rate it cannot compute yet as null. */
export function rateOrZero(x: unknown): number {
  return typeof x === "number" && Number.isFinite(x) && x >= 0 ? x : 0;
}

function ratio(x: number): number {
  return Math.min(1, Math.max(0, x));
}

/** Highest use ratio among real, writable filesystems; 0 if there are none. */
export function storageUsageOf(sizes: ReadonlyArray<{ type: string; size: number; used: number; rw: boolean | null }>): number {
  const real = sizes.filter((f) => f.size > 0 && f.rw !== false && !FS_TYPES_IGNORED.test(f.type));
  return real.reduce((max, f) => Math.max(max, ratio(rateOrZero(f.used) / f.size)), 0);
}

/** Interfaces with an address, none of them loopback. Bridge ports carry no address, so bridged traffic counts once. */
export function nonLoopbackInterfaces(ifaces: NodeJS.Dict<NetworkInterfaceInfo[]>): string[] {
  return Object.entries(ifaces)
    .filter(([, addrs]) => addrs !== undefined && addrs.length > 0 && addrs.every((a) => !a.internal))
    .map(([name]) => name)
    .sort();
}

/** rx + tx bytes/s summed over the given stats. */
export function bandwidthOf(stats: ReadonlyArray<{ rx_sec: unknown; tx_sec: unknown }>): number {
  return stats.reduce((sum, x) => sum + rateOrZero(x.rx_sec) + rateOrZero(x.tx_sec), 0);
}

export function createSampler(opts: SamplerOptions = {}): Sampler {
  const warn = opts.warn ?? (() => {});
  // Last storage figure, reused between refreshes.
  let storageUsage = 0;
  // When the last refresh started (performance.now ms); -Infinity forces the first.
  let storageStartedMs = -Infinity;
  // The refresh in flight, if any: never two df at once behind a hung mount.
  let storageRefresh: Promise<void> | null = null;
  let first = true;

  function refreshStorage(): Promise<void> | null {
    const nowMs = performance.now();
    if (storageRefresh !== null || nowMs - storageStartedMs < STORAGE_REFRESH_MS) return storageRefresh;
    storageStartedMs = nowMs;
    storageRefresh = si
      .fsSize()
      .then((sizes) => {
        storageUsage = storageUsageOf(sizes);
      })
      .catch((err: unknown) => warn(`storage refresh failed, reusing ${storageUsage.toFixed(3)}: ${(err as Error).message}`))
      .finally(() => {
        storageRefresh = null;
      });
    return storageRefresh;
  }

  return {
    async sample() {
      const storage = refreshStorage();
      if (first) {
        first = false;
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([storage ?? Promise.resolve(), new Promise<void>((r) => (timer = setTimeout(r, STORAGE_FIRST_WAIT_MS)))]);
        clearTimeout(timer);
      }
      const ifaces = nonLoopbackInterfaces(networkInterfaces());
      const [load, mem, disk, fs, net] = await Promise.all([
        si.currentLoad(),
        si.mem(),
        si.disksIO(),
        si.fsStats(),
        // An empty list would make systeminformation pick its default interface.
        ifaces.length === 0 ? Promise.resolve([]) : si.networkStats(ifaces.join(",")),
      ]);
      return {
        ts: Date.now(),
        cpuLoad: ratio(rateOrZero(load.currentLoad) / 100),
        // active excludes buffers and page cache: memory the host cannot easily give back.
        memoryUsage: mem.total > 0 ? ratio(rateOrZero(mem.active) / mem.total) : 0,
        diskIO: rateOrZero(disk?.tIO_sec),
        networkLatency: null,
        storageUsage,
        storageIOBytesPerSec: rateOrZero(fs?.tx_sec),
        networkBandwidthBytesPerSec: bandwidthOf(net),
      };
    },
  };
}
