// Host counters read straight from the kernel's files (/proc, /sys, statfs),
// with no child process. systeminformation's disksIO, fsStats and
// networkStats each spawn a shell on every call, and fsSize runs `df`: under
// the agent's real-time priority that was 10-12 ms of CPU per sample in
// bursts of 35-50 ms (cpuprofile of the sampler's worker, session 10), which
// the host's own services, at ordinary priority, waited out. Reading these
// files costs well under a millisecond.
//
// Linux only, as the agent is. Rates are differences between two readings.

import { readdirSync, existsSync } from "node:fs";
import { readFile, statfs } from "node:fs/promises";
import { join } from "node:path";

/** Bytes per sector in /proc/diskstats, whatever the device's own sector size. */
const DISKSTATS_SECTOR_BYTES = 512;

/** Cumulative counters at one moment (performance.now ms); CPU time in /proc/stat's ticks, busy and in all. */
export type Counters = { atMs: number; diskOps: number; diskBytes: number; netBytes: number; cpuBusy: number; cpuTotal: number };

/** Disk I/O: operations and bytes per second; network bytes (received + sent) per second; the CPUs' busy share (0..1). */
export type Rates = { diskIO: number; storageIOBytesPerSec: number; networkBandwidthBytesPerSec: number; cpuLoad: number };

/**
 * All CPUs' time from /proc/stat's first line ("cpu  user nice system idle
 * iowait irq softirq steal guest guest_nice", ticks since boot): busy is
 * all but idle and iowait; guest time is counted in user already. (What
 * systeminformation's currentLoad computes, without the `cat /proc/stat |
 * grep cpu` shell it runs synchronously on every call: the agent's loop
 * blocked on a fork and exec each second.)
 */
export function parseCpuStat(text: string): { busy: number; total: number } {
  const line = text.split("\n").find((l) => l.startsWith("cpu "));
  if (line === undefined) return { busy: 0, total: 0 };
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, x) => a + (Number.isFinite(x) ? x : 0), 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

/**
 * Reads and writes completed, and bytes moved, summed over the given block
 * devices (/proc/diskstats: name in field 3, reads completed 4, sectors read
 * 6, writes completed 8, sectors written 10).
 */
export function parseDiskstats(text: string, disks: ReadonlySet<string>): { ops: number; bytes: number } {
  let ops = 0;
  let bytes = 0;
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 11 || !disks.has(f[2]!)) continue;
    ops += Number(f[3]) + Number(f[7]);
    bytes += (Number(f[5]) + Number(f[9])) * DISKSTATS_SECTOR_BYTES;
  }
  return { ops, bytes };
}

/** Bytes received plus sent by the given interfaces (/proc/net/dev: after "name:", receive bytes first, transmit bytes ninth). */
export function parseNetDev(text: string, ifaces: readonly string[]): number {
  const wanted = new Set(ifaces);
  let total = 0;
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0 || !wanted.has(line.slice(0, colon).trim())) continue;
    const f = line.slice(colon + 1).trim().split(/\s+/);
    if (f.length >= 9) total += Number(f[0]) + Number(f[8]);
  }
  return total;
}

/** The mounts of /proc/mounts: mount point (octal escapes undone), type, and whether mounted read-write. */
export function parseMounts(text: string): Array<{ mount: string; type: string; rw: boolean }> {
  const out: Array<{ mount: string; type: string; rw: boolean }> = [];
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    if (f.length < 4) continue;
    const mount = f[1]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    out.push({ mount, type: f[2]!, rw: f[3]!.split(",").includes("rw") });
  }
  return out;
}

/** Per-second rates between two readings; a counter that went back (a device gone, a wrap) counts as no traffic. */
export function ratesBetween(a: Counters, b: Counters): Rates {
  const s = (b.atMs - a.atMs) / 1000;
  const rate = (x: number, y: number) => (s > 0 && y >= x ? (y - x) / s : 0);
  const ticks = b.cpuTotal - a.cpuTotal;
  const cpuLoad = ticks > 0 && b.cpuBusy >= a.cpuBusy ? Math.min(1, (b.cpuBusy - a.cpuBusy) / ticks) : 0;
  return { diskIO: rate(a.diskOps, b.diskOps), storageIOBytesPerSec: rate(a.diskBytes, b.diskBytes), networkBandwidthBytesPerSec: rate(a.netBytes, b.netBytes), cpuLoad };
}

/** The CPUs' busy share since boot: the first sample's figure, with no earlier reading to difference. */
export const cpuLoadSinceBoot = (c: Counters): number => (c.cpuTotal > 0 ? Math.min(1, c.cpuBusy / c.cpuTotal) : 0);

/** Whole physical disks (sda, vda, nvme0n1, mmcblk0): those in /sys/block with a device behind them, so not loop, ram, zram, dm or md devices, whose I/O is a disk's already. */
export function physicalDisks(sysBlock = "/sys/block"): Set<string> {
  try {
    return new Set(readdirSync(sysBlock).filter((d) => existsSync(join(sysBlock, d, "device"))));
  } catch {
    return new Set();
  }
}

/** The counters now: the disks' and the named interfaces'. */
export async function readCounters(disks: ReadonlySet<string>, ifaces: readonly string[]): Promise<Counters> {
  const [diskstats, netdev, stat] = await Promise.all([readFile("/proc/diskstats", "utf8"), readFile("/proc/net/dev", "utf8"), readFile("/proc/stat", "utf8")]);
  const d = parseDiskstats(diskstats, disks);
  const cpu = parseCpuStat(stat);
  return { atMs: performance.now(), diskOps: d.ops, diskBytes: d.bytes, netBytes: parseNetDev(netdev, ifaces), cpuBusy: cpu.busy, cpuTotal: cpu.total };
}

/** Size and use of every mounted filesystem whose type `keep` accepts (statfs: used counts what is not free, as df does). */
export async function filesystems(keep: (type: string) => boolean): Promise<Array<{ type: string; size: number; used: number; rw: boolean }>> {
  const mounts = parseMounts(await readFile("/proc/mounts", "utf8")).filter((m) => keep(m.type));
  const figures = await Promise.all(
    mounts.map(async (m) => {
      try {
        const st = await statfs(m.mount);
        return { type: m.type, size: st.blocks * st.bsize, used: (st.blocks - st.bfree) * st.bsize, rw: m.rw };
      } catch {
        return null; // gone since /proc/mounts was read, or not ours to see
      }
    }),
  );
  return figures.filter((f) => f !== null);
}
