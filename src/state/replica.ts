// One service's replica in the replicator's shell: its document, the store
// it is saved to, and the per-peer and per-write bookkeeping that the
// replicator's parts (sync.ts, durability.ts, blobsync.ts, reconciler.ts)
// share; and `Shell`, what those parts are given to act: the options, the
// replication core, and the few entry points they call across each other.

import * as A from "@automerge/automerge";
import type { HostId } from "../shared/ids.ts";
import type { Logger } from "../shared/log.ts";
import type { PeerSync, ReplicaSyncEvent, HostReplicaEvent, ReplicaEffect } from "../decide/index.ts";
import type { StateDoc } from "./doc.ts";
import { openDocStore, type DocStore } from "./docstore.ts";
import type { StateWire } from "./wire.ts";
import type { ChunkStore } from "./chunks.ts";
import type { BlobPeer, FetchProgress } from "./blobs/index.ts";
import type { ReconcileReport } from "./reconciler.ts";

export type ReplicaService = {
  name: string;
  /** Every replica of the service: primary first, then shadows. */
  replicas: HostId[];
  primary: HostId;
  ackShadows: number;
};

/** What the replicator learns, as host-core events (the host core's replication events but its tick). */
export type ReplicaEvent = Exclude<HostReplicaEvent, { type: "tick" }>;
/** What the replication machine asks of the replicator, as host-core effects. */
export type { ReplicaEffect };

/**
 * Where the replication machine runs. In the agent it is the host core: the
 * agent feeds these events to it and hands the effects back to `onEffect`.
 * Without one (a replicator on its own, in tests and benches) the replicator
 * steps decide/replication.ts itself, the same machine.
 */
export type ReplicationCore = {
  feed(ev: ReplicaEvent): void;
  /** Each other replica of a service, as the machine sees it. */
  peers(service: string): Readonly<Record<string, PeerSync>> | null;
};

/** A write made here and not yet acknowledged or failed. */
export type WriteInFlight = { resolve(r: WriteResult): void; reject(e: Error): void; heads: string[] };

export type WriteResult = { service: string; id: string; heads: string[]; durableOn: HostId[]; ms: number };

/** A durability question from a peer that we cannot answer yet. */
export type WaitingRequest = { id: string; heads: string[] };

export type Replica = {
  cfg: ReplicaService;
  store: DocStore;
  doc: StateDoc;
  /** Other replicas of the service (self excluded). */
  others: HostId[];
  /** Changes in `doc` not yet on disk, nor in the save under way. */
  dirty: boolean;
  /** The save under way, if any; its end flushes again. */
  saving: Promise<void> | null;
  /** Local writes (ids) waiting for the next save to be durable here. */
  unsaved: string[];
  /** Other replicas a write must reach before it is acknowledged (ackShadows, capped at their number). */
  ackNeeded: number;
  /** The Automerge sync session with each connected peer this replica syncs with (neither it nor this host cold). */
  sync: Map<HostId, A.SyncState>;
  /** Replicas of a shadow count's service that are not warm now (this host among them, maybe): no sync session with them. */
  cold: Set<HostId>;
  /** Durability questions we cannot answer yet, per peer (at most WAITING_REQUESTS_MAX each, the oldest dropped). */
  waiting: Map<HostId, WaitingRequest[]>;
  /** Durability questions dropped because a peer had too many waiting. */
  waitingDropped: number;
  pending: Map<string, WriteInFlight>;
  /** The latest durable heads each peer told us (heads messages and the sync protocol). */
  theirHeads: Map<HostId, string[]>;
  /** Blobs (by content hash) whose every chunk is in the local store. */
  blobDone: Set<string>;
  /** Blob fetches under way, by content hash. */
  fetching: Map<string, { progress: FetchProgress | null }>;
  /** Failed fetches wait until then. */
  blobRetryAtMs: Map<string, number>;
  /** What the last reconcile did, for status. */
  lastReconcile: ReconcileReport | null;
  /** Bytes of sync messages sent and received, for /status and the bench. */
  bytesOut: number;
  bytesIn: number;
};

/** Opens a service's document from disk. */
export function openReplica(stateDir: string, cfg: ReplicaService, self: HostId): Replica {
  const store = openDocStore(stateDir, cfg.name);
  const others = cfg.replicas.filter((h) => h !== self);
  return {
    cfg,
    store,
    doc: store.doc,
    others,
    dirty: false,
    saving: null,
    unsaved: [],
    ackNeeded: Math.min(cfg.ackShadows, others.length),
    sync: new Map(),
    cold: new Set(),
    waiting: new Map(),
    waitingDropped: 0,
    pending: new Map(),
    theirHeads: new Map(),
    blobDone: new Set(),
    fetching: new Map(),
    blobRetryAtMs: new Map(),
    lastReconcile: null,
    bytesOut: 0,
    bytesIn: 0,
  };
}

/** Whether this replica keeps a sync session with `peer`: neither is cold. */
export const syncsWith = (r: Replica, self: HostId, peer: HostId): boolean => !r.cold.has(peer) && !r.cold.has(self);

/** Blobs: the local chunk store, and the blob channels to the given peers that are open now. */
export type BlobOptions = { store: ChunkStore; sources(peers: HostId[]): BlobPeer[]; rateBytesPerSec?: number };

/** What the replicator's parts act with. */
export type Shell = {
  self: HostId;
  log: Logger;
  /** Monotonic milliseconds. */
  now(): number;
  /** Wall-clock milliseconds, for change timestamps and reports. */
  wallNow(): number;
  writeTimeoutMs: number;
  /** Sends on the state channel; false when the peer is not connected. */
  send(to: HostId, msg: StateWire): boolean;
  blobs: BlobOptions | undefined;
  /** The replication machine (the host core's, or the replicator's own). */
  core: ReplicationCore;
  /** Saves, then sends what the sync sessions have to say and answers what can be answered (durability.ts). */
  flush(r: Replica): void;
  /** Starts fetching the blobs the document names that are not complete here (blobsync.ts). */
  checkBlobs(r: Replica): void;
  /** The document changed (a write here, a peer's change, a reconcile) and is on disk now. */
  saved(r: Replica): void;
  /** Steps the replicator's sync machine (decide/replicasync.ts) and carries out its effects (sync.ts). */
  decide(ev: ReplicaSyncEvent): void;
};

/** Milliseconds in a second. */
const MS_PER_SECOND = 1_000;

/** Wall-clock seconds, as change timestamps carry them. */
export function wallSeconds(x: Shell): number {
  return Math.floor(x.wallNow() / MS_PER_SECOND);
}

/** Sends a state message to a peer, counting sync bytes. */
export function sendTo(x: Shell, r: Replica, to: HostId, msg: StateWire): void {
  if (msg.type === "sync") r.bytesOut += msg.data.byteLength;
  x.send(to, msg);
}
