// The shell of state replication: keeps each service's Automerge document
// on disk and in sync with the service's other replicas over the state
// channel, and turns what happens into events for the replication machine
// (decide/replication.ts, which runs inside the agent's host core), whose
// effects it carries out (ask for durability, acknowledge, fail).
//
// This file only composes the parts, each with one job:
// - replica.ts: one service's replica (document, store, bookkeeping);
// - sync.ts: per-peer sync sessions, heads, and the replicator's own sync
//   machine (decide/replicasync.ts: heads rounds, quiet-round restarts,
//   intended heads);
// - durability.ts: writes, saves, durability questions and answers, acks
//   (the ordering rules that make acknowledgements honest are there);
// - blobsync.ts: fetching the blobs the document names, putting and getting
//   blobs;
// - reconciler.ts: reconcile glue around decide/reconcile.ts;
// - owncore.ts: the replication machine for a replicator without a host core.

import * as A from "@automerge/automerge";
import { assertNever } from "../shared/assert.ts";
import { UmbraError } from "../shared/errors.ts";
import type { HostId } from "../shared/ids.ts";
import type { Logger } from "../shared/log.ts";
import type { SyncStatus } from "../decide/index.ts";
import { history, toReadable, type BlobKind, type ConfigEdit, type HistoryEntry, type ReadableState } from "./doc.ts";
import type { StateWire } from "./wire.ts";
import type { BlobManifest, OnProgress } from "./manifest.ts";
import { openReplica, syncsWith, type BlobOptions, type Replica, type ReplicaEffect, type ReplicaService, type ReplicationCore, type Shell, type WriteResult } from "./replica.ts";
import { peerLink, receiveHeads, receiveSync, startSyncMachine } from "./sync.ts";
import { carryOut, durableRequest, flush, saved, write } from "./durability.ts";
import { blobStatus, checkBlobs, openBlob, putBlob, type BlobStatus } from "./blobsync.ts";
import { reconcile, type ReconcileReport } from "./reconciler.ts";
import { ownCore, type OwnCore } from "./owncore.ts";

export type { ReplicaEffect, ReplicaEvent, ReplicaService, ReplicationCore, WriteResult } from "./replica.ts";
export type { BlobStatus } from "./blobsync.ts";
export type { ReconcileReport } from "./reconciler.ts";
export { BLOB_RETRY_MS, BLOB_WINDOW_BYTES } from "./blobsync.ts";
export { WAITING_REQUESTS_MAX } from "./durability.ts";

export type ReplicatorOptions = {
  self: HostId;
  stateDir: string;
  services: ReplicaService[];
  writeTimeoutMs: number;
  staleAfterMs: number;
  log: Logger;
  /** Sends on the state channel; false when the peer is not connected. */
  send(to: HostId, msg: StateWire): boolean;
  /** Monotonic milliseconds. */
  now(): number;
  /** Wall-clock milliseconds, for change timestamps and reconcile reports (default: the system clock). */
  wallNow?(): number;
  /** Blobs: the local chunk store, and the blob channels to the given peers that are open now. Without it, manifests replicate but no chunks move. */
  blobs?: BlobOptions;
  /** A service's document changed and is on disk (a write here, a peer's change, a reconcile): whoever reads it reads it again. */
  onSaved?(service: string): void;
  /** The host core that runs the replication machine (the agent's); absent, the replicator runs it itself. */
  core?: ReplicationCore;
};

export type ReplicaStatus = {
  service: string;
  primaryHostID: string;
  shadowHostID: string;
  /** The peer this row is about, seen from here. */
  peer: string;
  syncStatus: SyncStatus;
  lagChanges: number;
  lagBytes: number;
  lastHeardAgoMs: number | null;
};

export type Replicator = {
  /** Services this host holds a replica of. */
  services(): string[];
  onPeer(id: HostId, up: boolean): void;
  onMessage(from: HostId, msg: StateWire): void;
  /** Changes deploymentConfig; resolves once acknowledged (durable here and on ackShadows others). */
  write(service: string, edit: ConfigEdit, message: string): Promise<WriteResult>;
  get(service: string): { state: ReadableState; heads: string[] };
  history(service: string): HistoryEntry[];
  status(): ReplicaStatus[];
  /** Time-outs and stale detection; call every few tens of ms. */
  tick(): void;
  traffic(service: string): { bytesOut: number; bytesIn: number };
  /** A shadow count's service: the replicas that are cold now (this host, maybe). Sync sessions with them end; those warm again whose link is up start afresh. */
  setCold(service: string, cold: HostId[]): void;
  /** Brings the configuration to the intended state (see decide/reconcile.ts) and reports what it did. */
  reconcile(service: string, o: { reason: ReconcileReport["reason"]; to?: string[] }): Promise<ReconcileReport>;
  /** Chunks bytes (`total` of them, if known) into the store and records their manifest in the document; resolves once acknowledged (the shadows hold the manifest and every chunk). */
  putBlob(service: string, kind: BlobKind, source: AsyncIterable<Uint8Array>, total: number | null, name: string, message: string, onProgress?: OnProgress): Promise<WriteResult & { manifest: BlobManifest }>;
  /** A blob the document names, complete here: its manifest and its bytes, chunk by chunk (each verified; the whole hash is the reader's to check). */
  openBlob(service: string, kind: BlobKind, name: string): { manifest: BlobManifest; bytes: AsyncIterable<Uint8Array> };
  blobStatus(): BlobStatus[];
  lastReconciles(): ReconcileReport[];
  /** Resolves once no save is under way (or failed and waiting for a retry): for an orderly stop, and for tests. */
  saved(): Promise<void>;
  /** An effect of the replication machine, carried out (the agent hands over the host core's). */
  onEffect(fx: ReplicaEffect): void;
};

export function startReplicator(o: ReplicatorOptions): Replicator {
  const replicas = openAll(o);
  const machine = startSyncMachine(replicas, o.staleAfterMs, o.now);
  const own: OwnCore | null = o.core === undefined ? ownCore(replicas.values(), o, (fx) => onEffect(fx)) : null;
  const x: Shell = {
    self: o.self,
    log: o.log,
    now: o.now,
    wallNow: o.wallNow ?? Date.now,
    writeTimeoutMs: o.writeTimeoutMs,
    send: o.send,
    blobs: o.blobs,
    core: o.core ?? own!,
    flush: (r) => flush(x, r),
    checkBlobs: (r) => checkBlobs(x, r),
    saved: (r) => o.onSaved?.(r.cfg.name),
    decide: (ev) => machine.decide(x, ev),
  };
  for (const r of replicas.values()) checkBlobs(x, r); // blobs named before a restart: complete, or fetch the rest
  const of = (service: string): Replica => replicaOf(o, replicas, service);
  /** The peers whose state link is up now. */
  const linked = new Set<HostId>();
  function onEffect(fx: ReplicaEffect): void {
    const r = replicas.get(fx.service);
    if (r !== undefined) carryOut(x, r, fx);
  }
  const api: Replicator = {
    services: () => [...replicas.keys()],
    onEffect,
    onPeer(id, up) {
      if (up) linked.add(id);
      else linked.delete(id);
      x.core.feed({ type: "state-link", peer: id, up });
      for (const r of replicas.values()) peerLink(x, r, id, up);
    },
    onMessage: (from, msg) => route(x, replicas, from, msg),
    setCold(service, cold) {
      const r = replicas.get(service);
      if (r === undefined) return;
      r.cold = new Set(cold);
      for (const peer of [...r.sync.keys()]) if (!syncsWith(r, x.self, peer)) peerLink(x, r, peer, false);
      for (const peer of r.others) if (linked.has(peer) && !r.sync.has(peer)) peerLink(x, r, peer, true);
    },
    write: (service, edit, message) => writeHere(x, of(service), edit, message),
    get(service) {
      const r = of(service);
      return { state: toReadable(r.doc), heads: A.getHeads(r.doc) };
    },
    history: (service) => history(of(service).doc),
    status: () => statusRows(x, replicas),
    tick() {
      own?.tick();
      machine.decide(x, { type: "tick" });
    },
    reconcile: async (service, req) => reconcile(x, of(service), req, (declared, current) => machine.target(service, declared, current)),
    putBlob: async (service, kind, source, total, name, message, onProgress) => putBlob(x, of(service), kind, source, total, name, message, (edit, m) => api.write(service, edit, m), onProgress),
    openBlob: (service, kind, name) => openBlob(x, of(service), kind, name),
    blobStatus: () => blobStatus(replicas.values()),
    lastReconciles: () => [...replicas.values()].flatMap((r) => (r.lastReconcile === null ? [] : [r.lastReconcile])),
    saved: () => saved(replicas.values()),
    traffic(service) {
      const r = of(service);
      return { bytesOut: r.bytesOut, bytesIn: r.bytesIn };
    },
  };
  return api;
}

/** Opens the document of every service this host keeps a replica of. */
function openAll(o: ReplicatorOptions): Map<string, Replica> {
  const replicas = new Map<string, Replica>();
  for (const cfg of o.services) {
    if (!cfg.replicas.includes(o.self)) continue;
    const r = openReplica(o.stateDir, cfg, o.self);
    replicas.set(cfg.name, r);
    o.log("info", "state", "loaded", { service: cfg.name, heads: A.getHeads(r.doc).length, ...r.store.stats() });
  }
  return replicas;
}

/** The replica of a service, or an error saying who holds one. */
function replicaOf(o: ReplicatorOptions, replicas: ReadonlyMap<string, Replica>, service: string): Replica {
  const r = replicas.get(service);
  if (r !== undefined) return r;
  const cfg = o.services.find((x) => x.name === service);
  if (cfg === undefined) throw new UmbraError("state_unknown_service", `no service "${service}" in the config (services: ${o.services.map((x) => x.name).join(", ") || "none"})`);
  throw new UmbraError("state_unknown_service", `this host (${o.self}) holds no replica of "${service}": ask one of ${cfg.replicas.join(", ")}`);
}

/** A local write; refused on a cold replica, which syncs with no one: it would reach nobody, and never be acknowledged. */
function writeHere(x: Shell, r: Replica, edit: ConfigEdit, message: string): Promise<WriteResult> {
  if (r.cold.has(x.self)) return Promise.reject(new UmbraError("state_cold", `this host (${x.self}) is cold for "${r.cfg.name}" (the shadow count keeps it out): write on the holder or a warm shadow`));
  return write(x, r, edit, message);
}

/** A state message from a peer, to the part it is for. */
function route(x: Shell, replicas: ReadonlyMap<string, Replica>, from: HostId, msg: StateWire): void {
  const r = replicas.get(msg.service);
  if (r === undefined || !r.cfg.replicas.includes(from)) {
    x.log("debug", "state", "message-ignored", { from, service: msg.service, why: "not a replica of that service here" });
    return;
  }
  if (msg.type !== "durable" && !syncsWith(r, x.self, from)) return; // cold: it catches up once warm, and answers no durability question meanwhile
  switch (msg.type) {
    case "sync":
      return receiveSync(x, r, from, msg.data);
    case "durable-request":
      return durableRequest(x, r, from, msg.id, msg.heads);
    case "durable":
      return x.core.feed({ type: "peer-durable", service: r.cfg.name, peer: from, id: msg.id });
    case "heads":
      return receiveHeads(x, r, from, msg.heads);
    default:
      assertNever(msg);
  }
}

/** One row per (service, other replica) that the replication machine knows. */
function statusRows(x: Shell, replicas: ReadonlyMap<string, Replica>): ReplicaStatus[] {
  const now = x.now();
  const out: ReplicaStatus[] = [];
  for (const r of replicas.values()) {
    const peers = x.core.peers(r.cfg.name) ?? {};
    for (const peer of r.others) {
      const p = peers[peer];
      if (p === undefined) continue;
      // A pair is (primary, shadow): from the primary every shadow; from a shadow, its own pair and any fellow shadow as seen from here.
      const shadow = peer === r.cfg.primary ? x.self : peer;
      out.push({ service: r.cfg.name, primaryHostID: r.cfg.primary, shadowHostID: shadow, peer, syncStatus: p.status, lagChanges: p.lagChanges, lagBytes: p.lagBytes, lastHeardAgoMs: p.lastHeardMs === null ? null : Math.round(now - p.lastHeardMs) });
    }
  }
  return out;
}
