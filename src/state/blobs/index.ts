// The blob chunk transfer, on its own protomux channel "umbra/blobs/1": what
// the rest of the agent uses of it. serveBlobs opens the channel on a
// connection (serving the remote's wants, and returning the BlobPeer to fetch
// from it); fetchBlob brings a blob's missing chunks into the store from
// several BlobPeers.

export { BLOB_FRAME_BYTES_MAX, BLOBS_PROTOCOL, WANT_HASHES_MAX } from "./codec.ts";
export { fetchBlob, type FetchOptions, type FetchProgress, type FetchResult, realTimers, type Timers } from "./fetcher.ts";
export { IDLE_TIMEOUT_MS, WINDOW_BYTES } from "./scheduler.ts";
export { type BlobPeer, type BlobPeerStats, type PeerListener, serveBlobs, type ServeOptions } from "./peer.ts";
export { SEND_AHEAD_BYTES, SERVE_QUEUE_MAX, SERVE_READS_MAX } from "./server.ts";
