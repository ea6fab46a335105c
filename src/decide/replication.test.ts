// Proves write acknowledgement (only once ackShadows replicas hold a write
// durably, failing in time otherwise) and the sync status of each replica,
// by table and by property.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { HostId } from "../shared/ids.ts";
import { initialReplication, step, type ReplicationConfig, type ReplicationEffect, type ReplicationEvent, type ReplicationState } from "./replication.ts";

const h = (s: string) => s as HostId;
const cfg = (over: Partial<ReplicationConfig> = {}): ReplicationConfig => ({
  service: "web",
  self: h("a"),
  replicas: [h("b"), h("c")],
  ackShadows: 1,
  writeTimeoutMs: 1000,
  staleAfterMs: 500,
  ...over,
});

function run(s0: ReplicationState, evs: Array<[ReplicationEvent, number]>): { state: ReplicationState; effects: ReplicationEffect[] } {
  let s = s0;
  const all: ReplicationEffect[] = [];
  for (const [e, t] of evs) {
    const out = step(s, e, t);
    s = out.state;
    all.push(...out.effects);
  }
  return { state: s, effects: all };
}

describe("replication: write acknowledgement", () => {
  test("a write is acknowledged once ackShadows replicas hold it durably, not before", () => {
    const s0 = initialReplication(cfg({ ackShadows: 2 }), 0);
    const { effects } = run(s0, [
      [{ type: "peer-connected", peer: h("b") }, 1],
      [{ type: "peer-connected", peer: h("c") }, 1],
      [{ type: "write-durable", id: "w1" }, 10],
      [{ type: "peer-durable", peer: h("b"), id: "w1" }, 15],
      [{ type: "peer-durable", peer: h("b"), id: "w1" }, 16], // a duplicate counts once
    ]);
    expect(effects.filter((e) => e.type === "acked")).toEqual([]);
    expect(effects).toContainEqual({ type: "request-durable", id: "w1", to: [h("b"), h("c")] });
    const more = step(run(s0, [
      [{ type: "peer-connected", peer: h("b") }, 1],
      [{ type: "write-durable", id: "w1" }, 10],
      [{ type: "peer-durable", peer: h("b"), id: "w1" }, 15],
    ]).state, { type: "peer-durable", peer: h("c"), id: "w1" }, 22);
    expect(more.effects).toContainEqual({ type: "acked", id: "w1", durableOn: [h("b"), h("c")], ms: 12 });
    expect(more.state.writes).toEqual([]);
  });

  test("a replica that connects after the write is asked then", () => {
    const s0 = initialReplication(cfg(), 0);
    const { effects } = run(s0, [
      [{ type: "write-durable", id: "w1" }, 10],
      [{ type: "peer-connected", peer: h("c") }, 20],
    ]);
    expect(effects.filter((e) => e.type === "request-durable")).toEqual([{ type: "request-durable", id: "w1", to: [h("c")] }]);
  });

  test("a write not acknowledged in time fails and says where it is durable", () => {
    const s0 = initialReplication(cfg({ ackShadows: 2 }), 0);
    const { effects, state } = run(s0, [
      [{ type: "write-durable", id: "w1" }, 0],
      [{ type: "peer-durable", peer: h("b"), id: "w1" }, 5],
      [{ type: "tick" }, 999],
      [{ type: "tick" }, 1000],
      [{ type: "peer-durable", peer: h("c"), id: "w1" }, 1001], // too late: no second answer
    ]);
    expect(effects.filter((e) => e.type === "write-failed" || e.type === "acked")).toEqual([{ type: "write-failed", id: "w1", why: "timeout", durableOn: [h("b")], ms: 1000 }]);
    expect(state.writes).toEqual([]);
  });

  test("ackShadows = 0 acknowledges at once; a stranger's confirmation counts for nothing", () => {
    const zero = step(initialReplication(cfg({ ackShadows: 0 }), 0), { type: "write-durable", id: "w" }, 3);
    expect(zero.effects).toContainEqual({ type: "acked", id: "w", durableOn: [], ms: 0 });
    const s = step(initialReplication(cfg(), 0), { type: "write-durable", id: "w" }, 3).state;
    expect(step(s, { type: "peer-durable", peer: h("zz"), id: "w" }, 4).effects.filter((e) => e.type === "acked")).toEqual([]);
  });

  test("the configuration must be satisfiable", () => {
    expect(() => initialReplication(cfg({ ackShadows: 3 }), 0)).toThrow("ackShadows is at most");
  });
});

describe("replication: sync status", () => {
  test("stale until heard, then syncing / diverged / in-sync from the figures, stale again when silent", () => {
    let s = initialReplication(cfg(), 0);
    expect(s.peers["b"]!.status).toBe("stale");
    const seen: string[] = [];
    const go = (e: ReplicationEvent, t: number) => {
      const out = step(s, e, t);
      s = out.state;
      for (const fx of out.effects) if (fx.type === "status-changed" && fx.peer === "b") seen.push(fx.to);
    };
    go({ type: "peer-connected", peer: h("b") }, 10);
    go({ type: "peer-sync", peer: h("b"), lagChanges: 3, lagBytes: 300, theyLack: true, weLack: false }, 20);
    go({ type: "peer-sync", peer: h("b"), lagChanges: 1, lagBytes: 90, theyLack: true, weLack: true }, 30);
    go({ type: "peer-sync", peer: h("b"), lagChanges: 0, lagBytes: 0, theyLack: false, weLack: false }, 40);
    go({ type: "tick" }, 540);
    go({ type: "tick" }, 541);
    expect(seen).toEqual(["in-sync", "syncing", "diverged", "in-sync", "stale"]);
    expect(s.peers["b"]).toMatchObject({ lagChanges: 0, lagBytes: 0, status: "stale" });
  });
});

describe("replication: properties", () => {
  const ev = fc.oneof(
    fc.record({ type: fc.constant("write-durable" as const), id: fc.integer({ min: 0, max: 20 }).map(String) }),
    fc.record({ type: fc.constant("peer-durable" as const), peer: fc.constantFrom(h("b"), h("c"), h("d")), id: fc.integer({ min: 0, max: 20 }).map(String) }),
    fc.record({ type: fc.constant("peer-connected" as const), peer: fc.constantFrom(h("b"), h("c")) }),
    fc.record({ type: fc.constant("peer-disconnected" as const), peer: fc.constantFrom(h("b"), h("c")) }),
    fc.record({ type: fc.constant("tick" as const) }),
  );

  test("every write ends at most once, acknowledged only with ackShadows distinct replicas that confirmed it", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 }), fc.array(fc.tuple(ev, fc.integer({ min: 0, max: 400 })), { maxLength: 80 }), (ack, evs) => {
        let s = initialReplication(cfg({ ackShadows: ack }), 0);
        let t = 0;
        const used = new Set<string>();
        const confirmed = new Map<string, Set<string>>();
        const ended = new Set<string>();
        for (const [e, dt] of evs) {
          if (e.type === "write-durable") {
            if (used.has(e.id)) continue; // ids are unique by contract
            used.add(e.id);
          }
          if (e.type === "peer-durable" && e.peer !== "d") {
            if (!confirmed.has(e.id)) confirmed.set(e.id, new Set());
            confirmed.get(e.id)!.add(e.peer);
          }
          t += dt;
          const out = step(s, e, t);
          s = out.state;
          for (const fx of out.effects) {
            if (fx.type !== "acked" && fx.type !== "write-failed") continue;
            expect(ended.has(fx.id)).toBe(false);
            ended.add(fx.id);
            if (fx.type === "acked") {
              expect(new Set(fx.durableOn).size).toBe(fx.durableOn.length);
              expect(fx.durableOn.length).toBeGreaterThanOrEqual(ack);
              for (const p of fx.durableOn) expect(confirmed.get(fx.id)?.has(p)).toBe(true);
            }
          }
          // Time-outs are enforced on ticks: right after one, nothing older is left waiting.
          if (e.type === "tick") for (const w of s.writes) expect(t - w.startedMs).toBeLessThan(1000);
        }
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});
