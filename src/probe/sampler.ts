// Samples this host, on the agent's own thread (background.ts). Memory
// comes from systeminformation (/proc/meminfo, read asynchronously); CPU,
// disk, storage and network figures from the kernel's files (procfs.ts),
// since systeminformation spawns a shell per call for them (its currentLoad
// even synchronously, blocking the agent's loop on a fork and exec every
// second), which under the agent's real-time priority took the host's CPU
// from its own services for 35-50 ms every second.
//
// What follows from the sources:
// - Rates (disk ops/s, disk bytes/s, network bytes/s) are differences between
//   two readings: the first sample reports 0.
// - CPU load is the busy share of all CPUs' time since the last sample; the
//   first sample reports the share since boot.
// - Storage usage (statfs of every real filesystem, which can hang on a dead
//   network mount: those types are skipped) changes slowly, so it is
//   refreshed in the background at most every STORAGE_REFRESH_MS, one
//   refresh in flight, and each sample reuses the last figure. Only the first
//   sample waits for it, and at most STORAGE_FIRST_WAIT_MS.
// - The interfaces are named from os.networkInterfaces() at each sample (a
//   VIP move changes addresses, not interfaces).

import { networkInterfaces, type NetworkInterfaceInfo } from "node:os";
import si from "systeminformation";
import { cpuLoadSinceBoot, filesystems, physicalDisks, ratesBetween, readCounters, type Counters } from "./procfs.ts";
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

export function createSampler(opts: SamplerOptions = {}): Sampler {
  const warn = opts.warn ?? (() => {});
  // Last storage figure, reused between refreshes.
  let storageUsage = 0;
  // When the last refresh started (performance.now ms); -Infinity forces the first.
  let storageStartedMs = -Infinity;
  // The refresh in flight, if any: never two df at once behind a hung mount.
  let storageRefresh: Promise<void> | null = null;
  let first = true;
  const disks = physicalDisks();
  let last: Counters | null = null;

  function refreshStorage(): Promise<void> | null {
    const nowMs = performance.now();
    if (storageRefresh !== null || nowMs - storageStartedMs < STORAGE_REFRESH_MS) return storageRefresh;
    storageStartedMs = nowMs;
    storageRefresh = filesystems((type) => !FS_TYPES_IGNORED.test(type))
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
      const [mem, now] = await Promise.all([si.mem(), readCounters(disks, ifaces)]);
      const rates = last === null ? { diskIO: 0, storageIOBytesPerSec: 0, networkBandwidthBytesPerSec: 0, cpuLoad: cpuLoadSinceBoot(now) } : ratesBetween(last, now);
      last = now;
      return {
        ts: Date.now(),
        cpuLoad: ratio(rates.cpuLoad),
        // active excludes buffers and page cache: memory the host cannot easily give back.
        memoryUsage: mem.total > 0 ? ratio(rateOrZero(mem.active) / mem.total) : 0,
        diskIO: rates.diskIO,
        networkLatency: null,
        storageUsage,
        storageIOBytesPerSec: rates.storageIOBytesPerSec,
        networkBandwidthBytesPerSec: rates.networkBandwidthBytesPerSec,
      };
    },
  };
}
