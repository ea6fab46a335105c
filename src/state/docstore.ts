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
import { assert } from "../shared/assert.ts";
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

/** Compact too once the increments outweigh the snapshot, or this many bytes when the snapshot is smaller. */
const COMPACT_BYTES_MIN = 64 * 1024;
const SNAPSHOT = "snapshot.am";

type Inc = { n: number; file: string; bytes: number };
/** What a service's directory held: the document, its increments in order, the snapshot's size. */
type Loaded = { doc: StateDoc; incs: Inc[]; snapshotBytes: number };

export function openDocStore(stateDir: string, service: string): DocStore {
  const dir = join(stateDir, "docs", service);
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(dir)) if (f.endsWith(".tmp")) unlinkSync(join(dir, f));
  const { doc: raw, incs, snapshotBytes } = loadDir(dir, service);
  const loaded = A.toJS(raw) as Partial<ServiceState>;
  if (loaded.service !== service) throw new UmbraError("state_corrupt", `${dir} holds the state of service "${String(loaded.service)}", not "${service}"`, { dir });
  const doc = withFreshActor(raw);
  const saver = new Saver(dir, incs, snapshotBytes, A.getHeads(doc));
  return {
    doc,
    save: (current) => saver.save(current),
    durableHeads: () => saver.durable,
    stats: () => ({ increments: saver.incs.length, bytes: saver.snapshotBytes + saver.incBytes() }),
  };
}

/** A file's payload, after its checksum is checked. */
function readChecked(dir: string, file: string): Uint8Array {
  const raw = readFileSync(join(dir, file));
  const payload = raw.subarray(CHECKSUM_BYTES);
  if (raw.byteLength < CHECKSUM_BYTES || !createHash("sha256").update(payload).digest().equals(raw.subarray(0, CHECKSUM_BYTES))) {
    throw new Error(`${file} fails its checksum`);
  }
  return payload;
}

/** The snapshot, then every increment in order; any damage is state_corrupt. */
function loadDir(dir: string, service: string): Loaded {
  let doc: StateDoc = genesis(service);
  const incs: Inc[] = [];
  let snapshotBytes = 0;
  try {
    const names = readdirSync(dir);
    if (names.includes(SNAPSHOT)) {
      const bytes = readChecked(dir, SNAPSHOT);
      snapshotBytes = bytes.byteLength;
      doc = A.loadIncremental(doc, bytes);
    }
    for (const f of names) {
      const m = INC.exec(f);
      if (m !== null) incs.push({ n: Number(m[1]), file: f, bytes: 0 });
    }
    incs.sort((a, b) => a.n - b.n);
    for (const inc of incs) {
      const bytes = readChecked(dir, inc.file);
      inc.bytes = bytes.byteLength;
      doc = A.loadIncremental(doc, bytes);
    }
  } catch (err) {
    throw new UmbraError("state_corrupt", `cannot load the state of service "${service}" from ${dir}: ${(err as Error).message}. Files there are written atomically, so this is disk damage or a foreign file; move the directory away and the shadows will resend the state`, { dir }, err);
  }
  return { doc, incs, snapshotBytes };
}

/** Writes a checksummed file: temp name, fsync, rename, directory fsync. */
async function writeAtomic(dir: string, file: string, payload: Uint8Array): Promise<void> {
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

/** Saves increments of one document, one save at a time, compacting into a snapshot when they pile up. */
class Saver {
  readonly incs: Inc[];
  snapshotBytes: number;
  durable: A.Heads;
  private readonly dir: string;
  private nextInc: number;
  private busy = false;

  constructor(dir: string, incs: Inc[], snapshotBytes: number, durable: A.Heads) {
    this.dir = dir;
    this.incs = incs;
    this.snapshotBytes = snapshotBytes;
    this.durable = durable;
    this.nextInc = incs.length === 0 ? 1 : incs[incs.length - 1]!.n + 1;
  }

  incBytes(): number {
    return this.incs.reduce((a, b) => a + b.bytes, 0);
  }

  async save(current: StateDoc): Promise<number> {
    assert(!this.busy, "DocStore.save called while a save is in flight: one save at a time");
    const heads = A.getHeads(current);
    if (A.equals(heads, this.durable)) return 0;
    const bytes = A.saveSince(current, this.durable);
    if (bytes.byteLength === 0) {
      this.durable = heads;
      return 0;
    }
    const n = this.nextInc;
    const file = `inc-${n}.am`;
    this.nextInc += 1;
    const incBytes = this.incBytes() + bytes.byteLength;
    // Compaction is decided and serialised now, while `current` is this version.
    const snapshot = this.incs.length + 1 >= INCREMENTS_MAX || incBytes > Math.max(this.snapshotBytes, COMPACT_BYTES_MIN) ? A.save(current) : null;
    this.busy = true;
    try {
      await writeAtomic(this.dir, file, bytes);
      this.incs.push({ n, file, bytes: bytes.byteLength });
      this.durable = heads;
      if (snapshot !== null) {
        await writeAtomic(this.dir, SNAPSHOT, snapshot);
        this.snapshotBytes = snapshot.byteLength;
        // The snapshot holds everything the increments do: only now may they go.
        for (const inc of this.incs.splice(0)) await unlink(join(this.dir, inc.file));
      }
      return bytes.byteLength;
    } finally {
      this.busy = false;
    }
  }
}
