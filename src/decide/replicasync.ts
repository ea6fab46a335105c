// The replicator's own decisions about keeping its documents in sync, as a
// pure machine (the host core's replication machine, replication.ts, decides
// acknowledgements and sync status; this one decides what only the
// replicator's shell acts on, right away):
// - when a round of heads messages goes out (a few times per stale period,
//   so a quiet replica stays "in-sync"; the same round retries failed saves
//   and blob fetches);
// - when a peer's sync session is restarted: the peer's durable heads differ
//   from ours while the sync protocol had nothing to say, two rounds in a
//   row (a message lost with a connection);
// - which heads a reconcile brings the configuration to when none is
//   declared: the latest this host knows were (or may have been)
//   acknowledged.
// And, as pure functions, the lag figures a peer's heads imply and which
// blobs to fetch now. The documents stay in the shell: this machine sees
// only service names, peers, heads, flags and time.

import { assert, assertNever } from "../shared/assert.ts";
import type { HostId } from "../shared/ids.ts";

/** Heads rounds in a row in which a peer and we differed while its sync session stayed silent, before the session starts afresh. */
export const QUIET_ROUNDS_MAX = 2;
/** Heads rounds per stale period: a replica that hears one fewer is still not stale. */
export const HEADS_ROUNDS_PER_STALE = 3;
/** The shortest time between two heads rounds, whatever the stale period. */
export const HEADS_INTERVAL_MIN_MS = 10;

export type ReplicaSyncConfig = {
  /** The services this host keeps a replica of. */
  services: string[];
  /** A replica not heard from within this is stale (see replication.ts). */
  staleAfterMs: number;
};

export type ServiceSync = {
  /** Per peer: heads rounds in a row in which it and we differed (absent: none). */
  readonly quiet: Readonly<Record<string, number>>;
  /** The latest heads this host knows were (or may have been) acknowledged: its own acked writes, and writes it confirmed durable for others. */
  readonly intended: readonly string[] | null;
};

export type ReplicaSyncState = {
  readonly headsIntervalMs: number;
  /** When the last heads round went out (null: never). */
  readonly lastHeadsMs: number | null;
  readonly services: Readonly<Record<string, ServiceSync>>;
  readonly nowMs: number;
};

export type ReplicaSyncEvent =
  | { type: "tick" } // the replicator's timer
  | { type: "heads-heard"; service: string; peer: HostId; differ: boolean } // a peer with a sync session told its durable heads; `differ`: it or we lack a change of the other
  | { type: "heads-acknowledged"; service: string; heads: string[] }; // an own write was acknowledged at these heads, or this host confirmed them durable for a peer

export type ReplicaSyncEffect =
  | { type: "heads-round" } // send every peer our heads; retry failed saves and blob fetches
  | { type: "restart-sync"; service: string; peer: HostId } // start the peer's sync session afresh
  | { type: "sync-now"; service: string }; // save what is not durable, then send what the sync sessions have to say

export type ReplicaSyncStep = { state: ReplicaSyncState; effects: ReplicaSyncEffect[] };

/** Time between two heads rounds. */
export function headsIntervalMs(staleAfterMs: number): number {
  return Math.max(HEADS_INTERVAL_MIN_MS, Math.floor(staleAfterMs / HEADS_ROUNDS_PER_STALE));
}

export function initialReplicaSync(config: ReplicaSyncConfig, nowMs: number): ReplicaSyncState {
  assert(Number.isFinite(nowMs), "nowMs is a finite number");
  assert(config.staleAfterMs > 0, "staleAfterMs is positive");
  assert(new Set(config.services).size === config.services.length, "service names are distinct");
  const services: Record<string, ServiceSync> = {};
  for (const sv of config.services) services[sv] = { quiet: {}, intended: null };
  return { headsIntervalMs: headsIntervalMs(config.staleAfterMs), lastHeadsMs: null, services, nowMs };
}

export function step(s: ReplicaSyncState, e: ReplicaSyncEvent, nowMs: number): ReplicaSyncStep {
  assert(Number.isFinite(nowMs), "nowMs is a finite number");
  assert(nowMs >= s.nowMs, "time does not move backwards");
  const next = { ...s, nowMs };
  switch (e.type) {
    case "tick": {
      if (s.lastHeadsMs !== null && nowMs - s.lastHeadsMs < s.headsIntervalMs) return { state: next, effects: [] };
      return { state: { ...next, lastHeadsMs: nowMs }, effects: [{ type: "heads-round" }] };
    }
    case "heads-heard":
      return headsHeard(next, e.service, e.peer, e.differ);
    case "heads-acknowledged": {
      const sv = s.services[e.service];
      if (sv === undefined) return { state: next, effects: [] };
      return { state: { ...next, services: { ...s.services, [e.service]: { ...sv, intended: [...e.heads] } } }, effects: [] };
    }
    default:
      return assertNever(e);
  }
}

/** A peer's heads arrived: in step, the count starts over; differing, the sync protocol is nudged, and restarted after QUIET_ROUNDS_MAX such rounds. */
function headsHeard(s: ReplicaSyncState, service: string, peer: HostId, differ: boolean): ReplicaSyncStep {
  const sv = s.services[service];
  if (sv === undefined) return { state: s, effects: [] };
  const { [peer]: before, ...others } = sv.quiet;
  const withQuiet = (quiet: Record<string, number>): ReplicaSyncState => ({ ...s, services: { ...s.services, [service]: { ...sv, quiet } } });
  if (!differ) return { state: withQuiet(others), effects: [] };
  // Normally the sync protocol is already on it; if it stayed silent for
  // QUIET_ROUNDS_MAX rounds (a message lost with a connection), its
  // exchange starts afresh.
  const n = (before ?? 0) + 1;
  if (n >= QUIET_ROUNDS_MAX) return { state: withQuiet(others), effects: [{ type: "restart-sync", service, peer }, { type: "sync-now", service }] };
  return { state: withQuiet({ ...others, [peer]: n }), effects: [{ type: "sync-now", service }] };
}

// ---------------------------------------------------------------- queries

/** The heads a reconcile brings the configuration to: the declared ones, else the latest acknowledged this host knows, else its own. */
export function reconcileTarget(s: ReplicaSyncState, service: string, declared: readonly string[] | undefined, current: readonly string[]): string[] {
  return [...(declared ?? s.services[service]?.intended ?? current)];
}

/** Changes and bytes one side lacks of the other's. */
export type Lag = { changes: number; bytes: number };

/** What a peer's heads imply, for the replication machine's peer-sync event, and whether the two sides differ. */
export type LagFigures = { lagChanges: number; lagBytes: number; theyLack: boolean; weLack: boolean; differ: boolean };

/**
 * The figures from `lag`, what the peer lacks of ours since its heads (null:
 * we lack some of its changes, so that cannot be measured), and `sharedLag`,
 * what it lacks since the heads both sides last agreed on (consulted only
 * when `lag` is null; null when unknown).
 */
export function lagFigures(lag: Lag | null, sharedLag: Lag | null): LagFigures {
  const weLack = lag === null;
  const basis = lag ?? sharedLag ?? { changes: 0, bytes: 0 };
  return { lagChanges: basis.changes, lagBytes: basis.bytes, theyLack: basis.changes > 0, weLack, differ: weLack || basis.changes > 0 };
}

/** Which hashes a set holds: a Set, or the keys of a Map. */
type HashSet = { has(hash: string): boolean };

/** The blobs to start fetching now, in the order named, the first name of each content hash: not complete here, not being fetched, not waiting for a retry. */
export function blobsToFetch<R extends { hash: string }>(named: readonly R[], done: HashSet, fetching: HashSet, retryAtMs: ReadonlyMap<string, number>, nowMs: number): R[] {
  const out: R[] = [];
  for (const ref of named) {
    if (done.has(ref.hash) || fetching.has(ref.hash) || out.some((r) => r.hash === ref.hash)) continue;
    if ((retryAtMs.get(ref.hash) ?? -Infinity) > nowMs) continue;
    out.push(ref);
  }
  return out;
}
