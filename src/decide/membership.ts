// SWIM membership (direct probes, indirect probes through k helpers,
// suspicion with a timeout, incarnation numbers, refutation), as a pure
// machine. Membership is static: the config lists every host, so there is no
// join protocol; what changes is each member's status and incarnation.
//
// Precedence (SWIM, as in hashicorp/memberlist): alive(i) overrides
// suspect/dead(j) only if i > j; suspect(i) overrides alive(j) if i >= j;
// dead(i) overrides alive/suspect(j) if i >= j. A host that hears itself
// suspected or dead refutes by raising its incarnation above the accusation.

import { assert, assertNever } from "../shared/assert.ts";
import type { HostId } from "../shared/ids.ts";
import { rng } from "../shared/rng.ts";

export type MemberStatus = "alive" | "suspect" | "dead";
export type MemberUpdate = { id: HostId; status: MemberStatus; incarnation: number };
export type SwimMsg =
  | { type: "ping"; seq: number; updates: MemberUpdate[] }
  | { type: "ack"; seq: number; updates: MemberUpdate[] }
  | { type: "ping-req"; seq: number; target: HostId; updates: MemberUpdate[] };

export type MembershipConfig = {
  self: HostId;
  /** Every other host of the cluster (self excluded). */
  peers: HostId[];
  /** One probe round per interval. */
  probeIntervalMs: number;
  /** Wait this long for a direct ack before asking helpers (ping-req). */
  probeTimeoutMs: number;
  /** How many helpers a ping-req goes to. */
  indirectProbes: number;
  /** A suspect not refuted within this is declared dead. */
  suspicionTimeoutMs: number;
  /** Most updates piggybacked on one message. */
  updatesMax: number;
};

export type MembershipEvent =
  | { type: "tick"; rand: number } // rand uniform in [0,1), drawn by the caller
  | { type: "received"; from: HostId; msg: SwimMsg }
  | { type: "peer-disconnected"; id: HostId }; // the transport lost the connection: probe it next

export type MembershipEffect =
  | { type: "send"; to: HostId; msg: SwimMsg }
  | { type: "member-changed"; id: HostId; status: MemberStatus; incarnation: number }
  | { type: "rtt-measured"; id: HostId; rttMs: number };

/** Each update is piggybacked this many times per log2(cluster size), then forgotten (SWIM's λ log n). */
export const RETRANSMIT_MULT = 3;
/** Relayed probes (ping-req) kept at once; more are refused (a flood must not grow state). */
export const RELAYS_MAX = 64;

type Member = {
  status: MemberStatus;
  incarnation: number;
  /** When the status last changed: suspicion times out from here. */
  sinceMs: number;
};

type Probe = {
  target: HostId;
  seq: number;
  sentAtMs: number;
  /** ping-req went out already: do it once per probe. */
  indirectSent: boolean;
};

type Relay = { seq: number; requester: HostId; requesterSeq: number; target: HostId; expiresAtMs: number };

type Broadcast = { update: MemberUpdate; remaining: number };

export type MembershipState = {
  config: MembershipConfig;
  /** Our own incarnation: raised only to refute an accusation. */
  incarnation: number;
  /** Our view of every peer. */
  view: Record<string, Member>;
  /** Probe order for this round (shuffled each round, SWIM's round-robin). */
  order: HostId[];
  orderIndex: number;
  /** A peer the transport lost: probed next, ahead of the round. */
  urgent: HostId | null;
  /** The probe in progress, if any. */
  probe: Probe | null;
  nextProbeAtMs: number;
  /** Sequence numbers for our pings; unique per host. */
  seq: number;
  /** ping-req we are serving for others. */
  relays: Relay[];
  /** Updates still to piggyback. */
  broadcasts: Broadcast[];
  /** Last time the machine ran, to assert time moves forward. */
  nowMs: number;
};

export type MembershipStep = { state: MembershipState; effects: MembershipEffect[] };

export function initialMembership(config: MembershipConfig, nowMs: number): MembershipState {
  assert(!config.peers.includes(config.self), "peers exclude self");
  assert(new Set(config.peers).size === config.peers.length, "peers are distinct");
  assert(config.probeTimeoutMs < config.probeIntervalMs, "probe timeout is shorter than the interval");
  assert(config.indirectProbes >= 0 && config.updatesMax >= 1, "sane bounds");
  const view: Record<string, Member> = {};
  for (const p of config.peers) view[p] = { status: "alive", incarnation: 0, sinceMs: nowMs };
  return {
    config,
    incarnation: 0,
    view,
    order: [...config.peers],
    orderIndex: 0,
    urgent: null,
    probe: null,
    nextProbeAtMs: nowMs,
    seq: 0,
    relays: [],
    broadcasts: [],
    nowMs,
  };
}

/** The current view, self included, for /status and the quorum's candidate ranking. */
export function members(s: MembershipState): MemberUpdate[] {
  return [
    { id: s.config.self, status: "alive", incarnation: s.incarnation },
    ...s.config.peers.map((id) => ({ id, status: s.view[id]!.status, incarnation: s.view[id]!.incarnation })),
  ];
}

export function retransmitLimit(clusterSize: number): number {
  return RETRANSMIT_MULT * Math.max(1, Math.ceil(Math.log2(clusterSize + 1)));
}

export function step(s0: MembershipState, e: MembershipEvent, nowMs: number): MembershipStep {
  assert(nowMs >= s0.nowMs, "time moves forward");
  const s: MembershipState = { ...s0, view: { ...s0.view }, nowMs };
  const fx: MembershipEffect[] = [];
  switch (e.type) {
    case "tick":
      assert(e.rand >= 0 && e.rand < 1, "rand in [0,1)");
      onTick(s, fx, e.rand);
      break;
    case "received":
      if (s.view[e.from] === undefined) break; // not a configured peer
      onReceived(s, fx, e.from, e.msg);
      break;
    case "peer-disconnected":
      if (s.view[e.id] === undefined) break;
      s.urgent = e.id;
      if (s.probe === null) s.nextProbeAtMs = Math.min(s.nextProbeAtMs, nowMs);
      break;
    default:
      assertNever(e);
  }
  return { state: s, effects: fx };
}

// ---------------------------------------------------------------- tick

function onTick(s: MembershipState, fx: MembershipEffect[], rand: number): void {
  const c = s.config;
  const r = rng(Math.floor(rand * 2 ** 32));
  // Suspicion runs out: dead.
  for (const id of c.peers) {
    const m = s.view[id]!;
    if (m.status === "suspect" && s.nowMs - m.sinceMs >= c.suspicionTimeoutMs) {
      setMember(s, fx, { id, status: "dead", incarnation: m.incarnation });
    }
  }
  s.relays = s.relays.filter((x) => x.expiresAtMs > s.nowMs);
  const p = s.probe;
  if (p !== null) {
    if (!p.indirectSent && s.nowMs - p.sentAtMs >= c.probeTimeoutMs) {
      s.probe = { ...p, indirectSent: true };
      const helpers = shuffle(
        c.peers.filter((h) => h !== p.target && s.view[h]!.status !== "dead"),
        r.next,
      ).slice(0, c.indirectProbes);
      for (const h of helpers) send(s, fx, h, { type: "ping-req", seq: p.seq, target: p.target, updates: [] });
    }
    if (s.nowMs - p.sentAtMs >= c.probeIntervalMs) {
      // No ack, direct or relayed, within the round: suspect it.
      s.probe = null;
      const m = s.view[p.target]!;
      if (m.status === "alive") setMember(s, fx, { id: p.target, status: "suspect", incarnation: m.incarnation });
    }
  }
  if (s.probe === null && s.nowMs >= s.nextProbeAtMs && c.peers.length > 0) {
    const target = nextTarget(s, r.next);
    s.seq += 1;
    s.probe = { target, seq: s.seq, sentAtMs: s.nowMs, indirectSent: false };
    s.nextProbeAtMs = s.nowMs + c.probeIntervalMs;
    send(s, fx, target, { type: "ping", seq: s.seq, updates: [] });
  }
}

function nextTarget(s: MembershipState, next: () => number): HostId {
  if (s.urgent !== null) {
    const u = s.urgent;
    s.urgent = null;
    return u;
  }
  if (s.orderIndex >= s.order.length) {
    s.order = shuffle([...s.config.peers], next);
    s.orderIndex = 0;
  }
  const t = s.order[s.orderIndex]!;
  s.orderIndex += 1;
  return t;
}

function shuffle<T>(xs: T[], next: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

// ---------------------------------------------------------------- receive

function onReceived(s: MembershipState, fx: MembershipEffect[], from: HostId, msg: SwimMsg): void {
  for (const u of msg.updates) applyUpdate(s, fx, u);
  switch (msg.type) {
    case "ping":
      send(s, fx, from, { type: "ack", seq: msg.seq, updates: [] });
      return;
    case "ping-req": {
      if (s.view[msg.target] === undefined || msg.target === s.config.self) return;
      if (s.relays.length >= RELAYS_MAX) return;
      s.seq += 1;
      s.relays = [...s.relays, { seq: s.seq, requester: from, requesterSeq: msg.seq, target: msg.target, expiresAtMs: s.nowMs + s.config.probeIntervalMs }];
      send(s, fx, msg.target, { type: "ping", seq: s.seq, updates: [] });
      return;
    }
    case "ack": {
      const p = s.probe;
      if (p !== null && p.seq === msg.seq) {
        if (from === p.target) fx.push({ type: "rtt-measured", id: from, rttMs: s.nowMs - p.sentAtMs });
        s.probe = null; // answered, directly or through a helper
        return;
      }
      const relay = s.relays.find((x) => x.seq === msg.seq && x.target === from);
      if (relay !== undefined) {
        s.relays = s.relays.filter((x) => x !== relay);
        send(s, fx, relay.requester, { type: "ack", seq: relay.requesterSeq, updates: [] });
      }
      return;
    }
    default:
      assertNever(msg);
  }
}

function applyUpdate(s: MembershipState, fx: MembershipEffect[], u: MemberUpdate): void {
  const c = s.config;
  if (u.id === c.self) {
    if (u.status !== "alive" && u.incarnation >= s.incarnation) {
      // Refute: we are alive, at an incarnation above the accusation.
      s.incarnation = u.incarnation + 1;
      enqueue(s, { id: c.self, status: "alive", incarnation: s.incarnation });
    }
    return;
  }
  const cur = s.view[u.id];
  if (cur === undefined) return;
  const wins =
    u.status === "alive"
      ? u.incarnation > cur.incarnation
      : u.status === "suspect"
        ? (cur.status === "alive" && u.incarnation >= cur.incarnation) || u.incarnation > cur.incarnation
        : (cur.status !== "dead" && u.incarnation >= cur.incarnation) || u.incarnation > cur.incarnation;
  if (wins) setMember(s, fx, u);
}

function setMember(s: MembershipState, fx: MembershipEffect[], u: MemberUpdate): void {
  const cur = s.view[u.id]!;
  assert(u.incarnation >= cur.incarnation, "incarnations never go back");
  if (cur.status === u.status && cur.incarnation === u.incarnation) return;
  s.view[u.id] = { status: u.status, incarnation: u.incarnation, sinceMs: s.nowMs };
  enqueue(s, u);
  fx.push({ type: "member-changed", id: u.id, status: u.status, incarnation: u.incarnation });
}

function enqueue(s: MembershipState, u: MemberUpdate): void {
  const limit = retransmitLimit(s.config.peers.length + 1);
  s.broadcasts = [...s.broadcasts.filter((b) => b.update.id !== u.id), { update: u, remaining: limit }];
}

/** Sends with piggybacked updates; a peer we hold non-alive also hears its own status, so it can refute. */
function send(s: MembershipState, fx: MembershipEffect[], to: HostId, msg: SwimMsg): void {
  const picked = s.broadcasts.slice(0, s.config.updatesMax);
  const updates = picked.map((b) => b.update);
  s.broadcasts = s.broadcasts.map((b) => (picked.includes(b) ? { ...b, remaining: b.remaining - 1 } : b)).filter((b) => b.remaining > 0);
  const them = s.view[to];
  if (them !== undefined && them.status !== "alive" && !updates.some((u) => u.id === to)) {
    if (updates.length >= s.config.updatesMax) updates.pop();
    updates.push({ id: to, status: them.status, incarnation: them.incarnation });
  }
  fx.push({ type: "send", to, msg: { ...msg, updates } });
}
