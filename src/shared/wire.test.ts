// Proves the wire combinators: every codec reads back what it wrote; a
// peer's bytes that break a bound, a tag, a length or the frame limit are an
// UmbraError("frame_malformed") and nothing else; what we must never send
// fails an assertion; and (checked by tsc) a struct whose fields drift from
// the message type it encodes does not compile.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { AssertionError } from "./assert.ts";
import { UmbraError } from "./errors.ts";
import {
  bool,
  bytes,
  type Codec,
  f64,
  f64In,
  fixedHex,
  list,
  oneOf,
  optional,
  string,
  struct,
  taggedUnion,
  trailing,
  uint,
  type WireState,
} from "./wire.ts";

/** Encodes one value alone, as a frame body would. */
function encodeOne<T>(codec: Codec<T>, v: T): Buffer {
  const st: WireState = { start: 0, end: 0, buffer: null };
  codec.preencode(st, v);
  st.buffer = Buffer.alloc(st.end);
  codec.encode(st, v);
  expect(st.start).toBe(st.end);
  return st.buffer as Buffer;
}

/** Decodes one value that must fill `buf` exactly. */
function decodeOne<T>(codec: Codec<T>, buf: Uint8Array): T {
  const st: WireState = { start: 0, end: buf.byteLength, buffer: buf };
  const v = codec.decode(st);
  expect(st.start).toBe(st.end);
  return v;
}

const malformed = (f: () => unknown, why: RegExp) => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UmbraError);
    expect((e as UmbraError).code).toBe("frame_malformed");
    expect((e as UmbraError).message).toMatch(why);
    return;
  }
  throw new Error("expected frame_malformed");
};

const COLORS = ["red", "green", "blue"] as const;
const point = struct({ x: uint, y: uint, label: optional(string({ min: 1, max: 8, what: "label" })) });
const hex32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("hex"));

describe("codecs read back what they wrote", () => {
  test.each<[string, Codec<any>, fc.Arbitrary<unknown>]>([
    ["uint", uint, fc.nat({ max: Number.MAX_SAFE_INTEGER })],
    ["bool", bool, fc.boolean()],
    ["f64", f64, fc.double({ noNaN: true, noDefaultInfinity: true })],
    ["f64In", f64In(0, 1, "a probability"), fc.double({ min: 0, max: 1, noNaN: true })],
    ["string", string({ max: 64, what: "name" }), fc.string({ maxLength: 16 })],
    ["fixedHex", fixedHex(32, "hash"), hex32],
    ["oneOf", oneOf(COLORS, "color"), fc.constantFrom(...COLORS)],
    ["list", list(fixedHex(32, "hash"), { min: 1, max: 4, what: "hashes" }), fc.array(hex32, { minLength: 1, maxLength: 4 })],
    ["optional", optional(uint), fc.option(fc.nat(), { nil: null })],
    ["struct", point, fc.record({ x: fc.nat(), y: fc.nat(), label: fc.option(fc.stringMatching(/^[a-z]{1,8}$/), { nil: null }) })],
  ])("%s", (_name, codec, arb) => {
    fc.assert(fc.property(arb, (v) => expect(decodeOne(codec, encodeOne(codec, v))).toEqual(v)), { seed: 11, numRuns: 300 });
  });

  test("bytes: a view into the frame, or a copy that outlives it", () => {
    const view = bytes({ min: 1, max: 8, what: "chunk" });
    const copy = bytes({ min: 1, max: 8, what: "chunk", copy: true });
    const buf = encodeOne(view, new Uint8Array([1, 2, 3]));
    expect(buf.toString("hex")).toBe("03010203"); // a length, then the bytes
    const v = decodeOne(view, buf);
    const k = decodeOne(copy, buf);
    buf[1] = 9;
    expect([...v]).toEqual([9, 2, 3]);
    expect([...k]).toEqual([1, 2, 3]);
    expect([Buffer.isBuffer(v), Buffer.isBuffer(k)]).toEqual([true, false]);
  });

  test("fixedHex has no length prefix; trailing() is left out when the frame ends", () => {
    expect(encodeOne(fixedHex(2, "tag"), "beef").toString("hex")).toBe("beef");
    const late = trailing(uint);
    expect(decodeOne(late, Buffer.alloc(0))).toBeUndefined();
    expect(encodeOne(late, undefined).length).toBe(0); // left out: not written, as older senders did not
    expect(decodeOne(late, encodeOne(late, null))).toBeNull();
    expect(decodeOne(late, encodeOne(late, 5))).toBe(5);
  });
});

describe("a peer's bytes that break a bound are malformed", () => {
  test.each<[string, () => unknown, RegExp]>([
    ["a string over its bound", () => decodeOne(string({ max: 2, what: "name" }), encodeOne(string({ max: 9, what: "name" }), "abc")), /bad name length: 3 bytes/],
    ["a string under its bound", () => decodeOne(string({ min: 1, max: 2, what: "name" }), Buffer.from([0])), /bad name length: 0 bytes/],
    ["a list over its bound", () => decodeOne(list(uint, { max: 2, what: "seqs" }), Buffer.from([3, 1, 2, 3])), /seqs: 3 > 2/],
    ["a list under its bound", () => decodeOne(list(uint, { min: 1, max: 2, what: "seqs" }), Buffer.from([0])), /seqs: 0 < 1/],
    ["bytes over the bound", () => decodeOne(bytes({ max: 2, what: "chunk" }), Buffer.from([3, 1, 2, 3])), /chunk of 3 bytes/],
    ["empty bytes under the bound", () => decodeOne(bytes({ min: 1, max: 2, what: "chunk" }), Buffer.from([0])), /chunk of 0 bytes/],
    ["an unknown literal", () => decodeOne(oneOf(COLORS, "color"), Buffer.from([3])), /unknown color 3/],
    ["a NaN", () => decodeOne(f64, Buffer.from("000000000000f87f", "hex")), /non-finite/],
    ["a number out of range", () => decodeOne(f64In(0, 1, "a probability"), encodeOne(f64, 2)), /not a probability: 2/],
  ])("%s", (_name, f, why) => malformed(f, why));
});

describe("what we must never send is an assertion, not a frame", () => {
  test.each<[string, () => unknown]>([
    ["a negative uint", () => encodeOne(uint, -1)],
    ["a fraction as uint", () => encodeOne(uint, 1.5)],
    ["an infinity", () => encodeOne(f64, Infinity)],
    ["a number out of range", () => encodeOne(f64In(0, 1, "a probability"), 1.5)],
    ["a string over its bound", () => encodeOne(string({ max: 2, what: "name" }), "abc")],
    ["an empty string under its bound", () => encodeOne(string({ min: 1, max: 2, what: "name" }), "")],
    ["uppercase hex", () => encodeOne(fixedHex(2, "tag"), "BEEF")],
    ["short hex", () => encodeOne(fixedHex(2, "tag"), "bee")],
    ["an unknown literal", () => encodeOne(oneOf(COLORS, "color"), "pink" as never)],
    ["a list over its bound", () => encodeOne(list(uint, { max: 1, what: "seqs" }), [1, 2])],
    ["bytes under the bound", () => encodeOne(bytes({ min: 1, max: 2, what: "chunk" }), new Uint8Array(0))],
  ])("%s", (_name, f) => expect(f).toThrow(AssertionError));
});

type Shape = { type: "dot"; at: number } | { type: "box"; w: number; h: number; name: string | null } | { type: "none" };
const SHAPES = taggedUnion<Shape>(
  {
    dot: [1, struct({ at: uint })],
    box: [2, struct({ w: uint, h: uint, name: optional(string({ max: 4, what: "name" })) })],
    none: [300, struct({})],
  },
  { maxBytes: 16, tag: "uint", what: "shape" },
);
const arbShape: fc.Arbitrary<Shape> = fc.oneof(
  fc.record({ type: fc.constant("dot" as const), at: fc.nat() }),
  fc.record({ type: fc.constant("box" as const), w: fc.nat({ max: 1000 }), h: fc.nat({ max: 1000 }), name: fc.option(fc.stringMatching(/^[a-z]{0,4}$/), { nil: null }) }),
  fc.constant({ type: "none" as const }),
);

describe("taggedUnion frames", () => {
  test("a tag, then the body, and back", () => {
    expect(SHAPES.encode({ type: "dot", at: 5 }).toString("hex")).toBe("0105");
    expect(SHAPES.encode({ type: "none" }).toString("hex")).toBe("fd2c01"); // a varint tag
    fc.assert(fc.property(arbShape, (m) => expect(SHAPES.decode(SHAPES.encode(m))).toEqual(m)), { seed: 5, numRuns: 300 });
  });

  test.each<[string, Uint8Array, RegExp]>([
    ["an empty frame", Buffer.alloc(0), /shape frame of 0 bytes/],
    ["a frame over the limit", Buffer.alloc(17, 1), /shape frame of 17 bytes/],
    ["an unknown tag", Buffer.from([7, 0]), /unknown shape tag 7/],
    ["extra bytes", Buffer.from([1, 5, 0]), /1 trailing bytes after dot/],
    ["a short frame", Buffer.from([2, 1]), /undecodable shape frame/],
  ])("%s is malformed", (_name, buf, why) => malformed(() => SHAPES.decode(buf), why));

  test("encode asserts the frame fits the limit", () => {
    expect(() => SHAPES.encode({ type: "box", w: 2 ** 52, h: 2 ** 52, name: "abcd" })).toThrow(/fits/);
  });

  test("random, cut and mutated bytes decode to a message or are frame_malformed, never anything else", () => {
    const oneOfTwo = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(UmbraError);
        expect((e as UmbraError).code).toBe("frame_malformed");
      }
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 20 }), (b) => oneOfTwo(() => SHAPES.decode(b))), { seed: 1, numRuns: 2000 });
    fc.assert(
      fc.property(arbShape, fc.nat(), fc.nat(), fc.nat({ max: 255 }), (m, cut, at, byte) => {
        const buf = SHAPES.encode(m);
        oneOfTwo(() => SHAPES.decode(buf.subarray(0, cut % buf.length)));
        const mutated = Buffer.from(buf);
        mutated[at % buf.length] = byte;
        oneOfTwo(() => SHAPES.decode(mutated));
      }),
      { seed: 2, numRuns: 2000 },
    );
  });

  test("the type check catches a struct that drifted from its message (tsc fails if it does not)", () => {
    const drifted = () =>
      taggedUnion<Shape>(
        {
          // @ts-expect-error: a field renamed in the codec but not in the message type
          dot: [1, struct({ position: uint })],
          // @ts-expect-error: a field the message type does not have
          box: [2, struct({ w: uint, h: uint, name: optional(string({ max: 4, what: "name" })), depth: uint })],
          // @ts-expect-error: a field on a message that has none
          none: [3, struct({ name: string({ max: 4, what: "name" }) })],
        },
        { maxBytes: 16, tag: "uint", what: "shape" },
      );
    // @ts-expect-error: a message type without a tag
    const missing = () => taggedUnion<Shape>({ dot: [1, struct({ at: uint })] }, { maxBytes: 16, tag: "uint", what: "shape" });
    // @ts-expect-error: an optional field decodes as null, so its codec must be optional()
    const loose: Codec<{ a: number | null }> = struct({ a: uint });
    expect([typeof drifted, typeof missing, typeof loose]).toEqual(["function", "function", "object"]);
  });

  test("two messages on one tag is a bug", () => {
    expect(() => taggedUnion<Shape>({ dot: [1, struct({ at: uint })], box: [1, struct({ w: uint, h: uint, name: optional(string({ max: 4, what: "name" })) })], none: [2, struct({})] }, { maxBytes: 16, tag: "uint", what: "shape" })).toThrow(/tags are distinct/);
  });
});
