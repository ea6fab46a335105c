// Fetching one blob's chunks from the blob channels of several connections
// into the chunk store.
//
// Flow control is receiver-driven: a fetch asks for no more than its window
// (WINDOW_BYTES) of chunks not yet stored, across all its sources, so what
// can arrive unasked is bounded by what it asked for. A chunk that does not
// match its hash is dropped and asked of another source (never again of the
// one that sent it). The store is the resume point: a fetch only asks for
// what the store lacks, so a fetch that failed on a cut connection, run
// again, moves only the rest.

import { assert } from "../../shared/assert.ts";
import { UmbraError } from "../../shared/errors.ts";
import type { Logger } from "../../shared/log.ts";
import { CDC_MAX_BYTES } from "../cdc.ts";
import type { ChunkHash, ChunkStore } from "../chunks.ts";
import { type BlobManifest, type ChunkRef, checkManifest, distinctChunks, missingChunks, type Progress } from "../manifest.ts";
import type { BlobPeer } from "./peer.ts";

/** Bytes of chunks a fetch has asked for and not yet stored. Bounds the fetcher's memory and, with it, what the servers may send. */
export const WINDOW_BYTES = 8 * 1024 * 1024;
/** A source with chunks asked of it and silent this long is dropped from the fetch (its chunks go to the others). */
export const IDLE_TIMEOUT_MS = 30_000;

const noLog: Logger = () => {};

export type FetchProgress = Progress & {
  /** Bytes and chunks moved over the network by this fetch (the rest was in the store already). */
  bytesFetched: number;
  chunksFetched: number;
  /** Chunks that arrived and did not match their hash. */
  badChunks: number;
};

export type FetchOptions = {
  windowBytes?: number;
  /** Asks for at most this many bytes a second (a token bucket), so a big transfer leaves the host's CPU and disk to the lease loop. Unlimited when absent. */
  rateBytesPerSec?: number;
  idleTimeoutMs?: number;
  signal?: AbortSignal;
  log?: Logger;
};

export type FetchResult = { bytesFetched: number; chunksFetched: number; badChunks: number; chunksSkipped: number };

type Source = {
  peer: BlobPeer;
  /** Hashes asked of this source and not answered yet, with their sizes. */
  inflight: Map<ChunkHash, number>;
  /** Sum of the inflight sizes: the scheduler gives the next chunk to the least loaded source. */
  inflightBytes: number;
  /** When it last answered (or was first asked, while idle). */
  heardMs: number;
  /** Dropped from this fetch: closed, or silent past the idle timeout. */
  gone: boolean;
  unsubscribe: () => void;
};

/**
 * Brings every chunk of `m` into `store` from `peers`. Progress counts the
 * manifest's distinct chunks (a chunk repeated in the blob moves once), the
 * ones already stored included. Rejects with an UmbraError when some chunk
 * has no source left (every source closed, timed out, lacks it or sent it
 * corrupt); what was stored by then stays, so a later call resumes.
 */
export async function fetchBlob(m: BlobManifest, store: ChunkStore, peers: BlobPeer[], onProgress: (p: FetchProgress) => void = () => {}, opts: FetchOptions = {}): Promise<FetchResult> {
  checkManifest(m);
  const windowBytes = opts.windowBytes ?? WINDOW_BYTES;
  const idleTimeoutMs = opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
  const log = opts.log ?? noLog;
  assert(windowBytes >= CDC_MAX_BYTES, "the window holds at least one chunk");
  assert(idleTimeoutMs > 0, "idle timeout is positive");

  const distinct = distinctChunks(m);
  const missing = await missingChunks(m, store);
  const bytesTotal = distinct.reduce((a, c2) => a + c2.size, 0);
  const p: FetchProgress = {
    bytesDone: bytesTotal - missing.reduce((a, c2) => a + c2.size, 0),
    bytesTotal,
    chunksDone: distinct.length - missing.length,
    chunksTotal: distinct.length,
    bytesFetched: 0,
    chunksFetched: 0,
    badChunks: 0,
  };
  const result = (): FetchResult => ({ bytesFetched: p.bytesFetched, chunksFetched: p.chunksFetched, badChunks: p.badChunks, chunksSkipped: distinct.length - missing.length });
  onProgress({ ...p });
  if (missing.length === 0) return result();

  return new Promise<FetchResult>((resolve, reject) => {
    // Chunks to ask for next, oldest first (a re-asked chunk goes to the front).
    const queue: ChunkRef[] = [...missing].reverse(); // popped from the end
    // Per chunk, the sources that lacked it or sent it corrupt: never asked again for it.
    const excluded = new Map<ChunkHash, Set<BlobPeer>>();
    // Writes of received chunks; their bytes still count against the window until they finish.
    const puts = new Set<Promise<void>>();
    // Chunks no live source may be asked for (all lacked it, sent it corrupt, or are gone).
    const unobtainable: ChunkRef[] = [];
    let windowUsed = 0;
    let finished = false;
    let scheduled = false;
    // Token bucket for rateBytesPerSec: holds at most a tenth of a second's worth (and at least one chunk).
    const rate = opts.rateBytesPerSec;
    const bucketMax = rate === undefined ? Infinity : Math.max(CDC_MAX_BYTES, rate / 10);
    let tokens = bucketMax;
    let tokensAtMs = performance.now();
    let refillTimer: NodeJS.Timeout | null = null;
    const takeTokens = (size: number): boolean => {
      if (rate === undefined) return true;
      const now = performance.now();
      tokens = Math.min(bucketMax, tokens + ((now - tokensAtMs) * rate) / 1000);
      tokensAtMs = now;
      if (tokens >= size) {
        tokens -= size;
        return true;
      }
      if (refillTimer === null) {
        refillTimer = setTimeout(() => {
          refillTimer = null;
          schedule();
        }, Math.ceil(((size - tokens) * 1000) / rate));
      }
      return false;
    };
    const sources: Source[] = [];

    const finish = (err: Error | null) => {
      if (finished) return;
      finished = true;
      clearInterval(idleTimer);
      if (refillTimer !== null) clearTimeout(refillTimer);
      opts.signal?.removeEventListener("abort", onAbort);
      for (const s of sources) s.unsubscribe();
      // Settle the writes first, so the store is quiet when the caller resumes or assembles.
      void Promise.allSettled([...puts]).then(() => (err === null ? resolve(result()) : reject(err)));
    };

    const requeue = (hash: ChunkHash, size: number) => {
      windowUsed -= size;
      queue.push({ hash, size });
    };

    const dropSource = (s: Source, why: string) => {
      if (s.gone) return;
      s.gone = true;
      s.unsubscribe();
      log("info", "blobs", "source-dropped", { peer: s.peer.label, why, inflight: s.inflight.size, blob: m.name });
      for (const [h, size] of s.inflight) requeue(h, size);
      s.inflight.clear();
      s.inflightBytes = 0;
      schedule();
    };

    const schedule = () => {
      if (scheduled || finished) return;
      scheduled = true;
      queueMicrotask(run);
    };

    // Hands out queued chunks to sources while the window has room, then sends one want per source.
    const run = () => {
      scheduled = false;
      if (finished) return;
      const batches = new Map<Source, ChunkHash[]>();
      while (queue.length > 0 && windowUsed < windowBytes && takeTokens(queue[queue.length - 1]!.size)) {
        const next = queue[queue.length - 1]!;
        const ex = excluded.get(next.hash);
        let best: Source | null = null;
        let bestBytes = Infinity;
        for (const s of sources) {
          if (s.gone || ex?.has(s.peer)) continue;
          if (s.inflightBytes < bestBytes) {
            best = s;
            bestBytes = s.inflightBytes;
          }
        }
        if (best === null) {
          // No live source may be asked for it: keep fetching the rest, fail at the end.
          unobtainable.push(queue.pop()!);
          continue;
        }
        queue.pop();
        if (best.inflight.size === 0) best.heardMs = performance.now();
        best.inflight.set(next.hash, next.size);
        best.inflightBytes += next.size;
        windowUsed += next.size;
        let b = batches.get(best);
        if (b === undefined) batches.set(best, (b = []));
        b.push(next.hash);
      }
      for (const [s, hashes] of batches) {
        if (!s.peer.want(hashes)) dropSource(s, "closed");
      }
      if (queue.length === 0 && windowUsed === 0 && unobtainable.length > 0) {
        finish(
          new UmbraError("blob_unavailable", `no source left for ${unobtainable.length} chunks of blob ${m.name}`, {
            blob: m.name,
            chunks: unobtainable.slice(0, 8).map((x) => x.hash),
            chunksUnobtainable: unobtainable.length,
            sources: sources.length,
            live: sources.filter((x) => !x.gone).length,
            chunksDone: p.chunksDone,
            chunksTotal: p.chunksTotal,
          }),
        );
      }
    };

    const onChunk = (s: Source, hash: ChunkHash, bytes: Uint8Array, ok: boolean) => {
      const size = s.inflight.get(hash);
      if (size === undefined || finished) return; // someone else's ask
      s.inflight.delete(hash);
      s.inflightBytes -= size;
      s.heardMs = performance.now();
      if (!ok || bytes.length !== size) {
        p.badChunks++;
        log("warn", "blobs", "chunk-rejected", { peer: s.peer.label, chunk: hash, blob: m.name, why: ok ? "size differs from the manifest" : "hash mismatch" });
        exclude(hash, s.peer);
        requeue(hash, size);
        schedule();
        return;
      }
      const put: Promise<void> = store.putVerified(hash, bytes).then(
        () => {
          puts.delete(put);
          windowUsed -= size;
          p.bytesDone += size;
          p.chunksDone++;
          p.bytesFetched += size;
          p.chunksFetched++;
          if (!finished) onProgress({ ...p });
          if (p.chunksDone === p.chunksTotal) finish(null);
          else schedule();
        },
        (err: Error) => {
          puts.delete(put);
          finish(new UmbraError("state_corrupt", `could not store a chunk of blob ${m.name}: ${err.message}`, { blob: m.name, chunk: hash }, err));
        },
      ).catch((err: unknown) => {
        // The caller's onProgress threw: the fetch fails with it rather than drop it.
        puts.delete(put);
        finish(err instanceof Error ? err : new Error(String(err)));
      });
      puts.add(put);
    };

    const exclude = (hash: ChunkHash, peer: BlobPeer) => {
      let ex = excluded.get(hash);
      if (ex === undefined) excluded.set(hash, (ex = new Set()));
      ex.add(peer);
    };

    for (const peer of peers) {
      const s: Source = { peer, inflight: new Map(), inflightBytes: 0, heardMs: performance.now(), gone: false, unsubscribe: () => {} };
      sources.push(s);
      s.unsubscribe = peer.subscribe({
        onChunk: (hash, bytes, ok) => onChunk(s, hash, bytes, ok),
        onNone: (hash) => {
          const size = s.inflight.get(hash);
          if (size === undefined || finished) return;
          s.inflight.delete(hash);
          s.inflightBytes -= size;
          s.heardMs = performance.now();
          exclude(hash, peer);
          requeue(hash, size);
          schedule();
        },
        onClose: () => dropSource(s, "closed"),
      });
      if (peer.closed) s.gone = true;
    }

    const idleTimer = setInterval(
      () => {
        const now = performance.now();
        for (const s of sources) if (!s.gone && s.inflight.size > 0 && now - s.heardMs > idleTimeoutMs) dropSource(s, "idle");
      },
      Math.max(10, Math.floor(idleTimeoutMs / 4)),
    );
    const onAbort = () => finish(new UmbraError("blob_unavailable", `fetch of blob ${m.name} aborted`, { blob: m.name, chunksDone: p.chunksDone }, opts.signal?.reason));
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener("abort", onAbort);
    assert(new Set(missing.map((x) => x.hash)).size === missing.length, "missing chunks are distinct");
    schedule();
  });
}
