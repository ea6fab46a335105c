// Proves the replicator's own sync decisions (replicasync.ts): heads rounds
// go out once per interval from the first tick on; a peer's sync session is
// restarted after exactly QUIET_ROUNDS_MAX differing heads rounds in a row,
// and a round in step starts the count over; a reconcile targets the
// declared heads, else the latest acknowledged, else the current; lag
// figures and the blobs to fetch follow their tables.
import { describe, expect, test } from "bun:test";
import type { HostId } from "../shared/ids.ts";
import { blobsToFetch, headsIntervalMs, initialReplicaSync, lagFigures, QUIET_ROUNDS_MAX, reconcileTarget, step, type ReplicaSyncEffect, type ReplicaSyncEvent, type ReplicaSyncState } from "./replicasync.ts";

const h = (s: string) => s as HostId;
const s0 = () => initialReplicaSync({ services: ["web", "db"], staleAfterMs: 300 }, 0);

function run(s: ReplicaSyncState, evs: Array<[ReplicaSyncEvent, number]>): { state: ReplicaSyncState; effects: ReplicaSyncEffect[][] } {
  const effects: ReplicaSyncEffect[][] = [];
  for (const [e, t] of evs) {
    const out = step(s, e, t);
    s = out.state;
    effects.push(out.effects);
  }
  return { state: s, effects };
}

describe("replicasync: heads rounds", () => {
  test.each([
    [1_000, 333],
    [300, 100],
    [20, 10], // never shorter than the floor
    [1, 10],
  ])("staleAfterMs %p: a round every %p ms", (stale, interval) => {
    expect(headsIntervalMs(stale)).toBe(interval);
  });

  test("the first tick sends a round; the next only once the interval passed, measured from the last round", () => {
    const { effects } = run(s0(), [
      [{ type: "tick" }, 5],
      [{ type: "tick" }, 104],
      [{ type: "tick" }, 105],
      [{ type: "tick" }, 150],
      [{ type: "tick" }, 205],
    ]);
    expect(effects.map((fx) => fx.length > 0)).toEqual([true, false, true, false, true]);
    expect(effects[0]).toEqual([{ type: "heads-round" }]);
  });
});

describe("replicasync: quiet rounds restart a sync session", () => {
  const heard = (peer: string, differ: boolean, service = "web"): ReplicaSyncEvent => ({ type: "heads-heard", service, peer: h(peer), differ });

  test.each<[string, boolean[], ReplicaSyncEffect[][]]>([
    ["in step: nothing to do", [false, false], [[], []]],
    ["differing once: the sync protocol is nudged", [true], [[{ type: "sync-now", service: "web" }]]],
    ["differing twice in a row: restarted, then nudged", [true, true], [[{ type: "sync-now", service: "web" }], [{ type: "restart-sync", service: "web", peer: h("b") }, { type: "sync-now", service: "web" }]]],
    ["a round in step between: the count starts over", [true, false, true], [[{ type: "sync-now", service: "web" }], [], [{ type: "sync-now", service: "web" }]]],
    ["after a restart the count starts over", [true, true, true], [[{ type: "sync-now", service: "web" }], [{ type: "restart-sync", service: "web", peer: h("b") }, { type: "sync-now", service: "web" }], [{ type: "sync-now", service: "web" }]]],
  ])("%s", (_, differs, want) => {
    const { effects } = run(s0(), differs.map((d, i) => [heard("b", d), i]));
    expect(effects).toEqual(want);
  });

  test("counts are per peer and per service", () => {
    const { effects, state } = run(s0(), [
      [heard("b", true), 1],
      [heard("c", true), 2],
      [heard("b", true, "db"), 3],
      [heard("c", true), 4],
    ]);
    expect(effects[3]).toEqual([{ type: "restart-sync", service: "web", peer: h("c") }, { type: "sync-now", service: "web" }]);
    expect(state.services["web"]!.quiet).toEqual({ b: 1 });
    expect(state.services["db"]!.quiet).toEqual({ b: 1 });
    expect(QUIET_ROUNDS_MAX).toBe(2);
  });

  test("a service this host keeps no replica of changes nothing", () => {
    const out = step(s0(), heard("b", true, "cache"), 1);
    expect(out.effects).toEqual([]);
    expect(out.state.services).toEqual(s0().services);
  });
});

describe("replicasync: the heads a reconcile brings the configuration to", () => {
  const acked = run(s0(), [
    [{ type: "heads-acknowledged", service: "web", heads: ["a1"] }, 1],
    [{ type: "heads-acknowledged", service: "web", heads: ["b2", "c3"] }, 2],
  ]).state;
  test.each<[string, ReplicaSyncState, string, string[] | undefined, string[]]>([
    ["declared heads win", acked, "web", ["d4"], ["d4"]],
    ["else the latest acknowledged", acked, "web", undefined, ["b2", "c3"]],
    ["else the current heads", acked, "db", undefined, ["cur"]],
    ["nothing acknowledged yet: the current heads", s0(), "web", undefined, ["cur"]],
  ])("%s", (_, s, service, declared, want) => {
    expect(reconcileTarget(s, service, declared, ["cur"])).toEqual(want);
  });

  test("time must not move backwards", () => {
    const s = step(s0(), { type: "tick" }, 10).state;
    expect(() => step(s, { type: "tick" }, 9)).toThrow("time does not move backwards");
  });
});

describe("replicasync: lag figures", () => {
  test.each([
    ["in step", { changes: 0, bytes: 0 }, null, { lagChanges: 0, lagBytes: 0, theyLack: false, weLack: false, differ: false }],
    ["they lack ours", { changes: 2, bytes: 90 }, null, { lagChanges: 2, lagBytes: 90, theyLack: true, weLack: false, differ: true }],
    ["we lack theirs, shared heads unknown", null, null, { lagChanges: 0, lagBytes: 0, theyLack: false, weLack: true, differ: true }],
    ["we lack theirs and they ours (diverged)", null, { changes: 1, bytes: 40 }, { lagChanges: 1, lagBytes: 40, theyLack: true, weLack: true, differ: true }],
  ] as const)("%s", (_, lag, shared, want) => {
    expect(lagFigures(lag, shared)).toEqual(want);
  });
});

describe("replicasync: blobs to fetch", () => {
  const refs = [{ hash: "h1", name: "one" }, { hash: "h2", name: "two" }, { hash: "h1", name: "one-again" }, { hash: "h3", name: "three" }, { hash: "h4", name: "four" }];
  test("not complete, not under way, not waiting for a retry; a hash named twice is fetched once, under its first name", () => {
    const got = blobsToFetch(refs, new Set(["h2"]), new Map([["h3", {}]]), new Map([["h4", 101], ["h1", 100]]), 100);
    expect(got.map((r) => r.name)).toEqual(["one"]);
    expect(blobsToFetch(refs, new Set(), new Set(), new Map([["h4", 101]]), 101).map((r) => r.name)).toEqual(["one", "two", "three", "four"]);
  });
});
