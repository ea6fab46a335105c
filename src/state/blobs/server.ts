// The serving half of a blob channel: answers the remote's wants from the
// chunk store, in the order asked, each by a chunk or a none.
//
// Memory stays bounded whatever the remote does: wants wait in a queue of at
// most SERVE_QUEUE_MAX hashes (more means a misbehaving peer, and the caller
// closes the channel), at most SERVE_READS_MAX chunks are read ahead of the
// socket, and the stream is handed at most SEND_AHEAD_BYTES past the point
// where it reports full until it drains. So a slow reader costs the server
// at most SERVE_READS_MAX chunks plus SEND_AHEAD_BYTES.

import type { Logger } from "../../shared/log.ts";
import type { ChunkHash, ChunkStore } from "../chunks.ts";
import type { BlobMsg } from "./codec.ts";

/** Hashes a server holds in its want queue; more means a misbehaving peer, and the channel is closed. Room for several fetches' windows of the smallest chunks. */
export const SERVE_QUEUE_MAX = 4096;
/** Chunks a server reads ahead of the socket: enough to keep loopback busy, small enough not to matter when the reader stalls. */
export const SERVE_READS_MAX = 8;
/** Bytes a server hands to a stream that reports itself full before it waits for the drain (the stream's own buffer is small). */
export const SEND_AHEAD_BYTES = 1024 * 1024;

/** Where the answers go: the channel's send, and whether its stream has room. */
export type ServeSink = {
  send(m: BlobMsg): boolean;
  readonly drained: boolean;
};

/** What the server counts; the connection's stats object, shared. */
export type ServeStats = { chunksSent: number; bytesSent: number };

export type WantServer = {
  /** Queues the remote's wants and starts answering them; false (after logging) when the queue would overflow: close the channel. */
  want(hashes: readonly ChunkHash[]): boolean;
  /** The stream drained: send on. */
  drained(): void;
  /** The channel closed: drop everything queued; reads still running are discarded when they finish. */
  close(): void;
};

/** The server of one connection: `label` names the remote in the log. */
export function wantServer(store: ChunkStore, sink: ServeSink, stats: ServeStats, label: string, log: Logger): WantServer {
  // The remote's wants not yet answered, oldest first; `head` avoids shifting the array.
  let queue: ChunkHash[] = [];
  let head = 0;
  // Store reads in flight for the remote.
  let reads = 0;
  let closed = false;
  // Chunks read and waiting for the socket, in read-completion order.
  const ready: Array<{ hash: ChunkHash; bytes: Uint8Array | null }> = [];
  // Bytes handed to the stream since it last drained: sending goes on past a
  // full stream buffer up to SEND_AHEAD_BYTES, so the socket never waits on a read.
  let sentSinceDrainBytes = 0;

  const flush = () => {
    while (!closed && ready.length > 0 && (sink.drained || sentSinceDrainBytes < SEND_AHEAD_BYTES)) {
      const { hash, bytes } = ready.shift()!;
      if (bytes === null) {
        sink.send({ type: "none", hash });
        continue;
      }
      stats.chunksSent++;
      stats.bytesSent += bytes.length;
      sentSinceDrainBytes += bytes.length;
      sink.send({ type: "chunk", hash, bytes });
    }
  };

  const readDone = (hash: ChunkHash, bytes: Uint8Array | null) => {
    reads--;
    if (closed) return;
    ready.push({ hash, bytes });
    pump();
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
        (bytes) => readDone(hash, bytes),
        (err: Error) => {
          if (!closed) log("warn", "blobs", "chunk-read-failed", { peer: label, chunk: hash, error: err.message });
          readDone(hash, null);
        },
      );
    }
  };

  return {
    want(hashes) {
      if (queue.length - head + hashes.length > SERVE_QUEUE_MAX) {
        log("warn", "blobs", "want-queue-overflow", { peer: label, queued: queue.length - head, asked: hashes.length });
        return false;
      }
      for (const h of hashes) queue.push(h);
      pump();
      return true;
    },
    drained() {
      sentSinceDrainBytes = 0;
      pump();
    },
    close() {
      closed = true;
      queue = [];
      head = 0;
      ready.length = 0;
    },
  };
}
