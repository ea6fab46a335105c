// One connection's blob channel, "umbra/blobs/1", opened on its protomux.
// Each side both serves (answers the remote's wants from its store, through
// a WantServer) and fetches (through the BlobPeer handle serveBlobs returns:
// fetchBlob asks with want() and hears the answers through subscribe()).
//
// Every chunk is hashed on arrival, here, and its listeners told whether it
// matched; an answer to nothing asked of this connection is dropped. A frame
// that does not decode closes the channel.

import { assertNever } from "../../shared/assert.ts";
import { type FramedChannel, openFramedChannel } from "../../shared/framed.ts";
import type { Logger } from "../../shared/log.ts";
import { type ChunkHash, type ChunkStore, hashBytes } from "../chunks.ts";
import { BLOB_CODEC, type BlobMsg, BLOBS_PROTOCOL, WANT_HASHES_MAX } from "./codec.ts";
import { WantServer } from "./server.ts";

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

/** The fetching half's bookkeeping, shared by the channel's callbacks and the handle. */
type Fetching = {
  label: string;
  log: Logger;
  stats: BlobPeerStats;
  listeners: Set<PeerListener>;
  /** Hashes asked of the remote and not yet answered, with how many asks: an answer nobody asked for is dropped. */
  asked: Map<ChunkHash, number>;
};

/**
 * Opens umbra/blobs/1 on `mux` (a Protomux): answers the remote's wants from
 * `store`, and returns the handle to fetch from the remote. Null when the
 * channel is open on this mux already.
 */
export function serveBlobs(mux: any, store: ChunkStore, opts: ServeOptions = {}): BlobPeer | null {
  const label = opts.label ?? "peer";
  const log = opts.log ?? noLog;
  const stats: BlobPeerStats = { chunksSent: 0, bytesSent: 0, chunksReceived: 0, bytesReceived: 0, badChunks: 0, unsolicited: 0 };
  const f: Fetching = { label, log, stats, listeners: new Set(), asked: new Map() };
  // The handlers run only once the channel is open, after `server` below exists.
  const link = openFramedChannel<BlobMsg>(mux, BLOBS_PROTOCOL, BLOB_CODEC, {
    log,
    part: "blobs",
    peer: label,
    onMessage: (m, channel) => {
      if (m.type === "want") {
        if (!server.want(m.hashes)) channel.close();
      } else answered(f, m);
    },
    onMalformed: (channel) => channel.close(),
    onClose: () => {
      server.close();
      for (const l of [...f.listeners]) l.onClose();
      f.listeners.clear();
    },
    onDrain: () => server.drained(),
  });
  if (link === null) return null;
  const server = new WantServer(store, link, stats, label, log);
  return handle(f, link);
}

/** A chunk or none from the remote: counted, hashed, and told to the listeners if it was asked for. */
function answered(f: Fetching, m: Extract<BlobMsg, { type: "chunk" | "none" }>): void {
  const n = f.asked.get(m.hash);
  if (n === undefined) {
    f.stats.unsolicited++;
    f.log("debug", "blobs", "unsolicited-answer", { peer: f.label, chunk: m.hash, type: m.type });
    return;
  }
  if (n <= 1) f.asked.delete(m.hash);
  else f.asked.set(m.hash, n - 1);
  switch (m.type) {
    case "none":
      for (const l of [...f.listeners]) l.onNone(m.hash);
      return;
    case "chunk": {
      const ok = hashBytes(m.bytes) === m.hash;
      f.stats.chunksReceived++;
      f.stats.bytesReceived += m.bytes.length;
      if (!ok) f.stats.badChunks++;
      for (const l of [...f.listeners]) l.onChunk(m.hash, m.bytes, ok);
      return;
    }
    default:
      assertNever(m);
  }
}

/** The BlobPeer a fetch uses: asks in batches of at most WANT_HASHES_MAX, remembering each ask. */
function handle(f: Fetching, link: FramedChannel<BlobMsg>): BlobPeer {
  const isClosed = () => link.closed;
  return {
    label: f.label,
    get closed() {
      return isClosed();
    },
    stats: f.stats,
    want(hashes) {
      if (isClosed()) return false;
      for (let i = 0; i < hashes.length; i += WANT_HASHES_MAX) {
        const batch = hashes.slice(i, i + WANT_HASHES_MAX);
        for (const h of batch) f.asked.set(h, (f.asked.get(h) ?? 0) + 1);
        link.send({ type: "want", hashes: batch });
      }
      return !isClosed();
    },
    subscribe(l) {
      if (isClosed()) {
        queueMicrotask(() => l.onClose());
        return () => {};
      }
      f.listeners.add(l);
      return () => f.listeners.delete(l);
    },
    close: () => link.close(),
  };
}
