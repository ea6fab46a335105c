// Proves the mesh codec: every message reads back what it wrote; random,
// cut, padded and mutated bytes decode to a message or are an
// UmbraError("frame_malformed"), never anything else; an older agent's
// beacon (no forecast) still decodes; and what we must never send fails.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { decodeMsg, encodeMsg, FRAME_BYTES_MAX, type WireMsg } from "./codec.ts";
import { ACTIONS } from "../shared/statements.ts";
import { UmbraError } from "../shared/errors.ts";

const id = fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/);
const sig = fc.uint8Array({ minLength: 64, maxLength: 64 }).map((b) => Buffer.from(b).toString("hex"));
const uint = fc.nat({ max: 2 ** 40 });
const num = fc.double({ noNaN: true, noDefaultInfinity: true });
const reason = fc.constantFrom("initial", "holder-lost", "handover" as const);
const update = fc.record({ id, status: fc.constantFrom("alive", "suspect", "dead" as const), incarnation: uint });
const cert = fc.record({
  service: id,
  epoch: uint,
  holder: id,
  from: fc.option(id, { nil: null }),
  reason,
  votes: fc.array(fc.record({ voter: id, sig }), { maxLength: 7 }),
});
const sample = fc.record({
  ts: num,
  cpuLoad: num,
  memoryUsage: num,
  diskIO: num,
  networkLatency: fc.option(num, { nil: null }),
  storageUsage: num,
  storageIOBytesPerSec: num,
  networkBandwidthBytesPerSec: num,
});

const arbMsg: fc.Arbitrary<WireMsg> = fc.oneof(
  fc.record({
    type: fc.constant("beacon" as const),
    sentAtWallMs: num,
    metrics: fc.option(sample, { nil: null }),
    forecast: fc.option(fc.record({ exhaustionProbability: fc.double({ min: 0, max: 1, noNaN: true }), metric: id, anomaly: fc.double({ min: 0, max: 1, noNaN: true }) }), { nil: null }),
    unhealthy: fc.option(fc.array(id, { maxLength: 4 }), { nil: null }),
    standings: fc.option(
      fc.array(fc.record({ host: id, mode: fc.constantFrom("standby" as const, "maintenance" as const, "active" as const), reason: fc.string({ maxLength: 40 }), nonce: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((x) => Buffer.from(x).toString("hex")), issuedAtMs: uint }), { maxLength: 3 }),
      { nil: null },
    ),
    votes: fc.option(
      fc.array(fc.record({ service: id, votes: uint, reason: fc.string({ maxLength: 40 }), nonce: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((x) => Buffer.from(x).toString("hex")), issuedAtMs: uint }), { maxLength: 3 }),
      { nil: null },
    ),
    safe: fc.option(fc.array(id, { maxLength: 4 }), { nil: null }),
    warm: fc.option(fc.array(fc.record({ service: id, epoch: uint, seq: uint, hosts: fc.array(id, { maxLength: 4 }) }), { maxLength: 3 }), { nil: null }),
  }),
  fc.record({ type: fc.constant("ping" as const), seq: uint, updates: fc.array(update, { maxLength: 8 }) }),
  fc.record({ type: fc.constant("ack" as const), seq: uint, updates: fc.array(update, { maxLength: 8 }) }),
  fc.record({ type: fc.constant("ping-req" as const), seq: uint, target: id, updates: fc.array(update, { maxLength: 8 }) }),
  fc.record({ type: fc.constant("propose" as const), service: id, epoch: uint, holder: id, from: fc.option(id, { nil: null }), reason, proposer: id, basis: fc.option(cert, { nil: null }), boot: uint }),
  fc.record({ type: fc.constant("vote" as const), service: id, epoch: uint, holder: id, from: fc.option(id, { nil: null }), reason, voter: id, sig, boot: uint }),
  fc.record({ type: fc.constant("reject" as const), service: id, epoch: uint, voter: id, votedEpoch: uint }),
  fc.record({ type: fc.constant("certificate" as const), cert, inPerson: fc.boolean() }),
  fc.record({ type: fc.constant("renew" as const), service: id, epoch: uint, holder: id, seq: uint, boot: uint }),
  fc.record({ type: fc.constant("grant" as const), service: id, epoch: uint, seq: uint, voter: id, boot: uint }),
  fc.record({ type: fc.constant("cert-request" as const), service: id, epoch: uint }),
  fc.record({ type: fc.constant("lapsed" as const), service: id, epoch: uint, holder: id, seq: uint, boot: uint }),
  fc.record({ type: fc.constant("lapsed-ack" as const), service: id, epoch: uint, seq: uint, voter: id, boot: uint }),
  fc.record({
    type: fc.constant("statement" as const),
    statement: fc.record({
      cluster: id,
      action: fc.constantFrom(...ACTIONS),
      service: fc.option(id, { nil: null }),
      target: fc.option(id, { nil: null }),
      expectVotes: fc.option(uint, { nil: null }),
      reason: fc.string({ maxLength: 500 }),
      nonce: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString("hex")),
      issuedAtMs: uint,
      expiresAtMs: uint,
      operator: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString("hex")),
      sig,
    }),
  }),
) as fc.Arbitrary<WireMsg>;

describe("codec", () => {
  test("decode(encode(x)) equals x for every message type", () => {
    fc.assert(
      fc.property(arbMsg, (m) => {
        expect(decodeMsg(encodeMsg(m))).toEqual(m);
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  test("random bytes never crash the decoder: a frame either decodes or is an UmbraError frame_malformed", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          decodeMsg(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(UmbraError);
          expect((e as UmbraError).code).toBe("frame_malformed");
        }
      }),
      { seed: 7, numRuns: 5000 },
    );
  });

  test("a truncated or padded valid frame is malformed", () => {
    fc.assert(
      fc.property(arbMsg, fc.nat(), (m, cut) => {
        const buf = encodeMsg(m);
        const short = buf.subarray(0, cut % buf.length);
        // A beacon cut just before a trailing field is an older agent's beacon: whole, without it and what follows.
        const left = ["warm", "safe", "votes", "standings", "unhealthy", "forecast"] as const;
        const older = m.type === "beacon" ? left.map((_, k) => ({ ...m, ...Object.fromEntries(left.slice(0, k + 1).map((f) => [f, undefined])) })).find((o) => encodeMsg(o).length === short.length) : undefined;
        if (older !== undefined) expect(decodeMsg(short)).toEqual(older);
        else if (short.length > 0) expect(() => decodeMsg(short)).toThrow(UmbraError);
        expect(() => decodeMsg(Buffer.concat([buf, Buffer.from([0])]))).toThrow(/trailing/);
      }),
      { seed: 3, numRuns: 500 },
    );
  });

  test("a beacon from an older agent (no trailing fields) decodes without them; a field left out must not come before one given", () => {
    const withNone = encodeMsg({ type: "beacon", sentAtWallMs: 1, metrics: null, forecast: null, unhealthy: null });
    const old = withNone.subarray(0, withNone.length - 2); // drop both "absent" flags: what agents without forecasts sent
    const decoded = decodeMsg(old);
    expect(decoded).toEqual({ type: "beacon", sentAtWallMs: 1, metrics: null });
    expect("forecast" in decoded || "unhealthy" in decoded).toBe(false);
    expect(decodeMsg(withNone.subarray(0, withNone.length - 1))).toEqual({ type: "beacon", sentAtWallMs: 1, metrics: null, forecast: null });
    expect(() => encodeMsg({ type: "beacon", sentAtWallMs: 1, metrics: null, unhealthy: ["web"] })).toThrow(/left out/);
    expect(() => encodeMsg({ type: "beacon", sentAtWallMs: 1, metrics: null, forecast: { exhaustionProbability: 1.5, metric: "cpuLoad", anomaly: 0 } })).toThrow(/probability/);
  });

  test.each([
    ["empty frame", Buffer.alloc(0), /frame of 0 bytes/],
    ["unknown tag", Buffer.from([99]), /unknown message tag 99/],
    ["oversized frame", Buffer.alloc(FRAME_BYTES_MAX + 1), /frame of/],
    ["too many updates", Buffer.from([2, 0, 200, 1]), /updates: 200 > 32|undecodable/],
    ["bad member status", Buffer.concat([Buffer.from([2, 0, 1, 2]), Buffer.from("h1"), Buffer.from([9, 0])]), /unknown member status 9/],
  ])("%s is rejected with a reason", (_name, bytes, why) => {
    expect(() => decodeMsg(bytes)).toThrow(why);
  });

  test("encode refuses what we must never send (a bug, not a peer's fault)", () => {
    expect(() => encodeMsg({ type: "renew", service: "", epoch: 1, holder: "h1" as never, seq: 1, boot: 1 })).toThrow(/name fits/);
    expect(() => encodeMsg({ type: "renew", service: "web", epoch: -1, holder: "h1" as never, seq: 1, boot: 1 })).toThrow(/uint/);
  });
});

describe("codec fuzz", () => {
  test("a valid frame with one byte changed decodes to a message or is an UmbraError frame_malformed, never anything else", () => {
    fc.assert(
      fc.property(arbMsg, fc.nat(), fc.nat({ max: 255 }), (m, at, byte) => {
        const mutated = Buffer.from(encodeMsg(m));
        mutated[at % mutated.length] = byte;
        try {
          decodeMsg(mutated);
        } catch (e) {
          expect(e).toBeInstanceOf(UmbraError);
          expect((e as UmbraError).code).toBe("frame_malformed");
        }
      }),
      { seed: 9, numRuns: 3000 },
    );
  });
});
