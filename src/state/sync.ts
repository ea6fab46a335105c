// The replicator's per-peer Automerge sync sessions: opening and closing
// them with the state channel, taking in sync and heads messages, measuring
// how far a peer lags (for the replication machine's sync status), sending
// what a session has to say and the periodic heads rounds, and running the
// replicator's sync machine (decide/replicasync.ts), whose effects (a heads
// round, a session restarted, a sync nudged) it carries out at once.

import * as A from "@automerge/automerge";
import type { HostId } from "../shared/ids.ts";
import { replicasync, type ReplicaSyncEvent, type ReplicaSyncState } from "../decide/index.ts";
import { assertNever } from "../shared/assert.ts";
import { lagBehind, type StateDoc } from "./doc.ts";
import { HEADS_MAX } from "./wire.ts";
import { sendTo, syncsWith, type Replica, type Shell } from "./replica.ts";

/** The state channel to a peer opened (a fresh session, then whatever there is to say) or closed (its session and questions go). */
export function peerLink(x: Shell, r: Replica, peer: HostId, up: boolean): void {
  if (!r.cfg.replicas.includes(peer)) return;
  if (up && !syncsWith(r, x.self, peer)) return; // a cold replica (or this one cold): no session
  if (up) {
    r.sync.set(peer, A.initSyncState());
    x.flush(r);
  } else {
    r.sync.delete(peer);
    r.waiting.delete(peer);
  }
}

/** A sync message: merge what it brings, save it before answering, then measure and fetch the blobs it names. */
export function receiveSync(x: Shell, r: Replica, from: HostId, data: Uint8Array): void {
  const st = r.sync.get(from) ?? A.initSyncState();
  const before = A.getHeads(r.doc);
  r.bytesIn += data.byteLength;
  let doc: StateDoc;
  let next: A.SyncState;
  try {
    [doc, next] = A.receiveSyncMessage(r.doc, st, data);
  } catch (err) {
    x.log("warn", "state", "sync-message-rejected", { service: r.cfg.name, from, error: (err as Error).message });
    r.sync.set(from, A.initSyncState());
    return;
  }
  r.doc = doc;
  r.sync.set(from, next);
  const changed = !A.equals(before, A.getHeads(doc));
  if (changed) r.dirty = true;
  x.flush(r);
  measure(x, r, from, next.theirHeads ?? null);
  if (changed) x.checkBlobs(r);
}

/** A peer's durable heads: measured, and the sync machine decides whether the session needs a nudge or a restart. */
export function receiveHeads(x: Shell, r: Replica, from: HostId, heads: string[]): void {
  r.theirHeads.set(from, heads);
  if (!r.sync.has(from)) return;
  const differ = measure(x, r, from, null); // theirHeads set just above
  x.decide({ type: "heads-heard", service: r.cfg.name, peer: from, differ });
}

/** Lag of `peer` against us from the heads it last told us, fed to the replication machine; returns whether the two differ. */
function measure(x: Shell, r: Replica, peer: HostId, fresh: A.Heads | null): boolean {
  // Only what the peer just said counts: the sync state keeps the heads of
  // its last sync message, which go stale once the protocol has nothing
  // more to say (both sides agreed while one was still saving).
  if (fresh !== null) r.theirHeads.set(peer, fresh);
  const st = r.sync.get(peer);
  const theirs = r.theirHeads.get(peer);
  if (theirs === undefined) return false;
  const lag = lagBehind(r.doc, theirs);
  const shared = lag === null && st !== undefined ? lagBehind(r.doc, st.sharedHeads) : null;
  const f = replicasync.lagFigures(lag, shared);
  x.core.feed({ type: "peer-synced", service: r.cfg.name, peer, lagChanges: f.lagChanges, lagBytes: f.lagBytes, theyLack: f.theyLack, weLack: f.weLack });
  return f.differ;
}

/** Sends each connected peer what its session has to say (the document is durable here: see durability.ts). */
export function sendSyncMessages(x: Shell, r: Replica): void {
  for (const [peer, st] of r.sync) {
    const [next, msg] = A.generateSyncMessage(r.doc, st);
    r.sync.set(peer, next);
    if (msg !== null) sendTo(x, r, peer, { type: "sync", service: r.cfg.name, data: msg });
  }
}

/** A heads round for one service: retries failed blob fetches and saves, and tells every connected peer our heads. */
function headsRound(x: Shell, r: Replica): void {
  x.checkBlobs(r); // retries of failed fetches
  if (r.dirty) x.flush(r);
  const heads = A.getHeads(r.doc);
  if (heads.length > HEADS_MAX) return; // a wide fork: the sync protocol carries it, not this nudge
  for (const peer of r.sync.keys()) sendTo(x, r, peer, { type: "heads", service: r.cfg.name, heads });
}

/** The replicator's sync machine: stepped on the replicator's clock, its effects carried out at once. */
export type SyncMachine = {
  decide(x: Shell, ev: ReplicaSyncEvent): void;
  /** The heads a reconcile brings a service's configuration to (see decide/replicasync.ts). */
  target(service: string, declared: string[] | undefined, current: string[]): string[];
};

export function startSyncMachine(replicas: ReadonlyMap<string, Replica>, staleAfterMs: number, now: () => number): SyncMachine {
  let state: ReplicaSyncState = replicasync.initialReplicaSync({ services: [...replicas.keys()], staleAfterMs }, now());
  return {
    decide(x, ev) {
      const out = replicasync.step(state, ev, now());
      state = out.state;
      for (const fx of out.effects) {
        switch (fx.type) {
          case "heads-round":
            for (const r of replicas.values()) headsRound(x, r);
            break;
          case "restart-sync": {
            const r = replicas.get(fx.service);
            if (r === undefined || !syncsWith(r, x.self, fx.peer)) break;
            r.sync.set(fx.peer, A.initSyncState());
            x.log("info", "state", "sync-restarted", { service: fx.service, peer: fx.peer });
            break;
          }
          case "sync-now": {
            const r = replicas.get(fx.service);
            if (r !== undefined) x.flush(r);
            break;
          }
          default:
            assertNever(fx);
        }
      }
    },
    target: (service, declared, current) => replicasync.reconcileTarget(state, service, declared, current),
  };
}
