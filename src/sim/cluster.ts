// A deterministic cluster of quorum machines on a virtual clock and a lossy,
// partitionable network. It drives the very same decide/quorum.ts the agent
// runs; only the clock and the network are virtual. Given a seed, a run is
// the same bit for bit. The safety checks run after every delivered event.

import { assert } from "../shared/assert.ts";
import { rng, type Rng } from "../shared/rng.ts";
import type { HostId } from "../shared/ids.ts";
import * as quorum from "../decide/quorum.ts";
import type { Certificate, Persisted, QuorumConfig, QuorumEvent, QuorumMsg, QuorumState, QuorumStep } from "../decide/quorum.ts";
import * as membership from "../decide/membership.ts";
import type { MembershipState, SwimMsg } from "../decide/membership.ts";
import * as replication from "../decide/replication.ts";
import { checkAckedKept, checkCertificate, checkEpochGrows, checkOneHolder, SimViolation } from "./invariants.ts";

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

/**
 * Deliberately broken cores, to prove the checker can fail. Each wraps the
 * real step function and bends one rule; "correct" is the product's core.
 */
export type Variant =
  | "correct"
  | "double-vote" // a voter forgets its vote when a rival proposal for the same epoch arrives
  | "ignore-lease" // a holder never acts on its lease running out
  | "no-grant-wait" // a voter votes while its grant to the old holder still runs
  | "local-ack"; // a writer acknowledges a state write before any other replica holds it

export type SimOptions = {
  hosts: HostId[];
  /** Services, each with its own quorum machine on every host (default 1). */
  services?: number;
  /** Clock rate spread between hosts, in ppm (each host draws its rate within ±half of it). */
  driftPpm?: number;
  variant?: Variant;
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
  /** One quorum machine per service. */
  states: Map<string, QuorumState>;
  /** The SWIM machine, as in the agent: its view ranks the candidates. */
  members: MembershipState;
  /** What the node wrote durably, per service: all that survives a crash. */
  disk: Map<string, Persisted>;
  /** Its clock: local = skewMs + real × rate. */
  rate: number;
  skewMs: number;
  /** Whether it has the VIP up, per service, as the shell would (from take/drop effects). */
  holding: Set<string>;
  /** State replication per service. */
  repl: Map<string, Repl>;
};

/**
 * A replica's state document, modelled as the set of write ids it holds (a
 * CRDT merge is a union of changes, as Automerge's is). As in the agent's
 * shell, a change is on disk before the host shares or confirms it, so the
 * set is the disk: a crash keeps it, a wipe (disk lost) empties it.
 */
type Repl = { doc: Set<string>; machine: replication.ReplicationState; nextSyncAt: number; waiting: Array<{ id: string; from: HostId }> };

/** Replication messages: a sync carries every id the sender holds; a durability question and its answer. */
type StMsg = { type: "st-sync"; service: string; ids: string[] } | { type: "st-req"; service: string; id: string } | { type: "st-ok"; service: string; id: string };

type Packet = { atMs: number; order: number; from: HostId; to: HostId; msg: QuorumMsg | SwimMsg | StMsg };

/** Replication timing in the simulator (virtual ms, each host's own clock). */
const REPL = { syncEveryMs: 250, writeTimeoutMs: 2_000, staleAfterMs: 1_000, ackShadows: 1, writeProbabilityPerTick: 0.02 };

const isSt = (m: QuorumMsg | SwimMsg | StMsg): m is StMsg => m.type === "st-sync" || m.type === "st-req" || m.type === "st-ok";
const isSwim = (m: QuorumMsg | SwimMsg | StMsg): m is SwimMsg => m.type === "ping" || m.type === "ack" || m.type === "ping-req";

/** SWIM timing in the simulator: the lan profile's. */
const SWIM = { probeIntervalMs: 50, probeTimeoutMs: 20, indirectProbes: 2, suspicionTimeoutMs: 150, updatesMax: 8 };

export type TraceEntry = { atMs: number; host: HostId; what: string };

export type Cluster = {
  nowMs(): number;
  run(untilMs: number): void;
  crash(id: HostId): void;
  /** A crash that loses the disk (a replaced host): its state document is gone. */
  wipe(id: HostId): void;
  restart(id: HostId): void;
  /** Hosts in different groups cannot talk; hosts in no group talk to nobody. */
  partition(groups: HostId[][]): void;
  /** An asymmetric fault: messages from one host to another are lost, the other way still works. */
  cutOneWay(from: HostId, to: HostId): void;
  /** Changes loss, duplication and delay from now on. */
  setNet(net: NetProfile): void;
  heal(): void;
  handover(from: HostId, to: HostId): void;
  /** Every up host's forecast flags `from` (with `split`, all but the first up host see `to` failing too); then `from` asks for a predicted move to `to`. */
  predict(from: HostId, to: HostId, split?: boolean): void;
  /** Hosts that have the first service's VIP up now. */
  holdersNow(): HostId[];
  holdersOf(service: string): HostId[];
  isUp(id: HostId): boolean;
  /** A host's machine for a service (default: the first). */
  node(id: HostId, service?: string): QuorumState;
  services: string[];
  /** Virtual time each service had a holder, summed. */
  heldMs(service: string): number;
  certificates(): Certificate[];
  trace: TraceEntry[];
  /** First time each host took the VIP, in order. */
  takes: Array<{ atMs: number; host: HostId; epoch: number }>;
  messagesSent: number;
  /** Writes acknowledged to the (virtual) operator, per service. */
  acked(service: string): Set<string>;
  /** The write ids a host holds for a service. */
  doc(id: HostId, service: string): Set<string>;
};

export function createCluster(o: SimOptions): Cluster {
  const r: Rng = rng(o.seed);
  let net = o.net;
  let now = 0;
  let order = 0;
  let messagesSent = 0;
  let groups: HostId[][] | null = null;
  /** One-way cuts, as "from>to". */
  const oneWay = new Set<string>();
  const inFlight: Packet[] = [];
  const trace: TraceEntry[] = [];
  const takes: Array<{ atMs: number; host: HostId; epoch: number }> = [];
  const services = Array.from({ length: o.services ?? 1 }, (_, i) => (i === 0 ? "svc" : `svc${i}`));
  const certs = new Map<string, Certificate>();
  const variant = o.variant ?? "correct";
  const drift = (o.driftPpm ?? 0) / 1_000_000;
  const heldMs = new Map<string, number>(services.map((sv) => [sv, 0]));
  const configFor = (id: HostId, service: string): QuorumConfig => ({
    service,
    self: id,
    candidates: o.candidates,
    voters: o.voters,
    hosts: o.hosts,
    ...o.timing,
  });
  const nodes = new Map<HostId, Node>();
  for (const id of o.hosts) {
    const rate = 1 + (r.next() - 0.5) * drift;
    const skewMs = Math.floor(r.next() * 10_000);
    const n: Node = { id, up: true, states: new Map(), members: membership.initialMembership({ self: id, peers: o.hosts.filter((h) => h !== id), ...SWIM }, skewMs), disk: new Map(), rate, skewMs, holding: new Set(), repl: new Map() };
    for (const sv of services) n.states.set(sv, quorum.initialQuorum(configFor(id, sv), null, skewMs));
    for (const sv of services) n.repl.set(sv, freshRepl(id, sv, new Set(), skewMs));
    nodes.set(id, n);
  }
  const localNow = (n: Node): number => n.skewMs + now * n.rate;
  function freshRepl(id: HostId, service: string, doc: Set<string>, at: number): Repl {
    const replicas = o.candidates.filter((h) => h !== id);
    let machine = replication.initialReplication({ service, self: id, replicas, ackShadows: variant === "local-ack" ? 0 : Math.min(REPL.ackShadows, replicas.length), writeTimeoutMs: REPL.writeTimeoutMs, staleAfterMs: REPL.staleAfterMs }, at);
    // The mesh keeps connections to every peer; an unreachable one simply loses what is sent.
    for (const p of replicas) machine = replication.step(machine, { type: "peer-connected", peer: p }, at).state;
    return { doc, machine, nextSyncAt: at, waiting: [] };
  }
  /** Replication traffic draws from its own stream, so adding it left the quorum's runs as they were. */
  const rr: Rng = rng((o.seed ^ 0x7e91) >>> 0);
  const acked = new Map<string, Set<string>>(services.map((sv) => [sv, new Set<string>()]));
  let writeSeq = 0;
  // Ticks are staggered so hosts do not move in lockstep; each ticks at its own clock's rate.
  const nextTick = new Map<HostId, number>(o.hosts.map((id) => [id, r.int(o.tickMs)]));

  const reachable = (a: HostId, b: HostId): boolean => {
    if (a === b) return true;
    if (oneWay.has(`${a}>${b}`)) return false;
    if (groups === null) return true;
    return groups.some((g) => g.includes(a) && g.includes(b));
  };

  const send = (from: HostId, to: HostId, msg: QuorumMsg | SwimMsg | StMsg): void => {
    messagesSent += 1;
    if (from === to) {
      inFlight.push({ atMs: now, order: order++, from, to, msg });
      return;
    }
    const g = isSt(msg) ? rr : r;
    if (!reachable(from, to) || g.next() < net.dropRate || inFlight.length >= IN_FLIGHT_MAX) return;
    const copies = g.next() < net.duplicateRate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = net.delayMinMs + g.next() * (net.delayMaxMs - net.delayMinMs);
      inFlight.push({ atMs: now + delay, order: order++, from, to, msg });
    }
  };

  /** As the agent's replicator: the machine's effects carried out. */
  const stepRepl = (n: Node, service: string, ev: replication.ReplicationEvent): void => {
    const st = n.repl.get(service)!;
    const out = replication.step(st.machine, ev, localNow(n));
    st.machine = out.state;
    for (const fx of out.effects) {
      if (fx.type === "request-durable") for (const to of fx.to) send(n.id, to, { type: "st-req", service, id: fx.id });
      else if (fx.type === "acked") {
        acked.get(service)!.add(fx.id);
        trace.push({ atMs: now, host: n.id, what: `${service} write-acked ${fx.id} on=${fx.durableOn.join(",")}` });
      } else if (fx.type === "write-failed") trace.push({ atMs: now, host: n.id, what: `${service} write-failed ${fx.id} ${fx.why}` });
    }
  };

  const syncTo = (n: Node, service: string): void => {
    const st = n.repl.get(service)!;
    const ids = [...st.doc].sort();
    for (const p of o.candidates) if (p !== n.id) send(n.id, p, { type: "st-sync", service, ids });
  };

  const onSt = (n: Node, from: HostId, m: StMsg): void => {
    const st = n.repl.get(m.service)!;
    switch (m.type) {
      case "st-sync": {
        let grew = false;
        for (const id of m.ids) {
          if (!st.doc.has(id)) {
            st.doc.add(id); // saved before anything below is said about it
            grew = true;
          }
        }
        const theirs = new Set(m.ids);
        let lag = 0;
        for (const id of st.doc) if (!theirs.has(id)) lag += 1;
        stepRepl(n, m.service, { type: "peer-sync", peer: from, lagChanges: lag, lagBytes: lag * 100, theyLack: lag > 0, weLack: false });
        if (grew) {
          st.waiting = st.waiting.filter((w) => {
            if (!st.doc.has(w.id)) return true;
            send(n.id, w.from, { type: "st-ok", service: m.service, id: w.id });
            return false;
          });
        }
        return;
      }
      case "st-req":
        if (st.doc.has(m.id)) send(n.id, from, { type: "st-ok", service: m.service, id: m.id });
        else if (st.waiting.length < 256) st.waiting.push({ id: m.id, from });
        return;
      case "st-ok":
        stepRepl(n, m.service, { type: "peer-durable", peer: from, id: m.id });
        return;
    }
  };

  /** The holder of a service takes writes (operators write through the VIP); every replica syncs now and then. */
  const replTick = (n: Node): void => {
    for (const sv of services) {
      const st = n.repl.get(sv)!;
      stepRepl(n, sv, { type: "tick" });
      if (n.holding.has(sv) && rr.next() < REPL.writeProbabilityPerTick) {
        const id = `${sv}:${n.id}:${++writeSeq}`;
        st.doc.add(id); // durable here first
        trace.push({ atMs: now, host: n.id, what: `${sv} write ${id}` });
        syncTo(n, sv);
        stepRepl(n, sv, { type: "write-durable", id });
      }
      if (localNow(n) >= st.nextSyncAt) {
        st.nextSyncAt = localNow(n) + REPL.syncEveryMs;
        syncTo(n, sv);
      }
    }
  };

  const stepFor = (s: QuorumState, ev: QuorumEvent, t: number): QuorumStep => broken(variant, s, ev, t);

  const apply = (n: Node, service: string, ev: QuorumEvent): void => {
    const before = n.states.get(service)!;
    const out = stepFor(before, ev, localNow(n));
    n.states.set(service, out.state);
    checkEpochGrows(before, out.state, n.id);
    for (const fx of out.effects) {
      switch (fx.type) {
        case "persist":
          n.disk.set(service, fx.record);
          break;
        case "send":
          send(n.id, fx.to, fx.msg);
          break;
        case "take-vip":
          n.holding.add(service);
          if (service === services[0]) takes.push({ atMs: now, host: n.id, epoch: fx.epoch });
          trace.push({ atMs: now, host: n.id, what: `${service} take-vip epoch=${fx.epoch} reason=${fx.reason}` });
          break;
        case "drop-vip":
          n.holding.delete(service);
          trace.push({ atMs: now, host: n.id, what: `${service} drop-vip epoch=${fx.epoch} why=${fx.why}` });
          break;
        case "certified": {
          const key = `${service}/${fx.cert.epoch}`;
          checkCertificate(certs.get(key), fx.cert);
          certs.set(key, fx.cert);
          break;
        }
        default:
          break;
      }
    }
    checkSafety();
  };

  /** As the agent does: SWIM effects out, and on a change the not-dead hosts to every quorum machine. */
  const applyMembership = (n: Node, ev: membership.MembershipEvent): void => {
    const out = membership.step(n.members, ev, localNow(n));
    n.members = out.state;
    let changed = false;
    for (const fx of out.effects) {
      if (fx.type === "send") send(n.id, fx.to, fx.msg);
      else if (fx.type === "member-changed") changed = true;
    }
    if (changed) {
      const alive = membership.members(n.members).filter((m) => m.status !== "dead").map((m) => m.id);
      for (const sv of services) apply(n, sv, { type: "membership", alive });
    }
  };

  const checkSafety = (): void => {
    for (const sv of services) {
      const up = [...nodes.values()].filter((n) => n.up);
      checkOneHolder(sv, now, up.filter((n) => n.holding.has(sv)).map((n) => n.id), up.filter((n) => quorum.leaseValid(n.states.get(sv)!, localNow(n))).map((n) => n.id));
    }
  };

  let lastAt = 0;
  const account = (to: number): void => {
    for (const sv of services) if ([...nodes.values()].some((n) => n.up && n.holding.has(sv))) heldMs.set(sv, heldMs.get(sv)! + (to - lastAt));
    lastAt = to;
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
        account(untilMs);
        now = untilMs;
        return;
      }
      account(at);
      now = at;
      if (packetAt <= tickAt) {
        const p = inFlight.splice(pi, 1)[0]!;
        const n = nodes.get(p.to)!;
        if (n.up) {
          const m = p.msg;
          if (isSt(m)) onSt(n, p.from, m);
          else if (isSwim(m)) applyMembership(n, { type: "received", from: p.from, msg: m });
          else apply(n, serviceOf(m), { type: "received", from: p.from, msg: m });
        }
      } else {
        assert(tickHost !== null, "a tick is due");
        const n = nodes.get(tickHost)!;
        nextTick.set(tickHost, tickAt + o.tickMs / n.rate);
        if (n.up) {
          applyMembership(n, { type: "tick", rand: r.next() });
          for (const sv of services) apply(n, sv, { type: "tick", rand: r.next() });
          replTick(n);
        }
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
      n.holding.clear(); // a crashed host's VIPs go with it (the agent removes stale ones at start)
      trace.push({ atMs: now, host: id, what: "crash" });
    },
    wipe(id) {
      const n = nodes.get(id)!;
      n.up = false;
      n.holding.clear();
      for (const st of n.repl.values()) st.doc = new Set();
      trace.push({ atMs: now, host: id, what: "crash, disk lost" });
      // The only fault that destroys data: every acknowledged write must still be somewhere.
      for (const sv of services) checkAckedKept(sv, acked.get(sv)!, [...nodes.values()].map((x) => x.repl.get(sv)!.doc), `after ${id} lost its disk`);
    },
    restart(id) {
      const n = nodes.get(id)!;
      n.up = true;
      n.holding.clear(); // a restart is a crash first; the agent removes stale VIPs at start
      for (const sv of services) n.states.set(sv, quorum.initialQuorum(configFor(id, sv), n.disk.get(sv) ?? null, localNow(n)));
      n.members = membership.initialMembership({ self: id, peers: o.hosts.filter((h) => h !== id), ...SWIM }, localNow(n));
      for (const sv of services) n.repl.set(sv, freshRepl(id, sv, n.repl.get(sv)!.doc, localNow(n)));
      trace.push({ atMs: now, host: id, what: "restart" });
    },
    partition(g) {
      groups = g;
      trace.push({ atMs: now, host: "net" as HostId, what: `partition ${JSON.stringify(g)}` });
    },
    setNet(n) {
      net = n;
      trace.push({ atMs: now, host: "net" as HostId, what: `net loss=${n.dropRate.toFixed(3)} dup=${n.duplicateRate.toFixed(3)} delay=${n.delayMinMs}-${n.delayMaxMs.toFixed(1)}ms` });
    },
    cutOneWay(from, to) {
      oneWay.add(`${from}>${to}`);
      trace.push({ atMs: now, host: "net" as HostId, what: `cut ${from} -> ${to}` });
    },
    heal() {
      groups = null;
      oneWay.clear();
      trace.push({ atMs: now, host: "net" as HostId, what: "heal" });
    },
    handover(from, to) {
      apply(nodes.get(from)!, services[0]!, { type: "handover-requested", to });
    },
    predict(from, to, split) {
      let i = 0;
      for (const n of nodes.values()) {
        if (!n.up) continue;
        // With split, every other host also sees the target running out: those must refuse.
        apply(n, services[0]!, { type: "forecast", predicted: split && i++ > 0 ? [from, to] : [from] });
      }
      trace.push({ atMs: now, host: from, what: `predicted move to ${to}${split ? " (views split)" : ""}` });
      apply(nodes.get(from)!, services[0]!, { type: "handover-requested", to, reason: "predicted" });
    },
    isUp: (id) => nodes.get(id)!.up,
    holdersNow: () => [...nodes.values()].filter((n) => n.up && n.holding.has(services[0]!)).map((n) => n.id),
    holdersOf: (sv) => [...nodes.values()].filter((n) => n.up && n.holding.has(sv)).map((n) => n.id),
    node: (id, sv) => nodes.get(id)!.states.get(sv ?? services[0]!)!,
    services,
    heldMs: (sv) => heldMs.get(sv)!,
    certificates: () => [...certs.values()].filter((x) => x.service === services[0]).sort((a, b) => a.epoch - b.epoch),
    trace,
    takes,
    get messagesSent() {
      return messagesSent;
    },
    acked: (sv) => acked.get(sv)!,
    doc: (id, sv) => nodes.get(id)!.repl.get(sv)!.doc,
  };
}

function serviceOf(m: QuorumMsg): string {
  return m.type === "certificate" ? m.cert.service : m.service;
}

/** The real step, or one bent to break exactly one rule (see Variant). */
function broken(variant: Variant, s: QuorumState, ev: QuorumEvent, t: number): QuorumStep {
  switch (variant) {
    case "correct":
    case "local-ack": // breaks replication, not the quorum (see freshRepl)
      return quorum.step(s, ev, t);
    case "double-vote":
      // Forget the vote of this epoch when a rival proposal for it arrives.
      if (ev.type === "received" && ev.msg.type === "propose" && ev.msg.epoch === s.votedEpoch && s.votedHolder !== ev.msg.holder && s.epoch < ev.msg.epoch) {
        return quorum.step({ ...s, votedEpoch: s.epoch, votedHolder: null, votedProposal: null }, ev, t);
      }
      return quorum.step(s, ev, t);
    case "ignore-lease": {
      // Hide the lease's end from the machine and drop its drop-vip effects.
      const out = quorum.step({ ...s, leaseUntilMs: s.vipUp ? Infinity : s.leaseUntilMs }, ev, t);
      return { state: out.state, effects: out.effects.filter((f) => !(f.type === "drop-vip" && f.why === "lease-expired")) };
    }
    case "no-grant-wait":
      // Vote as if no grant were running.
      return quorum.step(ev.type === "received" && ev.msg.type === "propose" ? { ...s, grantUntilMs: 0, holderSeenUntilMs: 0 } : s, ev, t);
    default:
      throw new SimViolation(`unknown variant ${String(variant)}`);
  }
}
