// Durability in the replicator: local writes, saves, and the questions and
// answers that make an acknowledgement honest.
//
// Ordering rules:
// - a local write is saved (fsync) before anyone hears of it;
// - a received change is saved before this host answers the sync message
//   that brought it or confirms any write durable, so every head this host
//   advertises or confirms is on its disk.
// Saves run off the loop (docstore.ts), one at a time per service: changes
// that arrive meanwhile wait for the next save, which takes them all.
// The replication machine (decide/replication.ts) decides when to ask, to
// acknowledge and to fail; `carryOut` does what it decided.

import * as A from "@automerge/automerge";
import { randomBytes } from "node:crypto";
import { assert, assertNever } from "../shared/assert.ts";
import { UmbraError } from "../shared/errors.ts";
import type { HostId } from "../shared/ids.ts";
import { PENDING_WRITES_MAX } from "../decide/index.ts";
import { applyEdit, blobRefsIn, type ConfigEdit } from "./doc.ts";
import { sendTo, wallSeconds, type Replica, type ReplicaEffect, type Shell, type WriteResult } from "./replica.ts";
import { sendSyncMessages } from "./sync.ts";

/** Durability questions from one peer waiting for changes we do not hold yet; the oldest go first past this. */
export const WAITING_REQUESTS_MAX = 256;
/** Local writes in flight at once (waiting for a save, saving, or waiting for acknowledgement); more are refused before they touch the document. Twice the replication machine's own bound, so only a stalled disk reaches it. */
export const WRITES_IN_FLIGHT_MAX = 2 * PENDING_WRITES_MAX;
/** Rounds of `saved` at most: a save's end may start the next one (changes that came meanwhile), and each round takes them all. */
export const SAVED_ROUNDS_MAX = 100;
/** Bytes of a write id (shown in hex). */
const WRITE_ID_BYTES = 8;

/**
 * Saves what is not durable yet; once all is, answers: sync messages to
 * every connected peer, durability questions we now can. A failed save
 * (disk full, I/O error) fails the local writes it held; the changes stay
 * in the document and the next flush (at the latest the next heads round)
 * tries again.
 */
export function flush(x: Shell, r: Replica): void {
  if (r.saving !== null) return;
  if (r.dirty) {
    startSave(x, r);
    return;
  }
  sendSyncMessages(x, r);
  answerWaiting(x, r);
}

function startSave(x: Shell, r: Replica): void {
  r.dirty = false;
  const writes = r.unsaved.splice(0);
  r.saving = r.store.save(r.doc).then(
    () => {
      r.saving = null;
      for (const id of writes) x.core.feed({ type: "write-durable", service: r.cfg.name, id });
      x.saved(r);
      flush(x, r);
    },
    (err: Error) => {
      r.saving = null;
      r.dirty = true;
      x.log("error", "state", "save-failed", { service: r.cfg.name, error: err.message, writes: writes.length });
      for (const id of writes) {
        const p = r.pending.get(id);
        r.pending.delete(id);
        p?.reject(new UmbraError("write_not_acknowledged", `the write to "${r.cfg.name}" could not be saved on ${x.self} (${err.message}); it is not rolled back, and is saved with the next change once the disk takes it`, { service: r.cfg.name, id }, err));
      }
    },
  );
}

/** The write at `heads` is durable here: its changes are on disk and every blob it names is complete in the chunk store. */
function durableFor(x: Shell, r: Replica, heads: string[]): boolean {
  if (r.dirty || r.saving !== null || !A.hasHeads(r.doc, heads)) return false;
  if (x.blobs === undefined) return true;
  const at = A.equals(heads, A.getHeads(r.doc)) ? r.doc : A.view(r.doc, heads);
  return blobRefsIn(at).every((b) => r.blobDone.has(b.hash));
}

/** Confirms a peer's write durable here; those heads may now be acknowledged. */
function answer(x: Shell, r: Replica, peer: HostId, id: string, heads: string[]): void {
  x.decide({ type: "heads-acknowledged", service: r.cfg.name, heads });
  sendTo(x, r, peer, { type: "durable", service: r.cfg.name, id });
}

/** A peer asks whether its write is durable here: yes at once, or once it is (bounded per peer, the oldest question dropped). */
export function durableRequest(x: Shell, r: Replica, from: HostId, id: string, heads: string[]): void {
  if (durableFor(x, r, heads)) {
    answer(x, r, from, id, heads);
    return;
  }
  const list = r.waiting.get(from) ?? [];
  list.push({ id, heads });
  if (list.length > WAITING_REQUESTS_MAX) {
    list.shift();
    r.waitingDropped++;
  }
  r.waiting.set(from, list);
}

function answerWaiting(x: Shell, r: Replica): void {
  for (const [peer, reqs] of r.waiting) {
    const still = reqs.filter((q) => {
      if (!durableFor(x, r, q.heads)) return true;
      answer(x, r, peer, q.id, q.heads);
      return false;
    });
    if (still.length === 0) r.waiting.delete(peer);
    else r.waiting.set(peer, still);
  }
}

/** A local write: into the document, saved before anyone hears of it; resolves once acknowledged. */
export function write(x: Shell, r: Replica, edit: ConfigEdit, message: string): Promise<WriteResult> {
  if (r.pending.size >= WRITES_IN_FLIGHT_MAX) return Promise.reject(tooMany(r));
  r.doc = applyEdit(r.doc, edit, message, wallSeconds(x));
  r.dirty = true;
  const heads = A.getHeads(r.doc);
  const id = randomBytes(WRITE_ID_BYTES).toString("hex");
  assert(!r.pending.has(id), "a write id is used once");
  const done = new Promise<WriteResult>((resolve, reject) => r.pending.set(id, { resolve, reject, heads }));
  r.unsaved.push(id);
  assert(r.unsaved.length <= r.pending.size, "every write waiting for a save is a pending write");
  flush(x, r); // durable here first, then the sync messages go out
  return done;
}

/** An effect of the replication machine, carried out. */
export function carryOut(x: Shell, r: Replica, fx: ReplicaEffect): void {
  switch (fx.type) {
    case "request-durable": {
      assert(!fx.to.includes(x.self), "a durability question goes to other replicas");
      const p = r.pending.get(fx.id);
      if (p === undefined) break;
      for (const to of fx.to) sendTo(x, r, to, { type: "durable-request", service: r.cfg.name, id: fx.id, heads: p.heads });
      break;
    }
    case "write-acked": {
      const p = r.pending.get(fx.id);
      r.pending.delete(fx.id);
      x.log("info", "state", "write-acked", { service: r.cfg.name, id: fx.id, durableOn: fx.durableOn, ms: fx.ms });
      if (p === undefined) break;
      x.decide({ type: "heads-acknowledged", service: r.cfg.name, heads: p.heads });
      p.resolve({ service: r.cfg.name, id: fx.id, heads: p.heads, durableOn: fx.durableOn, ms: fx.ms });
      break;
    }
    case "write-failed":
      writeFailed(x, r, fx);
      break;
    case "sync-status-changed":
      x.log(fx.to === "stale" || fx.to === "diverged" ? "warn" : "info", "state", "sync-status", { service: r.cfg.name, peer: fx.peer, from: fx.from, to: fx.to });
      break;
    default:
      assertNever(fx);
  }
}

function writeFailed(x: Shell, r: Replica, fx: Extract<ReplicaEffect, { type: "write-failed" }>): void {
  const p = r.pending.get(fx.id);
  r.pending.delete(fx.id);
  x.log("warn", "state", "write-not-acked", { service: r.cfg.name, id: fx.id, why: fx.why, durableOn: fx.durableOn, ms: fx.ms });
  p?.reject(
    new UmbraError(
      "write_not_acknowledged",
      fx.why === "timeout"
        ? `the write to "${r.cfg.name}" is durable on ${x.self} and ${fx.durableOn.length} other replica(s) (${fx.durableOn.join(", ") || "none"}), short of the ${r.ackNeeded} required, after ${fx.ms} ms; it is not rolled back and will reach the others when they reconnect`
        : tooMany(r).message,
      { service: r.cfg.name, id: fx.id, durableOn: fx.durableOn },
    ),
  );
}

function tooMany(r: Replica): UmbraError {
  return new UmbraError("write_not_acknowledged", `too many writes to "${r.cfg.name}" wait for acknowledgement; retry later`, { service: r.cfg.name });
}

/** Resolves once no save is under way (or failed and waiting for a retry). */
export async function saved(replicas: Iterable<Replica>): Promise<void> {
  const all = [...replicas];
  for (let i = 0; i < SAVED_ROUNDS_MAX; i++) {
    const under = all.flatMap((r) => (r.saving === null ? [] : [r.saving]));
    if (under.length === 0) return;
    await Promise.all(under);
  }
}
