// Proves the simulator's in-memory mesh is a mesh link: the acceptance suite
// every mesh link passes (test/adapters/mesh-link.ts, which the real
// hyperswarm mesh passes too) runs against it, on timers, with no loss and a
// fixed delay. Then proves the faults it adds, on a virtual clock: loss,
// duplication, a delay within the profile's bounds, partitions, one-way
// cuts and healing, the in-flight bound, and that the same seed draws the
// same fates.

import { describe, expect, test } from "bun:test";
import { hostId, type HostId } from "../shared/ids.ts";
import type { MeshLink } from "../shared/meshlink.ts";
import { rng } from "../shared/rng.ts";
import { meshLinkAcceptance } from "../../test/adapters/mesh-link.ts";
import { MemNet, type Delivery, type NetProfile } from "./memnet.ts";

/** A frame of these tests: anything the twin carries. */
type Msg = { n: number; body: string };
const msg = (n: number): Msg => ({ n, body: `frame ${n}` });

/** The acceptance run's wire: nothing lost or doubled, every frame the same delay. */
const FIXED: NetProfile = { delayMinMs: 2, delayMaxMs: 2, dropRate: 0, duplicateRate: 0 };
/** How long the acceptance suite waits for the twin on timers. */
const TWIN_WAIT_MS = 2_000;
/** Frames in flight the tests' nets allow. */
const IN_FLIGHT = 1_000;

meshLinkAcceptance<Msg>("in-memory twin on timers", TWIN_WAIT_MS, async () => {
  let pending = 0;
  const net: MemNet<Msg> = new MemNet<Msg>({
    scheduler: {
      after: (ms, d) => {
        pending += 1;
        setTimeout(() => {
          pending -= 1;
          net.deliver(d);
        }, ms);
      },
      pending: () => pending,
    },
    profile: FIXED,
    rngFor: ((r) => () => r)(rng(1)),
    inFlightMax: IN_FLIGHT,
  });
  return { open: async (self, events) => net.open(self, events), message: msg, dispose: async () => {} };
});

/** A twin on a virtual clock the test advances by hand, with what every host received. */
function virtualNet(profile: NetProfile, seed = 7, inFlightMax = IN_FLIGHT) {
  const queue: Array<{ atMs: number; order: number; d: Delivery<Msg> }> = [];
  let now = 0;
  let order = 0;
  const net = new MemNet<Msg>({
    scheduler: { after: (ms, d) => queue.push({ atMs: now + ms, order: order++, d }), pending: () => queue.length },
    profile,
    rngFor: (() => {
      const r = rng(seed);
      return () => r;
    })(),
    inFlightMax,
  });
  const got = new Map<HostId, Array<{ from: HostId; n: number; atMs: number }>>();
  const links = new Map<HostId, MeshLink<Msg>>();
  for (const h of ["a", "b", "c"].map(hostId)) {
    got.set(h, []);
    links.set(h, net.open(h, { onMessage: (from, m) => got.get(h)!.push({ from, n: m.n, atMs: now }), onPeer: () => {} }));
  }
  /** Delivers everything due up to `untilMs`, earliest first (first sent among equals). */
  const run = (untilMs: number): void => {
    queue.sort((x, y) => x.atMs - y.atMs || x.order - y.order);
    while (queue.length > 0 && queue[0]!.atMs <= untilMs) {
      const it = queue.shift()!;
      now = it.atMs;
      net.deliver(it.d);
    }
    now = untilMs;
  };
  const send = (from: string, to: string, n: number): boolean => links.get(hostId(from))!.send(hostId(to), msg(n));
  const ns = (h: string): number[] => got.get(hostId(h))!.map((g) => g.n);
  return { net, got, run, send, ns, queued: () => queue.length };
}

const CLEAN: NetProfile = { delayMinMs: 1, delayMaxMs: 5, dropRate: 0, duplicateRate: 0 };

describe("in-memory twin: the simulator's faults", () => {
  test("a delay is drawn within the profile's bounds", () => {
    const v = virtualNet(CLEAN);
    for (let i = 0; i < 50; i++) v.send("a", "b", i);
    v.run(100);
    const at = v.got.get(hostId("b"))!.map((g) => g.atMs);
    expect(at.length).toBe(50);
    for (const t of at) expect(t >= CLEAN.delayMinMs && t <= CLEAN.delayMaxMs).toBe(true);
    expect(new Set(at).size).toBeGreaterThan(1);
  });

  test("loss 1 loses every frame (the send is taken, as a socket takes it), duplication 1 doubles every frame", () => {
    const lossy = virtualNet({ ...CLEAN, dropRate: 1 });
    for (let i = 0; i < 10; i++) expect(lossy.send("a", "b", i)).toBe(true);
    lossy.run(100);
    expect(lossy.ns("b")).toEqual([]);
    const doubled = virtualNet({ ...CLEAN, delayMaxMs: 1, duplicateRate: 1 });
    doubled.send("a", "b", 1);
    doubled.run(100);
    expect(doubled.ns("b")).toEqual([1, 1]);
  });

  test("a partition loses frames between groups, not within one; heal ends it", () => {
    const v = virtualNet(CLEAN);
    v.net.partition([["a", "b"].map(hostId), ["c"].map(hostId)]);
    v.send("a", "b", 1);
    v.send("a", "c", 2);
    v.send("c", "a", 3);
    v.run(100);
    expect([v.ns("a"), v.ns("b"), v.ns("c")]).toEqual([[], [1], []]);
    v.net.heal();
    v.send("a", "c", 4);
    v.run(200);
    expect(v.ns("c")).toEqual([4]);
  });

  test("a one-way cut loses frames one way only", () => {
    const v = virtualNet(CLEAN);
    v.net.cutOneWay(hostId("a"), hostId("b"));
    v.send("a", "b", 1);
    v.send("b", "a", 2);
    v.run(100);
    expect([v.ns("a"), v.ns("b")]).toEqual([[2], []]);
  });

  test("past the in-flight bound a send is refused and nothing is queued", () => {
    const v = virtualNet(CLEAN, 7, 3);
    expect([1, 2, 3, 4].map((n) => v.send("a", "b", n))).toEqual([true, true, true, false]);
    expect(v.queued()).toBe(3);
  });

  test("the same seed draws the same fates; another seed others", () => {
    const fates = (seed: number): string => {
      const v = virtualNet({ delayMinMs: 1, delayMaxMs: 50, dropRate: 0.3, duplicateRate: 0.3 }, seed);
      for (let i = 0; i < 40; i++) v.send("a", "b", i);
      v.run(1_000);
      return JSON.stringify(v.got.get(hostId("b")));
    };
    expect(fates(11)).toBe(fates(11));
    expect(fates(11)).not.toBe(fates(12));
  });
});
