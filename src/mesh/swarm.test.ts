// The mesh's datagram copies: a receiver delivers each datagram once however
// many copies arrive, and forgets old ones within a bound.
import { expect, test } from "bun:test";
import { datagramMemory, DATAGRAM_COPIES, DATAGRAMS_REMEMBERED } from "./swarm.ts";

test("a copy of a datagram delivered already is known; a different one is not", () => {
  const m = datagramMemory();
  const a = new Uint8Array([1, 2, 3]);
  expect(m.seen(a)).toBe(false);
  for (let i = 1; i < DATAGRAM_COPIES; i++) expect(m.seen(new Uint8Array([1, 2, 3]))).toBe(true);
  expect(m.seen(new Uint8Array([1, 2, 4]))).toBe(false);
  // a view into a larger buffer compares by its own bytes
  const big = new Uint8Array([9, 1, 2, 3, 9]);
  expect(m.seen(big.subarray(1, 4))).toBe(true);
});

test("memory is bounded: past DATAGRAMS_REMEMBERED newer datagrams, the oldest is forgotten", () => {
  const m = datagramMemory();
  expect(m.seen(new Uint8Array([0, 0]))).toBe(false);
  for (let i = 1; i <= DATAGRAMS_REMEMBERED; i++) expect(m.seen(new Uint8Array([1, i & 255, i >> 8]))).toBe(false);
  expect(m.seen(new Uint8Array([0, 0]))).toBe(false); // forgotten: delivered again
  expect(m.seen(new Uint8Array([1, DATAGRAMS_REMEMBERED & 255, DATAGRAMS_REMEMBERED >> 8]))).toBe(true);
});
