// The hypervisor's share of a loop stall. On a virtual machine the host
// may give the guest's virtual CPUs to others ("steal" in /proc/stat); a
// host that caps the guest's CPU pauses every virtual CPU at once, for tens
// of milliseconds, when the guest keeps them busy. No process inside runs
// then, real-time or not, and the agent's loop stalls with everything
// else. The loop-stall warning says how much the machine lost meanwhile,
// so that an operator tells a paused machine from a starved agent
// (bench/steal.ts measures the same for the benches).
//
// Read at most once a STEAL_READ_MS from the loop's side turn, and at a
// stall: one small file read a second.
import { readFileSync } from "node:fs";

/** How often the side turn reads /proc/stat, at most. */
export const STEAL_READ_MS = 1_000;
/** /proc/stat counts in USER_HZ ticks: 100 a second on Linux. */
const TICK_MS = 10;

/** Each CPU's steal so far, in ms (the 8th value of its `cpuN` line); null where /proc/stat has no such field. */
export function parseSteal(procStat: string): number[] | null {
  const cpus = procStat.split("\n").filter((l) => /^cpu\d+ /.test(l));
  const stolen = cpus.map((l) => Number(l.trim().split(/\s+/)[8]) * TICK_MS);
  return stolen.length === 0 || stolen.some((x) => !Number.isFinite(x)) ? null : stolen;
}

/** What the machine lost since the last reading: the most any one CPU lost, and over how long. */
export type Stolen = { stolenMs: number; overMs: number };

export class StealMeter {
  private last: { t: number; stolen: number[] } | null = null;
  private off = false;
  private readonly read: () => string;

  /** `read` returns /proc/stat's text (a test gives its own). */
  constructor(read: () => string = () => readFileSync("/proc/stat", "utf8")) {
    this.read = read;
  }

  /** A reading, if the last is STEAL_READ_MS old (the side turn calls this). */
  mark(nowMs: number): void {
    if (this.last === null || nowMs - this.last.t >= STEAL_READ_MS) this.take(nowMs);
  }

  /** What was lost since the last reading, which this one replaces; null before any, or where /proc/stat tells nothing. */
  since(nowMs: number): Stolen | null {
    const before = this.last;
    const now = this.take(nowMs);
    if (before === null || now === null) return null;
    return { stolenMs: Math.max(0, ...now.map((x, c) => x - (before.stolen[c] ?? x))), overMs: Math.round(nowMs - before.t) };
  }

  private take(nowMs: number): number[] | null {
    if (this.off) return null;
    let stolen: number[] | null;
    try {
      stolen = parseSteal(this.read());
    } catch {
      stolen = null; // no /proc/stat (not Linux, or a sandbox without /proc)
    }
    if (stolen === null) {
      this.off = true;
      this.last = null;
      return null;
    }
    this.last = { t: nowMs, stolen };
    return stolen;
  }
}
