// Write acknowledgement and shadow sync status for one service's state, as a
// pure machine.
//
// Every replica of a service (its primary and its shadows) keeps the
// service's state document. A write made here is acknowledged to the
// operator only once it is durable here and durable on at least `ackShadows`
// other replicas, so losing this host (or any `ackShadows` hosts) never loses
// an acknowledged write. The shell tells this machine what it learns (a
// write made durable here, a replica that confirmed a write durable, the lag
// measured after a sync exchange); the machine says when to ask, when to
// acknowledge, when to give up, and how each replica's sync status changed.
//
// The document itself (Automerge, or the simulator's set of writes) stays in
// the shell: this machine sees only ids, hosts, counts and time.

import { assert, assertNever } from "../shared/assert.ts";
import type { HostId } from "../shared/ids.ts";

/** Writes waiting for acknowledgement at once; more are refused (the operator retries). */
export const PENDING_WRITES_MAX = 1_024;

export type SyncStatus =
  | "in-sync" // heard recently, neither side lacks a change of the other
  | "syncing" // heard recently, one side still lacks changes of the other
  | "diverged" // both sides hold changes the other lacks (concurrent writes, e.g. after a partition): the merge is under way
  | "stale"; // not heard within staleAfterMs (or never): its copy may be arbitrarily old

export type ReplicationConfig = {
  service: string;
  self: HostId;
  /** The other replicas of the service (primary and shadows, self excluded). */
  replicas: HostId[];
  /** Replicas besides self that must hold a write durably before it is acknowledged. */
  ackShadows: number;
  /** A write not acknowledged within this fails (it may still arrive later; it is not rolled back). */
  writeTimeoutMs: number;
  /** A replica not heard from within this is stale. */
  staleAfterMs: number;
};

export type PeerSync = {
  readonly connected: boolean;
  /** When we last heard from it on the state channel (null: never). */
  readonly lastHeardMs: number | null;
  /** Changes and bytes it lacks of ours (as far as we know). */
  readonly lagChanges: number;
  readonly lagBytes: number;
  /** It lacks some of our changes. */
  readonly theyLack: boolean;
  /** We lack some of its changes. */
  readonly weLack: boolean;
  readonly status: SyncStatus;
};

export type PendingWrite = {
  readonly id: string;
  readonly startedMs: number;
  /** Replicas (self excluded) that confirmed the write durable. */
  readonly durableOn: readonly HostId[];
};

export type ReplicationState = {
  readonly config: ReplicationConfig;
  readonly writes: readonly PendingWrite[];
  readonly peers: Readonly<Record<string, PeerSync>>;
  readonly nowMs: number;
};

export type ReplicationEvent =
  | { type: "write-durable"; id: string } // a write made here is durable here
  | { type: "peer-durable"; peer: HostId; id: string } // that replica holds the write durably
  | { type: "peer-sync"; peer: HostId; lagChanges: number; lagBytes: number; theyLack: boolean; weLack: boolean } // measured after an exchange
  | { type: "peer-connected"; peer: HostId }
  | { type: "peer-disconnected"; peer: HostId }
  | { type: "tick" };

export type ReplicationEffect =
  | { type: "request-durable"; id: string; to: HostId[] } // ask these replicas to confirm the write once durable
  | { type: "acked"; id: string; durableOn: HostId[]; ms: number }
  | { type: "write-failed"; id: string; why: "timeout" | "too-many-pending"; durableOn: HostId[]; ms: number }
  | { type: "status-changed"; peer: HostId; from: SyncStatus; to: SyncStatus };

export type ReplicationStep = { state: ReplicationState; effects: ReplicationEffect[] };

export function initialReplication(config: ReplicationConfig, nowMs: number): ReplicationState {
  assert(Number.isFinite(nowMs), "nowMs is a finite number");
  assert(!config.replicas.includes(config.self), "replicas exclude self");
  assert(new Set(config.replicas).size === config.replicas.length, "replicas are distinct");
  assert(Number.isInteger(config.ackShadows) && config.ackShadows >= 0, "ackShadows is a non-negative integer");
  assert(config.ackShadows <= config.replicas.length, "ackShadows is at most the number of other replicas");
  assert(config.writeTimeoutMs > 0 && config.staleAfterMs > 0, "timeouts are positive");
  const peers: Record<string, PeerSync> = {};
  for (const p of config.replicas) peers[p] = { connected: false, lastHeardMs: null, lagChanges: 0, lagBytes: 0, theyLack: false, weLack: false, status: "stale" };
  return { config: { ...config, replicas: [...config.replicas] }, writes: [], peers, nowMs };
}

/** The status a replica's figures imply at `nowMs`. */
export function statusOf(p: Omit<PeerSync, "status">, nowMs: number, staleAfterMs: number): SyncStatus {
  if (p.lastHeardMs === null || nowMs - p.lastHeardMs >= staleAfterMs) return "stale";
  if (p.theyLack && p.weLack) return "diverged";
  if (p.theyLack || p.weLack) return "syncing";
  return "in-sync";
}

export function step(s: ReplicationState, e: ReplicationEvent, nowMs: number): ReplicationStep {
  assert(Number.isFinite(nowMs), "nowMs is a finite number");
  assert(nowMs >= s.nowMs, "time does not move backwards");
  const c = s.config;
  const d: Draft = { writes: s.writes, peers: s.peers, fx: [] };
  switch (e.type) {
    case "write-durable":
      writeDurable(c, d, e.id, nowMs);
      break;
    case "peer-durable":
      peerDurable(c, d, e.peer, e.id, nowMs);
      break;
    case "peer-sync":
      if (d.peers[e.peer] === undefined) break;
      assert(e.lagChanges >= 0 && e.lagBytes >= 0, "lags are non-negative");
      setPeer(d, e.peer, { lastHeardMs: nowMs, lagChanges: e.lagChanges, lagBytes: e.lagBytes, theyLack: e.theyLack, weLack: e.weLack });
      break;
    case "peer-connected":
      if (d.peers[e.peer] === undefined) break;
      setPeer(d, e.peer, { connected: true, lastHeardMs: nowMs });
      // Writes still waiting: ask the newcomer too.
      for (const w of d.writes) if (!w.durableOn.includes(e.peer)) d.fx.push({ type: "request-durable", id: w.id, to: [e.peer] });
      break;
    case "peer-disconnected":
      if (d.peers[e.peer] === undefined) break;
      setPeer(d, e.peer, { connected: false });
      break;
    case "tick":
      expire(c, d, nowMs);
      break;
    default:
      assertNever(e);
  }
  // Status follows the figures and the clock, whatever the event.
  for (const id of c.replicas) {
    const p = d.peers[id]!;
    const next = statusOf(p, nowMs, c.staleAfterMs);
    if (next !== p.status) {
      d.fx.push({ type: "status-changed", peer: id, from: p.status, to: next });
      setPeer(d, id, { status: next });
    }
  }
  return { state: { config: c, writes: d.writes, peers: d.peers, nowMs }, effects: d.fx };
}

/**
 * The earliest time at which a tick could act (a write times out, a peer
 * goes stale), with no other event in between: the shell's timer wakes the
 * core then. Mirrors the tick and the status that follows the clock.
 */
export function nextTickMs(s: ReplicationState): number {
  const c = s.config;
  let due = Infinity;
  for (const w of s.writes) due = Math.min(due, w.startedMs + c.writeTimeoutMs);
  for (const id of c.replicas) {
    const p = s.peers[id]!;
    if (p.lastHeardMs !== null && p.status !== "stale") due = Math.min(due, p.lastHeardMs + c.staleAfterMs); // stale from then on
  }
  return due;
}

/** What one step builds: the next writes and peers, and the effects so far. */
type Draft = { writes: readonly PendingWrite[]; peers: Readonly<Record<string, PeerSync>>; fx: ReplicationEffect[] };

function setPeer(d: Draft, id: HostId, patch: Partial<PeerSync>): void {
  d.peers = { ...d.peers, [id]: { ...d.peers[id]!, ...patch } };
}

/** A write made here is durable here: acknowledge it at once, refuse it, or ask the replicas. */
function writeDurable(c: ReplicationConfig, d: Draft, id: string, nowMs: number): void {
  assert(!d.writes.some((w) => w.id === id), "a write id is used once");
  if (d.writes.length >= PENDING_WRITES_MAX) {
    d.fx.push({ type: "write-failed", id, why: "too-many-pending", durableOn: [], ms: 0 });
    return;
  }
  if (c.ackShadows === 0) {
    d.fx.push({ type: "acked", id, durableOn: [], ms: 0 });
    return;
  }
  d.writes = [...d.writes, { id, startedMs: nowMs, durableOn: [] }];
  // Ask everyone connected: a replica that connects later is asked then.
  const to = c.replicas.filter((p) => d.peers[p]!.connected);
  if (to.length > 0) d.fx.push({ type: "request-durable", id, to });
}

/** A replica confirmed a write durable: acknowledge it once enough did. */
function peerDurable(c: ReplicationConfig, d: Draft, peer: HostId, id: string, nowMs: number): void {
  if (d.peers[peer] === undefined) return; // not a replica of this service
  setPeer(d, peer, { lastHeardMs: nowMs });
  const i = d.writes.findIndex((w) => w.id === id);
  if (i < 0) return; // acknowledged or failed already, or not ours
  const w = d.writes[i]!;
  if (w.durableOn.includes(peer)) return;
  const durableOn = [...w.durableOn, peer];
  if (durableOn.length >= c.ackShadows) {
    d.writes = d.writes.filter((_, j) => j !== i);
    d.fx.push({ type: "acked", id: w.id, durableOn, ms: nowMs - w.startedMs });
  } else {
    d.writes = d.writes.map((x, j) => (j === i ? { ...x, durableOn } : x));
  }
}

/** Writes not acknowledged within writeTimeoutMs fail. */
function expire(c: ReplicationConfig, d: Draft, nowMs: number): void {
  const expired = d.writes.filter((w) => nowMs - w.startedMs >= c.writeTimeoutMs);
  if (expired.length === 0) return;
  d.writes = d.writes.filter((w) => nowMs - w.startedMs < c.writeTimeoutMs);
  for (const w of expired) d.fx.push({ type: "write-failed", id: w.id, why: "timeout", durableOn: [...w.durableOn], ms: nowMs - w.startedMs });
}
