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

/** The server of one connection: `label` names the remote in the log. */
export class WantServer {
  // The remote's wants not yet answered, oldest first; `head` avoids shifting the array.
  private queue: ChunkHash[] = [];
  private head = 0;
  // Store reads in flight for the remote.
  private reads = 0;
  private closed = false;
  // Chunks read and waiting for the socket, in read-completion order.
  private readonly ready: Array<{ hash: ChunkHash; bytes: Uint8Array | null }> = [];
  // Bytes handed to the stream since it last drained: sending goes on past a
  // full stream buffer up to SEND_AHEAD_BYTES, so the socket never waits on a read.
  private sentSinceDrainBytes = 0;
  private readonly store: ChunkStore;
  private readonly sink: ServeSink;
  private readonly stats: ServeStats;
  private readonly label: string;
  private readonly log: Logger;

  constructor(store: ChunkStore, sink: ServeSink, stats: ServeStats, label: string, log: Logger) {
    this.store = store;
    this.sink = sink;
    this.stats = stats;
    this.label = label;
    this.log = log;
  }

  /** Queues the remote's wants and starts answering them; false (after logging) when the queue would overflow: close the channel. */
  want(hashes: readonly ChunkHash[]): boolean {
    if (this.queue.length - this.head + hashes.length > SERVE_QUEUE_MAX) {
      this.log("warn", "blobs", "want-queue-overflow", { peer: this.label, queued: this.queue.length - this.head, asked: hashes.length });
      return false;
    }
    for (const h of hashes) this.queue.push(h);
    this.pump();
    return true;
  }

  /** The stream drained: send on. */
  drained(): void {
    this.sentSinceDrainBytes = 0;
    this.pump();
  }

  /** The channel closed: drop everything queued; reads still running are discarded when they finish. */
  close(): void {
    this.closed = true;
    this.queue = [];
    this.head = 0;
    this.ready.length = 0;
  }

  private flush(): void {
    while (!this.closed && this.ready.length > 0 && (this.sink.drained || this.sentSinceDrainBytes < SEND_AHEAD_BYTES)) {
      const { hash, bytes } = this.ready.shift()!;
      if (bytes === null) {
        this.sink.send({ type: "none", hash });
        continue;
      }
      this.stats.chunksSent++;
      this.stats.bytesSent += bytes.length;
      this.sentSinceDrainBytes += bytes.length;
      this.sink.send({ type: "chunk", hash, bytes });
    }
  }

  // Reads ahead of the socket (at most SERVE_READS_MAX chunks read or being
  // read), then sends what the stream takes; called on each want, each
  // finished read and each drain.
  private pump(): void {
    this.flush();
    while (!this.closed && this.reads + this.ready.length < SERVE_READS_MAX && this.head < this.queue.length) {
      const hash = this.queue[this.head++]!;
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
      }
      this.reads++;
      this.store.get(hash).then(
        (bytes) => this.readDone(hash, bytes),
        (err: Error) => {
          if (!this.closed) this.log("warn", "blobs", "chunk-read-failed", { peer: this.label, chunk: hash, error: err.message });
          this.readDone(hash, null);
        },
      );
    }
  }

  private readDone(hash: ChunkHash, bytes: Uint8Array | null): void {
    this.reads--;
    if (this.closed) return;
    this.ready.push({ hash, bytes });
    this.pump();
  }
}
