// bench/handover: planned moves on real agents. How long does a service go
// unanswered when its holder hands it over in person (`umbra move`), and
// does a client with one retry notice?
//
// Layout: src/demo/cluster.ts (h1 primary, h2/h3 shadows, all voters; a
// service on each host answering its name; a client), plus a probe
// namespace per host with a static neighbour entry that sends the VIP to
// that host's MAC: its poller sees exactly whether that host answers for the
// VIP, whatever ARP says. One cluster for
// every trial; each trial moves the service off its holder, to h2 if h1
// holds it and to h1 otherwise: h1 -> h2, h2 -> h1, ... Per trial, after
// SETTLE_MS of steady service, `umbra move web --to NEW` runs on the holder
// (the CLI, through its agent's API), and the pollers watch until WATCH_MS
// after the new holder's agent logged vip-added.
// Measured per trial:
//   gap by kernels the server-side gap: the new holder's kernel's first
//                  moment answering for the VIP (address up and kernel lease
//                  applied) minus the old holder's last (its lease ended or
//                  its address removed, whichever first), from each host's
//                  kernel notifications read by a watcher above the agents'
//                  priority (bench/kernelwatch.ts); negative would be both
//                  kernels answering at once
//   gap by probes  the new holder's first answer minus the old holder's last
//                  (request send times; the probes poll every 1 ms, so the
//                  resolution is their real spacing, printed: about 1-2 ms)
//   gap by logs    the old holder's drop-vip to the new holder's vip-answering
//                  (its address up and its kernel lease applied, whichever is
//                  later; with the fence the old holder's kernel lease ends
//                  in the step that drops, and it hands over on the kernel's
//                  word, before its `ip addr del` is done; vip-removed to
//                  vip-added is kept in the JSON as gapRemovedMs, drop-vip
//                  to vip-added as dropToAddedMs)
//                  (the agents' JSON log lines, 1 ms timestamps); also from
//                  the old holder's drop-vip (its decision), and where the
//                  time went: the votes, the old holder's `ip` removal, the
//                  certificate's trip to the new holder, its `ip` add
//   client         a poller on the client every 2 ms through the VIP and its
//                  own ARP cache, each request with a short timeout
//                  (--client-timeout-ms, default 10) and one retry at once:
//                  requests that failed even after the retry, near the move
//                  (sent from the old holder's drop-vip less two timeouts to
//                  WATCH_MS after the add) and in steady service (a loaded
//                  machine's timeouts), and requests that needed the retry
// A trial is incomplete unless it was a clean handover: the move queued,
// the old holder dropped the VIP for it, the new one took it for it within
// MOVE_WAIT_MS (an overloaded machine's lapsed leases spoil some).
//   two answering  answers of one host's probe sent inside a stretch of the
//                  other's answering (must be 0)
// Acceptance: a client polling every 2 ms with one retry sees 0 failed
// requests (near a move); server-side gap <= 5 ms median (by the kernels:
// the probes' requests wait behind the agents' work on two shared cores,
// so they read the instrument's starvation too; they are kept beside it);
// and no trial incomplete, no two hosts answering (by the probes, and no
// overlap by the kernels).
// Warm-up (--warmup, default 1): moves run and shown before the measured
// trials, not counted: the first move of a fresh cluster runs code paths
// not yet compiled while the agents still load their forecasting models.
//
//   node bench/handover.ts [--trials 10] [--warmup 1] [--client-timeout-ms 10] [--probe-interval-ms 2] [--json] [--log-file FILE] [--debug-dir DIR [--capture] [--trace]]
//
// --capture (diagnosis; needs tcpdump, which scripts/ensure-system.sh does not
// install): per trial, the ARP frames on every bridge port and the client's
// ARP and SYNs to the VIP, pcap and text, into the debug dir;
// bench/handover-frames.ts lays each trial out as one timeline.
// --trace (diagnosis; tracefs): per trial, the kernel's scheduler and block
// events around the move (an ftrace instance of its own, on the logs' wall
// clock), and each CPU's steal time from the ask to after the move: where
// the new holder's armed arping waited, if it did.
//
// Needs root (network namespaces, nftables).

import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { rtPrefix, startDemoCluster, startPoller, sleep, terminate, CLIENT, NODE, SERVICE_PORT, VIP, type DemoCluster, type LogLine } from "../src/demo/cluster.ts";
import { cleanupStale, type Topology } from "../src/demo/topology.ts";
import type { Sample } from "../src/demo/downtime.ts";
import { answeringSpans, holesBefore, kernelEvents, kernelGap, watchKernel } from "./kernelwatch.ts";

const PREFIX = "uh-";
const ROOT = resolve(import.meta.dirname, "..");
const MAIN = join(ROOT, "src/cli/main.ts");
const SERVICE = "web";
/** A probe namespace pinned to each host (the service moves between h1 and h2; h3 holds it only after a failover). */
const PROBES = [
  { name: "p1", ipv4: "198.51.100.61", host: "h1" },
  { name: "p2", ipv4: "198.51.100.62", host: "h2" },
  { name: "p3", ipv4: "198.51.100.63", host: "h3" },
] as const;
/**
 * The probes: every 2 ms (the spacing reached is measured and printed);
 * --probe-interval-ms trades resolution for load. The server-side gap is the
 * kernels' (bench/kernelwatch.ts), so the probes are a second opinion on the
 * gap and on two hosts answering, and need not be finer. (At ordinary
 * priority they are no opinion: a request stamped and then not sent for a
 * few ms reads as an answer inside the other host's stretch.)
 */
const PROBE_INTERVAL_MS_DEFAULT = 2;
const PROBE_TIMEOUT_MS = 30;
/** The client: every 2 ms, one retry at once after a failed attempt. */
const CLIENT_INTERVAL_MS = 2;
const CLIENT_RETRIES = 1;
const CLIENT_TIMEOUT_MS_DEFAULT = 10;
/** Steady service watched before the move is asked. */
const SETTLE_MS = 500;
/** After the new holder's vip-added, how long the pollers keep watching. */
const WATCH_MS = 500;
/** The move must be done (vip-added on the new holder) within this. */
const MOVE_WAIT_MS = 5_000;
/** Between two looks at the agents' logs while waiting for the move. */
const LOG_POLL_MS = 10;
const FIRST_HOLDER_WAIT_MS = 30_000;
/** A client poller runs at most this long per trial (stopped well before). */
const CLIENT_DURATION_MS = 120_000;
/**
 * The apparatus (services, probes, client) runs under SCHED_RR at this
 * priority, below the agents' 10: on this 2-core machine its own polling
 * saturates both cores, and at ordinary priority its starved pollers and
 * services made 10-30 ms of the measured gaps (DemoOptions.apparatusRt).
 */
const APPARATUS_RT_DEFAULT = 5;
/** The acceptance line's server-side gap, median (ms). */
export const GAP_MEDIAN_TARGET_MS = 5;

/** A client sample: `attempts` from the poller's --retries. */
export type ClientSample = Sample & { attempts?: number };

export type Trial = {
  from: string;
  to: string;
  /** Why the trial is not a clean handover (the move refused, not done in time, the VIP taken for another reason); null when it is. */
  incomplete: string | null;
  /** Kernels: the new holder's kernel's first moment answering minus the old holder's last (negative: both at once); null when not seen. */
  gapKernelMs: number | null;
  /** The old holder's kernel stopped answering before the move (its kernel lease ran out between two refreshes): how many times in the trial. */
  kernelHoles: number;
  /** Probes: the new holder's first answer minus the old holder's last (send times); answers of one sent inside a stretch of the other's answering. */
  gapProbesMs: number | null;
  twoAnswering: number;
  /** The probes' median spacing between requests (the coarser probe's): the gap's resolution. */
  probeSpacingMs: number | null;
  /** Logs: drop-vip (old) to vip-answering (new), the server-side gap; vip-removed (old) to vip-added (new); drop-vip to vip-added; statement-accepted (old) to vip-added (new). */
  gapLogsMs: number | null;
  gapRemovedMs: number | null;
  dropToAddedMs: number | null;
  moveMs: number | null;
  steps: MoveSteps;
  client: ClientCounts;
  /** The client's neighbour table named the new holder this long after its vip-added (ARP, by its GARP); null if not seen in the trial. */
  clientSwitchedMs: number | null;
  /** The agents' loop-stall warnings during the trial, and the longest stall: a loaded machine, not the protocol. */
  loopStalls: number;
  loopStallMaxMs: number;
  /** CPU time the virtual machine's host took from its CPUs during the trial (steal, summed over CPUs); null if not read. A whole-machine pause outlasting the lease loses it, by design. */
  stealMs: number | null;
};

export type ClientCounts = {
  requests: number;
  /** Failed even after the retry: sent near the move (see moveWindow), and the rest (steady service: a loaded machine's timeouts). */
  failedNearMove: number;
  failedSteady: number;
  /** Needed the retry (whether or not it then answered). */
  retried: number;
  /** What the failed requests' last attempts ended with (timeout, ECONNREFUSED, ...), counted. */
  errors: Record<string, number>;
  /** When the failed requests near the move were sent, ms after the old holder's vip-removed (logs). */
  failedAtMs: number[];
};

// ---------------------------------------------------------------- pure helpers

/** The q-quantile by nearest rank; null for no values. */
export function quantile(xs: readonly number[], q: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/**
 * The server-side gap by the probes: the new holder's first good answer to a
 * request sent at or after `since`, minus the old holder's last good answer
 * before it (send times). Null when either is missing.
 */
export function probeGap(oldSamples: readonly Sample[], newSamples: readonly Sample[], since: number): number | null {
  const firstNew = newSamples.filter((s) => s.ok && s.t >= since).reduce<number | null>((m, s) => (m === null || s.t < m ? s.t : m), null);
  if (firstNew === null) return null;
  const before = oldSamples.filter((s) => s.ok && s.t < firstNew);
  return before.length === 0 ? null : firstNew - Math.max(...before.map((s) => s.t));
}

/** Consecutive requests of a probe further apart than this (a stalled poller) do not make one stretch of answering. */
export const RUN_GAP_MAX_MS = 20;

/** A probe's stretches of answering: maximal runs of good answers, [first send, last send]. */
export function answeringRuns(samples: readonly Sample[]): Array<[number, number]> {
  const sorted = [...samples].sort((a, b) => a.t - b.t);
  const runs: Array<[number, number]> = [];
  let run: [number, number] | null = null;
  for (const s of sorted) {
    if (s.ok && run !== null && s.t - run[1] <= RUN_GAP_MAX_MS) run[1] = s.t;
    else if (s.ok) runs.push((run = [s.t, s.t]));
    else run = null;
  }
  return runs;
}

/**
 * Two hosts answering: good answers of one probe answered surely inside a
 * stretch of the other's answering (both ways). A request's stamp comes
 * before it leaves and its answer at some moment before `done`, and a poller
 * below the agents' priority may wait a few ms in between: so a stretch is
 * sure only from its first answer's `done` to its last request's send, and
 * an answer is inside only if its whole [t, done] is.
 */
export function twoAnswering(a: readonly Sample[], b: readonly Sample[]): number {
  const sure = (xs: readonly Sample[]): Array<[number, number]> => {
    const done = new Map(xs.filter((s) => s.ok).map((s) => [s.t, s.done]));
    return answeringRuns(xs).map(([from, to]): [number, number] => [done.get(from) ?? from, to]);
  };
  const inside = (xs: readonly Sample[], runs: Array<[number, number]>) => xs.filter((s) => s.ok && runs.some(([from, to]) => s.t > from && (s.done ?? s.t) < to)).length;
  return inside(a, sure(b)) + inside(b, sure(a));
}

/** The median time between consecutive requests of a poller: what it resolves. */
export function medianSpacing(samples: readonly Sample[]): number | null {
  const ts = samples.map((s) => s.t).sort((a, b) => a - b);
  return quantile(
    ts.slice(1).map((t, i) => t - ts[i]!),
    0.5,
  );
}

/** The first log line of `host` with `event` at or after `since` (wall ms), or null. */
function firstLog(logs: readonly LogLine[], host: string, event: string, since: number): number | null {
  const l = logs.find((x) => x.host === host && x.event === event && x.service === SERVICE && Date.parse(x.ts) >= since);
  return l === undefined ? null : Date.parse(l.ts);
}

/**
 * The move by the agents' logs, from `since` (wall ms): the old holder's
 * drop-vip for the handover, its vip-removed after it, the new holder's
 * vip-added after it (and what its take-vip said it took the VIP for) and
 * vip-answering after that; the gaps from the removal, from the drop (to the
 * add, and to answering), and from statement-accepted to the add.
 */
export function logGaps(logs: readonly LogLine[], from: string, to: string, since: number): LogGaps {
  const at = (l: LogLine | undefined) => (l === undefined ? null : Date.parse(l.ts));
  const after = (host: string, event: string, t: number | null, also: (l: LogLine) => boolean = () => true) =>
    t === null ? undefined : logs.find((x) => x.host === host && x.event === event && x.service === SERVICE && Date.parse(x.ts) >= t && also(x));
  const asked = at(after(from, "statement-accepted", since));
  const dropped = at(after(from, "drop-vip", since, (l) => l.why === "handover"));
  const removed = at(after(from, "vip-removed", dropped));
  const take = after(to, "take-vip", dropped ?? since);
  const added = at(after(to, "vip-added", dropped ?? since));
  const answering = at(after(to, "vip-answering", added));
  const minus = (a: number | null, b: number | null) => (a === null || b === null ? null : a - b);
  const took = at(take);
  const steps = { askedToDrop: minus(dropped, asked), dropToRemoved: minus(removed, dropped), removedToTake: minus(took, removed), takeToAdded: minus(added, took) };
  return { gapMs: minus(added, removed), dropToAddedMs: minus(added, dropped), dropToAnsweringMs: minus(answering, dropped), moveMs: minus(added, asked), askedAt: asked, removedAt: removed, droppedAt: dropped, addedAt: added, takenFor: take === undefined ? null : String(take.reason), steps };
}

/** Where a move's time went, by the logs (ms): the votes (statement-accepted to drop-vip), the old holder's `ip` removal, the certificate's trip to the new holder and its step (vip-removed to take-vip), the new holder's `ip` add. */
export type MoveSteps = { askedToDrop: number | null; dropToRemoved: number | null; removedToTake: number | null; takeToAdded: number | null };

/** The agents' loop-stall warnings logged in [from, to] (wall ms): how many, and the longest gap between ticks. */
export function loopStalls(logs: readonly LogLine[], from: number, to: number): { count: number; maxMs: number } {
  const stalls = logs.filter((l) => l.event === "loop-stall" && Date.parse(l.ts) >= from && Date.parse(l.ts) <= to);
  return { count: stalls.length, maxMs: Math.max(0, ...stalls.map((l) => Number(l.gapMs))) };
}

export type LogGaps = { gapMs: number | null; dropToAddedMs: number | null; dropToAnsweringMs: number | null; moveMs: number | null; askedAt: number | null; removedAt: number | null; droppedAt: number | null; addedAt: number | null; takenFor: string | null; steps: MoveSteps };

/**
 * Requests that can be hurt by the move: sent from the old holder's drop-vip
 * minus every attempt's timeout (a request sent then may still be retrying
 * into the gap) until the client's ARP entry names the new holder, plus
 * every attempt's timeout again. Later, the client reaches the new holder
 * and it answers: a failure then is one of steady service (this machine's
 * stalls: measured on loopback with no move at all, about 1 in 6,000
 * requests fail twice at a 10 ms timeout), counted apart. When the switch
 * was not seen, the window runs WATCH_MS past the new holder's vip-added.
 */
export function moveWindow(droppedAt: number, addedAt: number, switchedAt: number | null, clientTimeoutMs: number, watchMs: number): { from: number; to: number } {
  const attemptsMs = clientTimeoutMs * (CLIENT_RETRIES + 1);
  return { from: droppedAt - attemptsMs, to: switchedAt === null ? addedAt + watchMs : switchedAt + attemptsMs };
}

/** When the client's neighbour table first named `mac` for the VIP at or after `fromMs` (`ip monitor neigh` lines, each prefixed with its wall clock in ms); null if it never did. */
export function clientSwitchedAt(lines: readonly string[], mac: string, fromMs: number): number | null {
  for (const line of lines) {
    const [at, addr, ...rest] = line.split(" ");
    if (addr === VIP && Number(at) >= fromMs && rest.join(" ").toLowerCase().includes(`lladdr ${mac.toLowerCase()}`)) return Number(at);
  }
  return null;
}

/** The client's requests: failed after the retry (near the move, or not), needed the retry; failures near the move relative to `refMs`. */
export function clientCounts(samples: readonly ClientSample[], window: { from: number; to: number } | null, refMs: number | null): ClientCounts {
  const failed = samples.filter((s) => !s.ok);
  const near = failed.filter((s) => window !== null && s.t >= window.from && s.t <= window.to);
  const errors: Record<string, number> = {};
  for (const s of failed) errors[s.err ?? `not ok: ${s.body ?? ""}`] = (errors[s.err ?? `not ok: ${s.body ?? ""}`] ?? 0) + 1;
  return {
    requests: samples.length,
    failedNearMove: near.length,
    failedSteady: failed.length - near.length,
    retried: samples.filter((s) => (s.attempts ?? 1) > 1).length,
    errors,
    failedAtMs: near.map((s) => Math.round((s.t - (refMs ?? 0)) * 10) / 10),
  };
}

export type Summary = {
  trials: number;
  /** Trials that were not a clean handover, or in which the probes saw no gap to measure. */
  incomplete: number;
  gapKernelP50: number | null;
  gapKernelP99: number | null;
  /** Trials in which both kernels answered at once (a negative kernel gap). */
  kernelOverlaps: number;
  kernelHoles: number;
  gapProbesP50: number | null;
  gapProbesP99: number | null;
  gapLogsP50: number | null;
  gapLogsP99: number | null;
  probeSpacingP50: number | null;
  clientRequests: number;
  /** Failed after the retry near a move (the acceptance's figure), and in steady service. */
  clientFailedNearMove: number;
  clientFailedSteady: number;
  clientRetried: number;
  /** The agents' loop-stall warnings over all trials: how loaded the machine was. */
  loopStalls: number;
  /** Trials during which the VM's host took CPU time (steal), and the client's failures near a move in the others. */
  stolenTrials: number;
  clientFailedNearMoveUnstolen: number;
  twoAnswering: number;
  accepted: boolean;
};

export function summarize(trials: readonly Trial[]): Summary {
  const present = (xs: Array<number | null>) => xs.filter((x): x is number => x !== null);
  const probes = present(trials.map((t) => t.gapProbesMs));
  const logs = present(trials.map((t) => t.gapLogsMs));
  const kernels = present(trials.map((t) => t.gapKernelMs));
  const sum = (f: (t: Trial) => number) => trials.reduce((a, t) => a + f(t), 0);
  const s = {
    trials: trials.length,
    incomplete: trials.filter((t) => t.incomplete !== null || t.gapProbesMs === null || t.gapKernelMs === null).length,
    gapKernelP50: quantile(kernels, 0.5),
    gapKernelP99: quantile(kernels, 0.99),
    kernelOverlaps: kernels.filter((x) => x < 0).length,
    kernelHoles: sum((t) => t.kernelHoles),
    gapProbesP50: quantile(probes, 0.5),
    gapProbesP99: quantile(probes, 0.99),
    gapLogsP50: quantile(logs, 0.5),
    gapLogsP99: quantile(logs, 0.99),
    probeSpacingP50: quantile(present(trials.map((t) => t.probeSpacingMs)), 0.5),
    clientRequests: sum((t) => t.client.requests),
    clientFailedNearMove: sum((t) => t.client.failedNearMove),
    clientFailedSteady: sum((t) => t.client.failedSteady),
    clientRetried: sum((t) => t.client.retried),
    loopStalls: sum((t) => t.loopStalls),
    stolenTrials: trials.filter((t) => (t.stealMs ?? 0) > 0).length,
    clientFailedNearMoveUnstolen: sum((t) => ((t.stealMs ?? 0) > 0 ? 0 : t.client.failedNearMove)),
    twoAnswering: sum((t) => t.twoAnswering),
  };
  const accepted = s.incomplete === 0 && s.clientFailedNearMove === 0 && s.twoAnswering === 0 && s.kernelOverlaps === 0 && s.gapKernelP50 !== null && s.gapKernelP50 <= GAP_MEDIAN_TARGET_MS;
  return { ...s, accepted };
}

/** Failed requests listed per trial at most. */
const FAILURES_SHOWN = 8;
const msText = (x: number | null): string => (x === null ? "-" : `${x.toFixed(1)} ms`);

export function describeTrial(t: Trial): string {
  const failedAt = t.client.failedAtMs.length === 0 ? "" : ` (sent at ${t.client.failedAtMs.slice(0, FAILURES_SHOWN).join(", ")}${t.client.failedAtMs.length > FAILURES_SHOWN ? ", ..." : ""} ms from vip-removed)`;
  const errors = Object.entries(t.client.errors).map(([e, n]) => `${e} ${n}`).join(", ");
  const why = t.incomplete === null ? "" : ` INCOMPLETE: ${t.incomplete};`;
  return `${t.from} -> ${t.to}:${why} gap by kernels ${msText(t.gapKernelMs)}${t.kernelHoles === 0 ? "" : ` (the old holder's kernel lease ran out ${t.kernelHoles} times before the move)`}, by probes ${msText(t.gapProbesMs)} (probe spacing ${msText(t.probeSpacingMs)}), by logs ${msText(t.gapLogsMs)} (drop-vip to vip-added ${msText(t.dropToAddedMs)}, asked to vip-added ${msText(t.moveMs)}: votes ${msText(t.steps.askedToDrop)}, ip del ${msText(t.steps.dropToRemoved)}, certificate to take-vip ${msText(t.steps.removedToTake)}, ip add ${msText(t.steps.takeToAdded)}); client ${t.client.requests} requests (its ARP named the new holder ${msText(t.clientSwitchedMs)} after vip-added), failed after the retry: ${t.client.failedNearMove} near the move${failedAt}, ${t.client.failedSteady} in steady service${errors === "" ? "" : ` (${errors})`}, ${t.client.retried} retried; two answering ${t.twoAnswering}; agents' loop stalls ${t.loopStalls} (longest ${t.loopStallMaxMs} ms); steal ${t.stealMs === null ? "-" : `${t.stealMs} ms`}`;
}

export function formatTable(s: Summary, clientTimeoutMs: number): string {
  return [
    "| trials | gap p50 (kernels) | gap p99 (kernels) | gap p50 (probes) | gap p99 (probes) | probe spacing p50 | gap p50 (logs) | gap p99 (logs) | client requests | failed after retry, near the move | failed after retry, steady | retried | two answering (probes; kernels) | incomplete | agents' loop stalls | holder's kernel lease ran out |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    `| ${s.trials} | ${msText(s.gapKernelP50)} | ${msText(s.gapKernelP99)} | ${msText(s.gapProbesP50)} | ${msText(s.gapProbesP99)} | ${msText(s.probeSpacingP50)} | ${msText(s.gapLogsP50)} | ${msText(s.gapLogsP99)} | ${s.clientRequests} | ${s.clientFailedNearMove} | ${s.clientFailedSteady} | ${s.clientRetried} | ${s.twoAnswering}; ${s.kernelOverlaps} | ${s.incomplete} | ${s.loopStalls} | ${s.kernelHoles} |`,
    "",
    `trials with steal (the VM's host took its CPUs): ${s.stolenTrials}; failed near a move in the others: ${s.clientFailedNearMoveUnstolen}`,
    "",
    `acceptance (a client polling every ${CLIENT_INTERVAL_MS} ms with one retry, ${clientTimeoutMs} ms timeout, sees 0 failed requests near a move; server-side gap <= ${GAP_MEDIAN_TARGET_MS} ms median, by the kernels; no two hosts answering, by the probes and the kernels): ${s.accepted ? "met" : "NOT met"}`,
    "",
  ].join("\n");
}

// ---------------------------------------------------------------- --capture (diagnosis)

/** tcpdump gets this long to say it listens before a trial goes on without its capture. */
const CAPTURE_READY_MS = 5_000;
/** The switch namespace of the topology (src/demo/topology.ts: `${prefix}sw`). */
const SWITCH_NS = `${PREFIX}sw`;
/**
 * What --capture keeps, per trial, into the debug dir (pcap, then decoded to
 * text with epoch timestamps in µs, the kernel's own receive/send time, the
 * same wall clock as the agents' log lines and the neighbour events):
 *   sw      every port of the bridge (`-i any` in the switch namespace): ARP
 *           frames only, each seen as it enters the bridge from its sender's
 *           port (In) and as it leaves toward every other port (Out)
 *   client  the client's eth0: ARP, and the SYN and SYN-ACK of every
 *           connection to or from the VIP (which MAC the client's kernel
 *           sent each attempt to, and who answered)
 */
const CAPTURES = [
  { name: "sw", where: null, iface: "any", filter: "arp" },
  { name: "client", where: CLIENT.name, iface: "eth0", filter: `arp or (host ${VIP} and tcp port ${SERVICE_PORT} and tcp[tcpflags] & tcp-syn != 0)` },
] as const;

type Capture = { stop(): Promise<void> };

/** One tcpdump writing `file` (pcap, µs timestamps); resolves once it listens (or after CAPTURE_READY_MS, with a warning). */
async function startCapture(c: DemoCluster, where: string | null, iface: string, filter: string, file: string): Promise<Capture> {
  const argv = ["tcpdump", "-i", iface, "-n", "-s", "128", "-B", "4096", "--time-stamp-precision=micro", "-w", file, filter];
  const p: ChildProcess = where === null ? spawn("ip", ["netns", "exec", SWITCH_NS, ...argv], { stdio: ["ignore", "ignore", "pipe"], detached: true }) : c.topo.spawn(where, argv, {});
  let ready = false;
  const stderr: string[] = [];
  await new Promise<void>((res) => {
    const timer = setTimeout(() => {
      process.stderr.write(`  capture ${file}: tcpdump did not say it listens within ${CAPTURE_READY_MS} ms\n`);
      res();
    }, CAPTURE_READY_MS);
    createInterface({ input: p.stderr! }).on("line", (line) => {
      stderr.push(line);
      if (/listening on/.test(line)) {
        ready = true;
        clearTimeout(timer);
        res();
      }
    });
    p.once("exit", (code) => {
      clearTimeout(timer);
      if (!ready) process.stderr.write(`  capture ${file}: tcpdump exited ${code} before it listened: ${stderr.join(" ")}\n`);
      res();
    });
  });
  return {
    // tcpdump's last lines say whether the kernel dropped any frames: kept beside the text.
    stop: async () => {
      await terminate(p);
      writeFileSync(`${file}.stderr`, stderr.join("\n") + "\n");
    },
  };
}

/** The ftrace instance of --trace (its own buffer: the system's trace is left alone). */
const TRACE_DIR = "/sys/kernel/tracing/instances/umbra-handover";
const TRACE_EVENTS = ["sched/sched_switch", "sched/sched_waking", "sched/sched_wakeup", "sched/sched_migrate_task", "sched/sched_process_exec", "sched/sched_process_fork", "sched/sched_process_exit", "block/block_rq_issue", "block/block_rq_complete"];
/** Per-CPU ring (kB): a trial's second or two of a busy machine's scheduling. */
const TRACE_BUFFER_KB = 65_536;
/** The scheduler events kept per trial: from this long before the old holder's drop-vip to this long after the new holder's vip-added. */
const TRACE_BEFORE_MS = 20;
const TRACE_AFTER_MS = 150;

/** Creates the trace instance (monotonic clock, the scheduler's events), not yet on. */
function traceSetup(): void {
  if (!existsSync(TRACE_DIR)) mkdirSync(TRACE_DIR);
  writeFileSync(join(TRACE_DIR, "tracing_on"), "0");
  writeFileSync(join(TRACE_DIR, "trace_clock"), "tai");
  writeFileSync(join(TRACE_DIR, "buffer_size_kb"), String(TRACE_BUFFER_KB));
  for (const e of TRACE_EVENTS) writeFileSync(join(TRACE_DIR, "events", e, "enable"), "1");
}

/**
 * Clears the ring and starts tracing, with a marker that carries the wall
 * clock: the trace's clock is CLOCK_TAI, the wall clock plus the kernel's
 * TAI offset (whole seconds: 0 unless an NTP daemon set it), read back from
 * the marker.
 */
function traceStart(): void {
  writeFileSync(join(TRACE_DIR, "trace"), "");
  writeFileSync(join(TRACE_DIR, "tracing_on"), "1");
  writeFileSync(join(TRACE_DIR, "trace_marker"), `umbra-wall ${Date.now()}`);
}

/** Stops tracing and writes the events in [fromMs, toMs] (wall clock), each line prefixed with its wall clock in ms. */
function traceSave(fromMs: number, toMs: number, file: string): void {
  writeFileSync(join(TRACE_DIR, "tracing_on"), "0");
  const lines = readFileSync(join(TRACE_DIR, "trace"), "utf8").split("\n");
  const marker = lines.map((l) => /\s(\d+\.\d+):\s.*umbra-wall (\d+)/.exec(l)).find((m) => m !== null);
  const offsetMs = marker === undefined || marker === null ? 0 : Math.round((Number(marker[2]) - Number(marker[1]) * 1000) / 1000) * 1000;
  const out: string[] = [];
  for (const line of lines) {
    const m = /\s(\d+\.\d+):\s/.exec(line);
    if (m === null) continue;
    const wall = Number(m[1]) * 1000 + offsetMs;
    if (wall >= fromMs && wall <= toMs) out.push(`${wall.toFixed(3)} ${line.trim()}`);
  }
  writeFileSync(file, out.join("\n") + "\n");
}

/**
 * Each CPU's steal time (/proc/stat, USER_HZ ticks: 10 ms): the time a
 * virtual machine's CPU was runnable but its host ran something else, when
 * nothing in the guest can run on that CPU. Read around every trial.
 */
const STEAL_TICK_MS = 10;
function stealTicks(): number[] {
  return readFileSync("/proc/stat", "utf8")
    .split("\n")
    .filter((l) => /^cpu\d+ /.test(l))
    .map((l) => Number(l.split(/\s+/)[8] ?? 0));
}

/** Removes the trace instance. */
function traceTeardown(): void {
  if (!existsSync(TRACE_DIR)) return;
  writeFileSync(join(TRACE_DIR, "tracing_on"), "0");
  for (const e of TRACE_EVENTS) writeFileSync(join(TRACE_DIR, "events", e, "enable"), "0");
  rmdirSync(TRACE_DIR);
}

/** The ARP and neighbour sysctls of the client and the two hosts the service moves between, for the record. */
async function writeSysctls(c: DemoCluster, file: string): Promise<void> {
  const out: string[] = [];
  for (const h of [CLIENT.name, "h1", "h2"]) {
    const r = await c.topo.exec(h, ["sysctl", "-a", "--pattern", "^net\\.ipv4\\.(conf\\.(all|eth0)\\.(arp|rp_filter|drop_grat|drop_unicast)|neigh\\.(eth0|default)\\.)"]);
    out.push(`# ${h}`, r.stdout.trim());
  }
  writeFileSync(file, out.join("\n") + "\n");
}

/**
 * After the pollers stop, the captures run this much longer: tcpdump reads
 * the kernel's ring a block at a time, a block handed over when full or a
 * second old, so a capture stopped at once loses its last second (the move,
 * in the first tries); and the GARP's second frame comes a second after the
 * first.
 */
const CAPTURE_TAIL_MS = 1_500;

/** The trial's captures, started (each listening) before the trial goes on. */
async function startCaptures(c: DemoCluster, dir: string, index: number): Promise<Capture[]> {
  return Promise.all(CAPTURES.map((k) => startCapture(c, k.where, k.iface, k.filter, join(dir, `trial-${index + 1}-${k.name}.pcap`))));
}

/** Decodes the trial's pcaps to text beside them (`tcpdump -r -tt -e -n`), once the trial is over. */
async function decodeCaptures(dir: string, index: number): Promise<void> {
  for (const k of CAPTURES) {
    const pcap = join(dir, `trial-${index + 1}-${k.name}.pcap`);
    // In the switch's namespace for its ports' names (a pcap of `-i any` keeps interface indexes).
    const argv = ["tcpdump", "-r", pcap, "-tt", "-e", "-n"];
    const [cmd, ...args] = k.where === null ? ["ip", "netns", "exec", SWITCH_NS, ...argv] : argv;
    const text = await new Promise<string>((res) => execFile(cmd!, args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => res(err === null ? stdout : `${stdout}${stderr}`)));
    writeFileSync(join(dir, `trial-${index + 1}-${k.name}.txt`), text);
  }
}

// ---------------------------------------------------------------- the cluster

/** The client polling the VIP with a retry (src/demo/poller.ts --retries), through its own ARP cache. */
function startClient(topo: Topology, timeoutMs: number, rt: number | undefined): { samples: ClientSample[]; stop(): Promise<void> } {
  const argv = [...rtPrefix(rt), NODE, join(ROOT, "src/demo/poller.ts"), "--url", `http://${VIP}:${SERVICE_PORT}/`, "--interval-ms", String(CLIENT_INTERVAL_MS), "--timeout-ms", String(timeoutMs), "--retries", String(CLIENT_RETRIES), "--duration-ms", String(CLIENT_DURATION_MS)];
  const p = topo.spawn("client", argv, {});
  const samples: ClientSample[] = [];
  createInterface({ input: p.stdout! }).on("line", (line) => {
    try {
      samples.push(JSON.parse(line));
    } catch {
      // a partial line at exit: nothing to record
    }
  });
  return {
    samples,
    stop: () => terminate(p),
  };
}

/** The client namespace's neighbour events, each with the wall clock in ms (`ip monitor neigh`), for --debug-dir. */
function watchNeighbours(topo: Topology): { lines: string[]; stop(): Promise<void> } {
  const p = topo.spawn("client", ["ip", "monitor", "neigh"], {});
  const lines: string[] = [];
  createInterface({ input: p.stdout! }).on("line", (line) => lines.push(`${Date.now()} ${line}`));
  return {
    lines,
    stop: () => terminate(p),
  };
}

/** A host's eth0 MAC address. */
async function macOf(c: DemoCluster, h: string): Promise<string> {
  const link = JSON.parse((await c.topo.exec(h, ["ip", "-j", "link", "show", "eth0"])).stdout) as Array<{ address: string }>;
  return link[0]!.address;
}

/** A probe namespace whose VIP traffic goes to its host's MAC, whatever ARP says. */
async function pinProbe(c: DemoCluster, probe: (typeof PROBES)[number]): Promise<void> {
  const r = await c.topo.exec(probe.name, ["ip", "neigh", "replace", VIP, "lladdr", await macOf(c, probe.host), "dev", "eth0", "nud", "permanent"]);
  if (r.code !== 0) throw new Error(`probe ${probe.name}: ${r.stderr.trim()}`);
}

/** Whether the new holder's agent logged vip-added for the service (at or after `since`) within MOVE_WAIT_MS. */
async function waitForAdded(c: DemoCluster, to: string, since: number): Promise<boolean> {
  const deadline = Date.now() + MOVE_WAIT_MS;
  // Bounded by the deadline: a look at the log lines every LOG_POLL_MS.
  while (Date.now() < deadline) {
    if (firstLog(c.logs, to, "vip-added", since) !== null) return true;
    await sleep(LOG_POLL_MS);
  }
  return false;
}

/** Asks the holder to move the service, through the CLI in its namespace (the operator's path); null when queued, else why not. */
async function askMove(c: DemoCluster, from: string, to: string): Promise<string | null> {
  const r = await c.topo.exec(from, [NODE, MAIN, "move", SERVICE, "--to", to, "--key", c.operatorKey, "--json", "--config", c.configOf(from)]);
  return r.code === 0 ? null : `umbra move on ${from} exited ${r.code}: ${r.stdout.trim()} ${r.stderr.trim()}`;
}

/** Why a move that was done is not a clean handover (the old holder's lease ran out first, the new one took it for another reason); null when clean. */
function notClean(logs: LogGaps, from: string, to: string): string | null {
  if (logs.droppedAt === null) return `${from} never dropped the VIP for the handover (its lease ran out first?)`;
  if (logs.takenFor !== "handover") return `${to} took the VIP for "${logs.takenFor}", not by the handover`;
  return null;
}

/** The agents' loop stalls from `from` to now. */
function stallsOf(logs: readonly LogLine[], from: number): { loopStalls: number; loopStallMaxMs: number } {
  const st = loopStalls(logs, from, Date.now());
  return { loopStalls: st.count, loopStallMaxMs: st.maxMs };
}

/** The probe namespace pinned to a host. */
const probeOf = (h: string): string => PROBES.find((p) => p.host === h)!.name;

/** One move of the service off its holder now, watched by the probes of both hosts and the client. */
async function trial(c: DemoCluster, o: Options, index: number, macs: ReadonlyMap<string, string>): Promise<Trial> {
  const { clientTimeoutMs } = o;
  const probePoll = { intervalMs: o.probeIntervalMs, timeoutMs: PROBE_TIMEOUT_MS, rt: o.apparatusRt };
  const holders = await c.waitForHolders((h) => h.length === 1, MOVE_WAIT_MS);
  const from = holders[0]!;
  const to = from === "h1" ? "h2" : "h1";
  const startedAt = Date.now();
  const oldProbe = startPoller(c.topo, probePoll, probeOf(from));
  const newProbe = startPoller(c.topo, probePoll, probeOf(to));
  const client = startClient(c.topo, clientTimeoutMs, o.apparatusRt);
  const neigh = watchNeighbours(c.topo);
  const kernels = { old: watchKernel(c.topo, from), new: watchKernel(c.topo, to) };
  await Promise.all([kernels.old.ready, kernels.new.ready]);
  const captures = o.capture && o.debugDir !== undefined ? await startCaptures(c, o.debugDir, index) : [];
  const neighSnapshots: string[] = [];
  const stealBefore = stealTicks();
  let stealAfter: number[] | null = null;
  let incomplete: string | null;
  try {
    await sleep(SETTLE_MS);
    if (captures.length > 0) neighSnapshots.push(`${Date.now()} before the move: ${(await c.topo.exec(CLIENT.name, ["ip", "-s", "neigh", "show", VIP])).stdout.trim()}`);
    if (o.trace) traceStart();
    incomplete = await askMove(c, from, to);
    if (incomplete === null && !(await waitForAdded(c, to, startedAt))) incomplete = `${to} did not log vip-added within ${MOVE_WAIT_MS} ms`;
    await sleep(WATCH_MS);
    stealAfter = stealTicks();
  } finally {
    await Promise.all([oldProbe.stop(), newProbe.stop(), client.stop(), neigh.stop(), kernels.old.stop(), kernels.new.stop()]);
    if (captures.length > 0) await sleep(CAPTURE_TAIL_MS);
    await Promise.all(captures.map((k) => k.stop()));
  }
  if (o.debugDir !== undefined && o.capture) await decodeCaptures(o.debugDir, index);
  if (o.debugDir !== undefined) {
    writeFileSync(join(o.debugDir, `trial-${index + 1}-client.jsonl`), client.samples.map((x) => JSON.stringify(x) + "\n").join(""));
    writeFileSync(join(o.debugDir, `trial-${index + 1}-neigh.txt`), [...neighSnapshots, ...neigh.lines].join("\n") + "\n");
    writeFileSync(join(o.debugDir, `trial-${index + 1}-kernels.txt`), [...kernels.old.lines.map((l) => `${from} ${l}`), ...kernels.new.lines.map((l) => `${to} ${l}`)].join("\n") + "\n");
  }
  const gapProbesMs = probeGap(oldProbe.samples, newProbe.samples, startedAt);
  const endedAt = Date.now();
  const oldSpans = answeringSpans(kernelEvents(kernels.old.lines, VIP), endedAt, { addrUp: true, leasedUntil: Infinity });
  const gapKernelMs = kernelGap(oldSpans, answeringSpans(kernelEvents(kernels.new.lines, VIP), endedAt, { addrUp: false, leasedUntil: -Infinity }), startedAt);
  const logs = logGaps(c.logs, from, to, startedAt);
  const stealMs = stealAfter === null ? null : stealAfter.reduce((a, x, i) => a + x - stealBefore[i]!, 0) * STEAL_TICK_MS;
  if (o.trace && o.debugDir !== undefined && stealAfter !== null) writeFileSync(join(o.debugDir, `trial-${index + 1}-steal.txt`), `steal ticks (10 ms) per CPU from the ask to ${WATCH_MS} ms after the add: ${stealAfter.map((x, i) => x - stealBefore![i]!).join(" ")}\n`);
  if (o.trace && o.debugDir !== undefined) traceSave((logs.droppedAt ?? startedAt) - TRACE_BEFORE_MS, (logs.addedAt ?? Date.now()) + TRACE_AFTER_MS, join(o.debugDir, `trial-${index + 1}-sched.txt`));
  const spacings = [medianSpacing(oldProbe.samples), medianSpacing(newProbe.samples)].filter((x): x is number => x !== null);
  const switchedAt = logs.addedAt === null ? null : clientSwitchedAt(neigh.lines, macs.get(to)!, logs.addedAt);
  // A move that did not go as planned (the old holder's lease ran out first) is still the move: its window opens when it was asked.
  const opened = logs.droppedAt ?? logs.askedAt;
  const window = opened === null || logs.addedAt === null ? null : moveWindow(opened, logs.addedAt, switchedAt, clientTimeoutMs, WATCH_MS);
  return {
    from,
    to,
    incomplete: incomplete ?? notClean(logs, from, to),
    gapKernelMs,
    kernelHoles: holesBefore(oldSpans, startedAt),
    gapProbesMs,
    twoAnswering: twoAnswering(oldProbe.samples, newProbe.samples),
    probeSpacingMs: spacings.length === 0 ? null : Math.max(...spacings),
    gapLogsMs: logs.dropToAnsweringMs,
    gapRemovedMs: logs.gapMs,
    dropToAddedMs: logs.dropToAddedMs,
    moveMs: logs.moveMs,
    steps: logs.steps,
    client: clientCounts(client.samples, window, logs.removedAt),
    clientSwitchedMs: switchedAt === null || logs.addedAt === null ? null : switchedAt - logs.addedAt,
    ...stallsOf(c.logs, startedAt),
    stealMs,
  };
}

type Options = { trials: number; warmup: number; clientTimeoutMs: number; probeIntervalMs: number; apparatusRt: number | undefined; json: boolean; logFile: string | undefined; debugDir: string | undefined; capture: boolean; trace: boolean };

function options(): Options {
  const { values } = parseArgs({
    options: {
      trials: { type: "string", default: "10" },
      warmup: { type: "string", default: "1" },
      "client-timeout-ms": { type: "string", default: String(CLIENT_TIMEOUT_MS_DEFAULT) },
      "probe-interval-ms": { type: "string", default: String(PROBE_INTERVAL_MS_DEFAULT) },
      "apparatus-rt": { type: "string", default: String(APPARATUS_RT_DEFAULT) },
      json: { type: "boolean", default: false },
      "log-file": { type: "string" },
      "debug-dir": { type: "string" },
      capture: { type: "boolean", default: false },
      trace: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const usage = "usage: node bench/handover.ts [--trials N (1-100, default 10)] [--warmup N (moves before the trials, not counted; 0-10, default 1)] [--client-timeout-ms N (default 10)] [--probe-interval-ms N (default 2)] [--apparatus-rt N (SCHED_RR of services, probes, client; 0 = ordinary; default 5)] [--json] [--log-file FILE (every agent log line, JSON)] [--debug-dir DIR (agents at debug level; per trial the client's samples and its neighbour events)] [--capture (with --debug-dir: per trial, tcpdump of the ARP frames on every bridge port and of the client's ARP and SYNs to the VIP, pcap and text)] [--trace (with --debug-dir: per trial, the kernel's scheduler events around the move, ftrace)]\n  needs root: it creates network namespaces\n";
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const rt = Number(values["apparatus-rt"]);
  const o = { trials: Number(values.trials), warmup: Number(values.warmup), clientTimeoutMs: Number(values["client-timeout-ms"]), probeIntervalMs: Number(values["probe-interval-ms"]), apparatusRt: rt === 0 ? undefined : rt, json: values.json!, logFile: values["log-file"], debugDir: values["debug-dir"], capture: values.capture!, trace: values.trace! };
  if (!(Number.isInteger(o.trials) && o.trials >= 1 && o.trials <= 100) || !(Number.isInteger(o.warmup) && o.warmup >= 0 && o.warmup <= 10) || !(Number.isInteger(o.clientTimeoutMs) && o.clientTimeoutMs >= 1) || !(Number.isInteger(o.probeIntervalMs) && o.probeIntervalMs >= 1) || !(Number.isInteger(rt) && rt >= 0 && rt <= 99)) {
    process.stderr.write(usage);
    process.exit(2);
  }
  if ((o.capture || o.trace) && o.debugDir === undefined) {
    process.stderr.write(`--capture and --trace need --debug-dir\n${usage}`);
    process.exit(2);
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write("bench/handover needs root: it creates network namespaces\n");
    process.exit(1);
  }
  return o;
}

async function main(): Promise<void> {
  const o = options();
  await cleanupStale(PREFIX);
  const c = await startDemoCluster({ prefix: PREFIX, extraHosts: PROBES.map((p) => ({ name: p.name, ipv4: p.ipv4 })), apparatusRt: o.apparatusRt, logLevel: o.debugDir === undefined ? "info" : "debug" });
  if (o.debugDir !== undefined) mkdirSync(o.debugDir, { recursive: true });
  const results: Trial[] = [];
  try {
    await c.waitForHolders((h) => h.length === 1 && h[0] === "h1", FIRST_HOLDER_WAIT_MS);
    for (const p of PROBES) await pinProbe(c, p);
    if (o.capture && o.debugDir !== undefined) await writeSysctls(c, join(o.debugDir, "sysctls.txt"));
    if (o.trace) traceSetup();
    const macs = new Map(await Promise.all(["h1", "h2"].map(async (h) => [h, await macOf(c, h)] as const)));
    for (let i = 0; i < o.warmup; i++) {
      const t = await trial(c, { ...o, debugDir: undefined, capture: false, trace: false }, i, macs);
      process.stderr.write(`  warm-up ${i + 1}/${o.warmup} (not counted): ${describeTrial(t)}\n`);
    }
    for (let i = 0; i < o.trials; i++) {
      const t = await trial(c, o, i, macs);
      results.push(t);
      process.stderr.write(`  trial ${i + 1}/${o.trials}: ${describeTrial(t)}\n`);
    }
  } finally {
    if (o.trace) traceTeardown();
    if (o.logFile !== undefined) writeFileSync(o.logFile, c.logs.map((l) => JSON.stringify(l) + "\n").join(""));
    await c.destroy();
  }
  const summary = summarize(results);
  if (o.json) process.stdout.write(JSON.stringify({ clientTimeoutMs: o.clientTimeoutMs, warmup: o.warmup, summary, trials: results }) + "\n");
  else process.stdout.write(formatTable(summary, o.clientTimeoutMs));
}

if (import.meta.main ?? process.argv[1]?.endsWith("handover.ts")) await main();
