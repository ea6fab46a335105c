// Proves the state channel's bytes on the wire do not change: one frame of
// every message type encodes to exactly the bytes recorded here from the
// codec as it shipped, and decodes back. Written before the codec moved onto
// src/shared/wire.ts; never regenerate.
import { describe, expect, test } from "bun:test";
import { decodeState, encodeState, type StateWire } from "./wire.ts";

const GOLDEN: Array<[StateWire, string]> = [
  [{ type: "sync", service: "web", data: new Uint8Array([1, 2, 3, 250]) },
    "010377656204010203fa"],
  [{ type: "durable-request", service: "web", id: "w-17", heads: ["0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"] },
    "020377656204772d3137020123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdefffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"],
  [{ type: "durable-request", service: "db", id: "", heads: [] },
    "020264620000"],
  [{ type: "durable", service: "web", id: "w-17" },
    "030377656204772d3137"],
  [{ type: "heads", service: "web", heads: ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"] },
    "040377656201aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
];

/** A sync message's data decodes as a Buffer: compare the bytes, not the class. */
const plain = (m: StateWire) => (m.type === "sync" ? { ...m, data: [...m.data] } : m);

describe("state wire golden bytes", () => {
  test.each(GOLDEN.map(([m, hex], i) => [`${i }: ${m.type }`, m, hex] as const))("%s", (_name, m, hex) => {
    expect(encodeState(m).toString("hex")).toBe(hex);
    expect(plain(decodeState(Buffer.from(hex, "hex")))).toEqual(plain(m));
  });
});
