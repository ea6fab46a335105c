// The bytes of the blob channel, "umbra/blobs/1": three messages, their tag
// table and their encode/decode, on the shared wire layer. want {hashes}
// asks for chunks, chunk {hash, bytes} answers one, none {hash} says "I don't
// have it". A frame is a tag byte, then the message's fields in
// compact-encoding; hashes are 32 raw bytes.

import { bytes, fixedHex, list, struct, taggedUnion } from "../../shared/wire.ts";
import { CDC_MAX_BYTES } from "../cdc.ts";
import { type ChunkHash, HASH_BYTES } from "../chunks.ts";

/** The protomux protocol name of the blob channel. */
export const BLOBS_PROTOCOL = "umbra/blobs/1";
/** Most hashes in one want message (33 bytes each on the wire). */
export const WANT_HASHES_MAX = 256;
/** Largest frame: a tag, a hash and the largest chunk, plus length prefixes. */
export const BLOB_FRAME_BYTES_MAX = 1 + HASH_BYTES + CDC_MAX_BYTES + 16;

export type BlobMsg =
  | { type: "want"; hashes: ChunkHash[] } // send me these chunks (answered in order, each by chunk or none)
  | { type: "chunk"; hash: ChunkHash; bytes: Uint8Array } // one chunk; the receiver checks the hash
  | { type: "none"; hash: ChunkHash }; // I don't have this chunk (or it was corrupt in my store)

/** A chunk's hash: 32 raw bytes, no length prefix. */
const hash = fixedHex(HASH_BYTES, "chunk hash");
/** A chunk's bytes: never empty, at most the largest chunk; copied out of the frame, since the store keeps them. */
const chunkBytes = bytes({ min: 1, max: CDC_MAX_BYTES, what: "chunk", copy: true });

/** Tag and body of every message, fields in wire order. Tags are part of the protocol: never renumber, only add. */
export const BLOB_CODEC = taggedUnion<BlobMsg>(
  {
    want: [1, struct({ hashes: list(hash, { min: 1, max: WANT_HASHES_MAX, what: "want" }) })],
    chunk: [2, struct({ hash, bytes: chunkBytes })],
    none: [3, struct({ hash })],
  },
  { maxBytes: BLOB_FRAME_BYTES_MAX, tag: "uint8", what: "blob" },
);

/** Encodes one frame; asserts the message is well-formed (a bug otherwise). */
export const encodeBlobMsg = (m: BlobMsg): Buffer => BLOB_CODEC.encode(m);

/** Decodes one frame; throws UmbraError("frame_malformed") on anything off. A chunk's bytes are copied out of the frame. */
export const decodeBlobMsg = (buf: Uint8Array): BlobMsg => BLOB_CODEC.decode(buf);
