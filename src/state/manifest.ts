// Blob manifests: what the Automerge document holds for a binary or a data
// snapshot instead of its bytes: name, size, the hash of the whole content
// and the list of its chunks in order. ingestFile cuts a file into the chunk
// store; assemble writes it back from the store, atomically, checking the
// whole-content hash; missingChunks says what a host still has to fetch.

import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { assert } from "../shared/assert.ts";
import { UmbraError } from "../shared/errors.ts";
import { CDC_MAX_BYTES, createChunker } from "./cdc.ts";
import { type ChunkHash, type ChunkStore, createHasher, fsyncDir, hashBytes, isChunkHash, TEMP_PREFIX, tempName } from "./chunks.ts";

export type ChunkRef = { hash: ChunkHash; size: number };

export type BlobManifest = {
  name: string;
  /** Bytes of the whole blob (= the sum of the chunk sizes). */
  size: number;
  /** BLAKE2b-256 hex of the whole content. */
  hash: string;
  /** The chunks in blob order; a chunk may repeat. */
  chunks: ChunkRef[];
};

/** Bytes done out of the total, and chunks done out of the total. */
export type Progress = { bytesDone: number; bytesTotal: number; chunksDone: number; chunksTotal: number };
export type OnProgress = (p: Progress) => void;

/** Read size while ingesting. */
export const INGEST_READ_BYTES = 1024 * 1024;
/** Chunk puts in flight while ingesting: overlaps the fsyncs without holding much (at most this × CDC_MAX_BYTES). */
export const INGEST_PUTS_MAX = 8;
/** Largest blob a manifest may describe (a sanity bound on data from peers): 1 TiB. */
export const BLOB_BYTES_MAX = 2 ** 40;

function bad(what: string, context: Record<string, unknown> = {}): never {
  throw new UmbraError("state_corrupt", what, context);
}

/** Throws UmbraError("state_corrupt") unless `m` is a well-formed manifest (it may come from a peer). */
export function checkManifest(m: unknown): asserts m is BlobManifest {
  const x = m as BlobManifest;
  if (typeof x !== "object" || x === null) bad("manifest is not an object");
  if (typeof x.name !== "string" || x.name.length === 0) bad("manifest has no name");
  if (!Number.isSafeInteger(x.size) || x.size < 0 || x.size > BLOB_BYTES_MAX) bad("manifest size out of range", { name: x.name });
  if (!isChunkHash(x.hash)) bad("manifest hash is not 64 hex", { name: x.name });
  if (!Array.isArray(x.chunks)) bad("manifest has no chunk list", { name: x.name });
  let sum = 0;
  for (const c of x.chunks) {
    if (!isChunkHash(c?.hash)) bad("chunk hash is not 64 hex", { name: x.name });
    if (!Number.isSafeInteger(c.size) || c.size <= 0 || c.size > CDC_MAX_BYTES) bad("chunk size out of range", { name: x.name, size: c.size });
    sum += c.size;
  }
  if (sum !== x.size) bad("chunk sizes do not add up to the blob size", { name: x.name, sum, size: x.size });
}

/** The distinct chunks of a manifest, first occurrence order. */
export function distinctChunks(m: BlobManifest): ChunkRef[] {
  const seen = new Set<string>();
  const out: ChunkRef[] = [];
  for (const c of m.chunks) {
    if (seen.has(c.hash)) continue;
    seen.add(c.hash);
    out.push(c);
  }
  return out;
}

/** The distinct chunks of `m` that `store` lacks. */
export async function missingChunks(m: BlobManifest, store: ChunkStore): Promise<ChunkRef[]> {
  const out: ChunkRef[] = [];
  for (const c of distinctChunks(m)) if (!(await store.has(c.hash))) out.push(c);
  return out;
}

/** Streams a file through the chunker into the store; progress counts bytes read. */
export async function ingestFile(file: string, store: ChunkStore, onProgress: OnProgress = () => {}, name = path.basename(file)): Promise<BlobManifest> {
  const total = (await fsp.stat(file)).size;
  const stream = fs.createReadStream(file, { highWaterMark: INGEST_READ_BYTES });
  try {
    const m = await ingestStream(stream as AsyncIterable<Buffer>, total, store, onProgress, name);
    return m;
  } catch (e) {
    stream.destroy();
    if (e instanceof UmbraError && e.code === "state_corrupt" && e.context.read !== undefined) throw new UmbraError("state_corrupt", "file changed size while being ingested", { file, before: total, read: e.context.read });
    throw e;
  }
}

/**
 * Streams bytes through the chunker into the store (a file, or an API
 * request's body); progress counts bytes read. With `total` given, bytes
 * that come short or long are an error, nothing recorded.
 */
export async function ingestStream(source: AsyncIterable<Uint8Array>, total: number | null, store: ChunkStore, onProgress: OnProgress = () => {}, name: string): Promise<BlobManifest> {
  const chunker = createChunker();
  const whole = createHasher();
  const chunks: ChunkRef[] = [];
  const puts = new Set<Promise<void>>();
  let bytesDone = 0;
  const putAll = async (parts: Uint8Array[]) => {
    for (const bytes of parts) {
      const hash = hashBytes(bytes);
      chunks.push({ hash, size: bytes.length });
      const p: Promise<void> = store.putVerified(hash, bytes).finally(() => puts.delete(p));
      p.catch(() => {}); // observed below through Promise.race / Promise.all; this only stops an early rejection counting as unhandled
      puts.add(p);
      if (puts.size >= INGEST_PUTS_MAX) await Promise.race(puts);
    }
  };
  try {
    for await (const piece of source) {
      whole.update(piece);
      await putAll(chunker.push(piece));
      bytesDone += piece.length;
      if (total !== null && bytesDone > total) throw new UmbraError("state_corrupt", `more bytes than the ${total} announced`, { before: total, read: bytesDone });
      onProgress({ bytesDone, bytesTotal: total ?? bytesDone, chunksDone: chunks.length, chunksTotal: chunks.length });
    }
    await putAll(chunker.end());
    await Promise.all(puts);
  } catch (e) {
    await Promise.allSettled(puts);
    throw e;
  }
  if (total !== null && bytesDone !== total) throw new UmbraError("state_corrupt", `${bytesDone} bytes of the ${total} announced`, { before: total, read: bytesDone });
  const m: BlobManifest = { name, size: bytesDone, hash: whole.digest(), chunks };
  checkManifest(m);
  return m;
}

/** The blob's bytes from the store, chunk by chunk in order; a missing or corrupt chunk throws UmbraError("state_corrupt"). The whole-content hash is the reader's to check (assemble does). */
export async function* blobBytes(m: BlobManifest, store: ChunkStore): AsyncGenerator<Uint8Array> {
  checkManifest(m);
  for (const c of m.chunks) {
    const bytes = await store.get(c.hash);
    if (bytes === null) bad("chunk missing or corrupt while assembling", { name: m.name, chunk: c.hash });
    if (bytes.length !== c.size) bad("chunk size differs from the manifest", { name: m.name, chunk: c.hash });
    yield bytes;
  }
}

/**
 * Writes the blob to `outPath` from the store: a temp file beside it, fsync,
 * rename, fsync of the directory. The whole-content hash is checked before
 * the rename, so `outPath` is either the old file or the complete new one.
 * A missing or corrupt chunk throws UmbraError("state_corrupt") and leaves
 * `outPath` untouched.
 */
export async function assemble(m: BlobManifest, store: ChunkStore, outPath: string, onProgress: OnProgress = () => {}): Promise<void> {
  const dir = path.dirname(path.resolve(outPath));
  const tmp = path.join(dir, tempName(path.basename(outPath)));
  const whole = createHasher();
  const h = await fsp.open(tmp, "wx");
  let ok = false;
  try {
    let bytesDone = 0;
    let chunksDone = 0;
    for await (const bytes of blobBytes(m, store)) {
      whole.update(bytes);
      let off = 0;
      while (off < bytes.length) off += (await h.write(bytes, off, bytes.length - off)).bytesWritten;
      bytesDone += bytes.length;
      chunksDone++;
      onProgress({ bytesDone, bytesTotal: m.size, chunksDone, chunksTotal: m.chunks.length });
    }
    assert(bytesDone === m.size, "assembled size matches the manifest");
    const got = whole.digest();
    if (got !== m.hash) bad("assembled blob hash differs from the manifest", { name: m.name, want: m.hash, got });
    await h.sync();
    ok = true;
  } finally {
    await h.close();
    if (!ok) await fsp.rm(tmp, { force: true });
  }
  await fsp.rename(tmp, outPath);
  await fsyncDir(dir);
}

/** Removes assembly temp files a crash left in `dir` (names start with TEMP_PREFIX). Call at startup. */
export async function sweepAssemblyTemps(dir: string): Promise<number> {
  let removed = 0;
  for (const name of await fsp.readdir(dir)) {
    if (!name.startsWith(TEMP_PREFIX)) continue;
    await fsp.rm(path.join(dir, name), { force: true });
    removed++;
  }
  return removed;
}
