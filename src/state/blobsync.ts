// Blobs in the replicator: the document names blobs by manifest; this part
// fetches the chunks of every named blob that is not complete here from the
// other replicas (which ones to start is decide/replicasync.ts's
// blobsToFetch), puts a local file in as a blob, writes one out, and says
// how far each is. A blob counts as durable here only once complete (see
// durability.ts), so finishing one may answer waiting durability questions.

import { UmbraError } from "../shared/errors.ts";
import { blobsToFetch } from "../decide/index.ts";
import { blobRefsIn, manifestIn, type BlobKind, type ConfigEdit } from "./doc.ts";
import { blobBytes, ingestStream, missingChunks, type BlobManifest, type OnProgress } from "./manifest.ts";
import { fetchBlob, type FetchProgress } from "./blobs/index.ts";
import type { BlobOptions, Replica, Shell, WriteResult } from "./replica.ts";

/** A blob fetch that failed (no source had every chunk) is tried again after this. */
export const BLOB_RETRY_MS = 2_000;
/** Bytes of chunks asked for and not yet stored, per fetch: small, so a fetch never floods the host. */
export const BLOB_WINDOW_BYTES = 2 * 1024 * 1024;
/** Progress is logged each time a fetch passes another this-many-th of the blob. */
const PROGRESS_STEPS = 10;
/** Percent, for a message. */
const PERCENT = 100;

export type BlobStatus = { service: string; kind: BlobKind; name: string; size: number; hash: string; complete: boolean; bytesDone: number; fetching: boolean };

/** Starts fetching every blob the document names that is not complete here. */
export function checkBlobs(x: Shell, r: Replica): void {
  const blobs = x.blobs;
  if (blobs === undefined) return;
  for (const ref of blobsToFetch(blobRefsIn(r.doc), r.blobDone, r.fetching, r.blobRetryAtMs, x.now())) {
    const manifest = manifestIn(r.doc, ref.kind, ref.name)!;
    const entry: { progress: FetchProgress | null } = { progress: null };
    r.fetching.set(manifest.hash, entry);
    fetchOne(x, r, blobs, ref.kind, manifest, entry).then(
      (res) => {
        r.fetching.delete(manifest.hash);
        r.blobDone.add(manifest.hash);
        if (res !== "present") x.log("info", "state", "blob-complete", { service: r.cfg.name, kind: ref.kind, name: manifest.name, size: manifest.size, bytesFetched: res.bytesFetched, chunksFetched: res.chunksFetched, chunksSkipped: res.chunksSkipped });
        x.flush(r); // durability questions waiting on this blob can be answered now
      },
      (err: Error) => {
        r.fetching.delete(manifest.hash);
        r.blobRetryAtMs.set(manifest.hash, x.now() + BLOB_RETRY_MS);
        x.log("warn", "state", "blob-fetch-failed", { service: r.cfg.name, kind: ref.kind, name: manifest.name, error: err.message, retryInMs: BLOB_RETRY_MS });
      },
    );
  }
}

/** Fetches the chunks of one blob that the store lacks, from the other replicas' blob channels open now; durable once it resolves. */
async function fetchOne(x: Shell, r: Replica, blobs: BlobOptions, kind: BlobKind, manifest: BlobManifest, entry: { progress: FetchProgress | null }) {
  if ((await missingChunks(manifest, blobs.store)).length === 0) return "present" as const;
  x.log("info", "state", "blob-fetch", { service: r.cfg.name, kind, name: manifest.name, size: manifest.size });
  let lastLoggedStep = -1;
  const onProgress = (p: FetchProgress): void => {
    entry.progress = p;
    const step = Math.floor((p.bytesDone / Math.max(1, p.bytesTotal)) * PROGRESS_STEPS);
    if (step === lastLoggedStep) return;
    lastLoggedStep = step;
    x.log("info", "state", "blob-progress", { service: r.cfg.name, name: manifest.name, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, bytesFetched: p.bytesFetched });
  };
  const rate = blobs.rateBytesPerSec === undefined ? {} : { rateBytesPerSec: blobs.rateBytesPerSec };
  const res = await fetchBlob(manifest, blobs.store, blobs.sources(r.others), onProgress, { log: x.log, windowBytes: BLOB_WINDOW_BYTES, ...rate });
  await blobs.store.flush(); // durable before this host says it holds the blob
  return res;
}

function storeOf(x: Shell): BlobOptions {
  if (x.blobs === undefined) throw new UmbraError("chunk_store_absent", "this agent has no chunk store");
  return x.blobs;
}

/** Chunks bytes (an API request's body: `total` of them) into the store and records their manifest with `write`; resolves once acknowledged. */
export async function putBlob(x: Shell, r: Replica, kind: BlobKind, source: AsyncIterable<Uint8Array>, total: number | null, name: string, message: string, write: (edit: ConfigEdit, message: string) => Promise<WriteResult>, onProgress?: OnProgress): Promise<WriteResult & { manifest: BlobManifest }> {
  const blobs = storeOf(x);
  const manifest = await ingestStream(source, total, blobs.store, onProgress, name);
  await blobs.store.flush();
  r.blobDone.add(manifest.hash);
  const res = await write({ blobs: { set: [{ kind, manifest }] } }, message);
  return { ...res, manifest };
}

/** A blob the document names, if complete here: its manifest, and its bytes to stream (each chunk verified; the whole hash is the reader's to check against the manifest's). */
export function openBlob(x: Shell, r: Replica, kind: BlobKind, name: string): { manifest: BlobManifest; bytes: AsyncIterable<Uint8Array> } {
  const blobs = storeOf(x);
  const m = manifestIn(r.doc, kind, name);
  if (m === null) throw new UmbraError("blob_unknown", `"${r.cfg.name}" has no ${kind} named "${name}"`);
  if (!r.blobDone.has(m.hash)) {
    const f = r.fetching.get(m.hash)?.progress;
    throw new UmbraError("blob_unavailable", `${kind} "${name}" of "${r.cfg.name}" is not complete on this host yet${f ? ` (${Math.floor((f.bytesDone / Math.max(1, f.bytesTotal)) * PERCENT)}% fetched)` : ""}`);
  }
  return { manifest: m, bytes: blobBytes(m, blobs.store) };
}

/** Every blob the documents name, and how far it is here. */
export function blobStatus(replicas: Iterable<Replica>): BlobStatus[] {
  const out: BlobStatus[] = [];
  for (const r of replicas) {
    for (const b of blobRefsIn(r.doc)) {
      const f = r.fetching.get(b.hash);
      const complete = r.blobDone.has(b.hash);
      out.push({ service: r.cfg.name, kind: b.kind, name: b.name, size: b.size, hash: b.hash, complete, bytesDone: complete ? b.size : (f?.progress?.bytesDone ?? 0), fetching: f !== undefined });
    }
  }
  return out;
}
