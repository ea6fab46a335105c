// Proves the mesh's bytes on the wire do not change: one frame of every
// message type (and the optional fields both ways) encodes to exactly the
// bytes recorded here from the codec as it shipped, and decodes back.
// Written before the codec moved onto src/shared/wire.ts; never regenerate.
import { describe, expect, test } from "bun:test";
import { decodeMsg, encodeMsg, type WireMsg } from "./codec.ts";

const GOLDEN = [
  [
    { type: "beacon", sentAtWallMs: 1700000000123, metrics: { ts: 1700000000000, cpuLoad: 0.5, memoryUsage: 0.25, diskIO: 120, networkLatency: 1.5, storageUsage: 0.75, storageIOBytesPerSec: 4096, networkBandwidthBytesPerSec: 1000000 }, forecast: { exhaustionProbability: 0.875, metric: "cpuLoad", anomaly: 0.125 } },
    "0100b08756febc78420100008056febc7842000000000000e03f000000000000d03f0000000000005e40000000000000e83f000000000000b0400000000080842e4101000000000000f83f01000000000000ec3f076370754c6f6164000000000000c03f"],
  [
    { type: "beacon", sentAtWallMs: 1, metrics: { ts: 1700000000000, cpuLoad: 0.5, memoryUsage: 0.25, diskIO: 120, networkLatency: null, storageUsage: 0.75, storageIOBytesPerSec: 4096, networkBandwidthBytesPerSec: 1000000 }, forecast: null },
    "01000000000000f03f0100008056febc7842000000000000e03f000000000000d03f0000000000005e40000000000000e83f000000000000b0400000000080842e410000"],
  [
    { type: "ping", seq: 300, updates: [{ id: "h1", status: "alive", incarnation: 0 }, { id: "h2", status: "dead", incarnation: 70000 }] },
    "02fd2c0102026831000002683202fe70110100"],
  [
    { type: "ack", seq: 0, updates: [] },
    "030000"],
  [
    { type: "ping-req", seq: 5, target: "h3", updates: [{ id: "h3", status: "suspect", incarnation: 8589934592 }] },
    "04050268330102683301ff0000000002000000"],
  [
    { type: "propose", service: "web", epoch: 8, holder: "h3", from: "h2", reason: "predicted", proposer: "h3", basis: { service: "web", epoch: 7, holder: "h2", from: "h1", reason: "handover", votes: [{ voter: "h1", sig: "abababababababababababababababababababababababababababababababababababababababababababababababababababababababababababababababab" }, { voter: "h3", sig: "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f" }] }, boot: 123456 },
    "0a03776562080268330102683203026833010377656207026832010268310202026831abababababababababababababababababababababababababababababababababababababababababababababababababababababababababababababababab0268330f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0ffe40e20100"],
  [
    { type: "propose", service: "db", epoch: 1, holder: "h1", from: null, reason: "initial", proposer: "h1", basis: null, boot: 1 },
    "0a0264620102683100000268310001"],
  [
    { type: "vote", service: "web", epoch: 8, holder: "h3", from: "h2", reason: "holder-lost", voter: "h1", sig: "abababababababababababababababababababababababababababababababababababababababababababababababababababababababababababababababab", boot: 99 },
    "0b03776562080268330102683201026831abababababababababababababababababababababababababababababababababababababababababababababababababababababababababababababababab63"],
  [
    { type: "reject", service: "web", epoch: 8, voter: "h2", votedEpoch: 9 },
    "0c037765620802683209"],
  [
    { type: "certificate", cert: { service: "web", epoch: 7, holder: "h2", from: "h1", reason: "handover", votes: [{ voter: "h1", sig: "abababababababababababababababababababababababababababababababababababababababababababababababababababababababababababababababab" }, { voter: "h3", sig: "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f" }] }, inPerson: true },
    "0d0377656207026832010268310202026831abababababababababababababababababababababababababababababababababababababababababababababababababababababababababababababababab0268330f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f01"],
  [
    { type: "certificate", cert: { service: "web", epoch: 7, holder: "h2", from: null, reason: "initial", votes: [] }, inPerson: false },
    "0d037765620702683200000000"],
  [
    { type: "renew", service: "web", epoch: 8, holder: "h3", seq: 65536, boot: 4 },
    "0e0377656208026833fe0000010004"],
  [
    { type: "grant", service: "web", epoch: 8, seq: 253, voter: "h2", boot: 4 },
    "0f0377656208fdfd0002683204"],
  [
    { type: "cert-request", service: "web", epoch: 8 },
    "100377656208"],
  // tag 17, "web", epoch 8, "h3", seq 300 (0xfd then 2 bytes little-endian), boot 4
  [
    { type: "lapsed", service: "web", epoch: 8, holder: "h3", seq: 300, boot: 4 },
    "110377656208026833fd2c0104"],
  [
    { type: "lapsed-ack", service: "web", epoch: 8, seq: 300, voter: "h2", boot: 4 },
    "120377656208fd2c0102683204"],

] as Array<[WireMsg, string]>;

describe("mesh codec golden bytes", () => {
  test.each(GOLDEN.map(([m, hex], i) => [`${i }: ${m.type }`, m, hex] as const))("%s", (_name, m, hex) => {
    expect(encodeMsg(m).toString("hex")).toBe(hex);
    expect(decodeMsg(Buffer.from(hex, "hex"))).toEqual(m);
  });
});
