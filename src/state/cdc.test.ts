// Proves content-defined chunking: pinned boundaries, independent of how
// the stream is split, chunk sizes in bounds, and a local edit changing only
// the chunks around it.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { CDC_MAX_BYTES, CDC_MIN_BYTES, type CdcParams, chunkEnds, createChunker, GEAR, topMask } from "./cdc.ts";

/** Seeded pseudo-random bytes (xorshift32), fast enough for tens of MiB. */
function randomBytes(n: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(n / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer, 0, n);
}

/** Small parameters, so a short input has many chunks and hits every rule (min skip, both masks, max cut). */
const SMALL: CdcParams = { minBytes: 64, avgBytes: 256, maxBytes: 1024, maskS: topMask(10), maskL: topMask(6) };

function streamEnds(data: Uint8Array, splits: number[], p?: CdcParams): number[] {
  const ch = createChunker(p);
  const ends: number[] = [];
  let total = 0;
  const take = (cs: Uint8Array[]) => {
    for (const c of cs) ends.push((total += c.length));
  };
  let at = 0;
  for (const s of splits) {
    const to = Math.min(data.length, at + s);
    take(ch.push(data.subarray(at, to)));
    at = to;
  }
  take(ch.push(data.subarray(at)));
  take(ch.end());
  return ends;
}

describe("cdc", () => {
  test("the gear table is pinned (it is protocol: a change moves every boundary)", () => {
    expect([GEAR[0], GEAR[1], GEAR[255]]).toEqual([1517150617, -568573268, 1642263117]);
    expect(new Set(GEAR).size).toBe(256);
  });

  test("boundaries do not depend on how the stream is split (property, fixed seed)", () => {
    const arb = fc.record({
      seed: fc.integer({ min: 1, max: 2 ** 31 }),
      length: fc.integer({ min: 0, max: 600 * 1024 }),
      splits: fc.array(fc.integer({ min: 0, max: 300 * 1024 }), { maxLength: 40 }),
      small: fc.boolean(),
      lowEntropy: fc.boolean(),
    });
    fc.assert(
      fc.property(arb, ({ seed, length, splits, small, lowEntropy }) => {
        const data = randomBytes(length, seed);
        if (lowEntropy) for (let i = 0; i < data.length; i++) data[i] = data[i]! & 1; // long runs: max cuts happen
        const p = small ? SMALL : undefined;
        const whole = chunkEnds(data, p);
        expect(streamEnds(data, splits, p)).toEqual(whole);
        expect(streamEnds(data, [1, 2, 3, 5, 7, 11], p)).toEqual(whole);
      }),
      { seed: 42, numRuns: 120 },
    );
  });

  test("every chunk is within [min, max] except a short last one; mean near 64 KiB on random data", () => {
    const data = randomBytes(32 * 1024 * 1024, 7);
    const ends = chunkEnds(data);
    let prev = 0;
    for (let i = 0; i < ends.length; i++) {
      const size = ends[i]! - prev;
      prev = ends[i]!;
      expect(size).toBeLessThanOrEqual(CDC_MAX_BYTES);
      if (i < ends.length - 1) expect(size).toBeGreaterThanOrEqual(CDC_MIN_BYTES);
    }
    expect(prev).toBe(data.length);
    const mean = data.length / ends.length;
    expect(mean).toBeGreaterThan(56 * 1024);
    expect(mean).toBeLessThan(88 * 1024);
  });

  test("a run of zeros cuts at max, and the empty stream has no chunks", () => {
    expect(chunkEnds(new Uint8Array(3 * CDC_MAX_BYTES + 5))).toEqual([CDC_MAX_BYTES, 2 * CDC_MAX_BYTES, 3 * CDC_MAX_BYTES, 3 * CDC_MAX_BYTES + 5]);
    expect(chunkEnds(new Uint8Array(0))).toEqual([]);
    expect(createChunker().end()).toEqual([]);
  });

  test("a 1 MiB edit in the middle of a 32 MiB blob changes only the chunks around it", () => {
    const size = 32 * 1024 * 1024;
    const a = randomBytes(size, 11);
    const b = a.slice();
    const at = size / 2 + 12_345;
    b.set(randomBytes(1024 * 1024, 99), at);
    const chunksOf = (d: Uint8Array) => {
      const out: string[] = [];
      let prev = 0;
      for (const e of chunkEnds(d)) {
        out.push(Buffer.from(d.subarray(prev, e)).toString("base64"));
        prev = e;
      }
      return out;
    };
    const old = new Set(chunksOf(a));
    const fresh = chunksOf(b);
    const changed = fresh.filter((c) => !old.has(c));
    const movedBytes = changed.reduce((n, c) => n + Buffer.from(c, "base64").length, 0);
    console.log(`edit: ${changed.length} of ${fresh.length} chunks changed, ${(movedBytes / 1048576).toFixed(3)} MiB to move for a 1 MiB edit`);
    expect(movedBytes).toBeGreaterThanOrEqual(1024 * 1024);
    expect(movedBytes).toBeLessThanOrEqual(2 * 1024 * 1024);
    expect(changed.length).toBeLessThan(40);
  });
});
