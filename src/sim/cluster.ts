// A deterministic cluster of quorum machines on a virtual clock and a lossy,
// partitionable network. It drives the very same decide/quorum.ts the agent
// runs; only the clock and the network are virtual. Given a seed, a run is
// the same bit for bit. The safety checks run after every delivered event.

import { assert } from "../shared/assert.ts";
import { rng, type Rng } from "../shared/rng.ts";
import type { HostId } from "../shared/ids.ts";
import * as quorum from "../decide/quorum.ts";
import type { Certificate, Persisted, QuorumConfig, QuorumMsg, QuorumState } from "../decide/quorum.ts";

/** Messages in flight at once; past it the network drops (a full queue). */
export const IN_FLIGHT_MAX = 10_000;

export type NetProfile = {
  delayMinMs: number;
  delayMaxMs: number;
  /** Probability a message is lost. */
  dropRate: number;
  /** Probability a message is delivered twice. */
  duplicateRate: number;
};

export type SimOptions = {
  hosts: HostId[];
  voters: HostId[];
  candidates: HostId[];
  timing: Pick<QuorumConfig, "leaseMs" | "renewIntervalMs" | "driftMaxPpm" | "actuationGuardMs" | "proposalTimeoutMs" | "initialGraceMs">;
  tickMs: number;
  net: NetProfile;
  seed: number;
};

type Node = {
  id: HostId;
  up: boolean;
  state: QuorumState;
  /** What the node wrote durably: all that survives a crash. */
  disk: Persisted | null;
};

type Packet = { atMs: number; order: number; from: HostId; to: HostId; msg: QuorumMsg };

export type TraceEntry = { atMs: number; host: HostId; what: string };

export type Cluster = {
  nowMs(): number;
  run(untilMs: number): void;
  crash(id: HostId): void;
  restart(id: HostId): void;
  /** Hosts in different groups cannot talk; hosts in no group talk to nobody. */
  partition(groups: HostId[][]): void;
  heal(): void;
  handover(from: HostId, to: HostId): void;
  holdersNow(): HostId[];
  isUp(id: HostId): boolean;
  node(id: HostId): QuorumState;
  certificates(): Certificate[];
  trace: TraceEntry[];
  /** First time each host took the VIP, in order. */
  takes: Array<{ atMs: number; host: HostId; epoch: number }>;
  messagesSent: number;
};

export function createCluster(o: SimOptions): Cluster {
  const r: Rng = rng(o.seed);
  let now = 0;
  let order = 0;
  let messagesSent = 0;
  let groups: HostId[][] | null = null;
  const inFlight: Packet[] = [];
  const trace: TraceEntry[] = [];
  const takes: Array<{ atMs: number; host: HostId; epoch: number }> = [];
  const certs = new Map<number, Certificate>();
  const configFor = (id: HostId): QuorumConfig => ({
    service: "svc",
    self: id,
    candidates: o.candidates,
    voters: o.voters,
    hosts: o.hosts,
    ...o.timing,
  });
  const nodes = new Map<HostId, Node>();
  for (const id of o.hosts) nodes.set(id, { id, up: true, state: quorum.initialQuorum(configFor(id), null, 0), disk: null });
  // Ticks are staggered so hosts do not move in lockstep.
  const tickOffset = new Map<HostId, number>(o.hosts.map((id) => [id, r.int(o.tickMs)]));
  const nextTick = new Map<HostId, number>(o.hosts.map((id) => [id, tickOffset.get(id)!]));

  const reachable = (a: HostId, b: HostId): boolean => {
    if (a === b) return true;
    if (groups === null) return true;
    return groups.some((g) => g.includes(a) && g.includes(b));
  };

  const send = (from: HostId, to: HostId, msg: QuorumMsg): void => {
    messagesSent += 1;
    if (from === to) {
      inFlight.push({ atMs: now, order: order++, from, to, msg });
      return;
    }
    if (!reachable(from, to) || r.next() < o.net.dropRate || inFlight.length >= IN_FLIGHT_MAX) return;
    const copies = r.next() < o.net.duplicateRate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = o.net.delayMinMs + r.next() * (o.net.delayMaxMs - o.net.delayMinMs);
      inFlight.push({ atMs: now + delay, order: order++, from, to, msg });
    }
  };

  const apply = (n: Node, ev: quorum.QuorumEvent): void => {
    const out = quorum.step(n.state, ev, now);
    n.state = out.state;
    for (const fx of out.effects) {
      switch (fx.type) {
        case "persist":
          n.disk = fx.record;
          break;
        case "send":
          send(n.id, fx.to, fx.msg);
          break;
        case "take-vip":
          takes.push({ atMs: now, host: n.id, epoch: fx.epoch });
          trace.push({ atMs: now, host: n.id, what: `take-vip epoch=${fx.epoch} reason=${fx.reason}` });
          break;
        case "drop-vip":
          trace.push({ atMs: now, host: n.id, what: `drop-vip epoch=${fx.epoch} why=${fx.why}` });
          break;
        case "certified": {
          const prior = certs.get(fx.cert.epoch);
          assert(prior === undefined || prior.holder === fx.cert.holder, `two certificates of epoch ${fx.cert.epoch} name different holders`);
          certs.set(fx.cert.epoch, fx.cert);
          break;
        }
        default:
          break;
      }
    }
    checkSafety();
  };

  const checkSafety = (): void => {
    const holders = [...nodes.values()].filter((n) => n.up && n.state.vipUp);
    assert(holders.length <= 1, `at ${now} ms two hosts hold the VIP: ${holders.map((n) => n.id).join(", ")}`);
  };

  const runUntil = (untilMs: number): void => {
    // Bounded: every iteration advances time or consumes a packet.
    for (let guard = 0; guard < 50_000_000; guard++) {
      let tickAt = Infinity;
      let tickHost: HostId | null = null;
      for (const [id, at] of nextTick) {
        if (at < tickAt) {
          tickAt = at;
          tickHost = id;
        }
      }
      let pi = -1;
      for (let i = 0; i < inFlight.length; i++) {
        const p = inFlight[i]!;
        if (pi < 0 || p.atMs < inFlight[pi]!.atMs || (p.atMs === inFlight[pi]!.atMs && p.order < inFlight[pi]!.order)) pi = i;
      }
      const packetAt = pi >= 0 ? inFlight[pi]!.atMs : Infinity;
      const at = Math.min(tickAt, packetAt);
      if (at > untilMs) {
        now = untilMs;
        return;
      }
      now = at;
      if (packetAt <= tickAt) {
        const p = inFlight.splice(pi, 1)[0]!;
        const n = nodes.get(p.to)!;
        if (n.up) apply(n, { type: "received", from: p.from, msg: p.msg });
      } else {
        assert(tickHost !== null, "a tick is due");
        nextTick.set(tickHost, tickAt + o.tickMs);
        const n = nodes.get(tickHost)!;
        if (n.up) apply(n, { type: "tick", rand: r.next() });
      }
    }
    assert(false, "simulation loop bound reached");
  };

  return {
    nowMs: () => now,
    run: runUntil,
    crash(id) {
      const n = nodes.get(id)!;
      n.up = false;
      trace.push({ atMs: now, host: id, what: "crash" });
    },
    restart(id) {
      const n = nodes.get(id)!;
      n.up = true;
      n.state = quorum.initialQuorum(configFor(id), n.disk, now);
      trace.push({ atMs: now, host: id, what: "restart" });
    },
    partition(g) {
      groups = g;
      trace.push({ atMs: now, host: "net" as HostId, what: `partition ${JSON.stringify(g)}` });
    },
    heal() {
      groups = null;
      trace.push({ atMs: now, host: "net" as HostId, what: "heal" });
    },
    handover(from, to) {
      apply(nodes.get(from)!, { type: "handover-requested", to });
    },
    isUp: (id) => nodes.get(id)!.up,
    holdersNow: () => [...nodes.values()].filter((n) => n.up && n.state.vipUp).map((n) => n.id),
    node: (id) => nodes.get(id)!.state,
    certificates: () => [...certs.values()].sort((a, b) => a.epoch - b.epoch),
    trace,
    takes,
    get messagesSent() {
      return messagesSent;
    },
  };
}
