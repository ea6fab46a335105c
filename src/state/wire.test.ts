// Proves the state channel's codec: every message reads back what it
// wrote, and random bytes, cut frames and mutated frames either decode to a
// message or are an UmbraError("frame_malformed"), never anything else.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { UmbraError } from "../shared/errors.ts";
import { decodeState, encodeState, HEADS_MAX, type StateWire } from "./wire.ts";

const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/);
const head = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("hex"));
const heads = fc.array(head, { maxLength: 6 });

const arbState: fc.Arbitrary<StateWire> = fc.oneof(
  fc.record({ type: fc.constant("sync" as const), service: name, data: fc.uint8Array({ minLength: 1, maxLength: 300 }) }),
  fc.record({ type: fc.constant("durable-request" as const), service: name, id: fc.string({ maxLength: 16 }), heads }),
  fc.record({ type: fc.constant("durable" as const), service: name, id: fc.string({ maxLength: 16 }) }),
  fc.record({ type: fc.constant("heads" as const), service: name, heads }),
);

/** A sync message's data decodes as a Buffer view: compare the bytes, not the class. */
const plain = (m: StateWire) => (m.type === "sync" ? { ...m, data: [...m.data] } : m);

/** Decoding gives a message or a frame_malformed UmbraError; anything else fails the property. */
function decodesOrMalformed(buf: Uint8Array): void {
  try {
    decodeState(buf);
  } catch (e) {
    expect(e).toBeInstanceOf(UmbraError);
    expect((e as UmbraError).code).toBe("frame_malformed");
  }
}

describe("state wire", () => {
  test("decode(encode(x)) equals x for every message type", () => {
    fc.assert(
      fc.property(arbState, (m) => expect(plain(decodeState(encodeState(m)))).toEqual(plain(m))),
      { seed: 42, numRuns: 2000 },
    );
  });

  test("random bytes decode or are frame_malformed", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), decodesOrMalformed), { seed: 7, numRuns: 5000 });
  });

  test("a cut frame is malformed; a mutated one decodes or is malformed", () => {
    fc.assert(
      fc.property(arbState, fc.nat(), fc.nat(), fc.nat({ max: 255 }), (m, cut, at, byte) => {
        const buf = encodeState(m);
        expect(() => decodeState(buf.subarray(0, cut % buf.length))).toThrow(UmbraError);
        expect(() => decodeState(Buffer.concat([buf, Buffer.from([0])]))).toThrow(/trailing/);
        const mutated = Buffer.from(buf);
        mutated[at % buf.length] = byte;
        decodesOrMalformed(mutated);
      }),
      { seed: 3, numRuns: 1000 },
    );
  });

  test.each([
    ["unknown tag", Buffer.from([9, 0]), /unknown state tag 9/],
    ["empty sync message", Buffer.from([1, 1, 0x77, 0]), /sync message of 0 bytes/],
    ["too many heads", Buffer.from([4, 1, 0x77, HEADS_MAX + 1]), new RegExp(`heads: ${HEADS_MAX + 1} > ${HEADS_MAX}`)],
    ["service name too long", Buffer.concat([Buffer.from([3, 65]), Buffer.alloc(65, 0x61), Buffer.from([0])]), /bad service name length: 65 bytes/],
  ])("%s is rejected with a reason", (_name, bytes, why) => {
    expect(() => decodeState(bytes)).toThrow(why);
  });

  test("encode refuses what the peer would reject", () => {
    expect(() => encodeState({ type: "sync", service: "web", data: new Uint8Array(0) })).toThrow(/sync message/);
    expect(() => encodeState({ type: "heads", service: "web", heads: ["AB".repeat(32)] })).toThrow(/head is 64 hex/);
    expect(() => encodeState({ type: "durable", service: "x".repeat(65), id: "w" })).toThrow(/service name fits/);
  });
});
