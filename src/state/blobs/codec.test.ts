// Proves the blob channel's codec: every message survives encode then
// decode, and malformed frames are refused with an UmbraError.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { UmbraError } from "../../shared/errors.ts";
import { type BlobMsg, decodeBlobMsg, encodeBlobMsg } from "./codec.ts";

const arbHash = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("hex"));
const arbMsg: fc.Arbitrary<BlobMsg> = fc.oneof(
  fc.record({ type: fc.constant("want" as const), hashes: fc.array(arbHash, { minLength: 1, maxLength: 256 }) }),
  fc.record({ type: fc.constant("chunk" as const), hash: arbHash, bytes: fc.uint8Array({ minLength: 1, maxLength: 4096 }) }),
  fc.record({ type: fc.constant("none" as const), hash: arbHash }),
);

describe("blob wire", () => {
  test("decode(encode(m)) equals m (property, fixed seed)", () => {
    fc.assert(
      fc.property(arbMsg, (m) => {
        const back = decodeBlobMsg(encodeBlobMsg(m));
        if (m.type === "chunk" && back.type === "chunk") expect(Buffer.from(back.bytes).equals(Buffer.from(m.bytes))).toBe(true);
        else expect(back).toEqual(m);
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  test.each([
    ["empty", new Uint8Array(0)],
    ["unknown tag", new Uint8Array([9])],
    ["truncated hash", new Uint8Array([3, 1, 2])],
    ["want of zero", new Uint8Array([1, 0])],
    ["trailing bytes", Buffer.concat([encodeBlobMsg({ type: "none", hash: "a".repeat(64) }), Buffer.from([0])])],
  ])("a malformed frame (%s) is an UmbraError", (_what, buf) => {
    expect(() => decodeBlobMsg(buf)).toThrow(UmbraError);
  });
});
