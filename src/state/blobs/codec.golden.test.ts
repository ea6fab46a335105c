// Proves the blob channel's bytes on the wire do not change: one frame of
// every message type encodes to exactly the bytes recorded here from the
// codec as it shipped, and decodes back. Written before the codec moved onto
// src/shared/wire.ts; never regenerate.
import { describe, expect, test } from "bun:test";
import { type BlobMsg, decodeBlobMsg, encodeBlobMsg } from "./codec.ts";

const H1 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const H2 = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
/** A chunk longer than 252 bytes: its length prefix takes three bytes (fd 2c 01 is 300). */
const LONG_CHUNK_BYTES = 300;

const GOLDEN: Array<[BlobMsg, string]> = [
  [{ type: "want", hashes: [H1] },
    "01010123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"],
  [{ type: "want", hashes: [H1, H2] },
    "01020123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdefffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"],
  [{ type: "chunk", hash: H1, bytes: new Uint8Array([1, 2, 3, 250]) },
    "020123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef04010203fa"],
  [{ type: "chunk", hash: H2, bytes: new Uint8Array(LONG_CHUNK_BYTES).fill(7) },
    `02${H2}fd2c01${"07".repeat(LONG_CHUNK_BYTES)}`],
  [{ type: "none", hash: H2 },
    "03ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"],
];

/** A chunk's bytes: compare the bytes, not the class. */
const plain = (m: BlobMsg) => (m.type === "chunk" ? { ...m, bytes: [...m.bytes] } : m);

describe("blob wire golden bytes", () => {
  test.each(GOLDEN.map(([m, hex], i) => [`${i}: ${m.type}`, m, hex] as const))("%s", (_name, m, hex) => {
    expect(encodeBlobMsg(m).toString("hex")).toBe(hex);
    const back = decodeBlobMsg(Buffer.from(hex, "hex"));
    expect(plain(back)).toEqual(plain(m));
    // A chunk's bytes are a copy that outlives the frame, not a view into it.
    if (back.type === "chunk") expect(Buffer.isBuffer(back.bytes)).toBe(false);
  });
});
