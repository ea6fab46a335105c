// Chunk transfer on its own protomux channel, "umbra/blobs/1". Three
// messages: want {hashes} asks for chunks, chunk {hash, bytes} answers one,
// none {hash} says "I don't have it". Each side of a connection both serves
// (answers the remote's wants from its store) and fetches (through the
// BlobPeer handle serveBlobs returns).
//
// Flow control is receiver-driven: a fetch asks for no more than its window
// (WINDOW_BYTES) of chunks not yet stored, across all its sources, so what
// can arrive unasked is bounded by what it asked for. A server answers wants
// from a bounded queue, reads at most SERVE_READS_MAX chunks ahead of the
// socket, and hands the stream at most SEND_AHEAD_BYTES past the point where
// it reports full until it drains, so a slow reader costs the server at most
// SERVE_READS_MAX chunks plus SEND_AHEAD_BYTES of memory.
//
// Every chunk is hashed on arrival; one that does not match is dropped and
// asked of another source (never again of the one that sent it). The store
// is the resume point: a fetch only asks for what the store lacks, so a
// fetch that failed on a cut connection, run again, moves only the rest.

import c from "compact-encoding";
import { assert, assertNever } from "../shared/assert.ts";
import { isUmbraError, UmbraError } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";
import { CDC_MAX_BYTES } from "./cdc.ts";
import { type ChunkHash, type ChunkStore, hashBytes, HASH_BYTES } from "./chunks.ts";
import { type BlobManifest, type ChunkRef, checkManifest, distinctChunks, missingChunks, type Progress } from "./manifest.ts";

export const BLOBS_PROTOCOL = "umbra/blobs/1";
/** Most hashes in one want message (33 bytes each on the wire). */
export const WANT_HASHES_MAX = 256;
/** Bytes of chunks a fetch has asked for and not yet stored. Bounds the fetcher's memory and, with it, what the servers may send. */
export const WINDOW_BYTES = 8 * 1024 * 1024;
/** Hashes a server holds in its want queue; more means a misbehaving peer, and the channel is closed. Room for several fetches' windows of the smallest chunks. */
export const SERVE_QUEUE_MAX = 4096;
/** Chunks a server reads ahead of the socket: enough to keep loopback busy, small enough not to matter when the reader stalls. */
export const SERVE_READS_MAX = 8;
/** Bytes a server hands to a stream that reports itself full before it waits for the drain (the stream's own buffer is small). */
export const SEND_AHEAD_BYTES = 1024 * 1024;
/** A source with chunks asked of it and silent this long is dropped from the fetch (its chunks go to the others). */
export const IDLE_TIMEOUT_MS = 30_000;
/** Largest frame: a tag, a hash and the largest chunk, plus length prefixes. */
export const BLOB_FRAME_BYTES_MAX = 1 + HASH_BYTES + CDC_MAX_BYTES + 16;

export type BlobMsg =
  | { type: "want"; hashes: ChunkHash[] } // send me these chunks (answered in order, each by chunk or none)
  | { type: "chunk"; hash: ChunkHash; bytes: Uint8Array } // one chunk; the receiver checks the hash
  | { type: "none"; hash: ChunkHash }; // I don't have this chunk (or it was corrupt in my store)

// Tags are part of the protocol: never renumber, only add.
const TAG = { want: 1, chunk: 2, none: 3 } as const satisfies Record<BlobMsg["type"], number>;

type St = { start: number; end: number; buffer: Uint8Array | null };

function bad(what: string): never {
  throw new UmbraError("frame_malformed", what);
}

const hashEnc = {
  preencode(st: St, h: ChunkHash) {
    assert(h.length === HASH_BYTES * 2 && /^[0-9a-f]*$/.test(h), `chunk hash is 64 hex: ${h}`);
    st.end += HASH_BYTES; // fixed32: no length prefix
  },
  encode(st: St, h: ChunkHash) {
    c.fixed32.encode(st, Buffer.from(h, "hex"));
  },
  decode(st: St): ChunkHash {
    return Buffer.from(c.fixed32.decode(st) as Uint8Array).toString("hex");
  },
};

function parts(st: St, m: BlobMsg, fn: "preencode" | "encode"): void {
  c.uint8[fn](st, TAG[m.type]);
  switch (m.type) {
    case "want":
      assert(m.hashes.length > 0 && m.hashes.length <= WANT_HASHES_MAX, `want of 1..${WANT_HASHES_MAX} hashes`);
      c.uint[fn](st, m.hashes.length);
      for (const h of m.hashes) hashEnc[fn](st, h);
      return;
    case "chunk":
      assert(m.bytes.length > 0 && m.bytes.length <= CDC_MAX_BYTES, `chunk of 1..${CDC_MAX_BYTES} bytes`);
      hashEnc[fn](st, m.hash);
      c.uint8array[fn](st, m.bytes);
      return;
    case "none":
      hashEnc[fn](st, m.hash);
      return;
    default:
      return assertNever(m);
  }
}

export function encodeBlobMsg(m: BlobMsg): Buffer {
  const st: St = { start: 0, end: 0, buffer: null };
  parts(st, m, "preencode");
  assert(st.end <= BLOB_FRAME_BYTES_MAX, `frame of ${st.end} bytes fits`);
  st.buffer = Buffer.allocUnsafe(st.end);
  parts(st, m, "encode");
  assert(st.start === st.end, "frame sized exactly");
  return st.buffer as Buffer;
}

/** Decodes one frame; throws UmbraError("frame_malformed") on anything off. A chunk's bytes are copied out of the frame. */
export function decodeBlobMsg(buf: Uint8Array): BlobMsg {
  if (buf.byteLength === 0 || buf.byteLength > BLOB_FRAME_BYTES_MAX) bad(`blob frame of ${buf.byteLength} bytes`);
  const st: St = { start: 0, end: buf.byteLength, buffer: buf };
  try {
    const tag = c.uint8.decode(st) as number;
    let m: BlobMsg;
    switch (tag) {
      case TAG.want: {
        const n = c.uint.decode(st) as number;
        if (n === 0 || n > WANT_HASHES_MAX) bad(`want of ${n} hashes`);
        const hashes: ChunkHash[] = [];
        for (let i = 0; i < n; i++) hashes.push(hashEnc.decode(st));
        m = { type: "want", hashes };
        break;
      }
      case TAG.chunk: {
        const hash = hashEnc.decode(st);
        const view = c.uint8array.decode(st) as Uint8Array;
        if (view.length === 0 || view.length > CDC_MAX_BYTES) bad(`chunk of ${view.length} bytes`);
        m = { type: "chunk", hash, bytes: Uint8Array.prototype.slice.call(view) };
        break;
      }
      case TAG.none:
        m = { type: "none", hash: hashEnc.decode(st) };
        break;
      default:
        bad(`unknown blob message tag ${tag}`);
    }
    if (st.start !== st.end) bad(`${st.end - st.start} trailing bytes after ${m.type}`);
    return m;
  } catch (e) {
    if (isUmbraError(e)) throw e;
    // compact-encoding throws plain Errors (out of bounds): wrap them.
    throw new UmbraError("frame_malformed", `undecodable blob frame: ${(e as Error).message}`, {}, e);
  }
}

// ---------------------------------------------------------------- one connection

/** What a fetch hears from one source. */
export type PeerListener = {
  /** A chunk arrived; `ok` says whether its bytes hash to `hash`. */
  onChunk(hash: ChunkHash, bytes: Uint8Array, ok: boolean): void;
  onNone(hash: ChunkHash): void;
  onClose(): void;
};

export type BlobPeerStats = { chunksSent: number; bytesSent: number; chunksReceived: number; bytesReceived: number; badChunks: number; unsolicited: number };

/** One connection's blob channel: serves the remote, and is a source for fetchBlob. */
export type BlobPeer = {
  readonly label: string;
  readonly closed: boolean;
  /** Asks the remote for chunks; false when the channel is closed. */
  want(hashes: ChunkHash[]): boolean;
  subscribe(l: PeerListener): () => void;
  close(): void;
  readonly stats: BlobPeerStats;
};

export type ServeOptions = { label?: string; log?: Logger };

const noLog: Logger = () => {};

/**
 * Opens umbra/blobs/1 on `mux` (a Protomux): answers the remote's wants from
 * `store`, and returns the handle to fetch from the remote. Null when the
 * channel is open on this mux already.
 */
export function serveBlobs(mux: any, store: ChunkStore, opts: ServeOptions = {}): BlobPeer | null {
  const label = opts.label ?? "peer";
  const log = opts.log ?? noLog;
  const listeners = new Set<PeerListener>();
  const stats: BlobPeerStats = { chunksSent: 0, bytesSent: 0, chunksReceived: 0, bytesReceived: 0, badChunks: 0, unsolicited: 0 };
  // Hashes asked of the remote and not yet answered, with how many asks: an answer nobody asked for is dropped.
  const asked = new Map<ChunkHash, number>();
  // The remote's wants not yet answered, oldest first; `head` avoids shifting the array.
  let queue: ChunkHash[] = [];
  let head = 0;
  // Store reads in flight for the remote.
  let reads = 0;
  let closed = false;

  const channel = mux.createChannel({
    protocol: BLOBS_PROTOCOL,
    onclose: () => {
      closed = true;
      queue = [];
      head = 0;
      ready.length = 0;
      for (const l of [...listeners]) l.onClose();
      listeners.clear();
    },
    ondrain: () => {
      sentSinceDrainBytes = 0;
      pump();
    },
  });
  if (channel === null) return null;

  const send = (m: BlobMsg): boolean => (closed || channel.closed ? false : frame.send(encodeBlobMsg(m)));

  // Chunks read and waiting for the socket, in read-completion order.
  const ready: Array<{ hash: ChunkHash; bytes: Uint8Array | null }> = [];
  // Bytes handed to the stream since it last drained: sending goes on past a
  // full stream buffer up to SEND_AHEAD_BYTES, so the socket never waits on a read.
  let sentSinceDrainBytes = 0;

  const flush = () => {
    while (!closed && ready.length > 0 && (channel.drained || sentSinceDrainBytes < SEND_AHEAD_BYTES)) {
      const { hash, bytes } = ready.shift()!;
      if (bytes === null) {
        send({ type: "none", hash });
        continue;
      }
      stats.chunksSent++;
      stats.bytesSent += bytes.length;
      sentSinceDrainBytes += bytes.length;
      send({ type: "chunk", hash, bytes });
    }
  };

  // Reads ahead of the socket (at most SERVE_READS_MAX chunks read or being
  // read), then sends what the stream takes; called on each want, each
  // finished read and each drain.
  const pump = () => {
    flush();
    while (!closed && reads + ready.length < SERVE_READS_MAX && head < queue.length) {
      const hash = queue[head++]!;
      if (head === queue.length) {
        queue = [];
        head = 0;
      }
      reads++;
      store.get(hash).then(
        (bytes) => {
          reads--;
          if (closed) return;
          ready.push({ hash, bytes });
          pump();
        },
        (err: Error) => {
          reads--;
          if (closed) return;
          log("warn", "blobs", "chunk-read-failed", { peer: label, chunk: hash, error: err.message });
          ready.push({ hash, bytes: null });
          pump();
        },
      );
    }
  };

  const onMsg = (m: BlobMsg) => {
    switch (m.type) {
      case "want": {
        if (queue.length - head + m.hashes.length > SERVE_QUEUE_MAX) {
          log("warn", "blobs", "want-queue-overflow", { peer: label, queued: queue.length - head, asked: m.hashes.length });
          channel.close();
          return;
        }
        for (const h of m.hashes) queue.push(h);
        pump();
        return;
      }
      case "chunk":
      case "none": {
        const n = asked.get(m.hash);
        if (n === undefined) {
          stats.unsolicited++;
          log("debug", "blobs", "unsolicited-answer", { peer: label, chunk: m.hash, type: m.type });
          return;
        }
        if (n <= 1) asked.delete(m.hash);
        else asked.set(m.hash, n - 1);
        if (m.type === "none") {
          for (const l of [...listeners]) l.onNone(m.hash);
          return;
        }
        const ok = hashBytes(m.bytes) === m.hash;
        stats.chunksReceived++;
        stats.bytesReceived += m.bytes.length;
        if (!ok) stats.badChunks++;
        for (const l of [...listeners]) l.onChunk(m.hash, m.bytes, ok);
        return;
      }
      default:
        assertNever(m);
    }
  };

  const frame = channel.addMessage({
    encoding: c.raw,
    onmessage: (buf: Uint8Array) => {
      let m: BlobMsg;
      try {
        m = decodeBlobMsg(buf);
      } catch (err) {
        if (!isUmbraError(err)) throw err;
        log("warn", "blobs", "frame-dropped", { peer: label, why: err.message, bytes: buf.byteLength });
        channel.close();
        return;
      }
      onMsg(m);
    },
  });
  channel.open();

  return {
    label,
    get closed() {
      return closed;
    },
    stats,
    want(hashes) {
      if (closed) return false;
      for (let i = 0; i < hashes.length; i += WANT_HASHES_MAX) {
        const batch = hashes.slice(i, i + WANT_HASHES_MAX);
        for (const h of batch) asked.set(h, (asked.get(h) ?? 0) + 1);
        send({ type: "want", hashes: batch });
      }
      return !closed;
    },
    subscribe(l) {
      if (closed) {
        queueMicrotask(() => l.onClose());
        return () => {};
      }
      listeners.add(l);
      return () => listeners.delete(l);
    },
    close() {
      channel.close();
    },
  };
}

// ---------------------------------------------------------------- fetching a blob

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
