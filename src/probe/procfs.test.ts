// Proves the kernel-file readers: /proc/diskstats, /proc/net/dev and
// /proc/mounts parsed on fixed text (whole disks only, named interfaces
// only, escaped mount points), rates between two readings, and a live
// reading of this machine.
import { expect, test } from "bun:test";
import { cpuLoadSinceBoot, filesystems, parseCpuStat, parseDiskstats, parseMounts, parseNetDev, physicalDisks, ratesBetween, readCounters } from "./procfs.ts";

const DISKSTATS = [
  "   7       0 loop0 5 0 40 1 0 0 0 0 0 4 1 0 0 0 0 0 0",
  " 254       0 vda 100 3 2000 50 40 7 800 30 0 90 80 0 0 0 0 0 0",
  " 254       1 vda1 90 3 1900 45 40 7 800 30 0 85 75 0 0 0 0 0 0",
  " 252       0 zram0 9 0 72 0 11 0 88 0 0 0 0 0 0 0 0 0 0",
].join("\n");

test("diskstats: reads and writes completed and sectors moved, of the named whole disks only", () => {
  expect(parseDiskstats(DISKSTATS, new Set(["vda"]))).toEqual({ ops: 140, bytes: (2000 + 800) * 512 });
  expect(parseDiskstats(DISKSTATS, new Set())).toEqual({ ops: 0, bytes: 0 });
  expect(parseDiskstats("garbage\n\n", new Set(["vda"]))).toEqual({ ops: 0, bytes: 0 });
});

const NETDEV = [
  "Inter-|   Receive                                                |  Transmit",
  " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed",
  "    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0",
  "  eth0: 500 5 0 0 0 0 0 0 300 3 0 0 0 0 0 0",
  "eth1.100:20 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0",
].join("\n");

test("net/dev: bytes received plus sent, of the named interfaces only (a VLAN's dot, a name glued to its colon)", () => {
  expect(parseNetDev(NETDEV, ["eth0"])).toBe(800);
  expect(parseNetDev(NETDEV, ["eth0", "eth1.100"])).toBe(830);
  expect(parseNetDev(NETDEV, [])).toBe(0);
});

test("mounts: the mount point unescaped, the type, read-write or not", () => {
  expect(parseMounts("/dev/vda1 / ext4 rw,relatime 0 0\n/dev/sdb1 /mnt/my\\040disk xfs ro,noatime 0 0\n")).toEqual([
    { mount: "/", type: "ext4", rw: true },
    { mount: "/mnt/my disk", type: "xfs", rw: false },
  ]);
});

test("rates per second between two readings; a counter that went back is no traffic; CPU load is the busy share of the ticks between", () => {
  const a = { atMs: 1_000, diskOps: 10, diskBytes: 4096, netBytes: 100, cpuBusy: 1_000, cpuTotal: 4_000 };
  expect(ratesBetween(a, { atMs: 3_000, diskOps: 30, diskBytes: 8192, netBytes: 50, cpuBusy: 1_100, cpuTotal: 4_400 })).toEqual({ diskIO: 10, storageIOBytesPerSec: 2048, networkBandwidthBytesPerSec: 0, cpuLoad: 0.25 });
  expect(ratesBetween(a, a)).toEqual({ diskIO: 0, storageIOBytesPerSec: 0, networkBandwidthBytesPerSec: 0, cpuLoad: 0 });
  expect(cpuLoadSinceBoot(a)).toBe(0.25);
});

test("/proc/stat's first line: busy is all but idle and iowait; guest is in user already", () => {
  const text = "cpu  100 5 50 800 40 3 2 10 7 0\ncpu0 50 2 25 400 20 1 1 5 3 0\nintr 1 2 3\n";
  expect(parseCpuStat(text)).toEqual({ busy: 170, total: 1_010 });
  expect(parseCpuStat("intr 1\n")).toEqual({ busy: 0, total: 0 });
});

test("on this machine: its disks and loopback counted, its filesystems sized", async () => {
  const disks = physicalDisks();
  expect(disks.size).toBeGreaterThan(0);
  for (const d of disks) expect(d).not.toMatch(/^(loop|ram|zram|dm-|md)/);
  const a = await readCounters(disks, ["lo"]);
  const b = await readCounters(disks, ["lo"]);
  expect(b.atMs).toBeGreaterThan(a.atMs);
  expect(b.diskOps).toBeGreaterThanOrEqual(a.diskOps);
  expect(b.netBytes).toBeGreaterThanOrEqual(a.netBytes);
  const fs = await filesystems((type) => type !== "proc");
  const root = fs.filter((f) => f.size > 0 && f.used > 0 && f.used <= f.size);
  expect(root.length).toBeGreaterThan(0);
});
