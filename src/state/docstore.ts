// Durable storage of one service's state document.
//
// Layout, in <stateDir>/docs/<service>/:
//   snapshot.am        a full save (compacted), may be absent
//   inc-<n>.am         incremental saves since, n increasing
//   *.tmp              a write that did not finish: removed at open
// Each file is a SHA-256 of its payload followed by the payload (Automerge
// bytes): Automerge itself skips bytes it cannot parse, so without the
// checksum a damaged file would load as "no changes" instead of failing.
// Every file is written to a temporary name, fsynced, renamed into place,
// and the directory fsynced, so after a crash (kill -9, power cut) each file
// is either whole or absent: a torn write can only leave a *.tmp behind.
// Loading is snapshot, then every increment in order; Automerge ignores
// changes it already has, so a crash in the middle of compaction (new
// snapshot renamed, old increments not yet unlinked) loads the same document.
// Saves run their file work (write, fsync, rename, directory fsync) on
// libuv's thread pool: on a slow disk an fsync takes tens to hundreds of
// milliseconds, and the agent's loop must keep renewing leases meanwhile.

import * as A from "@automerge/automerge";
import { mkdirSync, readdirSync, readFileSync, unlinkSync } from "node:fs";
import { open, rename, unlink } from "node:fs/promises";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { UmbraError } from "../shared/errors.ts";
import { genesis, withFreshActor, type ServiceState, type StateDoc } from "./doc.ts";

/** Compact once this many increments pile up. */
export const INCREMENTS_MAX = 64;

const CHECKSUM_BYTES = 32;

const INC = /^inc-(\d{1,15})\.am$/;

export type DocStore = {
  /** The document as loaded (or the genesis document when nothing was saved). */
  readonly doc: StateDoc;
  /**
   * Makes everything in `doc` durable that is not yet: one increment file,
   * fsynced. Resolves with the bytes written (0: nothing new) once they are
   * on disk. The document is read before the first await, so the caller may
   * change it while the save runs; one save at a time (a second call while
   * one is in flight is a bug and throws).
   */
  save(doc: StateDoc): Promise<number>;
  /** Heads known to be durable on disk. */
  durableHeads(): A.Heads;
  /** Files and bytes on disk now. */
  stats(): { increments: number; bytes: number };
};

export function openDocStore(stateDir: string, service: string): DocStore {
  const dir = join(stateDir, "docs", service);
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(dir)) if (f.endsWith(".tmp")) unlinkSync(join(dir, f));

  let doc: StateDoc = genesis(service);
  const incs: Array<{ n: number; file: string; bytes: number }> = [];
  let snapshotBytes = 0;
  const read = (file: string): Uint8Array => {
    const raw = readFileSync(join(dir, file));
    const payload = raw.subarray(CHECKSUM_BYTES);
    if (raw.byteLength < CHECKSUM_BYTES || !createHash("sha256").update(payload).digest().equals(raw.subarray(0, CHECKSUM_BYTES))) {
      throw new Error(`${file} fails its checksum`);
    }
    return payload;
  };
  try {
    const names = readdirSync(dir);
    if (names.includes("snapshot.am")) {
      const bytes = read("snapshot.am");
      snapshotBytes = bytes.byteLength;
      doc = A.loadIncremental(doc, bytes);
    }
    for (const f of names) {
      const m = INC.exec(f);
      if (m !== null) incs.push({ n: Number(m[1]), file: f, bytes: 0 });
    }
    incs.sort((a, b) => a.n - b.n);
    for (const inc of incs) {
      const bytes = read(inc.file);
      inc.bytes = bytes.byteLength;
      doc = A.loadIncremental(doc, bytes);
    }
  } catch (err) {
    throw new UmbraError("state_corrupt", `cannot load the state of service "${service}" from ${dir}: ${(err as Error).message}. Files there are written atomically, so this is disk damage or a foreign file; move the directory away and the shadows will resend the state`, { dir }, err);
  }
  const loaded = A.toJS(doc) as Partial<ServiceState>;
  if (loaded.service !== service) throw new UmbraError("state_corrupt", `${dir} holds the state of service "${String(loaded.service)}", not "${service}"`, { dir });
  doc = withFreshActor(doc);
  let durable = A.getHeads(doc);
  let nextInc = incs.length === 0 ? 1 : incs[incs.length - 1]!.n + 1;

  async function writeAtomic(file: string, payload: Uint8Array): Promise<void> {
    const bytes = Buffer.concat([createHash("sha256").update(payload).digest(), payload]);
    const path = join(dir, file);
    const tmp = `${path}.tmp`;
    const fh = await open(tmp, "w");
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    const dh = await open(dir, "r");
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }

  let busy = false;
  return {
    doc,
    async save(current) {
      if (busy) throw new Error("DocStore.save called while a save is in flight");
      const heads = A.getHeads(current);
      if (A.equals(heads, durable)) return 0;
      const bytes = A.saveSince(current, durable);
      if (bytes.byteLength === 0) {
        durable = heads;
        return 0;
      }
      const file = `inc-${nextInc}.am`;
      const n = nextInc;
      nextInc += 1;
      const incBytes = incs.reduce((a, b) => a + b.bytes, 0) + bytes.byteLength;
      // Compaction is decided and serialised now, while `current` is this version.
      const snapshot = incs.length + 1 >= INCREMENTS_MAX || incBytes > Math.max(snapshotBytes, 64 * 1024) ? A.save(current) : null;
      busy = true;
      try {
        await writeAtomic(file, bytes);
        incs.push({ n, file, bytes: bytes.byteLength });
        durable = heads;
        if (snapshot !== null) {
          await writeAtomic("snapshot.am", snapshot);
          snapshotBytes = snapshot.byteLength;
          // The snapshot holds everything the increments do: only now may they go.
          for (const inc of incs.splice(0)) await unlink(join(dir, inc.file));
        }
        return bytes.byteLength;
      } finally {
        busy = false;
      }
    },
    durableHeads: () => durable,
    stats: () => ({ increments: incs.length, bytes: snapshotBytes + incs.reduce((a, b) => a + b.bytes, 0) }),
  };
}
