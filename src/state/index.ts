// The state part's front door: the replicator (per-service Automerge
// documents kept on disk and in sync with the other replicas), the state
// channel it speaks over, and the blob store and transfer beside it.
export { startReplicator, type BlobStatus, type ReconcileReport, type Replicator } from "./replicator.ts";
export { attachStateChannel, type StateLink } from "./channel.ts";
export { createHasher, fsyncDir, openChunkStore, tempName } from "./chunks.ts";
export { serveBlobs, type BlobPeer } from "./blobs/index.ts";
export { BLOB_KINDS, type AuditEntry, type BlobKind, type ConfigEdit, type JsonValue, type WorkloadData } from "./doc.ts";
export { STATE_PROTOCOL, type StateWire } from "./wire.ts";
