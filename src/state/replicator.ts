// The shell of state replication: keeps each service's Automerge document
// on disk and in sync with the service's other replicas over the state
// channel, and turns what happens into events for the replication machine
// (decide/replication.ts, which runs inside the agent's host core), whose
// effects it carries out (ask for durability, acknowledge, fail).
//
// Ordering rules that make acknowledgements honest:
// - a local write is saved (fsync) before anyone hears of it;
// - a received change is saved before this host answers the sync message
//   that brought it or confirms any write durable, so every head this host
//   advertises or confirms is on its disk.
// Saves run off the loop (docstore.ts), one at a time per service: changes
// that arrive meanwhile wait for the next save, which takes them all.

import * as A from "@automerge/automerge";
import { randomBytes } from "node:crypto";
import { assertNever } from "../shared/assert.ts";
import { UmbraError } from "../shared/errors.ts";
import type { HostId } from "../shared/ids.ts";
import type { Logger } from "../shared/log.ts";
import * as replication from "../decide/replication.ts";
import type { PeerSync, SyncStatus } from "../decide/replication.ts";
import type { HostEffect, HostEvent } from "../decide/host.ts";
import { applyEdit, configAt, configConflicts, history, lagBehind, toJson, type ConfigEdit, type HistoryEntry, type ServiceState, type StateDoc } from "./doc.ts";
import { planReconcile, type Conflict, type UnackedChange } from "../decide/reconcile.ts";
import { openDocStore, type DocStore } from "./docstore.ts";
import { HEADS_MAX, type StateWire } from "./wire.ts";
import type { ChunkStore } from "./chunks.ts";
import { assemble, ingestFile, missingChunks, type BlobManifest, type OnProgress } from "./manifest.ts";
import { fetchBlob, type BlobPeer, type FetchProgress } from "./blobs/index.ts";
import { blobRefsIn, manifestIn, toReadable, type BlobKind, type ReadableState } from "./doc.ts";

/** A blob fetch that failed (no source had every chunk) is tried again after this. */
export const BLOB_RETRY_MS = 2_000;
/** Bytes of chunks asked for and not yet stored, per fetch: small, so a fetch never floods the host. */
export const BLOB_WINDOW_BYTES = 2 * 1024 * 1024;

/** Durability questions from one peer waiting for changes we do not hold yet; the oldest go first past this. */
export const WAITING_REQUESTS_MAX = 256;

export type ReplicaService = {
  name: string;
  /** Every replica of the service: primary first, then shadows. */
  replicas: HostId[];
  primary: HostId;
  ackShadows: number;
};

/** What the replicator learns, as host-core events. */
export type ReplicaEvent = Extract<HostEvent, { type: "write-durable" | "peer-durable" | "peer-synced" | "state-link" }>;
/** What the replication machine asks of the replicator, as host-core effects. */
export type ReplicaEffect = Extract<HostEffect, { type: "request-durable" | "write-acked" | "write-failed" | "sync-status-changed" }>;

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
  /** Blobs: the local chunk store, and the blob channels to the given peers that are open now. Without it, manifests replicate but no chunks move. */
  blobs?: { store: ChunkStore; sources(peers: HostId[]): BlobPeer[]; rateBytesPerSec?: number };
  /** The host core that runs the replication machine (the agent's); absent, the replicator runs it itself. */
  core?: ReplicationCore;
};

export type BlobStatus = { service: string; kind: BlobKind; name: string; size: number; hash: string; complete: boolean; bytesDone: number; fetching: boolean };

export type WriteResult = { service: string; id: string; heads: string[]; durableOn: HostId[]; ms: number };

export type ReconcileReport = {
  service: string;
  /** Why it ran: a failover to this host, or an operator's request. */
  reason: "failover" | "operator";
  atWallMs: number;
  /** The heads reconciled to: declared by the operator, else the latest acknowledged ones this host knows. */
  target: string[];
  declared: boolean;
  /** How long it waited for missing changes to arrive from the other replicas. */
  waitedMs: number;
  /** The target heads never arrived: nothing was changed. */
  incomplete: boolean;
  /** Keys set back to the target's value (or removed) by a new change. */
  rolledBack: string[];
  /** The change that did it, if any. */
  change: string | null;
  /** Changes after the target that were never acknowledged, kept (no declared target) and listed. */
  kept: UnackedChange[];
  /** Keys with concurrent values: the one in force and the ones set aside. */
  conflicts: Conflict[];
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

type Svc = {
  cfg: ReplicaService;
  store: DocStore;
  doc: StateDoc;
  /** Changes in `doc` not yet on disk, nor in the save under way. */
  dirty: boolean;
  /** The save under way, if any; its end flushes again. */
  saving: Promise<void> | null;
  /** Local writes (ids) waiting for the next save to be durable here. */
  unsaved: string[];
  /** Other replicas a write must reach before it is acknowledged (ackShadows, capped at their number). */
  ackNeeded: number;
  sync: Map<HostId, A.SyncState>;
  /** Durability questions we cannot answer yet, per peer. */
  waiting: Map<HostId, Array<{ id: string; heads: string[] }>>;
  pending: Map<string, { resolve(r: WriteResult): void; reject(e: Error): void; heads: string[] }>;
  /** The latest durable heads each peer told us (heads messages and the sync protocol). */
  theirHeads: Map<HostId, string[]>;
  /** Heads rounds in a row in which a peer and we differed while the sync protocol had nothing to send. */
  quiet: Map<HostId, number>;
  /** The latest heads this host knows were (or may have been) acknowledged: its own acked writes, and writes it confirmed durable for others. */
  intended: string[] | null;
  lastReconcile: ReconcileReport | null;
  /** Blobs (by content hash) whose every chunk is in the local store. */
  blobDone: Set<string>;
  /** Blob fetches under way, by content hash. */
  fetching: Map<string, { progress: FetchProgress | null }>;
  /** Failed fetches wait until then. */
  blobRetryAtMs: Map<string, number>;
  /** Bytes of sync messages sent and received, for /status and the bench. */
  bytesOut: number;
  bytesIn: number;
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
  /** Brings the configuration to the intended state (see decide/reconcile.ts) and reports what it did. */
  reconcile(service: string, o: { reason: ReconcileReport["reason"]; to?: string[] }): Promise<ReconcileReport>;
  /** Chunks a file into the store and records its manifest in the document; resolves once acknowledged (the shadows hold the manifest and every chunk). */
  putBlob(service: string, kind: BlobKind, file: string, name: string, message: string, onProgress?: OnProgress): Promise<WriteResult & { manifest: BlobManifest }>;
  /** Writes a blob the document names out to `outPath` (atomically, verified). */
  getBlob(service: string, kind: BlobKind, name: string, outPath: string, onProgress?: OnProgress): Promise<BlobManifest>;
  blobStatus(): BlobStatus[];
  lastReconciles(): ReconcileReport[];
  /** Resolves once no save is under way (or failed and waiting for a retry): for an orderly stop, and for tests. */
  saved(): Promise<void>;
  /** An effect of the replication machine, carried out (the agent hands over the host core's). */
  onEffect(fx: ReplicaEffect): void;
};

export function startReplicator(o: ReplicatorOptions): Replicator {
  const { self, log } = o;
  // Heads go out a few times per stale period, so a quiet replica stays "in-sync".
  const headsIntervalMs = Math.max(10, Math.floor(o.staleAfterMs / 3));
  let lastHeadsMs = -Infinity;
  const svcs = new Map<string, Svc>();
  for (const cfg of o.services) {
    if (!cfg.replicas.includes(self)) continue;
    const store = openDocStore(o.stateDir, cfg.name);
    const others = cfg.replicas.filter((h) => h !== self);
    svcs.set(cfg.name, {
      cfg,
      store,
      doc: store.doc,
      dirty: false,
      saving: null,
      unsaved: [],
      ackNeeded: Math.min(cfg.ackShadows, others.length),
      sync: new Map(),
      waiting: new Map(),
      pending: new Map(),
      theirHeads: new Map(),
      quiet: new Map(),
      intended: null,
      lastReconcile: null,
      blobDone: new Set(),
      fetching: new Map(),
      blobRetryAtMs: new Map(),
      bytesOut: 0,
      bytesIn: 0,
    });
    log("info", "state", "loaded", { service: cfg.name, heads: A.getHeads(store.doc).length, ...store.stats() });
  }

  for (const s of svcs.values()) checkBlobs(s); // blobs named before a restart: complete, or fetch the rest

  const svcOf = (service: string): Svc => {
    const s = svcs.get(service);
    if (s === undefined) {
      const cfg = o.services.find((x) => x.name === service);
      if (cfg === undefined) throw new UmbraError("state_unknown_service", `no service "${service}" in the config (services: ${o.services.map((x) => x.name).join(", ") || "none"})`);
      throw new UmbraError("state_unknown_service", `this host (${self}) holds no replica of "${service}": ask one of ${cfg.replicas.join(", ")}`);
    }
    return s;
  };

  const core: ReplicationCore & { tick?(): void } = o.core ?? ownCore();

  /** The replication machine run here, for a replicator without a host core. */
  function ownCore(): ReplicationCore & { tick(): void } {
    const machines = new Map<string, replication.ReplicationState>();
    for (const s of svcs.values()) {
      const others = s.cfg.replicas.filter((h) => h !== self);
      machines.set(s.cfg.name, replication.initialReplication({ service: s.cfg.name, self, replicas: others, ackShadows: s.ackNeeded, writeTimeoutMs: o.writeTimeoutMs, staleAfterMs: o.staleAfterMs }, o.now()));
    }
    const run = (service: string, ev: replication.ReplicationEvent): void => {
      const m = machines.get(service);
      if (m === undefined) return;
      const out = replication.step(m, ev, o.now());
      machines.set(service, out.state);
      for (const fx of out.effects) {
        switch (fx.type) {
          case "request-durable":
            onEffect({ type: "request-durable", service, id: fx.id, to: fx.to });
            break;
          case "acked":
            onEffect({ type: "write-acked", service, id: fx.id, durableOn: fx.durableOn, ms: fx.ms });
            break;
          case "write-failed":
            onEffect({ type: "write-failed", service, id: fx.id, why: fx.why, durableOn: fx.durableOn, ms: fx.ms });
            break;
          case "status-changed":
            onEffect({ type: "sync-status-changed", service, peer: fx.peer, from: fx.from, to: fx.to });
            break;
          default:
            assertNever(fx);
        }
      }
    };
    return {
      feed(ev) {
        switch (ev.type) {
          case "write-durable":
            return run(ev.service, { type: "write-durable", id: ev.id });
          case "peer-durable":
            return run(ev.service, { type: "peer-durable", peer: ev.peer, id: ev.id });
          case "peer-synced":
            return run(ev.service, { type: "peer-sync", peer: ev.peer, lagChanges: ev.lagChanges, lagBytes: ev.lagBytes, theyLack: ev.theyLack, weLack: ev.weLack });
          case "state-link":
            for (const service of machines.keys()) run(service, { type: ev.up ? "peer-connected" : "peer-disconnected", peer: ev.peer });
            return;
          default:
            assertNever(ev);
        }
      },
      peers: (service) => machines.get(service)?.peers ?? null,
      tick() {
        for (const service of machines.keys()) run(service, { type: "tick" });
      },
    };
  }

  function onEffect(fx: ReplicaEffect): void {
    const s = svcs.get(fx.service);
    if (s === undefined) return;
    {
      switch (fx.type) {
        case "request-durable": {
          const p = s.pending.get(fx.id);
          if (p === undefined) break;
          for (const to of fx.to) send(s, to, { type: "durable-request", service: s.cfg.name, id: fx.id, heads: p.heads });
          break;
        }
        case "write-acked": {
          const p = s.pending.get(fx.id);
          s.pending.delete(fx.id);
          log("info", "state", "write-acked", { service: s.cfg.name, id: fx.id, durableOn: fx.durableOn, ms: fx.ms });
          if (p !== undefined) s.intended = p.heads;
          p?.resolve({ service: s.cfg.name, id: fx.id, heads: p.heads, durableOn: fx.durableOn, ms: fx.ms });
          break;
        }
        case "write-failed": {
          const p = s.pending.get(fx.id);
          s.pending.delete(fx.id);
          log("warn", "state", "write-not-acked", { service: s.cfg.name, id: fx.id, why: fx.why, durableOn: fx.durableOn, ms: fx.ms });
          p?.reject(
            new UmbraError(
              "write_not_acknowledged",
              fx.why === "timeout"
                ? `the write to "${s.cfg.name}" is durable on ${self} and ${fx.durableOn.length} other replica(s) (${fx.durableOn.join(", ") || "none"}), short of the ${s.ackNeeded} required, after ${fx.ms} ms; it is not rolled back and will reach the others when they reconnect`
                : `too many writes to "${s.cfg.name}" wait for acknowledgement; retry later`,
              { service: s.cfg.name, id: fx.id, durableOn: fx.durableOn },
            ),
          );
          break;
        }
        case "sync-status-changed":
          log(fx.to === "stale" || fx.to === "diverged" ? "warn" : "info", "state", "sync-status", { service: s.cfg.name, peer: fx.peer, from: fx.from, to: fx.to });
          break;
        default:
          assertNever(fx);
      }
    }
  }

  function send(s: Svc, to: HostId, msg: StateWire): void {
    if (msg.type === "sync") s.bytesOut += msg.data.byteLength;
    o.send(to, msg);
  }

  /**
   * Saves what is not durable yet; once all is, answers: sync messages to
   * every connected peer, durability questions we now can. A failed save
   * (disk full, I/O error) fails the local writes it held; the changes stay
   * in the document and the next flush (at the latest the next heads round)
   * tries again.
   */
  function flush(s: Svc): void {
    if (s.saving !== null) return;
    if (s.dirty) {
      s.dirty = false;
      const writes = s.unsaved.splice(0);
      s.saving = s.store.save(s.doc).then(
        () => {
          s.saving = null;
          for (const id of writes) core.feed({ type: "write-durable", service: s.cfg.name, id });
          flush(s);
        },
        (err: Error) => {
          s.saving = null;
          s.dirty = true;
          log("error", "state", "save-failed", { service: s.cfg.name, error: err.message, writes: writes.length });
          for (const id of writes) {
            const p = s.pending.get(id);
            s.pending.delete(id);
            p?.reject(new UmbraError("write_not_acknowledged", `the write to "${s.cfg.name}" could not be saved on ${self} (${err.message}); it is not rolled back, and is saved with the next change once the disk takes it`, { service: s.cfg.name, id }, err));
          }
        },
      );
      return;
    }
    for (const [peer, st] of s.sync) {
      const [next, msg] = A.generateSyncMessage(s.doc, st);
      s.sync.set(peer, next);
      if (msg !== null) send(s, peer, { type: "sync", service: s.cfg.name, data: msg });
    }
    for (const [peer, reqs] of s.waiting) {
      const still = reqs.filter((r) => {
        if (!durableFor(s, r.heads)) return true;
        s.intended = r.heads;
        send(s, peer, { type: "durable", service: s.cfg.name, id: r.id });
        return false;
      });
      if (still.length === 0) s.waiting.delete(peer);
      else s.waiting.set(peer, still);
    }
  }

  /** The write at `heads` is durable here: its changes are on disk and every blob it names is complete in the chunk store. */
  function durableFor(s: Svc, heads: string[]): boolean {
    if (s.dirty || s.saving !== null || !A.hasHeads(s.doc, heads)) return false;
    if (o.blobs === undefined) return true;
    const at = A.equals(heads, A.getHeads(s.doc)) ? s.doc : A.view(s.doc, heads);
    return blobRefsIn(at).every((b) => s.blobDone.has(b.hash));
  }

  /** Starts fetching every blob the document names that is not complete here. */
  function checkBlobs(s: Svc): void {
    const blobs = o.blobs;
    if (blobs === undefined) return;
    const now = o.now();
    for (const ref of blobRefsIn(s.doc)) {
      if (s.blobDone.has(ref.hash) || s.fetching.has(ref.hash)) continue;
      if ((s.blobRetryAtMs.get(ref.hash) ?? -Infinity) > now) continue;
      const kind = ref.kind;
      const manifest = manifestIn(s.doc, ref.kind, ref.name)!;
      const entry: { progress: FetchProgress | null } = { progress: null };
      s.fetching.set(manifest.hash, entry);
      const others = s.cfg.replicas.filter((h) => h !== self);
      let lastLoggedTenth = -1;
      (async () => {
        if ((await missingChunks(manifest, blobs.store)).length === 0) return "present";
        log("info", "state", "blob-fetch", { service: s.cfg.name, kind, name: manifest.name, size: manifest.size });
        const r = await fetchBlob(manifest, blobs.store, blobs.sources(others), (p) => {
          entry.progress = p;
          const tenth = Math.floor((p.bytesDone / Math.max(1, p.bytesTotal)) * 10);
          if (tenth !== lastLoggedTenth) {
            lastLoggedTenth = tenth;
            log("info", "state", "blob-progress", { service: s.cfg.name, name: manifest.name, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, bytesFetched: p.bytesFetched });
          }
        }, { log, windowBytes: BLOB_WINDOW_BYTES, ...(blobs.rateBytesPerSec === undefined ? {} : { rateBytesPerSec: blobs.rateBytesPerSec }) });
        await blobs.store.flush(); // durable before this host says it holds the blob
        return r;
      })().then(
        (r) => {
          s.fetching.delete(manifest.hash);
          s.blobDone.add(manifest.hash);
          if (r !== "present") log("info", "state", "blob-complete", { service: s.cfg.name, kind, name: manifest.name, size: manifest.size, bytesFetched: r.bytesFetched, chunksFetched: r.chunksFetched, chunksSkipped: r.chunksSkipped });
          flush(s); // durability questions waiting on this blob can be answered now
        },
        (err: Error) => {
          s.fetching.delete(manifest.hash);
          s.blobRetryAtMs.set(manifest.hash, o.now() + BLOB_RETRY_MS);
          log("warn", "state", "blob-fetch-failed", { service: s.cfg.name, kind, name: manifest.name, error: err.message, retryInMs: BLOB_RETRY_MS });
        },
      );
    }
  }

  /** Lag of `peer` against us from the heads it last told us; returns whether the two differ. */
  function measure(s: Svc, peer: HostId, fresh: A.Heads | null): boolean {
    // Only what the peer just said counts: the sync state keeps the heads of
    // its last sync message, which go stale once the protocol has nothing
    // more to say (both sides agreed while one was still saving).
    if (fresh !== null) s.theirHeads.set(peer, fresh);
    const st = s.sync.get(peer);
    const theirs = s.theirHeads.get(peer);
    if (theirs === undefined) return false;
    const lag = lagBehind(s.doc, theirs);
    const weLack = lag === null;
    const basis = lag ?? (st === undefined ? null : lagBehind(s.doc, st.sharedHeads)) ?? { changes: 0, bytes: 0 };
    core.feed({ type: "peer-synced", service: s.cfg.name, peer, lagChanges: basis.changes, lagBytes: basis.bytes, theyLack: basis.changes > 0, weLack });
    return weLack || basis.changes > 0;
  }

  const api: Replicator = {
    services: () => [...svcs.keys()],
    onEffect,
    onPeer(id, up) {
      core.feed({ type: "state-link", peer: id, up });
      for (const s of svcs.values()) {
        if (!s.cfg.replicas.includes(id)) continue;
        if (up) {
          s.sync.set(id, A.initSyncState());
          flush(s);
        } else {
          s.sync.delete(id);
          s.waiting.delete(id);
        }
      }
    },
    onMessage(from, msg) {
      const s = svcs.get(msg.service);
      if (s === undefined || !s.cfg.replicas.includes(from)) {
        log("debug", "state", "message-ignored", { from, service: msg.service, why: "not a replica of that service here" });
        return;
      }
      switch (msg.type) {
        case "sync": {
          const st = s.sync.get(from) ?? A.initSyncState();
          const before = A.getHeads(s.doc);
          s.bytesIn += msg.data.byteLength;
          let doc: StateDoc;
          let next: A.SyncState;
          try {
            [doc, next] = A.receiveSyncMessage(s.doc, st, msg.data);
          } catch (err) {
            log("warn", "state", "sync-message-rejected", { service: s.cfg.name, from, error: (err as Error).message });
            s.sync.set(from, A.initSyncState());
            return;
          }
          s.doc = doc;
          s.sync.set(from, next);
          const changed = !A.equals(before, A.getHeads(doc));
          if (changed) s.dirty = true;
          flush(s);
          measure(s, from, next.theirHeads ?? null);
          if (changed) checkBlobs(s);
          return;
        }
        case "durable-request": {
          if (durableFor(s, msg.heads)) {
            s.intended = msg.heads;
            send(s, from, { type: "durable", service: s.cfg.name, id: msg.id });
            return;
          }
          const list = s.waiting.get(from) ?? [];
          list.push({ id: msg.id, heads: msg.heads });
          if (list.length > WAITING_REQUESTS_MAX) list.shift();
          s.waiting.set(from, list);
          return;
        }
        case "durable":
          core.feed({ type: "peer-durable", service: s.cfg.name, peer: from, id: msg.id });
          return;
        case "heads": {
          s.theirHeads.set(from, msg.heads);
          const st = s.sync.get(from);
          if (st === undefined) return;
          if (!measure(s, from, null)) { // theirHeads set just above
            s.quiet.delete(from);
            return;
          }
          // We differ. Normally the sync protocol is already on it; if it
          // stayed silent for two rounds (a message lost with a connection),
          // start its exchange afresh.
          const n = (s.quiet.get(from) ?? 0) + 1;
          s.quiet.set(from, n);
          if (n >= 2) {
            s.sync.set(from, A.initSyncState());
            s.quiet.delete(from);
            log("info", "state", "sync-restarted", { service: s.cfg.name, peer: from });
          }
          flush(s);
          return;
        }
      }
    },
    write(service, edit, message) {
      const s = svcOf(service);
      s.doc = applyEdit(s.doc, edit, message, Math.floor(Date.now() / 1000));
      s.dirty = true;
      const heads = A.getHeads(s.doc);
      const id = randomBytes(8).toString("hex");
      const done = new Promise<WriteResult>((resolve, reject) => s.pending.set(id, { resolve, reject, heads }));
      s.unsaved.push(id);
      flush(s); // durable here first, then the sync messages go out
      return done;
    },
    get(service) {
      const s = svcOf(service);
      return { state: toReadable(s.doc), heads: A.getHeads(s.doc) };
    },
    history: (service) => history(svcOf(service).doc),
    status() {
      const now = o.now();
      const out: ReplicaStatus[] = [];
      for (const s of svcs.values()) {
        const peers = core.peers(s.cfg.name) ?? {};
        for (const peer of s.cfg.replicas) {
          if (peer === self) continue;
          const p = peers[peer];
          if (p === undefined) continue;
          // A pair is (primary, shadow): from the primary every shadow; from a shadow, its own pair and any fellow shadow as seen from here.
          const shadow = peer === s.cfg.primary ? self : peer;
          out.push({ service: s.cfg.name, primaryHostID: s.cfg.primary, shadowHostID: shadow, peer, syncStatus: p.status, lagChanges: p.lagChanges, lagBytes: p.lagBytes, lastHeardAgoMs: p.lastHeardMs === null ? null : Math.round(now - p.lastHeardMs) });
        }
      }
      return out;
    },
    tick() {
      const now = o.now();
      const sendHeads = now - lastHeadsMs >= headsIntervalMs;
      if (sendHeads) lastHeadsMs = now;
      core.tick?.();
      for (const s of svcs.values()) {
        if (!sendHeads) continue;
        checkBlobs(s); // retries of failed fetches
        if (s.dirty) flush(s);
        const heads = A.getHeads(s.doc);
        if (heads.length > HEADS_MAX) continue; // a wide fork: the sync protocol carries it, not this nudge
        for (const peer of s.sync.keys()) send(s, peer, { type: "heads", service: s.cfg.name, heads });
      }
    },
    async reconcile(service, r) {
      const s = svcOf(service);
      const declared = r.to !== undefined;
      if (declared && (r.to!.length === 0 || r.to!.some((h) => !/^[0-9a-f]{64}$/.test(h)))) throw new UmbraError("usage", "reconcile: --to takes change hashes (64 hex characters), as printed by `umbra state history --json`");
      const target = r.to ?? s.intended ?? A.getHeads(s.doc);
      const t0 = o.now();
      // The target's changes may still be on their way from the others: wait for them, bounded.
      for (let i = 0; !A.hasHeads(s.doc, target) && o.now() - t0 < o.writeTimeoutMs && i < 10_000; i++) {
        if (s.dirty) flush(s);
        await new Promise((res) => setTimeout(res, 20));
      }
      const have = A.hasHeads(s.doc, target);
      const unacked: UnackedChange[] = have ? A.getChangesMetaSince(s.doc, target).map((m) => ({ hash: m.hash, message: m.message ?? null })) : [];
      const plan = planReconcile({
        current: toJson(s.doc).hostConfiguration.deploymentConfig,
        intended: have ? configAt(s.doc, target) : null,
        declared,
        conflicts: configConflicts(s.doc),
        unacked,
      });
      let change: string | null = null;
      if (plan.edit !== null) {
        s.doc = applyEdit(s.doc, plan.edit, `reconcile: back to ${target.map((h) => h.slice(0, 12)).join(",")}`, Math.floor(Date.now() / 1000));
        s.dirty = true;
        change = A.getHeads(s.doc)[0] ?? null;
        flush(s);
      }
      const report: ReconcileReport = { service, reason: r.reason, atWallMs: Date.now(), target, declared, waitedMs: Math.round(o.now() - t0), incomplete: plan.incomplete, rolledBack: plan.rolledBack, change, kept: plan.kept, conflicts: plan.conflicts };
      s.lastReconcile = report;
      log(plan.incomplete || plan.conflicts.length > 0 ? "warn" : "info", "state", "reconciled", { ...report, kept: report.kept.length, conflicts: report.conflicts.map((c) => c.key) });
      return report;
    },
    async putBlob(service, kind, file, name, message, onProgress) {
      const s = svcOf(service);
      const blobs = o.blobs;
      if (blobs === undefined) throw new UmbraError("usage", "this agent has no chunk store");
      const manifest = await ingestFile(file, blobs.store, onProgress, name);
      await blobs.store.flush();
      s.blobDone.add(manifest.hash);
      const r = await api.write(service, { blobs: { set: [{ kind, manifest }] } }, message);
      return { ...r, manifest };
    },
    async getBlob(service, kind, name, outPath, onProgress) {
      const s = svcOf(service);
      const blobs = o.blobs;
      if (blobs === undefined) throw new UmbraError("usage", "this agent has no chunk store");
      const m = manifestIn(s.doc, kind, name);
      if (m === null) throw new UmbraError("usage", `"${service}" has no ${kind} named "${name}"`);
      if (!s.blobDone.has(m.hash)) {
        const f = s.fetching.get(m.hash)?.progress;
        throw new UmbraError("blob_unavailable", `${kind} "${name}" of "${service}" is not complete on this host yet${f ? ` (${Math.floor((f.bytesDone / Math.max(1, f.bytesTotal)) * 100)}% fetched)` : ""}`);
      }
      await assemble(m, blobs.store, outPath, onProgress);
      return m;
    },
    blobStatus() {
      const out: BlobStatus[] = [];
      for (const s of svcs.values()) {
        for (const b of blobRefsIn(s.doc)) {
          const f = s.fetching.get(b.hash);
          const complete = s.blobDone.has(b.hash);
          out.push({ service: s.cfg.name, kind: b.kind, name: b.name, size: b.size, hash: b.hash, complete, bytesDone: complete ? b.size : (f?.progress?.bytesDone ?? 0), fetching: f !== undefined });
        }
      }
      return out;
    },
    lastReconciles: () => [...svcs.values()].flatMap((s) => (s.lastReconcile === null ? [] : [s.lastReconcile])),
    async saved() {
      // A save's end may start the next one (changes that came meanwhile): bounded, each round takes them all.
      for (let i = 0; i < 100; i++) {
        const under = [...svcs.values()].flatMap((s) => (s.saving === null ? [] : [s.saving]));
        if (under.length === 0) return;
        await Promise.all(under);
      }
    },
    traffic: (service) => {
      const s = svcOf(service);
      return { bytesOut: s.bytesOut, bytesIn: s.bytesIn };
    },
  };
  return api;
}
