// Proves the blob channel's codec: every message survives encode then
// decode (a chunk's bytes as a copy, not a view into the frame); random
// bytes, cut frames and mutated frames either decode to a message or are an
// UmbraError("frame_malformed"), never anything else; malformed frames are
// refused with a reason, and encode refuses what the peer would refuse.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { UmbraError } from "../../shared/errors.ts";
import { CDC_MAX_BYTES } from "../cdc.ts";
import { BLOB_FRAME_BYTES_MAX, type BlobMsg, decodeBlobMsg, encodeBlobMsg, WANT_HASHES_MAX } from "./codec.ts";

const arbHash = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("hex"));
const arbMsg: fc.Arbitrary<BlobMsg> = fc.oneof(
  fc.record({ type: fc.constant("want" as const), hashes: fc.array(arbHash, { minLength: 1, maxLength: WANT_HASHES_MAX }) }),
  fc.record({ type: fc.constant("chunk" as const), hash: arbHash, bytes: fc.uint8Array({ minLength: 1, maxLength: 4096 }) }),
  fc.record({ type: fc.constant("none" as const), hash: arbHash }),
);

/** A chunk's bytes: compare the bytes, not the class. */
const plain = (m: BlobMsg) => (m.type === "chunk" ? { ...m, bytes: [...m.bytes] } : m);

/** Decoding gives a message or a frame_malformed UmbraError; anything else fails the property. */
function decodesOrMalformed(buf: Uint8Array): void {
  try {
    decodeBlobMsg(buf);
  } catch (e) {
    expect(e).toBeInstanceOf(UmbraError);
    expect((e as UmbraError).code).toBe("frame_malformed");
  }
}

/** A frame of tag 1 to 3 (a known message) and random bytes after: the bodies' decoders, not the tag check, get the bytes. */
const arbTagged = fc.tuple(fc.integer({ min: 1, max: 3 }), fc.uint8Array({ maxLength: 120 })).map(([tag, rest]) => Buffer.from([tag, ...rest]));

describe("blob wire", () => {
  test("decode(encode(m)) equals m, a chunk's bytes copied out of the frame (property, fixed seed)", () => {
    fc.assert(
      fc.property(arbMsg, (m) => {
        const frame = encodeBlobMsg(m);
        const back = decodeBlobMsg(frame);
        expect(plain(back)).toEqual(plain(m));
        if (back.type === "chunk" && m.type === "chunk") {
          frame.fill(0); // a view into the frame would now read zeros
          expect([...back.bytes]).toEqual([...m.bytes]);
        }
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  test("random bytes decode or are frame_malformed", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), decodesOrMalformed), { seed: 7, numRuns: 5000 });
    fc.assert(fc.property(arbTagged, decodesOrMalformed), { seed: 8, numRuns: 5000 });
  });

  test("a cut frame, or a frame with a byte after it, is malformed", () => {
    const refused = (m: BlobMsg, cut: number) => {
      const buf = encodeBlobMsg(m);
      expect(() => decodeBlobMsg(buf.subarray(0, cut % buf.length))).toThrow(UmbraError);
      expect(() => decodeBlobMsg(Buffer.concat([buf, Buffer.from([0])]))).toThrow(/trailing/);
    };
    fc.assert(fc.property(arbMsg, fc.nat(), refused), { seed: 3, numRuns: 1000 });
  });

  test("a frame with one byte changed decodes or is malformed", () => {
    const mutated = ([m, at, byte]: [BlobMsg, number, number]) => {
      const buf = encodeBlobMsg(m);
      buf[at % buf.length] = byte;
      return buf;
    };
    fc.assert(fc.property(fc.tuple(arbMsg, fc.nat(), fc.nat({ max: 255 })).map(mutated), decodesOrMalformed), { seed: 4, numRuns: 2000 });
  });

  test.each([
    ["empty", new Uint8Array(0), /blob frame of 0 bytes/],
    ["over the frame limit", new Uint8Array(BLOB_FRAME_BYTES_MAX + 1).fill(3), new RegExp(`blob frame of ${BLOB_FRAME_BYTES_MAX + 1} bytes`)],
    ["unknown tag", new Uint8Array([9]), /unknown blob tag 9/],
    ["truncated hash", new Uint8Array([3, 1, 2]), /undecodable blob frame/],
    ["want of zero", new Uint8Array([1, 0]), /want: 0 < 1/],
    ["want of too many", new Uint8Array([1, 0xfd, 0x01, 0x01]), new RegExp(`want: 257 > ${WANT_HASHES_MAX}`)],
    ["empty chunk", Buffer.concat([Buffer.from([2]), Buffer.alloc(32), Buffer.from([0])]), /chunk of 0 bytes/],
    ["trailing bytes", Buffer.concat([encodeBlobMsg({ type: "none", hash: "a".repeat(64) }), Buffer.from([0])]), /1 trailing bytes after none/],
  ])("a malformed frame (%s) is refused with a reason", (_what, buf, why) => {
    expect(() => decodeBlobMsg(buf)).toThrow(UmbraError);
    expect(() => decodeBlobMsg(buf)).toThrow(why);
  });

  test("encode refuses what the peer would refuse", () => {
    expect(() => encodeBlobMsg({ type: "want", hashes: [] })).toThrow(/want: 1\.\.256 items/);
    expect(() => encodeBlobMsg({ type: "want", hashes: Array(WANT_HASHES_MAX + 1).fill("a".repeat(64)) })).toThrow(/want/);
    expect(() => encodeBlobMsg({ type: "none", hash: "AB".repeat(32) })).toThrow(/chunk hash is 64 hex/);
    expect(() => encodeBlobMsg({ type: "chunk", hash: "a".repeat(64), bytes: new Uint8Array(0) })).toThrow(/chunk of 1\.\./);
    expect(() => encodeBlobMsg({ type: "chunk", hash: "a".repeat(64), bytes: new Uint8Array(CDC_MAX_BYTES + 1) })).toThrow(/chunk of 1\.\./);
  });
});
