// One seeded simulation run: the seed draws the fault profile's parameters,
// then the fault schedule, then drives the cluster. Safety is checked after
// every step (sim/invariants.ts); after the faulty phase the network heals,
// crashed hosts restart (except those that stay dead for good, a minority),
// and every service must have a holder again within the liveness budget.
// Same seed, same trace, bit for bit.

import { rng } from "../shared/rng.ts";
import { hostId, type HostId } from "../shared/ids.ts";
import type { OperatorOrder, OrderAction } from "../decide/index.ts";
import { assertNever } from "../shared/assert.ts";
import { PROFILES as TIMINGS, type ProfileName, type Timing } from "../shared/profiles.ts";
import { createCluster, SIM_WORKLOADS, type ActuationProfile, type Cluster, type NetProfile, type Variant } from "./cluster.ts";
import { checkAckedKept, checkHolderHasAcked, SimViolation } from "./invariants.ts";

/** Fault profiles: the ranges a seed draws loss, delay, fault rate, drift and actuation faults from. */
export const PROFILES = ["lan", "wan", "chaos"] as const;
export type Profile = (typeof PROFILES)[number];
/** Timing profiles: the agent's own (shared/config.ts), one of which every simulated host runs. */
export const TIMING_PROFILES = ["lan", "wan", "edge"] as const satisfies readonly ProfileName[];
export type TimingProfile = (typeof TIMING_PROFILES)[number];

/** Cluster sizes the simulator takes: a voter needs a peer; random schedules run 2-9, and the issue's 50- and 100-host seeds need room. */
export const NODES_MIN = 2;
export const NODES_MAX = 128;
/** Share of the run with faults; the rest heals and must converge. */
export const FAULTY_SHARE = 0.7;
/** After healing, every service must have a holder within this many leases (5 s at lan timing). */
export const LIVENESS_BUDGET_LEASES = 17;

export type SimArgs = {
  seed: number;
  nodes: number;
  services: number;
  /** Agent ticks to run; virtual time is steps × the timing profile's tick. */
  steps: number;
  profile: Profile;
  /** The hosts' timing profile (default: the sim profile, lan's timings). */
  timing?: TimingProfile;
  variant?: Variant;
  /** Sees the cluster at the end (debugging, tests). */
  onEnd?: (c: Cluster) => void;
};

/** The timing profile every simulated host of a run runs (the one PROFILES table's). */
export const timingOf = (a: Pick<SimArgs, "timing">): Timing => TIMINGS[a.timing ?? "sim"];
/** Virtual time per step: one agent tick of the timing profile. */
export const stepMs = (a: Pick<SimArgs, "timing">): number => timingOf(a).tickMs;
/** Virtual time from healing to the liveness check. */
export const livenessBudgetMs = (a: Pick<SimArgs, "timing">): number => LIVENESS_BUDGET_LEASES * timingOf(a).leaseMs;

export type SimResult = {
  seed: number;
  profile: Profile;
  ok: boolean;
  violation: string | null;
  failovers: number;
  /** Share of virtual time each service had a holder, averaged over services. */
  availability: number;
  messages: number;
  faults: number;
  /** State writes acknowledged (all services), which invariant 3 then guards. */
  ackedWrites: number;
  /** Hosts that lost their disk in this run (0 or 1). */
  diskLosses: number;
  traceHash: string;
  trace: Array<{ atMs: number; host: string; what: string }>;
};

type FaultParams = {
  dropRate: number;
  duplicateRate: number;
  delayMaxMs: number;
  faultEveryMs: number;
  crashShare: number;
  driftPpm: number;
  /** VIP changes during the faulty phase. */
  actuation: ActuationProfile;
  /** Hosts that stay dead through the liveness phase (a minority of the voters). */
  deadForGood: number;
};

/**
 * The profile gives ranges; the seed picks a point in them. Fault spacing
 * scales with the lease (a wan lease is 10× lan's). VIP changes take up to
 * an eighth of the actuation guard and fail up to 5 % of the time: a
 * removal with three failed tries still ends within the guard. Slower or
 * more stubborn removals (a wedged `ip`) are what the kernel-side lease is
 * for, and a forward clock jump (a VM resumed) and a pause of the agent
 * (frozen, its kernel keeping the VIP) stay within an eighth of the guard
 * too: all these budgets are the guard's, documented beside
 * actuationGuardMs. Longer pauses need the kernel-side lease (DESIGN.md).
 */
function drawParams(a: SimArgs, next: () => number): FaultParams {
  const pick = (lo: number, hi: number) => lo + next() * (hi - lo);
  const t = timingOf(a);
  const scale = t.leaseMs / TIMINGS.lan.leaseMs;
  const actuation = (failMax: number): ActuationProfile => ({ addLatencyMaxMs: pick(0, t.actuationGuardMs / 8), delLatencyMaxMs: pick(0, t.actuationGuardMs / 8), failRate: pick(0, failMax) });
  const deadMax = Math.floor((a.nodes - 1) / 2);
  switch (a.profile) {
    case "lan":
      return { dropRate: pick(0, 0.01), duplicateRate: pick(0, 0.01), delayMaxMs: pick(0.2, 2), faultEveryMs: scale * pick(2_000, 5_000), crashShare: 0.3, driftPpm: pick(0, 200), actuation: actuation(0.01), deadForGood: Math.min(deadMax, Math.floor(next() * 2)) };
    case "wan":
      return { dropRate: pick(0.01, 0.05), duplicateRate: pick(0, 0.02), delayMaxMs: pick(10, 60), faultEveryMs: scale * pick(1_000, 3_000), crashShare: 0.3, driftPpm: pick(0, 500), actuation: actuation(0.02), deadForGood: Math.min(deadMax, Math.floor(next() * 2)) };
    case "chaos":
      return { dropRate: pick(0.05, 0.3), duplicateRate: pick(0, 0.1), delayMaxMs: pick(1, 80), faultEveryMs: scale * pick(200, 1_500), crashShare: 0.4, driftPpm: pick(0, 2 * t.driftMaxPpm), actuation: actuation(0.05), deadForGood: Math.floor(next() * (deadMax + 1)) };
    default:
      return assertNever(a.profile, "unknown profile");
  }
}

/** FNV-1a over the trace: a stable, dependency-free fingerprint. */
export function hashTrace(trace: Array<{ atMs: number; host: string; what: string }>): string {
  let h = 0x811c9dc5;
  for (const e of trace) {
    const line = `${e.atMs.toFixed(6)} ${e.host} ${e.what}\n`;
    for (let i = 0; i < line.length; i++) {
      h ^= line.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return h.toString(16).padStart(8, "0");
}

/** One fault of the schedule; the seed draws the schedule, the shrinker cuts it down. */
export type Fault =
  /** kill: SIGKILL, the kernel keeping the VIP (fenced when its kernel lease ends) until the restart cleans up. */
  | { atMs: number; kind: "crash" | "restart" | "wipe" | "kill"; host: HostId }
  | { atMs: number; kind: "cut"; from: HostId; to: HostId }
  /** Every link into the host cut: it hears nothing and is still heard (a deaf primary). */
  | { atMs: number; kind: "deaf"; host: HostId }
  | { atMs: number; kind: "partition"; side: HostId[] }
  | { atMs: number; kind: "heal" }
  /**
   * Whoever holds the first service then is asked to hand it to `to` in
   * person: by an operator, or by forecasts (most also seeing `to` failing
   * with `split`), or by an anomaly alarm on the holder seen by every host
   * (`anomalous`) or by the holder alone (`anomalous-unconfirmed`: no voter
   * may sign it).
   */
  | { atMs: number; kind: "handover" | "predicted" | "predicted-split" | "anomalous" | "anomalous-unconfirmed"; to: HostId }
  /** A host's monotonic clock jumps forward. */
  | { atMs: number; kind: "jump"; host: HostId; ms: number }
  /** A host's agent is frozen (SIGSTOP, a VM paused, a long GC) while its kernel keeps the VIP. */
  | { atMs: number; kind: "pause"; host: HostId; ms: number }
  /** An operator's order, delivered to every host up then (as the agent that took it passes it on): a move or failover of the first service, a host's standby, maintenance or its end. */
  | { atMs: number; kind: "order"; action: OrderAction; host: HostId; nonce: string }
  /** A service's health check starts failing on a host (sick) or passes again; other hosts hear of it as from its beacon. */
  | { atMs: number; kind: "sick" | "well"; host: HostId; service: number }
  /** A host's safe-mode diagnostics start failing (or pass again). */
  | { atMs: number; kind: "diagnostics"; host: HostId; ok: boolean }
  /** Every host's swap window opens or closes (holders then swap roles every few leases). */
  | { atMs: number; kind: "window"; open: boolean }
  /** Every host's forecast of its own load: a holder scales out at 0.8, in under 0.5. */
  | { atMs: number; kind: "load"; p90: number };

/** Most runs one shrink may spend. */
export const SHRINK_RUNS_MAX = 500;

const hostNames = (n: number): HostId[] => Array.from({ length: n }, (_, i) => hostId(`n${i + 1}`));

/** The seed's fault parameters and schedule, drawn before anything runs. */
export function drawSchedule(a: SimArgs): { params: FaultParams; schedule: Fault[] } {
  const r = rng(a.seed);
  const p = drawParams(a, r.next);
  const hosts = hostNames(a.nodes);
  const faultyUntil = Math.floor(a.steps * stepMs(a) * FAULTY_SHARE);
  // Planned moves and clock jumps draw from their own stream, so the network faults of a seed stay as they were.
  const m = rng((a.seed ^ 0x91a7) >>> 0);
  const guardMs = timingOf(a).actuationGuardMs;
  const down = new Set<string>();
  const schedule: Fault[] = [];
  // Every so often: partition (both ways or one way), heal, crash or restart.
  for (let t = p.faultEveryMs * r.next(); t < faultyUntil; t += p.faultEveryMs * (0.5 + r.next())) {
    const x = r.next();
    const victim = hosts[r.int(hosts.length)]!;
    if (x < p.crashShare / 2) {
      down.add(victim);
      schedule.push({ atMs: t, kind: "crash", host: victim });
    } else if (x < p.crashShare) {
      const ds = hosts.filter((h) => down.has(h));
      if (ds.length > 0) {
        const h = ds[r.int(ds.length)]!;
        down.delete(h);
        schedule.push({ atMs: t, kind: "restart", host: h });
      }
    } else if (x < 0.55) {
      const to = hosts[r.int(hosts.length)]!;
      if (to !== victim) schedule.push({ atMs: t, kind: "cut", from: victim, to });
    } else if (x < 0.8) {
      schedule.push({ atMs: t, kind: "partition", side: hosts.filter(() => r.next() < 0.5) });
    } else schedule.push({ atMs: t, kind: "heal" });
    const y = m.next();
    const to = hosts[m.int(hosts.length)]!;
    if (y < 0.25) schedule.push({ atMs: t + 1, kind: "handover", to });
    else if (y < 0.4) schedule.push({ atMs: t + 1, kind: predictedKind(m.next()), to });
    else if (y < 0.5) schedule.push({ atMs: t + 1, kind: "jump", host: hosts[m.int(hosts.length)]!, ms: m.next() * (guardMs / 8) });
    else if (y < 0.6) schedule.push({ atMs: t + 1, kind: "pause", host: hosts[m.int(hosts.length)]!, ms: m.next() * (guardMs / 8) });
  }
  // At most ackShadows (1) hosts lose their disk per run: more could lose an
  // acknowledged write by design. Drawn from their own stream, so the rest
  // of every seed's schedule is as it was before wipes existed.
  const w = rng((a.seed ^ 0x3195) >>> 0);
  const crashes = schedule.filter((f) => f.kind === "crash");
  if (crashes.length > 0 && w.next() < WIPE_SHARE) (crashes[w.int(crashes.length)] as { kind: string }).kind = "wipe";
  // A lost disk is a lost memory of votes, as a host dead for good is: the
  // quorum tolerates a minority of either, together, and no more.
  const wiped = schedule.some((f) => f.kind === "wipe") ? 1 : 0;
  fenceFaults(a, schedule);
  deafFaults(a, schedule);
  orderFaults(a, hosts, faultyUntil, schedule);
  diagnosticsFaults(a, hosts, faultyUntil, schedule);
  windowFaults(a, faultyUntil, schedule);
  loadFaults(a, faultyUntil, schedule);
  togetherFaults(a, hosts, schedule);
  p.deadForGood = Math.max(0, Math.min(p.deadForGood, Math.floor((a.nodes - 1) / 2) - wiped));
  return { params: p, schedule };
}

/** Share of the pauses that freeze other hosts' agents for the same time too: a loaded or paused virtual machine stalls several processes at once. */
export const TOGETHER_SHARE = 0.3;

/**
 * Some pauses freeze a random set of other hosts with the victim (the
 * voters stalled together past a lease while their holder runs: it lapses,
 * and they must not vote it out when they wake; stalled-voters.txt). Drawn
 * from their own stream, after every other fault, so every seed keeps its
 * other faults; merged in time order.
 */
function togetherFaults(a: SimArgs, hosts: HostId[], schedule: Fault[]): void {
  const g = rng((a.seed ^ 0x57a1) >>> 0);
  for (const f of schedule.slice()) {
    if (f.kind !== "pause" || g.next() >= TOGETHER_SHARE) continue;
    for (const h of hosts) if (h !== f.host && g.next() < 0.5) schedule.push({ atMs: f.atMs, kind: "pause", host: h, ms: f.ms });
  }
  schedule.sort((x, y) => x.atMs - y.atMs);
}

/** Share of the crashes (after wipes are drawn) that are a SIGKILL instead: the kernel keeps the VIP, fenced by its kernel lease. */
export const KILL_SHARE = 0.5;
/** Share of the pauses that last long, up to LONG_PAUSE_LEASES leases: the agent frozen while the kernel lease runs out. */
export const LONG_PAUSE_SHARE = 0.5;
export const LONG_PAUSE_LEASES = 3;

/**
 * The faults the kernel-side lease is for: some crashes become kills, some
 * pauses outlast the lease. Drawn from their own stream, so every seed's
 * schedule keeps its times and victims.
 */
function fenceFaults(a: SimArgs, schedule: Fault[]): void {
  const k = rng((a.seed ^ 0x4b11) >>> 0);
  const leaseMs = timingOf(a).leaseMs;
  for (const f of schedule) {
    if (f.kind === "crash" && k.next() < KILL_SHARE) (f as { kind: string }).kind = "kill";
    else if (f.kind === "pause" && k.next() < LONG_PAUSE_SHARE) f.ms = k.next() * LONG_PAUSE_LEASES * leaseMs;
  }
}

/** Share of the one-way cuts that cut every link into their target instead: a deaf host, which lapsed renewals are for. */
export const DEAF_SHARE = 0.25;

/** Some one-way cuts become deaf hosts. Drawn from their own stream, so every seed's schedule keeps its times and victims. */
function deafFaults(a: SimArgs, schedule: Fault[]): void {
  const d = rng((a.seed ^ 0xdeaf) >>> 0);
  for (let i = 0; i < schedule.length; i++) {
    const f = schedule[i]!;
    if (f.kind === "cut" && d.next() < DEAF_SHARE) schedule[i] = { atMs: f.atMs, kind: "deaf", host: f.to };
  }
}

/** Operators' orders come about this often in the faulty part of a run, at random times. */
const ORDER_EVERY_FAULTS = 3;
const ORDER_ACTIONS: readonly OrderAction[] = ["move", "failover", "standby", "maintenance", "unstandby", "unstandby"];

/** Operators' orders among the faults, drawn from their own stream (every seed's other faults keep their times and victims), merged in time order. */
function orderFaults(a: SimArgs, hosts: HostId[], faultyUntil: number, schedule: Fault[]): void {
  const o = rng((a.seed ^ 0x0de4) >>> 0);
  const n = Math.floor(schedule.length / ORDER_EVERY_FAULTS);
  for (let i = 0; i < n; i++) {
    const atMs = Math.floor(o.next() * faultyUntil);
    schedule.push({ atMs, kind: "order", action: ORDER_ACTIONS[o.int(ORDER_ACTIONS.length)]!, host: hosts[o.int(hosts.length)]!, nonce: `o${i}` });
    // And a service's check failing on a host, passing again later (or only at the heal).
    const sickAt = Math.floor(o.next() * faultyUntil);
    const sick = { host: hosts[o.int(hosts.length)]!, service: o.int(a.services) };
    schedule.push({ atMs: sickAt, kind: "sick", ...sick });
    if (o.next() < 0.7) schedule.push({ atMs: sickAt + Math.floor(o.next() * (faultyUntil - sickAt)), kind: "well", ...sick });
  }
  schedule.sort((x, y) => x.atMs - y.atMs);
}

/** Share of seeds in which one host's diagnostics fail for a while, and of those in which an operator's rejoin comes before they pass. */
export const DIAG_FAIL_SHARE = 0.5;
const REJOIN_SHARE = 0.5;

/**
 * Safe mode's faults, from their own stream (every seed's other faults keep
 * their times): a host's diagnostics failing for a while (a demoted host
 * then stays out of candidacy, retrying), and an operator's rejoin.
 */
function diagnosticsFaults(a: SimArgs, hosts: HostId[], faultyUntil: number, schedule: Fault[]): void {
  const g = rng((a.seed ^ 0xd1a6) >>> 0);
  if (g.next() >= DIAG_FAIL_SHARE) return;
  const host = hosts[g.int(hosts.length)]!;
  const from = Math.floor(g.next() * faultyUntil);
  schedule.push({ atMs: from, kind: "diagnostics", host, ok: false });
  schedule.push({ atMs: from + Math.floor(g.next() * (faultyUntil - from)), kind: "diagnostics", host, ok: true });
  if (g.next() < REJOIN_SHARE) schedule.push({ atMs: from + Math.floor(g.next() * (faultyUntil - from)), kind: "order", action: "rejoin", host, nonce: "rejoin" });
  schedule.sort((x, y) => x.atMs - y.atMs);
}

/** Share of seeds whose swap windows open during the faults (holders then swap roles, planned moves among the faults). */
export const WINDOW_SHARE = 0.5;

/** Swap windows, from their own stream: open at a random time, closed again later in most seeds (and at the heal in all). */
function windowFaults(a: SimArgs, faultyUntil: number, schedule: Fault[]): void {
  const w = rng((a.seed ^ 0x5a1d) >>> 0);
  if (w.next() >= WINDOW_SHARE) return;
  const from = Math.floor(w.next() * faultyUntil);
  schedule.push({ atMs: from, kind: "window", open: true });
  if (w.next() < 0.7) schedule.push({ atMs: from + Math.floor(w.next() * (faultyUntil - from)), kind: "window", open: false });
  schedule.sort((x, y) => x.atMs - y.atMs);
}

/** Load forecasts per seed, at most: high ones scale out, calm ones scale in. */
const LOADS_MAX = 6;

/** Load forecasts, from their own stream: a few per seed, high (0.85-1) or calm (0-0.5), at random times among the faults. */
function loadFaults(a: SimArgs, faultyUntil: number, schedule: Fault[]): void {
  const l = rng((a.seed ^ 0x10ad) >>> 0);
  const n = l.int(LOADS_MAX + 1);
  for (let i = 0; i < n; i++) schedule.push({ atMs: Math.floor(l.next() * faultyUntil), kind: "load", p90: l.next() < 0.5 ? 0.85 + 0.15 * l.next() : 0.5 * l.next() });
  schedule.sort((x, y) => x.atMs - y.atMs);
}

/** Share of seeds in which one crash also loses the host's disk. */
export const WIPE_SHARE = 0.3;

export function simulate(a: SimArgs): SimResult {
  const { params, schedule } = drawSchedule(a);
  return runSchedule(a, params, schedule);
}

/** Network delay floor, healthy or not. */
const NET_DELAY_MIN_MS = 0.1;
/** The network after healing: a healthy LAN's. */
const HEALTHY_NET: NetProfile = { delayMinMs: NET_DELAY_MIN_MS, delayMaxMs: 2, dropRate: 0, duplicateRate: 0 };
/** VIP changes after healing: quick, and they work. */
const HEALTHY_ACTUATION: ActuationProfile = { addLatencyMaxMs: 1, delLatencyMaxMs: 1, failRate: 0 };

/** Runs a seed with a given schedule (the drawn one, or a shrunk one). */
export function runSchedule(a: SimArgs, p: FaultParams, schedule: Fault[]): SimResult {
  if (!Number.isInteger(a.nodes) || a.nodes < NODES_MIN || a.nodes > NODES_MAX) throw new SimViolation(`nodes must be ${NODES_MIN}-${NODES_MAX}, got ${a.nodes}`);
  const hosts = hostNames(a.nodes);
  const c = startCluster(a, p, hosts);
  const totalMs = a.steps * timingOf(a).tickMs;
  let violation: string | null = null;
  try {
    for (const f of schedule) {
      c.run(f.atMs);
      applyFault(c, f, hosts);
    }
    c.run(Math.floor(totalMs * FAULTY_SHARE));
    const up = healAll(c, hosts, p.deadForGood, a.seed % 2 === 0);
    const budgetMs = livenessBudgetMs(a);
    c.run(Math.max(totalMs, c.nowMs() + budgetMs));
    checkConverged(c, hosts, `${budgetMs} ms after healing with ${up} of ${hosts.length} hosts up`);
    checkCalm(a, c, hosts);
    majorityLost(a, c, hosts);
  } catch (e) {
    if (!(e instanceof SimViolation) && !(e instanceof Error && e.name === "AssertionError")) throw e;
    violation = e.message;
  }
  a.onEnd?.(c);
  return summarize(a, c, schedule, violation);
}

/** Share of seeds with a shadow count. */
export const SHADOW_COUNT_SHARE = 0.5;
/** Share of seeds whose moves back wait for the swap window. */
export const MOVE_BACK_IN_WINDOW_SHARE = 0.3;

/** Racks the simulated hosts are spread over (placement ranks the shadows by them). */
const SIM_RACKS = 3;

/** Each host in a rack drawn from the seed's own stream: the cores rank the candidates by them (placement). */
function simRacks(seed: number, hosts: HostId[]): Record<HostId, { rack: string }> {
  const r = rng((seed ^ 0x91ac) >>> 0);
  return Object.fromEntries(hosts.map((h) => [h, { rack: `r${r.int(SIM_RACKS)}` }]));
}

/** The cluster a run drives: every host a voter and a candidate (n1 the primary, the rest ranked by placement over the seed's racks), on the run's timing and the seed's faulty network. */
function startCluster(a: SimArgs, p: FaultParams, hosts: HostId[]): Cluster {
  const t = timingOf(a);
  return createCluster({
    hosts,
    voters: hosts,
    candidates: hosts,
    placement: { domains: ["rack"], labels: simRacks(a.seed, hosts) },
    // In a share of seeds, moves back wait for the swap window too (opened and closed by windowFaults).
    moveBackInWindow: rng((a.seed ^ 0xbac4) >>> 0).next() < MOVE_BACK_IN_WINDOW_SHARE,
    // In another share, the number of warm shadows follows the load forecasts: the others are cold, kept out while a warm one is fit.
    shadowCount: rng((a.seed ^ 0xc01d) >>> 0).next() < SHADOW_COUNT_SHARE,
    services: a.services,
    driftPpm: p.driftPpm,
    variant: a.variant ?? "correct",
    timing: t,
    tickMs: t.tickMs,
    net: { delayMinMs: NET_DELAY_MIN_MS, delayMaxMs: p.delayMaxMs, dropRate: p.dropRate, duplicateRate: p.duplicateRate },
    actuation: p.actuation,
    seed: (a.seed ^ 0x5eed) >>> 0,
  });
}

/** A forecast-driven move's kind from one draw (one draw, so the schedules' stream is as before the anomaly kinds): 30 % split, 15 % an anomaly all see, 10 % one only the holder sees. */
function predictedKind(x: number): "predicted" | "predicted-split" | "anomalous" | "anomalous-unconfirmed" {
  return x < 0.3 ? "predicted-split" : x < 0.45 ? "anomalous" : x < 0.55 ? "anomalous-unconfirmed" : "predicted";
}

/** One fault of the schedule, done to the cluster. */
function applyFault(c: Cluster, f: Fault, hosts: HostId[]): void {
  switch (f.kind) {
    case "kill":
      return c.kill(f.host);
    case "crash":
      return c.crash(f.host);
    case "wipe":
      return c.wipe(f.host);
    case "restart":
      return c.restart(f.host);
    case "cut":
      return c.cutOneWay(f.from, f.to);
    case "deaf":
      for (const h of hosts) if (h !== f.host) c.cutOneWay(h, f.host);
      return;
    case "partition":
      return c.partition([f.side, hosts.filter((h) => !f.side.includes(h))]);
    case "heal":
      return c.heal();
    case "handover":
    case "predicted":
    case "predicted-split":
    case "anomalous":
    case "anomalous-unconfirmed": {
      const from = c.holdersNow()[0];
      if (from === undefined || from === f.to) return;
      if (f.kind === "handover") c.handover(from, f.to);
      else if (f.kind === "anomalous" || f.kind === "anomalous-unconfirmed") c.anomalous(from, f.kind === "anomalous");
      else c.predict(from, f.to, f.kind === "predicted-split");
      return;
    }
    case "sick":
    case "well":
      return c.sick(f.host, c.services[f.service]!, f.kind === "sick");
    case "diagnostics":
      return c.diagnostics(f.host, f.ok);
    case "window":
      return c.swapWindow(f.open);
    case "load":
      return c.load(f.p90);
    case "order":
      return c.order({ nonce: f.nonce, action: f.action, service: f.action === "move" || f.action === "failover" ? c.services[0]! : null, target: f.action === "failover" ? null : f.host, expectVotes: null, reason: "sim", operator: "sim", issuedAtMs: f.atMs });
    case "jump":
      if (c.isUp(f.host)) c.jump(f.host, f.ms);
      return;
    case "pause":
      if (c.isUp(f.host)) c.pause(f.host, f.ms);
      return;
    default:
      assertNever(f);
  }
}

/**
 * Heal: partitions end, loss and delay go back to a healthy LAN's, VIP
 * changes work, crashed hosts restart, except a minority that stays dead
 * for good (the last hosts, so the primary may be among the living or not,
 * as the schedule left it). Returns how many hosts are up.
 */
function healAll(c: Cluster, hosts: HostId[], deadForGood: number, rejoin: boolean): number {
  c.heal();
  c.setNet(HEALTHY_NET);
  c.setActuation(HEALTHY_ACTUATION);
  const dead = new Set(hosts.slice(hosts.length - deadForGood));
  for (const h of hosts) {
    if (dead.has(h) && c.isUp(h)) c.crash(h);
    else if (!dead.has(h) && !c.isUp(h)) c.restart(h);
  }
  // Operators end every standby, and every check passes: a cluster kept out of candidacy has no holder by their choice.
  hosts.forEach((h, i) => c.order({ nonce: `heal${i}`, action: "unstandby", service: null, target: h, expectVotes: null, reason: "sim: heal", operator: "sim", issuedAtMs: c.nowMs() }));
  // Diagnostics pass from now on: a host demoted during the faults leaves safe mode at its next run, or at once in
  // the seeds where operators also order every host to rejoin (safe mode keeps no host out once no fit candidate is left).
  for (const h of hosts) c.diagnostics(h, true);
  c.swapWindow(false); // no planned moves while liveness is judged
  if (rejoin) hosts.forEach((h, i) => c.order({ nonce: `rejoin${i}`, action: "rejoin", service: null, target: h, expectVotes: null, reason: "sim: heal", operator: "sim", issuedAtMs: c.nowMs() }));
  for (const h of hosts) for (const sv of c.services) if (c.isUp(h)) c.sick(h, sv, false);
  return hosts.length - dead.size;
}

/** Share of seeds that go on, once converged, to lose a majority of the hosts for good and have an operator lower the expected votes. */
export const OVERRIDE_SHARE = 0.3;
/** The operator orders the override again this many times at most, a lease apart, while a survivor refuses it (its view still counts a lost voter alive). */
const OVERRIDE_TRIES_MAX = 20;

/**
 * The case `umbra override --expect-votes` is for: a majority of the hosts
 * killed or crashed for good (the holder among them or not), then the
 * operator's order of a count no smaller than the survivors, repeated while
 * a survivor still counts a lost voter alive; meanwhile a survivor may
 * restart and the survivors may split for a while. Every service must have
 * one holder among the survivors in the end. Drawn from its own stream:
 * every seed's earlier phases are as they were.
 */
function majorityLost(a: SimArgs, c: Cluster, hosts: HostId[]): void {
  const o = rng((a.seed ^ 0x0b17) >>> 0);
  if (o.next() >= OVERRIDE_SHARE) return;
  const leaseMs = timingOf(a).leaseMs;
  c.beacons(); // what flowed while the cluster ran converged: a host frozen through the heal's orders has heard them since
  const up = hosts.filter((h) => c.isUp(h)).map((h) => ({ h, k: o.next() })).sort((x, y) => x.k - y.k).map((x) => x.h);
  const survivors = up.slice(0, 1 + o.int(hosts.length - (Math.floor(hosts.length / 2) + 1)));
  for (const h of up.slice(survivors.length)) o.next() < 0.5 ? c.kill(h) : c.crash(h);
  const votes = Math.min(hosts.length, survivors.length + o.int(survivors.length));
  const t0 = c.nowMs();
  const restartAt = o.next() < 0.5 ? t0 + o.next() * 6 * leaseMs : null;
  const split = survivors.length >= 2 && o.next() < 0.5 ? { at: t0 + o.next() * 6 * leaseMs, ms: (1 + o.next() * 2) * leaseMs, side: survivors.filter(() => o.next() < 0.5) } : null;
  let at = t0 + o.next() * 3 * leaseMs;
  let lastMs = at;
  for (let i = 0; i < OVERRIDE_TRIES_MAX; i++, at += leaseMs) {
    runWithFaults(c, at, restartAt, split, survivors, BEACON_EVERY_LEASES * leaseMs);
    const lacking = c.services.filter((sv) => survivors.some((h) => c.isUp(h) && c.node(h, sv).expect?.votes !== votes));
    if (lacking.length === 0) break;
    lastMs = at;
    for (const sv of lacking) c.order({ nonce: `override${i}-${sv}`, action: "override", service: sv, target: null, expectVotes: votes, reason: "sim: a majority lost for good", operator: "sim", issuedAtMs: c.nowMs() });
  }
  const end = Math.max(lastMs, restartAt ?? 0, split === null ? 0 : split.at + split.ms) + livenessBudgetMs(a);
  runWithFaults(c, end, restartAt, split, survivors, BEACON_EVERY_LEASES * leaseMs);
  checkConverged(c, hosts, `${livenessBudgetMs(a)} ms after a majority was lost for good and the expected votes lowered to ${votes} (${survivors.join(", ")} left)`);
  lostComeBack(a, c, hosts, survivors);
}

/**
 * Half the seeds of the override phase go on: the lost hosts come back
 * where they reach the survivors (as the README asks), every host hears
 * the others, then one survivor is cut off from all the rest for a few
 * leases and, in half of those, restarts while cut off (review of session
 * 12: a survivor that forgot who it had heard counted alone again, beside
 * the holder the others made). Then all heal and every service must have
 * one holder. Its own stream: the earlier phases are as they were.
 */
function lostComeBack(a: SimArgs, c: Cluster, hosts: HostId[], survivors: HostId[]): void {
  const o = rng((a.seed ^ 0xb4c4) >>> 0);
  if (o.next() >= 0.5) return;
  const leaseMs = timingOf(a).leaseMs;
  for (const h of hosts) if (!c.isUp(h)) c.restart(h);
  let t = c.nowMs() + (3 + o.next() * 5) * leaseMs;
  runWithFaults(c, t, null, null, survivors, BEACON_EVERY_LEASES * leaseMs);
  const lone = survivors[o.int(survivors.length)]!;
  c.partition([[lone], hosts.filter((h) => h !== lone)]);
  t = c.nowMs() + (1 + o.next() * 6) * leaseMs;
  runWithFaults(c, t, null, null, survivors, BEACON_EVERY_LEASES * leaseMs);
  if (o.next() < 0.5) {
    c.crash(lone);
    c.restart(lone);
  }
  t = c.nowMs() + (2 + o.next() * 6) * leaseMs;
  runWithFaults(c, t, null, null, survivors, BEACON_EVERY_LEASES * leaseMs);
  c.heal();
  runWithFaults(c, c.nowMs() + livenessBudgetMs(a), null, null, survivors, BEACON_EVERY_LEASES * leaseMs);
  checkConverged(c, hosts, `${livenessBudgetMs(a)} ms after the lost hosts came back and ${lone} was cut off from the rest`);
}

/** Beacons go out this often in the last phase (an agent's go every probe interval, a second by default; the sim's lease is a tenth of lan's). */
const BEACON_EVERY_LEASES = 3;

/** Runs to `untilMs`, beacons going out every few leases, restarting a survivor and splitting the survivors (then healing) when their times come. */
function runWithFaults(c: Cluster, untilMs: number, restartAt: number | null, split: { at: number; ms: number; side: HostId[] } | null, survivors: HostId[], beaconEveryMs: number): void {
  const faults = [restartAt, split?.at, split === null ? null : split.at + split.ms].filter((t): t is number => t !== null && t !== undefined && t > c.nowMs() && t <= untilMs);
  const beacons: number[] = [];
  for (let t = (Math.floor(c.nowMs() / beaconEveryMs) + 1) * beaconEveryMs; t <= untilMs; t += beaconEveryMs) beacons.push(t);
  for (const t of [...new Set([...faults, ...beacons])].sort((x, y) => x - y)) {
    c.run(t);
    if (beacons.includes(t)) c.beacons();
    if (t === restartAt) {
      c.crash(survivors[0]!);
      c.restart(survivors[0]!);
    }
    if (split !== null && t === split.at) c.partition([split.side, survivors.filter((h) => !split.side.includes(h))]);
    if (split !== null && t === split.at + split.ms) c.heal();
  }
  c.run(untilMs);
}

/** After healing: one holder per service, every acknowledged write kept, and the holder has every one in reach. */
/** After convergence, this many leases more with no fault at all... */
export const CALM_LEASES = 20;
/** ...in which a service changes holder at most this often: a move back to the primary, nothing else (no flapping). */
export const CALM_MOVES_MAX = 1;

/** A converged cluster left alone stays put: at most CALM_MOVES_MAX certificates per service in CALM_LEASES, and still one holder after. */
function checkCalm(a: SimArgs, c: Cluster, hosts: HostId[]): void {
  const calmMs = CALM_LEASES * timingOf(a).leaseMs;
  const before = new Map(c.services.map((sv) => [sv, c.certificatesOf(sv).length]));
  const migrated = c.migrations();
  c.run(c.nowMs() + calmMs);
  for (const sv of c.services) {
    const moves = c.certificatesOf(sv).length - before.get(sv)!;
    if (moves > CALM_MOVES_MAX) throw new SimViolation(`flapping: ${sv} changed holder ${moves} times in ${calmMs} ms with no fault (${c.certificatesOf(sv).slice(-moves).map((x) => `${x.from ?? "-"}->${x.holder} ${x.reason}`).join(", ")})`);
  }
  checkConverged(c, hosts, `after ${calmMs} ms more with no fault`);
  checkWorkloadsHome(c, c.migrations() - migrated, calmMs);
}

/** With no fault, workloads settle on the hosts that serve (the holder and its active shadows), each moving at most twice: to wherever the pool was, and after one move of the holder. */
function checkWorkloadsHome(c: Cluster, moved: number, calmMs: number): void {
  const bound = 2 * SIM_WORKLOADS * c.services.length;
  if (moved > bound) throw new SimViolation(`flapping: ${moved} workload moves in ${calmMs} ms with no fault (at most ${bound})`);
  for (const sv of c.services) {
    const holder = c.holdersOf(sv)[0]!;
    const pool = [holder, ...c.activeOf(holder, sv)];
    const astray = [...c.workloadsOf(sv)].filter(([, h]) => !pool.includes(h));
    if (astray.length > 0) throw new SimViolation(`liveness: ${sv}'s workloads ${astray.map(([w, h]) => `${w}@${h}`).join(", ")} are off its pool ${pool.join(",")} after ${calmMs} ms with no fault`);
  }
}

function checkConverged(c: Cluster, hosts: HostId[], when: string): void {
  for (const sv of c.services) {
    const holders = c.holdersOf(sv);
    if (holders.length !== 1) throw new SimViolation(`liveness: ${sv} has ${holders.length} holders ${when}`);
    // A write whose only copies are on hosts dead for good is not lost (their disks are
    // there), only out of reach: the holder must have every other one.
    checkAckedKept(sv, c.acked(sv), hosts.map((h) => c.doc(h, sv)), "after healing");
    const reachable = new Set([...c.acked(sv)].filter((id) => hosts.some((h) => c.isUp(h) && c.doc(h, sv).has(id))));
    checkHolderHasAcked(sv, holders[0]!, reachable, c.doc(holders[0]!, sv));
  }
}

function summarize(a: SimArgs, c: Cluster, schedule: Fault[], violation: string | null): SimResult {
  const end = c.nowMs();
  const availability = c.services.reduce((acc, sv) => acc + c.heldMs(sv) / Math.max(1, end), 0) / c.services.length;
  const failovers = c.trace.filter((e) => /take-vip epoch=(\d+)/.test(e.what) && !/epoch=1 /.test(e.what)).length;
  return {
    seed: a.seed,
    profile: a.profile,
    ok: violation === null,
    violation,
    failovers,
    availability,
    messages: c.messagesSent,
    faults: schedule.length,
    ackedWrites: c.services.reduce((n, sv) => n + c.acked(sv).size, 0),
    diskLosses: schedule.filter((f) => f.kind === "wipe").length,
    traceHash: hashTrace(c.trace),
    trace: c.trace,
  };
}

/**
 * Cuts a failing seed's schedule down to a 1-minimal one: removing any one
 * remaining fault makes the run pass. Null when the seed does not fail.
 */
export function shrink(a: SimArgs): { schedule: Fault[]; of: number; violation: string; runs: number } | null {
  const { params, schedule } = drawSchedule(a);
  const first = runSchedule(a, params, schedule);
  if (first.ok) return null;
  let cur = schedule;
  let violation = first.violation!;
  let runs = 1;
  let changed = true;
  while (changed && runs < SHRINK_RUNS_MAX) {
    changed = false;
    for (let i = 0; i < cur.length && runs < SHRINK_RUNS_MAX; i++) {
      const candidate = cur.filter((_, j) => j !== i);
      const r = runSchedule(a, params, candidate);
      runs += 1;
      if (!r.ok) {
        cur = candidate;
        violation = r.violation!;
        changed = true;
        i -= 1;
      }
    }
  }
  return { schedule: cur, of: schedule.length, violation, runs };
}
