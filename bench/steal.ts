// The hypervisor's share of a run: time the machine's virtual CPUs were
// ready to run but not given a physical CPU ("steal" in /proc/stat). On a
// virtual machine whose host caps it (a CPU quota over 100 ms periods), a
// guest that keeps both its CPUs busy is paused now and then for tens of
// milliseconds, every CPU at once, and the pauses end on the host's
// 100 ms grid. No process inside can run then, an agent at real-time
// priority no more than the load; the benches report it beside their
// figures so that a figure the machine took is told from one umbra caused.
//
// Seen here (session 21): a 1 ms real-time timer beside `stress-ng --cpu 2`
// for 180 s: 11 gaps over 15 ms, the longest 36 ms, each in a second of
// 20-40 ms stolen per 100 ms on both CPUs, each ending at the same
// millisecond of a tenth of a second.
import { readFileSync } from "node:fs";
import type { Sample } from "../src/demo/downtime.ts";
import { parseSteal } from "../src/agent/steal.ts";

/** How often the watch reads /proc/stat. */
export const STEAL_SAMPLE_MS = 100;
/** A stretch between two readings in which some CPU lost at least this much to the hypervisor counts as a pause. */
export const PAUSE_MIN_MS = 20;

/** One reading: when (ms since the epoch), and each CPU's stolen ms so far. */
export type StealReading = { t: number; stolenMs: number[] };
/** A stretch between two readings, with the most any one CPU lost in it. */
export type Pause = { from: number; to: number; stolenMs: number };

/** Reads /proc/stat every STEAL_SAMPLE_MS until stopped; null readings (no steal field) are skipped. */
export function startStealWatch(): { readings: StealReading[]; stop(): void } {
  const readings: StealReading[] = [];
  const read = () => {
    const stolenMs = parseSteal(readFileSync("/proc/stat", "utf8"));
    if (stolenMs !== null) readings.push({ t: Date.now(), stolenMs });
  };
  read();
  const timer = setInterval(read, STEAL_SAMPLE_MS);
  return { readings, stop: () => (clearInterval(timer), read()) };
}

/** The stretches between consecutive readings in which some CPU lost at least PAUSE_MIN_MS. */
export function pauses(readings: readonly StealReading[]): Pause[] {
  const out: Pause[] = [];
  for (let i = 1; i < readings.length; i++) {
    const [a, b] = [readings[i - 1]!, readings[i]!];
    const stolenMs = Math.max(0, ...b.stolenMs.map((x, c) => x - (a.stolenMs[c] ?? x)));
    if (stolenMs >= PAUSE_MIN_MS) out.push({ from: a.t, to: b.t, stolenMs });
  }
  return out;
}

/** The machine's steal over [from, to): the share of the CPUs' time, and the pauses in it. */
export function stealIn(readings: readonly StealReading[], from: number, to: number): { share: number; pauses: number } {
  const inside = readings.filter((r) => r.t >= from && r.t < to);
  if (inside.length < 2) return { share: 0, pauses: 0 };
  const [a, b] = [inside[0]!, inside.at(-1)!];
  const stolen = b.stolenMs.reduce((s, x, c) => s + x - (a.stolenMs[c] ?? x), 0);
  return { share: stolen / ((b.t - a.t) * b.stolenMs.length), pauses: pauses(inside).length };
}

/** Of the requests sent in [from, to), the failed ones whose wait (sent to given up, `timeoutMs` at most) overlapped no pause: the failures the machine's pauses do not account for. */
export function failedBesidePauses(samples: readonly Sample[], ps: readonly Pause[], from: number, to: number, timeoutMs: number): number {
  const sent = samples.filter((s) => s.t >= from && s.t < to);
  const paused = (s: Sample) => ps.some((p) => p.from < (s.done ?? s.t + timeoutMs) && p.to > s.t);
  return sent.length === 0 ? 0 : sent.filter((s) => !s.ok && !paused(s)).length / sent.length;
}
