// The bytes of the blob channel, "umbra/blobs/1": three messages, their tag
// table and their encode/decode. want {hashes} asks for chunks, chunk {hash,
// bytes} answers one, none {hash} says "I don't have it". A frame is a tag
// byte, then the message's fields in compact-encoding; hashes are 32 raw bytes.

import c from "compact-encoding";
import { assert, assertNever } from "../../shared/assert.ts";
import { isUmbraError, UmbraError } from "../../shared/errors.ts";
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
