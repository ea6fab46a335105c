// Content-defined chunking: FastCDC (Xia et al., "FastCDC: a Fast and
// Efficient Content-Defined Chunking Approach for Data Deduplication",
// USENIX ATC 2016) with its normalized chunking: a gear rolling hash, the
// first `minBytes` of a chunk skipped unhashed, a strict mask (more bits)
// before the normal size and a loose mask (fewer bits) after it, and a hard
// cut at `maxBytes`. An edit in a blob moves only the chunks around it, since
// boundaries depend on the content near them, not on offsets.
//
// The scanner's whole state is (bytes in the current chunk, rolling hash),
// so a stream cut into arbitrary pieces gets the same boundaries as the
// whole buffer in one go. Pure: no I/O, no clock; the gear table comes from
// a fixed seed, so every host cuts the same content the same way (a
// different seed or mask changes every boundary: both are protocol).

import { assert } from "../shared/assert.ts";
import { rng } from "../shared/rng.ts";

/** Smallest chunk (the last chunk of a blob may be smaller). Never hashed: FastCDC's cut-point skipping. */
export const CDC_MIN_BYTES = 16 * 1024;
/** Normal size: where the strict mask gives way to the loose one; the mean lands near it on random data. */
export const CDC_AVG_BYTES = 64 * 1024;
/** Largest chunk: a forced cut, so a run of identical bytes still chunks. */
export const CDC_MAX_BYTES = 256 * 1024;
/** log2(avg) = 16; normalization level 2: the strict mask has 16+2 bits, the loose one 16-2. */
export const CDC_MASK_S_BITS = 18;
export const CDC_MASK_L_BITS = 14;
/** Seed of the gear table (ASCII "umbr"), drawn with shared/rng.ts (mulberry32). Part of the protocol. */
export const CDC_GEAR_SEED = 0x756d6272;

export type CdcParams = {
  minBytes: number;
  avgBytes: number;
  maxBytes: number;
  /** Strict mask, tested from minBytes up to avgBytes: a cut is a hash with all these bits zero. */
  maskS: number;
  /** Loose mask, tested from avgBytes up to maxBytes. */
  maskL: number;
};

/** The top `bits` bits of a 32-bit word, as an int32. The gear hash shifts left, so high bits depend on the last 32 bytes and low bits on only the last few: the mask sits high. */
export function topMask(bits: number): number {
  assert(Number.isInteger(bits) && bits >= 1 && bits <= 31, `mask bits in 1..31: ${bits}`);
  return (0xffffffff << (32 - bits)) | 0;
}

export const CDC_PARAMS: CdcParams = Object.freeze({
  minBytes: CDC_MIN_BYTES,
  avgBytes: CDC_AVG_BYTES,
  maxBytes: CDC_MAX_BYTES,
  maskS: topMask(CDC_MASK_S_BITS),
  maskL: topMask(CDC_MASK_L_BITS),
});

/** 256 random 32-bit words, one per byte value, from CDC_GEAR_SEED. */
export const GEAR: Int32Array = (() => {
  const r = rng(CDC_GEAR_SEED);
  const g = new Int32Array(256);
  for (let i = 0; i < 256; i++) g[i] = Math.floor(r.next() * 4294967296) | 0;
  return g;
})();

export function checkParams(p: CdcParams): void {
  assert(Number.isInteger(p.minBytes) && p.minBytes >= 64, "minBytes is an integer >= 64");
  assert(Number.isInteger(p.avgBytes) && p.avgBytes > p.minBytes, "avgBytes > minBytes");
  assert(Number.isInteger(p.maxBytes) && p.maxBytes > p.avgBytes, "maxBytes > avgBytes");
  assert(p.maskS !== 0 && p.maskL !== 0, "masks are non-zero");
}

/** Where the scanner is inside the current chunk. */
export type ScanState = {
  /** Bytes of the current chunk seen so far (0 at a chunk start). */
  len: number;
  /** Gear hash over the hashed part of the current chunk. */
  fp: number;
};

export function scanStart(): ScanState {
  return { len: 0, fp: 0 };
}

/**
 * Continues the current chunk over bytes[from, to). Returns the index just
 * past the chunk's last byte when the chunk ends inside this range (the state
 * is then reset for the next chunk), or -1 when it runs on past `to` (the
 * state then holds its progress). A chunk ends after byte index i (counted
 * from the chunk start, i >= minBytes) when the hash after i has all bits of
 * the mask for i zero, or when it reaches maxBytes.
 */
export function scan(s: ScanState, bytes: Uint8Array, from: number, to: number, p: CdcParams = CDC_PARAMS): number {
  const gear = GEAR;
  let len = s.len;
  let fp = s.fp;
  let i = from;
  // Skip the minimum unhashed.
  if (len < p.minBytes) {
    const step = Math.min(p.minBytes - len, to - i);
    i += step;
    len += step;
    if (len < p.minBytes) {
      s.len = len;
      return -1;
    }
  }
  // Strict mask up to the normal size.
  if (len < p.avgBytes) {
    const maskS = p.maskS;
    const stop = Math.min(to, i + (p.avgBytes - len));
    const i0 = i;
    for (; i < stop; i++) {
      fp = ((fp << 1) + gear[bytes[i]!]!) | 0;
      if ((fp & maskS) === 0) {
        s.len = 0;
        s.fp = 0;
        return i + 1;
      }
    }
    len += i - i0;
    if (len < p.avgBytes) {
      s.len = len;
      s.fp = fp;
      return -1;
    }
  }
  // Loose mask up to the maximum.
  const maskL = p.maskL;
  const stop = Math.min(to, i + (p.maxBytes - len));
  const i0 = i;
  for (; i < stop; i++) {
    fp = ((fp << 1) + gear[bytes[i]!]!) | 0;
    if ((fp & maskL) === 0) {
      s.len = 0;
      s.fp = 0;
      return i + 1;
    }
  }
  len += i - i0;
  if (len >= p.maxBytes) {
    s.len = 0;
    s.fp = 0;
    return i;
  }
  s.len = len;
  s.fp = fp;
  return -1;
}

/** Chunk end offsets of a whole buffer, the last one being bytes.length (none for an empty buffer). */
export function chunkEnds(bytes: Uint8Array, p: CdcParams = CDC_PARAMS): number[] {
  checkParams(p);
  const ends: number[] = [];
  const s = scanStart();
  let at = 0;
  while (at < bytes.length) {
    const cut = scan(s, bytes, at, bytes.length, p);
    if (cut < 0) break;
    assert(cut > at, "a chunk is never empty");
    ends.push(cut);
    at = cut;
  }
  if (s.len > 0) ends.push(bytes.length);
  return ends;
}

export type Chunker = {
  /** Feeds the next piece of the stream; returns the chunks it completed (fresh copies, never views of `piece`). */
  push(piece: Uint8Array): Uint8Array[];
  /** Ends the stream; returns the last, possibly short, chunk if any. The chunker is spent afterwards. */
  end(): Uint8Array[];
};

/** A streaming chunker: the same boundaries as chunkEnds over the concatenation, however the input is split. */
export function createChunker(p: CdcParams = CDC_PARAMS): Chunker {
  checkParams(p);
  const s = scanStart();
  // The current chunk's bytes that came in earlier pieces (at most maxBytes).
  const pending = new Uint8Array(p.maxBytes);
  let pendingLen = 0;
  let ended = false;
  return {
    push(piece) {
      assert(!ended, "push after end");
      const out: Uint8Array[] = [];
      let at = 0;
      while (at < piece.length) {
        const cut = scan(s, piece, at, piece.length, p);
        if (cut < 0) {
          pending.set(piece.subarray(at), pendingLen);
          pendingLen += piece.length - at;
          assert(pendingLen < p.maxBytes, "a pending chunk stays under maxBytes");
          break;
        }
        if (pendingLen === 0) {
          out.push(piece.slice(at, cut));
        } else {
          const chunk = new Uint8Array(pendingLen + (cut - at));
          chunk.set(pending.subarray(0, pendingLen), 0);
          chunk.set(piece.subarray(at, cut), pendingLen);
          out.push(chunk);
          pendingLen = 0;
        }
        at = cut;
      }
      assert(pendingLen === s.len, "pending bytes match the scanner");
      return out;
    },
    end() {
      assert(!ended, "end called twice");
      ended = true;
      if (pendingLen === 0) return [];
      const last = pending.slice(0, pendingLen);
      pendingLen = 0;
      return [last];
    },
  };
}
