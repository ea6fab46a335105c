// The decisions of one blob fetch as a pure machine: which chunk to ask of
// which source, how much may be in flight (the window), how fast (a token
// bucket), when a silent source is dropped, where a chunk goes when its
// source lacked it, sent it corrupt or went away, and when the fetch is done
// or has failed. The fetcher (fetcher.ts) is its shell: it feeds the
// sources' answers, its timers and the store's writes in as events and
// carries out the effects; time comes in as `now`, nothing here reads a
// clock, a socket or the store.
//
// A fetch asks for no more than its window of chunks not yet stored, across
// all its sources, each chunk of the least loaded source that may be asked
// for it (never one that lacked it or sent it corrupt). A chunk no live
// source may be asked for is set aside; the fetch goes on with the rest, and
// fails once nothing is queued or in flight and something was set aside.

import { assert, assertNever } from "../../shared/assert.ts";
import { CDC_MAX_BYTES } from "../cdc.ts";
import type { ChunkHash } from "../chunks.ts";
import type { ChunkRef } from "../manifest.ts";

/** Bytes of chunks a fetch has asked for and not yet stored. Bounds the fetcher's memory and, with it, what the servers may send. */
export const WINDOW_BYTES = 8 * 1024 * 1024;
/** A source with chunks asked of it and silent this long is dropped from the fetch (its chunks go to the others). */
export const IDLE_TIMEOUT_MS = 30_000;
/** Idle sources are looked for this many times per idle timeout... */
export const IDLE_CHECKS_PER_TIMEOUT = 4;
/** ...but no more often than every this many milliseconds. */
export const IDLE_CHECK_MIN_MS = 10;
/** The token bucket holds 1/BUCKET_PER_SECOND of a second's worth of bytes (and at least the largest chunk). */
export const BUCKET_PER_SECOND = 10;
/** Unobtainable chunks a failure names (it counts them all). */
export const FAILED_CHUNKS_NAMED = 8;
/** Milliseconds in a second, for the rate in bytes a second. */
const MS_PER_SECOND = 1000;

export type FetchConfig = {
  /** Most bytes asked for and not yet stored; at least one largest chunk. */
  windowBytes: number;
  /** A source with chunks asked of it and silent this long is dropped. */
  idleTimeoutMs: number;
  /** Asks for at most this many bytes a second; unlimited when absent. */
  rateBytesPerSec?: number;
};

/** A chunk to fetch, with the sources' peers that may not be asked for it (they lacked it or sent it corrupt). */
export type Wanted = { readonly hash: ChunkHash; readonly size: number; readonly excluded: readonly number[] };

export type SourceState = {
  /** The connection this source fetches over, as the index of its first source: a chunk's exclusion is per connection. */
  readonly peer: number;
  /** Chunks asked of this source and not answered yet. */
  readonly inflight: ReadonlyMap<ChunkHash, Wanted>;
  /** Sum of the inflight sizes: the next chunk goes to the least loaded source. */
  readonly inflightBytes: number;
  /** When it last answered (or was first asked, while idle). */
  readonly heardMs: number;
  /** Dropped from this fetch: closed, or silent past the idle timeout. */
  readonly gone: boolean;
};

/** The token bucket of a rate-limited fetch. */
export type Bucket = {
  readonly rateBytesPerSec: number;
  readonly maxTokens: number;
  readonly tokens: number;
  /** When `tokens` was last brought up to date. */
  readonly atMs: number;
  /** A wake effect is pending: no second one until it fires. */
  readonly waking: boolean;
};

export type FetchState = {
  readonly config: FetchConfig;
  /** The chunks the store lacked when the fetch began, in manifest order; never changes. */
  readonly todo: readonly ChunkRef[];
  /** todo[next..] have not been asked for yet. */
  readonly next: number;
  /** Chunks to ask for again, ahead of todo; the last one pushed goes first. */
  readonly again: readonly Wanted[];
  readonly sources: readonly SourceState[];
  /** Bytes asked for and not yet stored (or put back in the queue). */
  readonly windowUsed: number;
  /** Chunks not yet stored: the fetch is done at zero. */
  readonly chunksLeft: number;
  /** Chunks set aside because no live source may be asked for them. */
  readonly unobtainable: number;
  /** The first FAILED_CHUNKS_NAMED of them, named in the failure. */
  readonly unobtainableNamed: readonly ChunkHash[];
  /** Null when the rate is unlimited. */
  readonly bucket: Bucket | null;
};

export type FetchEvent =
  | { type: "run" } // hand out queued chunks (the shell's coalesced "run soon")
  | { type: "chunk"; source: number; hash: ChunkHash; bytes: number; ok: boolean } // a chunk arrived, `bytes` long; ok: it hashes to `hash`
  | { type: "none"; source: number; hash: ChunkHash } // the source lacks the chunk
  | { type: "closed"; source: number } // the source's channel closed, or refused a want
  | { type: "stored"; size: number } // the store wrote a chunk that arrived whole
  | { type: "tick" } // the idle check's interval
  | { type: "refill" }; // the wake asked for by the token bucket

export type RejectReason = "hash mismatch" | "size differs from the manifest";

export type FetchEffect =
  | { type: "ask"; source: number; hashes: ChunkHash[] } // send a want
  | { type: "store"; source: number; hash: ChunkHash; size: number } // write the chunk that just arrived
  | { type: "reject"; source: number; hash: ChunkHash; why: RejectReason } // the chunk that just arrived is dropped (and asked elsewhere)
  | { type: "drop"; source: number; why: "closed" | "idle"; inflight: number } // stop listening to the source
  | { type: "run-soon" } // feed a run event once the current ones are handled
  | { type: "wake"; afterMs: number } // feed a refill event after this long
  | { type: "done" } // every chunk is stored
  | { type: "fail"; chunks: ChunkHash[]; unobtainable: number; sources: number; live: number }; // some chunk has no source left

export type FetchStep = { state: FetchState; effects: FetchEffect[] };

/**
 * The working copy inside one step: the input state is never changed; a
 * source's inflight map is copied before its first change. That copy (the
 * chunks of one window, at most) is most of a step's cost: about 3 us a step
 * at a 2 MiB window, 10 us at 8 MiB (0.15 and 0.5 s of CPU a GiB fetched).
 */
type Draft = Omit<{ -readonly [K in keyof FetchState]: FetchState[K] }, "again" | "sources"> & {
  again: Wanted[];
  sources: Array<{ -readonly [K in keyof SourceState]: SourceState[K] }>;
  /** Sources whose inflight map is already this step's own copy. */
  owned: Set<number>;
  effects: FetchEffect[];
};

/** The time between two idle checks for an idle timeout. */
export function idleCheckEveryMs(idleTimeoutMs: number): number {
  return Math.max(IDLE_CHECK_MIN_MS, Math.floor(idleTimeoutMs / IDLE_CHECKS_PER_TIMEOUT));
}

export function checkFetchConfig(config: FetchConfig): void {
  assert(config.windowBytes >= CDC_MAX_BYTES, "the window holds at least one chunk");
  assert(config.idleTimeoutMs > 0, "idle timeout is positive");
}

/** A fetch of `missing` (distinct chunks) from sources given by their connection (`peer`, see SourceState) and whether it is closed already. */
export function initialFetch(config: FetchConfig, missing: readonly ChunkRef[], sources: ReadonlyArray<{ peer: number; closed: boolean }>, now: number): FetchState {
  checkFetchConfig(config);
  assert(new Set(missing.map((x) => x.hash)).size === missing.length, "missing chunks are distinct");
  const rate = config.rateBytesPerSec;
  const maxTokens = rate === undefined ? Infinity : Math.max(CDC_MAX_BYTES, rate / BUCKET_PER_SECOND);
  return {
    config: { ...config },
    todo: [...missing],
    next: 0,
    again: [],
    sources: sources.map((x) => ({ peer: x.peer, inflight: new Map(), inflightBytes: 0, heardMs: now, gone: x.closed })),
    windowUsed: 0,
    chunksLeft: missing.length,
    unobtainable: 0,
    unobtainableNamed: [],
    bucket: rate === undefined ? null : { rateBytesPerSec: rate, maxTokens, tokens: maxTokens, atMs: now, waking: false },
  };
}

export function step(s: FetchState, e: FetchEvent, now: number): FetchStep {
  const d: Draft = { ...s, again: [...s.again], sources: s.sources.map((x) => ({ ...x })), owned: new Set(), effects: [] };
  switch (e.type) {
    case "run":
      run(d, now);
      break;
    case "chunk":
      arrived(d, e, now);
      break;
    case "none": {
      const w = answered(d, e.source, e.hash, now);
      if (w !== null) putBack(d, { ...w, excluded: [...w.excluded, d.sources[e.source]!.peer] });
      break;
    }
    case "closed":
      drop(d, e.source, "closed");
      break;
    case "stored":
      d.windowUsed -= e.size;
      d.chunksLeft--;
      d.effects.push(d.chunksLeft === 0 ? { type: "done" } : { type: "run-soon" });
      break;
    case "tick":
      for (const [i, x] of d.sources.entries()) if (!x.gone && x.inflight.size > 0 && now - x.heardMs > d.config.idleTimeoutMs) drop(d, i, "idle");
      break;
    case "refill":
      if (d.bucket !== null) d.bucket = { ...d.bucket, waking: false };
      d.effects.push({ type: "run-soon" });
      break;
    default:
      assertNever(e);
  }
  const { owned: _owned, effects, ...state } = d;
  return { state, effects };
}

/** The chunk asked for next, if any: a re-ask first, then the rest of todo in order. */
function peek(d: Draft): Wanted | undefined {
  if (d.again.length > 0) return d.again[d.again.length - 1];
  const c = d.todo[d.next];
  return c === undefined ? undefined : { hash: c.hash, size: c.size, excluded: [] };
}

function pop(d: Draft): void {
  if (d.again.length > 0) d.again.pop();
  else d.next++;
}

/** Hands out queued chunks to sources while the window (and the bucket) has room, then asks each source once. */
function run(d: Draft, now: number): void {
  const batches = new Map<number, ChunkHash[]>();
  for (let w = peek(d); w !== undefined && d.windowUsed < d.config.windowBytes && takeTokens(d, w.size, now); w = peek(d)) {
    pop(d);
    const best = leastLoaded(d, w);
    if (best === null) {
      // No live source may be asked for it: keep fetching the rest, fail at the end.
      d.unobtainable++;
      if (d.unobtainableNamed.length < FAILED_CHUNKS_NAMED) d.unobtainableNamed = [...d.unobtainableNamed, w.hash];
      continue;
    }
    const src = d.sources[best]!;
    if (src.inflight.size === 0) src.heardMs = now;
    inflight(d, best).set(w.hash, w);
    src.inflightBytes += w.size;
    d.windowUsed += w.size;
    let b = batches.get(best);
    if (b === undefined) batches.set(best, (b = []));
    b.push(w.hash);
  }
  for (const [source, hashes] of batches) d.effects.push({ type: "ask", source, hashes });
  if (peek(d) === undefined && d.windowUsed === 0 && d.unobtainable > 0) {
    const live = d.sources.filter((x) => !x.gone).length;
    d.effects.push({ type: "fail", chunks: [...d.unobtainableNamed], unobtainable: d.unobtainable, sources: d.sources.length, live });
  }
}

/** The live source with the fewest bytes in flight that may be asked for `w` (the first of equals); null when there is none. */
function leastLoaded(d: Draft, w: Wanted): number | null {
  let best: number | null = null;
  let bestBytes = Infinity;
  for (const [i, x] of d.sources.entries()) {
    if (x.gone || w.excluded.includes(x.peer)) continue;
    if (x.inflightBytes < bestBytes) {
      best = i;
      bestBytes = x.inflightBytes;
    }
  }
  return best;
}

/** Takes `size` tokens from the bucket if it holds them; if not, asks once for a wake when it will. */
function takeTokens(d: Draft, size: number, now: number): boolean {
  const b = d.bucket;
  if (b === null) return true;
  const tokens = Math.min(b.maxTokens, b.tokens + ((now - b.atMs) * b.rateBytesPerSec) / MS_PER_SECOND);
  if (tokens >= size) {
    d.bucket = { ...b, tokens: tokens - size, atMs: now };
    return true;
  }
  if (!b.waking) d.effects.push({ type: "wake", afterMs: Math.ceil(((size - tokens) * MS_PER_SECOND) / b.rateBytesPerSec) });
  d.bucket = { ...b, tokens, atMs: now, waking: true };
  return false;
}

/** A chunk arrived: stored if whole, else dropped and asked of another source. */
function arrived(d: Draft, e: Extract<FetchEvent, { type: "chunk" }>, now: number): void {
  const w = answered(d, e.source, e.hash, now);
  if (w === null) return;
  if (e.ok && e.bytes === w.size) {
    d.effects.push({ type: "store", source: e.source, hash: e.hash, size: w.size });
    return;
  }
  d.effects.push({ type: "reject", source: e.source, hash: e.hash, why: e.ok ? "size differs from the manifest" : "hash mismatch" });
  putBack(d, { ...w, excluded: [...w.excluded, d.sources[e.source]!.peer] });
}

/** Takes the answered chunk out of its source's inflight; null when it was not asked of this source (someone else's ask). */
function answered(d: Draft, source: number, hash: ChunkHash, now: number): Wanted | null {
  const src = d.sources[source];
  assert(src !== undefined, `source ${source} is one of the fetch's`);
  const w = src.inflight.get(hash);
  if (w === undefined) return null;
  inflight(d, source).delete(hash);
  src.inflightBytes -= w.size;
  src.heardMs = now;
  return w;
}

/** Puts a chunk back at the front of the queue, out of the window. */
function putBack(d: Draft, w: Wanted): void {
  d.windowUsed -= w.size;
  d.again.push(w);
  d.effects.push({ type: "run-soon" });
}

/** Drops a source from the fetch: its chunks in flight go back to the queue. */
function drop(d: Draft, source: number, why: "closed" | "idle"): void {
  const src = d.sources[source];
  assert(src !== undefined, `source ${source} is one of the fetch's`);
  if (src.gone) return;
  src.gone = true;
  d.effects.push({ type: "drop", source, why, inflight: src.inflight.size });
  for (const w of src.inflight.values()) {
    d.windowUsed -= w.size;
    d.again.push(w);
  }
  src.inflight = new Map();
  src.inflightBytes = 0;
  d.effects.push({ type: "run-soon" });
}

/** The source's inflight map, this step's own copy. */
function inflight(d: Draft, source: number): Map<ChunkHash, Wanted> {
  const src = d.sources[source]!;
  if (!d.owned.has(source)) {
    src.inflight = new Map(src.inflight);
    d.owned.add(source);
  }
  return src.inflight as Map<ChunkHash, Wanted>;
}
