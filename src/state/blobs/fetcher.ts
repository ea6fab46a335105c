// Fetching one blob's chunks from the blob channels of several connections
// into the chunk store: the shell around the scheduler (scheduler.ts). It
// listens to the sources, runs the timers (the idle check, the token
// bucket's wake) and the store's writes, feeds all of that to the scheduler
// as events with the time, and carries out the scheduler's effects. It
// decides nothing itself.
//
// The store is the resume point: a fetch only asks for what the store lacks,
// so a fetch that failed on a cut connection, run again, moves only the rest.
// Chunks arrive hashed (by the connection, peer.ts); one that does not match
// is dropped and asked of another source, never again of the one that sent it.

import { assert, assertNever } from "../../shared/assert.ts";
import { UmbraError } from "../../shared/errors.ts";
import type { Logger } from "../../shared/log.ts";
import type { ChunkHash, ChunkStore } from "../chunks.ts";
import { type BlobManifest, checkManifest, distinctChunks, missingChunks, type Progress } from "../manifest.ts";
import type { BlobPeer } from "./peer.ts";
import { checkFetchConfig, type FetchConfig, type FetchEffect, type FetchEvent, type FetchState, IDLE_TIMEOUT_MS, idleCheckEveryMs, initialFetch, step, WINDOW_BYTES } from "./scheduler.ts";

export type FetchProgress = Progress & {
  /** Bytes and chunks moved over the network by this fetch (the rest was in the store already). */
  bytesFetched: number;
  chunksFetched: number;
  /** Chunks that arrived and did not match their hash. */
  badChunks: number;
};

/** The timers a fetch runs, injected so a test can drive them; each returns its cancel. */
export type Timers = {
  /** Calls fn once, after ms. */
  after(ms: number, fn: () => void): () => void;
  /** Calls fn every ms. */
  every(ms: number, fn: () => void): () => void;
};

/** The process's own timers. */
export const realTimers: Timers = {
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
  every(ms, fn) {
    const t = setInterval(fn, ms);
    return () => clearInterval(t);
  },
};

export type FetchOptions = {
  windowBytes?: number;
  /** Asks for at most this many bytes a second (a token bucket), so a big transfer leaves the host's CPU and disk to the lease loop. Unlimited when absent. */
  rateBytesPerSec?: number;
  idleTimeoutMs?: number;
  signal?: AbortSignal;
  log?: Logger;
  /** The clock, in milliseconds; performance.now() when absent. */
  now?: () => number;
  /** realTimers when absent. */
  timers?: Timers;
};

export type FetchResult = { bytesFetched: number; chunksFetched: number; badChunks: number; chunksSkipped: number };

const noLog: Logger = () => {};
const performanceNow = (): number => performance.now();

/**
 * Brings every chunk of `m` into `store` from `peers`. Progress counts the
 * manifest's distinct chunks (a chunk repeated in the blob moves once), the
 * ones already stored included. Rejects with an UmbraError when some chunk
 * has no source left (every source closed, timed out, lacks it or sent it
 * corrupt); what was stored by then stays, so a later call resumes.
 */
export async function fetchBlob(m: BlobManifest, store: ChunkStore, peers: BlobPeer[], onProgress: (p: FetchProgress) => void = () => {}, opts: FetchOptions = {}): Promise<FetchResult> {
  checkManifest(m);
  const config: FetchConfig = { windowBytes: opts.windowBytes ?? WINDOW_BYTES, idleTimeoutMs: opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS };
  if (opts.rateBytesPerSec !== undefined) config.rateBytesPerSec = opts.rateBytesPerSec;
  checkFetchConfig(config);

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

  const now = opts.now ?? performanceNow;
  // A connection listed twice is one peer (its first index): a chunk it lacked is not asked of it again under its other index.
  const state = initialFetch(config, missing, peers.map((peer) => ({ peer: peers.indexOf(peer), closed: peer.closed })), now());
  return new Promise<FetchResult>((resolve, reject) => {
    const done = (err: Error | null) => (err === null ? resolve(result()) : reject(err));
    new Fetch({ m, store, peers, onProgress, p, log: opts.log ?? noLog, now, timers: opts.timers ?? realTimers, done }, state).start(opts.signal);
  });
}

/** What a running fetch is given: the blob, the store, the sources, the progress it counts, and its I/O. */
type FetchEnv = {
  m: BlobManifest;
  store: ChunkStore;
  peers: BlobPeer[];
  onProgress: (p: FetchProgress) => void;
  /** The progress, counted here and shown to onProgress. */
  p: FetchProgress;
  log: Logger;
  now: () => number;
  timers: Timers;
  /** Settles the caller's promise, once, after the store's writes settled. */
  done: (err: Error | null) => void;
};

/** One fetch in progress: the scheduler's state and the I/O around it. */
class Fetch {
  private finished = false;
  /** A run event is queued as a microtask: the effects of many events coalesce into one run. */
  private scheduled = false;
  /** Writes of received chunks; the store is quiet once they settle. */
  private readonly puts = new Set<Promise<void>>();
  private readonly unsubscribes: Array<() => void> = [];
  private stopIdle: () => void = () => {};
  private cancelWake: (() => void) | null = null;
  private readonly onAbort: () => void;
  private signal: AbortSignal | undefined;

  private readonly env: FetchEnv;
  private state: FetchState;

  constructor(env: FetchEnv, state: FetchState) {
    this.env = env;
    this.state = state;
    const { m, p } = env;
    this.onAbort = () => this.finish(new UmbraError("blob_unavailable", `fetch of blob ${m.name} aborted`, { blob: m.name, chunksDone: p.chunksDone }, this.signal?.reason));
  }

  start(signal: AbortSignal | undefined): void {
    for (const [source, peer] of this.env.peers.entries()) {
      this.unsubscribes.push(
        peer.subscribe({
          onChunk: (hash, bytes, ok) => this.feed({ type: "chunk", source, hash, bytes: bytes.length, ok }, bytes),
          onNone: (hash) => this.feed({ type: "none", source, hash }),
          onClose: () => this.feed({ type: "closed", source }),
        }),
      );
    }
    this.stopIdle = this.env.timers.every(idleCheckEveryMs(this.state.config.idleTimeoutMs), () => this.feed({ type: "tick" }));
    this.signal = signal;
    if (signal?.aborted) this.onAbort();
    signal?.addEventListener("abort", this.onAbort);
    this.runSoon();
  }

  /** Hands an event to the scheduler, then carries out its effects; nothing once the fetch is over. `bytes`: the chunk that arrived, for a chunk event. */
  private feed(e: FetchEvent, bytes?: Uint8Array): void {
    if (this.finished) return;
    const r = step(this.state, e, this.env.now());
    this.state = r.state;
    for (const effect of r.effects) this.apply(effect, bytes);
  }

  private apply(e: FetchEffect, bytes: Uint8Array | undefined): void {
    const { m, p, log, peers } = this.env;
    switch (e.type) {
      case "ask":
        if (!peers[e.source]!.want(e.hashes)) this.feed({ type: "closed", source: e.source });
        return;
      case "store":
        assert(bytes !== undefined, "a store effect answers a chunk event");
        this.store(e.hash, bytes, e.size);
        return;
      case "reject":
        p.badChunks++;
        log("warn", "blobs", "chunk-rejected", { peer: peers[e.source]!.label, chunk: e.hash, blob: m.name, why: e.why });
        return;
      case "drop":
        this.unsubscribes[e.source]!();
        log("info", "blobs", "source-dropped", { peer: peers[e.source]!.label, why: e.why, inflight: e.inflight, blob: m.name });
        return;
      case "run-soon":
        this.runSoon();
        return;
      case "wake":
        this.cancelWake = this.env.timers.after(e.afterMs, () => {
          this.cancelWake = null;
          this.feed({ type: "refill" });
        });
        return;
      case "done":
        this.finish(null);
        return;
      case "fail":
        this.finish(
          new UmbraError("blob_unavailable", `no source left for ${e.unobtainable} chunks of blob ${m.name}`, {
            blob: m.name,
            chunks: e.chunks,
            chunksUnobtainable: e.unobtainable,
            sources: e.sources,
            live: e.live,
            chunksDone: p.chunksDone,
            chunksTotal: p.chunksTotal,
          }),
        );
        return;
      default:
        assertNever(e);
    }
  }

  private runSoon(): void {
    if (this.scheduled || this.finished) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.feed({ type: "run" });
    });
  }

  /** Writes a chunk that arrived whole; the scheduler hears when it is stored. */
  private store(hash: ChunkHash, bytes: Uint8Array, size: number): void {
    const { m, p } = this.env;
    const put: Promise<void> = this.env.store
      .putVerified(hash, bytes)
      .then(
        () => {
          this.puts.delete(put);
          p.bytesDone += size;
          p.chunksDone++;
          p.bytesFetched += size;
          p.chunksFetched++;
          if (!this.finished) this.env.onProgress({ ...p });
          this.feed({ type: "stored", size });
        },
        (err: Error) => {
          this.puts.delete(put);
          this.finish(new UmbraError("state_corrupt", `could not store a chunk of blob ${m.name}: ${err.message}`, { blob: m.name, chunk: hash }, err));
        },
      )
      .catch((err: unknown) => {
        // The caller's onProgress threw: the fetch fails with it rather than drop it.
        this.puts.delete(put);
        this.finish(err instanceof Error ? err : new Error(String(err)));
      });
    this.puts.add(put);
  }

  private finish(err: Error | null): void {
    if (this.finished) return;
    this.finished = true;
    this.stopIdle();
    this.cancelWake?.();
    this.signal?.removeEventListener("abort", this.onAbort);
    for (const u of this.unsubscribes) u();
    // Settle the writes first, so the store is quiet when the caller resumes or assembles.
    void Promise.allSettled([...this.puts]).then(() => this.env.done(err));
  }
}
