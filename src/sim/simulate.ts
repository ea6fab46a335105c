// One seeded simulation run: the seed draws the fault profile's parameters,
// then the fault schedule, then drives the cluster. Safety is checked after
// every step (sim/invariants.ts); after the faulty phase the network heals,
// crashed hosts restart, and every service must have a holder again within
// the liveness budget. Same seed, same trace, bit for bit.

import { rng } from "../shared/rng.ts";
import type { HostId } from "../shared/ids.ts";
import { createCluster, type Cluster, type Variant } from "./cluster.ts";
import { checkHolderHasAcked, SimViolation } from "./invariants.ts";

export const PROFILES = ["lan", "wan", "chaos"] as const;
export type Profile = (typeof PROFILES)[number];

/** Virtual time per step: one agent tick. */
export const STEP_MS = 5;
/** Share of the run with faults; the rest heals and must converge. */
export const FAULTY_SHARE = 0.7;
/** After healing, every service must have a holder within this much virtual time. */
export const LIVENESS_BUDGET_MS = 5_000;

export type SimArgs = { seed: number; nodes: number; services: number; steps: number; profile: Profile; variant?: Variant; /** Sees the cluster at the end (debugging, tests). */ onEnd?: (c: Cluster) => void };

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

type FaultParams = { dropRate: number; duplicateRate: number; delayMaxMs: number; faultEveryMs: number; crashShare: number; driftPpm: number };

/** The profile gives ranges; the seed picks a point in them. */
function drawParams(profile: Profile, next: () => number): FaultParams {
  const pick = (lo: number, hi: number) => lo + next() * (hi - lo);
  switch (profile) {
    case "lan":
      return { dropRate: pick(0, 0.01), duplicateRate: pick(0, 0.01), delayMaxMs: pick(0.2, 2), faultEveryMs: pick(2_000, 5_000), crashShare: 0.3, driftPpm: pick(0, 200) };
    case "wan":
      return { dropRate: pick(0.01, 0.05), duplicateRate: pick(0, 0.02), delayMaxMs: pick(10, 60), faultEveryMs: pick(1_000, 3_000), crashShare: 0.3, driftPpm: pick(0, 500) };
    case "chaos":
      return { dropRate: pick(0.05, 0.3), duplicateRate: pick(0, 0.1), delayMaxMs: pick(1, 80), faultEveryMs: pick(200, 1_500), crashShare: 0.4, driftPpm: pick(0, 1_000) };
    default:
      throw new SimViolation(`unknown profile ${String(profile)}`);
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
  | { atMs: number; kind: "crash" | "restart" | "wipe"; host: string }
  | { atMs: number; kind: "cut"; from: string; to: string }
  | { atMs: number; kind: "partition"; side: string[] }
  | { atMs: number; kind: "heal" };

/** Most runs one shrink may spend. */
export const SHRINK_RUNS_MAX = 500;

const hostNames = (n: number): HostId[] => Array.from({ length: n }, (_, i) => `n${i + 1}` as HostId);

/** The seed's fault parameters and schedule, drawn before anything runs. */
export function drawSchedule(a: SimArgs): { params: FaultParams; schedule: Fault[] } {
  const r = rng(a.seed);
  const p = drawParams(a.profile, r.next);
  const hosts = hostNames(a.nodes);
  const faultyUntil = Math.floor(a.steps * STEP_MS * FAULTY_SHARE);
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
  }
  // At most ackShadows (1) hosts lose their disk per run: more could lose an
  // acknowledged write by design. Drawn from their own stream, so the rest
  // of every seed's schedule is as it was before wipes existed.
  const w = rng((a.seed ^ 0x3195) >>> 0);
  const crashes = schedule.filter((f) => f.kind === "crash");
  if (crashes.length > 0 && w.next() < WIPE_SHARE) (crashes[w.int(crashes.length)] as { kind: string }).kind = "wipe";
  return { params: p, schedule };
}

/** Share of seeds in which one crash also loses the host's disk. */
export const WIPE_SHARE = 0.3;

export function simulate(a: SimArgs): SimResult {
  const { params, schedule } = drawSchedule(a);
  return runSchedule(a, params, schedule);
}

/** Runs a seed with a given schedule (the drawn one, or a shrunk one). */
export function runSchedule(a: SimArgs, p: FaultParams, schedule: Fault[]): SimResult {
  const hosts = hostNames(a.nodes);
  const c = createCluster({
    hosts,
    voters: hosts,
    candidates: hosts,
    services: a.services,
    driftPpm: p.driftPpm,
    variant: a.variant ?? "correct",
    timing: { leaseMs: 300, renewIntervalMs: 50, driftMaxPpm: 1_000, actuationGuardMs: 100, proposalTimeoutMs: 150, initialGraceMs: 1_000 },
    tickMs: STEP_MS,
    net: { delayMinMs: 0.1, delayMaxMs: p.delayMaxMs, dropRate: p.dropRate, duplicateRate: p.duplicateRate },
    seed: (a.seed ^ 0x5eed) >>> 0,
  });
  const totalMs = a.steps * STEP_MS;
  const faultyUntil = Math.floor(totalMs * FAULTY_SHARE);
  const faults = schedule.length;
  let violation: string | null = null;
  try {
    for (const f of schedule) {
      c.run(f.atMs);
      switch (f.kind) {
        case "crash":
          c.crash(f.host as HostId);
          break;
        case "wipe":
          c.wipe(f.host as HostId);
          break;
        case "restart":
          c.restart(f.host as HostId);
          break;
        case "cut":
          c.cutOneWay(f.from as HostId, f.to as HostId);
          break;
        case "partition":
          c.partition([f.side as HostId[], hosts.filter((h) => !f.side.includes(h))]);
          break;
        case "heal":
          c.heal();
          break;
      }
    }
    c.run(faultyUntil);
    // Heal: partitions end, loss and delay go back to a healthy LAN's, and
    // crashed hosts restart.
    c.heal();
    c.setNet({ delayMinMs: 0.1, delayMaxMs: 2, dropRate: 0, duplicateRate: 0 });
    for (const h of hosts) if (!c.isUp(h)) c.restart(h);
    const healedAt = c.nowMs();
    c.run(Math.max(totalMs, healedAt + LIVENESS_BUDGET_MS));
    for (const sv of c.services) {
      const holders = c.holdersOf(sv);
      if (holders.length !== 1) throw new SimViolation(`liveness: ${sv} has ${holders.length} holders ${LIVENESS_BUDGET_MS} ms after healing with every host up`);
      checkHolderHasAcked(sv, holders[0]!, c.acked(sv), c.doc(holders[0]!, sv));
    }
  } catch (e) {
    if (!(e instanceof SimViolation) && !(e instanceof Error && e.name === "AssertionError")) throw e;
    violation = e.message;
  }
  a.onEnd?.(c);
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
    faults,
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
