// SWIM membership as a pure machine: direct probes, indirect probes through
// k helpers (ping-req), suspicion with a timeout, incarnation numbers and
// refutation, with updates piggybacked on every message (hashicorp/memberlist,
// plus Lifeguard's "buddy system": a probe of a member we hold suspect or dead
// tells it so, so it can refute at once).
//
// Membership is static: the config lists every host, so there is no join
// protocol. Every peer starts alive at incarnation 0; probing suspects the
// ones that do not answer. What changes is each member's status and
// incarnation, and the order of those is a total order (see `overrides`).
//
// Time comes in as `nowMs`, randomness as `rand` on the tick event; nothing
// here reads a clock, a socket or Math.random.

import { assert, assertNever } from "../shared/assert.ts";
import type { HostId } from "../shared/ids.ts";
import { rng } from "../shared/rng.ts";

// ---------------------------------------------------------------- bounds

/** Each update is piggybacked RETRANSMIT_MULT * ceil(log2(n + 1)) times, then forgotten: SWIM's λ·log n, enough to reach everyone with high probability. */
export const RETRANSMIT_MULT = 3;
/** ping-req we serve at once for others; more are refused, so a flood of requests cannot grow our state. */
export const RELAYS_MAX = 64;
/** Updates read from one incoming message; the rest are dropped, so one message costs bounded work (the codec sends at most 32). */
export const UPDATES_RECEIVED_MAX = 64;
/** Largest cluster the machine accepts; every per-step loop is over at most this many members. */
export const PEERS_MAX = 256;

// ---------------------------------------------------------------- types

export type MemberStatus = "alive" | "suspect" | "dead";
export type MemberUpdate = { id: HostId; status: MemberStatus; incarnation: number };
export type SwimMsg =
  | { type: "ping"; seq: number; updates: MemberUpdate[] }
  | { type: "ack"; seq: number; updates: MemberUpdate[] }
  | { type: "ping-req"; seq: number; target: HostId; updates: MemberUpdate[] };

export type MembershipConfig = {
  /** This host. */
  self: HostId;
  /** Every other host of the cluster (self excluded): membership is static. */
  peers: HostId[];
  /** One probe round per interval; a probe not acked by its end makes the target suspect. */
  probeIntervalMs: number;
  /** Wait this long for a direct ack before asking helpers (ping-req). */
  probeTimeoutMs: number;
  /** How many helpers a ping-req goes to (SWIM's k). */
  indirectProbes: number;
  /** A suspect not refuted within this is declared dead. */
  suspicionTimeoutMs: number;
  /** Most updates piggybacked on one message. */
  updatesMax: number;
};

export type MembershipEvent =
  | { type: "tick"; rand: number } // rand uniform in [0,1), drawn by the caller: it picks the probe order and the helpers
  | { type: "received"; from: HostId; msg: SwimMsg }
  | { type: "peer-disconnected"; id: HostId } // the transport lost the connection: a hint to probe it next, not a suspicion
  | { type: "peer-connected"; id: HostId }; // the transport reached it: probe it next, so a wrong suspicion or death is refuted at once

export type MembershipEffect =
  | { type: "send"; to: HostId; msg: SwimMsg }
  | { type: "member-changed"; id: HostId; status: MemberStatus; incarnation: number }
  | { type: "rtt-measured"; id: HostId; rttMs: number }; // a direct ping->ack round trip: the agent's network latency

type Member = {
  /** What we believe about the member. */
  readonly status: MemberStatus;
  /** The member's own counter as last heard: orders conflicting updates about it. */
  readonly incarnation: number;
  /** When status or incarnation last changed: suspicion times out from here. */
  readonly sinceMs: number;
};

type Probe = {
  /** The member being probed this round. */
  readonly target: HostId;
  /** Matches the ack, direct or relayed, to this probe. */
  readonly seq: number;
  /** When the ping went out: the RTT, the ping-req timeout and the end of the round count from here. */
  readonly sentAtMs: number;
  /** Helpers asked to ping the target; only their relayed acks (or the target's own) end the probe. */
  readonly helpers: readonly HostId[];
  /** ping-req went out already: at most once per probe. */
  readonly indirectSent: boolean;
};

type Relay = {
  /** Our own ping's seq to the target: matches the target's ack. */
  readonly seq: number;
  /** Who asked: it gets the forwarded ack. */
  readonly requester: HostId;
  /** The requester's probe seq, echoed back so the ack matches its probe. */
  readonly requesterSeq: number;
  /** Only an ack from this member counts. */
  readonly target: HostId;
  /** Forgotten after one probe interval: the requester has given up by then. */
  readonly expiresAtMs: number;
};

type Broadcast = {
  /** The news to piggyback. */
  readonly update: MemberUpdate;
  /** Piggybacks left before it is forgotten; the ones sent least go first. */
  readonly transmitsLeft: number;
};

export type MembershipState = {
  /** The static cluster and the timings; never changes. */
  readonly config: MembershipConfig;
  /** Our own incarnation: raised only to refute an accusation (or to catch up after a restart). */
  readonly incarnation: number;
  /** Our view of every peer, keyed by HostId; self is not in it (self is always alive to itself). */
  readonly view: Readonly<Record<string, Member>>;
  /** This round's probe order: every peer once, dead ones included so a recovered host is noticed. */
  readonly order: readonly HostId[];
  /** Next position in `order`; at the end a new round starts with a fresh shuffle. */
  readonly orderIndex: number;
  /** A peer the transport lost: probed next, ahead of the round-robin. */
  readonly urgent: HostId | null;
  /** The probe in flight, if any: at most one at a time. */
  readonly probe: Probe | null;
  /** When the next probe may start: one per probe interval. */
  readonly nextProbeAtMs: number;
  /** Last seq we used, for our pings and relayed pings alike, so an ack matches exactly one of them. */
  readonly seq: number;
  /** ping-req we are serving for others, at most RELAYS_MAX. */
  readonly relays: readonly Relay[];
  /** Updates still to piggyback, at most one per member. */
  readonly broadcasts: readonly Broadcast[];
  /** When the machine last ran: time must not move backwards. */
  readonly nowMs: number;
};

export type MembershipStep = { state: MembershipState; effects: MembershipEffect[] };

/** The working copy inside one step: top-level fields are replaced, never the input's nested objects mutated. */
type Draft = { -readonly [K in keyof MembershipState]: MembershipState[K] };

// ---------------------------------------------------------------- public

export function initialMembership(config: MembershipConfig, nowMs: number): MembershipState {
  assert(Number.isFinite(nowMs), "nowMs is a finite number");
  assert(config.peers.length <= PEERS_MAX, "at most PEERS_MAX peers");
  assert(!config.peers.includes(config.self), "peers exclude self");
  assert(new Set(config.peers).size === config.peers.length, "peers are distinct");
  assert(Number.isInteger(config.probeIntervalMs) && config.probeIntervalMs > 0, "probeIntervalMs is a positive integer");
  assert(Number.isInteger(config.probeTimeoutMs) && config.probeTimeoutMs > 0, "probeTimeoutMs is a positive integer");
  assert(config.probeTimeoutMs < config.probeIntervalMs, "the probe timeout leaves room for ping-req within the interval");
  assert(Number.isInteger(config.suspicionTimeoutMs) && config.suspicionTimeoutMs > 0, "suspicionTimeoutMs is a positive integer");
  assert(Number.isInteger(config.indirectProbes) && config.indirectProbes >= 0, "indirectProbes is a non-negative integer");
  assert(Number.isInteger(config.updatesMax) && config.updatesMax >= 1, "updatesMax is a positive integer");
  const view: Record<string, Member> = {};
  for (const p of config.peers) view[p] = { status: "alive", incarnation: 0, sinceMs: nowMs };
  return {
    config: { ...config, peers: [...config.peers] },
    incarnation: 0,
    view,
    order: [], // empty: the first tick shuffles the first round
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

/** The current view, self first and then the peers in config order, for /status and the quorum. */
export function members(s: MembershipState): MemberUpdate[] {
  return [
    { id: s.config.self, status: "alive", incarnation: s.incarnation },
    ...s.config.peers.map((id) => ({ id, status: s.view[id]!.status, incarnation: s.view[id]!.incarnation })),
  ];
}

/** How many times one update is piggybacked in a cluster of `clusterSize` hosts (self included). */
export function retransmitLimit(clusterSize: number): number {
  assert(Number.isInteger(clusterSize) && clusterSize >= 1, "clusterSize is a positive integer");
  return RETRANSMIT_MULT * Math.max(1, Math.ceil(Math.log2(clusterSize + 1)));
}

const STATUS_RANK = { alive: 0, suspect: 1, dead: 2 } as const satisfies Record<MemberStatus, number>;

/**
 * SWIM precedence: does `update` replace `current` in the view?
 * alive(i) beats suspect/dead(j) only if i > j; suspect(i) beats alive(j) if
 * i >= j; dead(i) beats alive/suspect(j) if i >= j; the same status needs
 * i > j. That is exactly "(incarnation, alive < suspect < dead) is greater",
 * a total order, so a member's incarnation in the view never goes back.
 */
export function overrides(current: { status: MemberStatus; incarnation: number }, update: { status: MemberStatus; incarnation: number }): boolean {
  if (update.incarnation !== current.incarnation) return update.incarnation > current.incarnation;
  return STATUS_RANK[update.status] > STATUS_RANK[current.status];
}

export function step(s: MembershipState, e: MembershipEvent, nowMs: number): MembershipStep {
  assert(Number.isFinite(nowMs), "nowMs is a finite number");
  assert(nowMs >= s.nowMs, "time does not move backwards");
  const d: Draft = { ...s, nowMs };
  const fx: MembershipEffect[] = [];
  switch (e.type) {
    case "tick":
      assert(e.rand >= 0 && e.rand < 1, "rand is in [0, 1)");
      onTick(d, fx, e.rand);
      break;
    case "received":
      if (d.view[e.from] === undefined) break; // not a configured peer: ignored
      onReceived(d, fx, e.from, e.msg);
      break;
    case "peer-disconnected":
    case "peer-connected":
      if (d.view[e.id] === undefined) break;
      d.urgent = e.id;
      if (d.probe === null) d.nextProbeAtMs = Math.min(d.nextProbeAtMs, nowMs); // start probing it on the next tick
      break;
    default:
      assertNever(e);
  }
  checkInvariants(d, fx);
  return { state: d, effects: fx };
}

// ---------------------------------------------------------------- deadlines

/**
 * The earliest time at which a tick could do anything (a suspect declared
 * dead, a relay forgotten, a probe escalated, given up or sent), with no
 * other event in between: the shell's timer wakes the core then. Mirrors
 * onTick and is never later than it; the simulator checks both ways.
 */
export function nextTickMs(s: MembershipState): number {
  const c = s.config;
  let due = Infinity;
  for (const id of c.peers) {
    const m = s.view[id]!;
    if (m.status === "suspect") due = Math.min(due, m.sinceMs + c.suspicionTimeoutMs);
  }
  for (const x of s.relays) due = Math.min(due, x.expiresAtMs);
  const p = s.probe;
  if (p !== null) {
    due = Math.min(due, p.sentAtMs + c.probeIntervalMs);
    if (!p.indirectSent) due = Math.min(due, p.sentAtMs + c.probeTimeoutMs);
  } else if (c.peers.length > 0) {
    due = Math.min(due, s.nextProbeAtMs);
  }
  return due;
}

// ---------------------------------------------------------------- tick

function onTick(d: Draft, fx: MembershipEffect[], rand: number): void {
  const c = d.config;
  const r = rng(Math.floor(rand * 2 ** 32));
  for (const id of c.peers) {
    const m = d.view[id]!;
    if (m.status === "suspect" && d.nowMs - m.sinceMs >= c.suspicionTimeoutMs) setMember(d, fx, { id, status: "dead", incarnation: m.incarnation });
  }
  if (d.relays.some((x) => x.expiresAtMs <= d.nowMs)) d.relays = d.relays.filter((x) => x.expiresAtMs > d.nowMs);
  const p = d.probe;
  if (p !== null) {
    if (d.nowMs - p.sentAtMs >= c.probeIntervalMs) {
      // No ack, direct or relayed, within the round: suspect it (a suspect or dead one stays as it is).
      d.probe = null;
      const m = d.view[p.target]!;
      if (m.status === "alive") setMember(d, fx, { id: p.target, status: "suspect", incarnation: m.incarnation });
    } else if (!p.indirectSent && d.nowMs - p.sentAtMs >= c.probeTimeoutMs) {
      const candidates = c.peers.filter((h) => h !== p.target && d.view[h]!.status !== "dead");
      const helpers = shuffle(candidates, r.next).slice(0, c.indirectProbes);
      d.probe = { ...p, helpers, indirectSent: true };
      for (const h of helpers) send(d, fx, h, { type: "ping-req", seq: p.seq, target: p.target, updates: [] });
    }
  }
  if (d.probe === null && d.nowMs >= d.nextProbeAtMs && c.peers.length > 0) {
    const target = nextTarget(d, r.next);
    d.seq += 1;
    d.probe = { target, seq: d.seq, sentAtMs: d.nowMs, helpers: [], indirectSent: false };
    d.nextProbeAtMs = d.nowMs + c.probeIntervalMs;
    send(d, fx, target, { type: "ping", seq: d.seq, updates: [] });
  }
}

/** The urgent hint first; otherwise round-robin over this round's order, reshuffled at the start of each round. */
function nextTarget(d: Draft, next: () => number): HostId {
  if (d.urgent !== null) {
    const u = d.urgent;
    d.urgent = null;
    return u;
  }
  if (d.orderIndex >= d.order.length) {
    d.order = shuffle(d.config.peers, next);
    d.orderIndex = 0;
  }
  const t = d.order[d.orderIndex]!;
  d.orderIndex += 1;
  return t;
}

/** Fisher-Yates on a copy. */
function shuffle<T>(xs: readonly T[], next: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}

// ---------------------------------------------------------------- receive

function onReceived(d: Draft, fx: MembershipEffect[], from: HostId, msg: SwimMsg): void {
  for (const u of msg.updates.slice(0, UPDATES_RECEIVED_MAX)) applyUpdate(d, fx, u);
  switch (msg.type) {
    case "ping":
      send(d, fx, from, { type: "ack", seq: msg.seq, updates: [] });
      return;
    case "ping-req": {
      if (d.view[msg.target] === undefined || msg.target === from) return; // self, a stranger, or the requester itself
      if (d.relays.length >= RELAYS_MAX) return;
      if (d.relays.some((x) => x.requester === from && x.requesterSeq === msg.seq)) return; // a duplicate
      d.seq += 1;
      d.relays = [...d.relays, { seq: d.seq, requester: from, requesterSeq: msg.seq, target: msg.target, expiresAtMs: d.nowMs + d.config.probeIntervalMs }];
      send(d, fx, msg.target, { type: "ping", seq: d.seq, updates: [] });
      return;
    }
    case "ack": {
      const p = d.probe;
      if (p !== null && p.seq === msg.seq && (from === p.target || p.helpers.includes(from))) {
        if (from === p.target) fx.push({ type: "rtt-measured", id: from, rttMs: d.nowMs - p.sentAtMs });
        d.probe = null; // answered, directly or through a helper
        return;
      }
      const relay = d.relays.find((x) => x.seq === msg.seq && x.target === from);
      if (relay === undefined) return; // late or unknown: ignored
      d.relays = d.relays.filter((x) => x !== relay);
      send(d, fx, relay.requester, { type: "ack", seq: relay.requesterSeq, updates: [] });
      return;
    }
    default:
      assertNever(msg);
  }
}

function applyUpdate(d: Draft, fx: MembershipEffect[], u: MemberUpdate): void {
  assert(Number.isSafeInteger(u.incarnation) && u.incarnation >= 0, "a decoded incarnation is a non-negative integer");
  if (u.id === d.config.self) {
    applySelfUpdate(d, u);
    return;
  }
  const cur = d.view[u.id];
  if (cur === undefined) return; // not a configured host
  if (!overrides(cur, u)) return;
  setMember(d, fx, u);
}

/** News about ourselves: refute an accusation, or catch up with an incarnation we had before a restart. */
function applySelfUpdate(d: Draft, u: MemberUpdate): void {
  switch (u.status) {
    case "alive":
      if (u.incarnation > d.incarnation) d.incarnation = u.incarnation; // our own old claim, from before a restart
      return;
    case "suspect":
    case "dead":
      // Refuted already, but the accuser has not heard: our refutation may
      // have gone out (and run out of retransmits) before we could reach it,
      // say while the mesh was still connecting. Say it again, or it holds
      // us dead for ever.
      if (u.incarnation < d.incarnation) {
        if (!d.broadcasts.some((b) => b.update.id === d.config.self)) enqueue(d, { id: d.config.self, status: "alive", incarnation: d.incarnation });
        return;
      }
      d.incarnation = u.incarnation + 1;
      enqueue(d, { id: d.config.self, status: "alive", incarnation: d.incarnation });
      return;
    default:
      assertNever(u.status);
  }
}

/** The one place the view changes; it emits member-changed exactly when (status, incarnation) does. */
function setMember(d: Draft, fx: MembershipEffect[], u: MemberUpdate): void {
  const cur = d.view[u.id];
  assert(cur !== undefined, "only configured peers are in the view");
  assert(overrides(cur, u), "a change follows the SWIM precedence");
  d.view = { ...d.view, [u.id]: { status: u.status, incarnation: u.incarnation, sinceMs: d.nowMs } };
  enqueue(d, u);
  fx.push({ type: "member-changed", id: u.id, status: u.status, incarnation: u.incarnation });
}

// ---------------------------------------------------------------- gossip

/** Newer news about a member replaces older news about it, so the queue holds at most one update per member. */
function enqueue(d: Draft, u: MemberUpdate): void {
  const limit = retransmitLimit(d.config.peers.length + 1);
  d.broadcasts = [...d.broadcasts.filter((b) => b.update.id !== u.id), { update: { ...u }, transmitsLeft: limit }];
}

/**
 * Sends `msg` with up to updatesMax piggybacked updates, the least sent (then
 * the newest) first. A recipient we hold suspect or dead also hears its own
 * status (Lifeguard's buddy system), so it can refute at once.
 */
function send(d: Draft, fx: MembershipEffect[], to: HostId, msg: SwimMsg): void {
  assert(d.view[to] !== undefined, "we send only to configured peers");
  const ranked = d.broadcasts.map((b, i) => ({ b, i })).sort((x, y) => y.b.transmitsLeft - x.b.transmitsLeft || y.i - x.i);
  const picked = new Set(ranked.slice(0, d.config.updatesMax).map((x) => x.b));
  const updates = ranked.filter((x) => picked.has(x.b)).map((x) => ({ ...x.b.update }));
  d.broadcasts = d.broadcasts.map((b) => (picked.has(b) ? { ...b, transmitsLeft: b.transmitsLeft - 1 } : b)).filter((b) => b.transmitsLeft > 0);
  const them = d.view[to]!;
  if (them.status !== "alive" && !updates.some((u) => u.id === to)) {
    if (updates.length >= d.config.updatesMax) updates.pop();
    updates.push({ id: to, status: them.status, incarnation: them.incarnation });
  }
  assert(updates.length <= d.config.updatesMax, "at most updatesMax piggybacked updates");
  fx.push({ type: "send", to, msg: { ...msg, updates } });
}

// ---------------------------------------------------------------- invariants

function checkInvariants(d: Draft, fx: MembershipEffect[]): void {
  const c = d.config;
  assert(Number.isSafeInteger(d.incarnation) && d.incarnation >= 0, "own incarnation is a non-negative integer");
  assert(Object.keys(d.view).length === c.peers.length, "the view holds exactly the configured peers");
  assert(d.orderIndex >= 0 && d.orderIndex <= d.order.length, "orderIndex is within the round");
  assert(d.urgent === null || d.view[d.urgent] !== undefined, "the urgent target is a peer");
  if (d.probe !== null) {
    assert(d.view[d.probe.target] !== undefined, "the probe target is a peer");
    assert(d.probe.seq <= d.seq, "the probe seq was issued by us");
    assert(d.probe.helpers.length <= c.indirectProbes, "at most k helpers");
  }
  assert(d.relays.length <= RELAYS_MAX, "at most RELAYS_MAX relays");
  assert(d.broadcasts.length <= c.peers.length + 1, "at most one queued update per member");
  for (const f of fx) assert(f.type !== "send" || f.to !== c.self, "we never send to ourselves");
}
