// Proves the blob fetch's decisions (scheduler.ts) without a socket or a
// store: each row is a fetch (window, rate, chunk sizes, sources), a script
// of events at given times, each with the exact effects expected: which chunk is
// asked of which source, when a source is dropped, when a chunk goes
// elsewhere, when the bucket wants a wake, when the fetch is done or failed.
// Then, that a step never changes the state it is given.

import { describe, expect, test } from "bun:test";
import { CDC_MAX_BYTES } from "../cdc.ts";
import type { ChunkRef } from "../manifest.ts";
import { type FetchConfig, type FetchEffect, type FetchEvent, type FetchState, initialFetch, step } from "./scheduler.ts";

/** A chunk size: half the largest chunk. */
const HALF = CDC_MAX_BYTES / 2;
/** An idle timeout short enough to read in the rows. */
const IDLE_MS = 1000;

/** Chunk i's hash: 64 hex digits. */
const h = (i: number): string => i.toString(16).padStart(64, "0");

type Row = {
  name: string;
  config?: Partial<FetchConfig>;
  /** Chunk i is h(i), of sizes[i] bytes. */
  sizes: number[];
  /** Per source, its connection (default: its own index) and whether it is closed at the start. */
  sources: Array<{ peer?: number; closed?: boolean }>;
  /** Events, each at a time in ms, with the effects its step must have, exactly. */
  script: Array<[number, FetchEvent, FetchEffect[]]>;
};

// Events and effects, short.
const run: FetchEvent = { type: "run" };
const tick: FetchEvent = { type: "tick" };
const refill: FetchEvent = { type: "refill" };
const chunk = (source: number, i: number, bytes = HALF, ok = true): FetchEvent => ({ type: "chunk", source, hash: h(i), bytes, ok });
const none = (source: number, i: number): FetchEvent => ({ type: "none", source, hash: h(i) });
const closed = (source: number): FetchEvent => ({ type: "closed", source });
const stored = (size = HALF): FetchEvent => ({ type: "stored", size });
const ask = (source: number, ...chunks: number[]): FetchEffect => ({ type: "ask", source, hashes: chunks.map(h) });
const store = (source: number, i: number, size = HALF): FetchEffect => ({ type: "store", source, hash: h(i), size });
const soon: FetchEffect = { type: "run-soon" };
const done: FetchEffect = { type: "done" };


const rows: Row[] = [
  {
    name: "one source: everything asked of it at once, stored, done",
    sizes: [HALF, HALF],
    sources: [{}],
    script: [
      [0, run, [ask(0, 0, 1)]],
      [5, chunk(0, 0), [store(0, 0)]],
      [6, chunk(0, 1), [store(0, 1)]],
      [7, stored(), [soon]],
      [8, run, []],
      [9, stored(), [done]],
    ],
  },
  {
    name: "two sources: each chunk to the least loaded, the first of equals",
    sizes: [HALF, HALF, HALF, 2 * HALF],
    sources: [{}, {}],
    script: [[0, run, [ask(0, 0, 2), ask(1, 1, 3)]]],
  },
  {
    name: "two sources, one silent: dropped only past the idle timeout, its chunks go to the other",
    sizes: [HALF, HALF, HALF, HALF],
    sources: [{}, {}],
    script: [
      [0, run, [ask(0, 0, 2), ask(1, 1, 3)]],
      [10, chunk(0, 0), [store(0, 0)]],
      [10, chunk(0, 2), [store(0, 2)]],
      [IDLE_MS, tick, []],
      [IDLE_MS + 1, tick, [{ type: "drop", source: 1, why: "idle", inflight: 2 }, soon]],
      [IDLE_MS + 2, run, [ask(0, 3, 1)]],
    ],
  },
  {
    name: "the idle clock of a source starts when it is first asked, not when the fetch began",
    config: { windowBytes: CDC_MAX_BYTES },
    sizes: [HALF, HALF, HALF],
    sources: [{}],
    script: [
      [0, run, [ask(0, 0, 1)]],
      [5, chunk(0, 0), [store(0, 0)]],
      [5, chunk(0, 1), [store(0, 1)]],
      [IDLE_MS + 10, stored(), [soon]],
      [IDLE_MS + 10, stored(), [soon]],
      [IDLE_MS + 10, run, [ask(0, 2)]],
      [IDLE_MS + 20, tick, []],
    ],
  },
  {
    name: "a source answering none: the chunk goes to the other source, even when it is the busier one",
    sizes: [HALF, 2 * HALF, HALF],
    sources: [{}, {}],
    script: [
      [0, run, [ask(0, 0, 2), ask(1, 1)]],
      [1, none(0, 0), [soon]],
      [2, run, [ask(1, 0)]],
    ],
  },
  {
    name: "a corrupt chunk from one source is rejected and asked of the other",
    sizes: [HALF, HALF],
    sources: [{}, {}],
    script: [
      [0, run, [ask(0, 0), ask(1, 1)]],
      [1, chunk(0, 0, HALF, false), [{ type: "reject", source: 0, hash: h(0), why: "hash mismatch" }, soon]],
      [2, run, [ask(1, 0)]],
    ],
  },
  {
    name: "a chunk of the wrong size is rejected like a corrupt one",
    sizes: [HALF],
    sources: [{}, {}],
    script: [
      [0, run, [ask(0, 0)]],
      [1, chunk(0, 0, HALF - 1), [{ type: "reject", source: 0, hash: h(0), why: "size differs from the manifest" }, soon]],
      [2, run, [ask(1, 0)]],
    ],
  },
  {
    name: "a corrupt chunk from the only source: the rest is stored, then the fetch fails naming it",
    sizes: [HALF, HALF],
    sources: [{}],
    script: [
      [0, run, [ask(0, 0, 1)]],
      [1, chunk(0, 0, HALF, false), [{ type: "reject", source: 0, hash: h(0), why: "hash mismatch" }, soon]],
      [2, chunk(0, 1), [store(0, 1)]],
      [3, run, []], // set aside; chunk 1 still counts against the window
      [4, stored(), [soon]],
      [5, run, [{ type: "fail", chunks: [h(0)], unobtainable: 1, sources: 1, live: 1 }]],
    ],
  },
  {
    name: "window full: asks stop once the bytes in flight reach the window, and go on as chunks are stored",
    config: { windowBytes: CDC_MAX_BYTES },
    sizes: [HALF, HALF, HALF, HALF],
    sources: [{}],
    script: [
      [0, run, [ask(0, 0, 1)]],
      [1, chunk(0, 0), [store(0, 0)]],
      [2, run, []], // arrived is not stored: still in the window
      [3, stored(), [soon]],
      [4, run, [ask(0, 2)]],
    ],
  },
  {
    name: "the window may be overshot by the last chunk asked (the check is before the ask)",
    config: { windowBytes: CDC_MAX_BYTES },
    sizes: [HALF / 2, HALF, HALF, HALF],
    sources: [{}],
    script: [[0, run, [ask(0, 0, 1, 2)]]],
  },
  {
    name: "all sources gone: their chunks have nowhere to go and the fetch fails",
    sizes: [HALF, HALF, HALF],
    sources: [{}, {}],
    script: [
      [0, run, [ask(0, 0, 2), ask(1, 1)]],
      [1, closed(0), [{ type: "drop", source: 0, why: "closed", inflight: 2 }, soon]],
      [2, closed(1), [{ type: "drop", source: 1, why: "closed", inflight: 1 }, soon]],
      [3, closed(1), []],
      [4, run, [{ type: "fail", chunks: [h(1), h(2), h(0)], unobtainable: 3, sources: 2, live: 0 }]],
    ],
  },
  {
    name: "a source closed at the start is never asked",
    sizes: [HALF, HALF],
    sources: [{ closed: true }, {}],
    script: [[0, run, [ask(1, 0, 1)]]],
  },
  {
    name: "no source at all: fails at the first run",
    sizes: [HALF],
    sources: [],
    script: [[0, run, [{ type: "fail", chunks: [h(0)], unobtainable: 1, sources: 0, live: 0 }]]],
  },
  {
    name: "an answer to a chunk not asked of that source changes nothing",
    sizes: [HALF, HALF],
    sources: [{}, {}],
    script: [
      [0, run, [ask(0, 0), ask(1, 1)]],
      [1, chunk(1, 0), []],
      [2, none(0, 1), []],
      [3, chunk(0, 7), []],
    ],
  },
  {
    name: "a connection listed twice is one peer: a chunk it lacked is asked of neither index",
    sizes: [HALF],
    sources: [{}, { peer: 0 }],
    script: [
      [0, run, [ask(0, 0)]],
      [1, none(0, 0), [soon]],
      [2, run, [{ type: "fail", chunks: [h(0)], unobtainable: 1, sources: 2, live: 2 }]],
    ],
  },
  {
    name: "rate limit: the bucket (a tenth of a second's worth, at least the largest chunk) empties, one wake however many runs, then a chunk per refill",
    config: { rateBytesPerSec: 10 * CDC_MAX_BYTES },
    sizes: [HALF, HALF, HALF, HALF],
    sources: [{}],
    script: [
      [0, run, [{ type: "wake", afterMs: 50 }, ask(0, 0, 1)]],
      [0, run, []],
      [50, refill, [soon]],
      [50, run, [{ type: "wake", afterMs: 50 }, ask(0, 2)]],
    ],
  },
];

/** Plays a row's script from its initial state: each step's effects, in order. */
function play(row: Row): FetchEffect[][] {
  const config: FetchConfig = { windowBytes: 8 * CDC_MAX_BYTES, idleTimeoutMs: IDLE_MS, ...row.config };
  const missing: ChunkRef[] = row.sizes.map((size, i) => ({ hash: h(i), size }));
  let s = initialFetch(
    config,
    missing,
    row.sources.map((x, i) => ({ peer: x.peer ?? i, closed: x.closed ?? false })),
    0,
  );
  return row.script.map(([at, e]) => {
    const r = step(s, e, at);
    s = r.state;
    return r.effects;
  });
}

describe("blob fetch scheduler", () => {
  test.each(rows.map((r) => [r.name, r] as const))("%s", (_name, row) => {
    expect(play(row)).toEqual(row.script.map(([, , effects]) => effects));
  });

  test("a step never changes the state it is given", () => {
    const config: FetchConfig = { windowBytes: CDC_MAX_BYTES, idleTimeoutMs: IDLE_MS, rateBytesPerSec: 10 * CDC_MAX_BYTES };
    const missing = [0, 1, 2, 3, 4].map((i) => ({ hash: h(i), size: HALF }));
    const script: Array<[number, FetchEvent]> = [[0, run], [1, none(0, 0)], [2, chunk(1, 1)], [3, chunk(1, 1, HALF, false)], [4, run], [IDLE_MS + 10, tick], [60, refill], [60, run], [61, closed(1)], [62, stored()], [63, run]];
    let s: FetchState = initialFetch(config, missing, [{ peer: 0, closed: false }, { peer: 1, closed: false }], 0);
    for (const [at, e] of script) {
      const before = structuredClone(s);
      const r = step(s, e, at);
      expect(s).toEqual(before);
      s = r.state;
    }
  });
});
