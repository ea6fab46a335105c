// Proves the SWIM machine: probing (ack, ping-req, suspect, dead), relaying,
// the precedence rules, refutation, recovery of a dead member, bounded
// gossip, purity and its invariants over random event sequences, and, on a
// three-host virtual network, that a silenced host is declared dead within
// SWIM's bound and comes back when it is heard again.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as m from "./membership.ts";
import { rng } from "../shared/rng.ts";
import { AssertionError } from "../shared/assert.ts";
import type { HostId } from "../shared/ids.ts";
import type { MemberStatus, MembershipConfig, MembershipEffect, MembershipEvent, MembershipState, SwimMsg } from "./membership.ts";

const H = (s: string) => s as HostId;
const [a, b, c, d] = [H("a"), H("b"), H("c"), H("d")];
// The lan profile's timing.
const I = 50; // probeIntervalMs
const T = 20; // probeTimeoutMs
const S = 150; // suspicionTimeoutMs
const K = 2; // indirectProbes
const cfg = (self: HostId, peers: HostId[], over: Partial<MembershipConfig> = {}): MembershipConfig => ({
  self,
  peers,
  probeIntervalMs: I,
  probeTimeoutMs: T,
  indirectProbes: K,
  suspicionTimeoutMs: S,
  updatesMax: 8,
  ...over,
});

type Send = Extract<MembershipEffect, { type: "send" }>;
const sends = (fx: MembershipEffect[], type?: SwimMsg["type"]): Send[] =>
  fx.filter((f): f is Send => f.type === "send" && (type === undefined || f.msg.type === type));
const changes = (fx: MembershipEffect[]) => fx.filter((f) => f.type === "member-changed");
const viewOf = (s: MembershipState, id: HostId) => m.members(s).find((x) => x.id === id)!;
const tick = (rand = 0.5): MembershipEvent => ({ type: "tick", rand });
const recv = (from: HostId, msg: SwimMsg): MembershipEvent => ({ type: "received", from, msg });
const gossip = (from: HostId, updates: m.MemberUpdate[]): MembershipEvent => recv(from, { type: "ack", seq: 1_000_000, updates });

/** Starts a probe of `target` at time 0 (the disconnect hint picks it) and returns the state and the ping. */
function probing(self: HostId, peers: HostId[], target: HostId) {
  const s0 = m.step(m.initialMembership(cfg(self, peers), 0), { type: "peer-disconnected", id: target }, 0).state;
  const out = m.step(s0, tick(), 0);
  const pings = sends(out.effects, "ping");
  expect(pings.map((p) => p.to)).toEqual([target]);
  return { state: out.state, ping: pings[0]! };
}

function deepFreeze<X>(x: X): X {
  if (typeof x === "object" && x !== null && !Object.isFrozen(x)) {
    Object.freeze(x);
    for (const v of Object.values(x)) deepFreeze(v);
  }
  return x;
}

describe("probing", () => {
  test("an ack in time keeps the member alive, measures the RTT, and no ping-req follows", () => {
    const { state, ping } = probing(a, [b, c], b);
    const acked = m.step(state, recv(b, { type: "ack", seq: ping.msg.seq, updates: [] }), 3);
    expect(acked.effects).toContainEqual({ type: "rtt-measured", id: b, rttMs: 3 });
    const later = m.step(acked.state, tick(), T);
    expect(sends(later.effects, "ping-req")).toEqual([]);
    const end = m.step(later.state, tick(), I);
    expect(changes([...acked.effects, ...later.effects, ...end.effects])).toEqual([]);
    expect(viewOf(end.state, b)).toEqual({ id: b, status: "alive", incarnation: 0 });
  });

  test("no ack: ping-req to k helpers at the probe timeout, suspect at the end of the round, dead after the suspicion timeout", () => {
    const { state, ping } = probing(a, [b, c, d, H("e")], b);
    let out = m.step(state, tick(), T - 1);
    expect(sends(out.effects, "ping-req")).toEqual([]);
    out = m.step(out.state, tick(), T);
    const reqs = sends(out.effects, "ping-req");
    expect(reqs).toHaveLength(K);
    expect(new Set(reqs.map((r) => r.to)).size).toBe(K);
    for (const r of reqs) expect(r.to !== b && r.msg).toMatchObject({ type: "ping-req", seq: ping.msg.seq, target: b });
    out = m.step(out.state, tick(), I - 1);
    expect(viewOf(out.state, b).status).toBe("alive");
    out = m.step(out.state, tick(), I);
    expect(changes(out.effects)).toEqual([{ type: "member-changed", id: b, status: "suspect", incarnation: 0 }]);
    out = m.step(out.state, tick(), I + S - 1);
    expect(viewOf(out.state, b).status).toBe("suspect");
    out = m.step(out.state, tick(), I + S);
    expect(changes(out.effects)).toEqual([{ type: "member-changed", id: b, status: "dead", incarnation: 0 }]);
  });

  test("helpers are never the target or a dead member, and there are at most k of them", () => {
    let s = m.initialMembership(cfg(a, [b, c, d]), 0);
    s = m.step(s, gossip(c, [{ id: d, status: "dead", incarnation: 0 }]), 0).state;
    s = m.step(s, { type: "peer-disconnected", id: b }, 0).state;
    s = m.step(s, tick(), 0).state;
    const out = m.step(s, tick(), T);
    expect(sends(out.effects, "ping-req").map((x) => x.to)).toEqual([c]);
  });

  test("a relayed ack prevents suspicion", () => {
    const { state, ping } = probing(a, [b, c], b);
    let out = m.step(state, tick(), T);
    expect(sends(out.effects, "ping-req").map((x) => x.to)).toEqual([c]);
    out = m.step(out.state, recv(c, { type: "ack", seq: ping.msg.seq, updates: [] }), T + 5);
    expect(out.effects.filter((f) => f.type === "rtt-measured")).toEqual([]); // not a direct round trip
    out = m.step(out.state, tick(), I);
    expect(changes(out.effects)).toEqual([]);
    expect(viewOf(out.state, b).status).toBe("alive");
  });

  test("an ack from a peer that was not asked does not end the probe", () => {
    const { state, ping } = probing(a, [b, c], b);
    let out = m.step(state, recv(c, { type: "ack", seq: ping.msg.seq, updates: [] }), 5); // c was not asked yet
    out = m.step(out.state, tick(), I);
    expect(changes(out.effects)).toEqual([{ type: "member-changed", id: b, status: "suspect", incarnation: 0 }]);
  });

  test("a relay pings the target with its own seq and forwards the target's ack with the requester's seq", () => {
    let out = m.step(m.initialMembership(cfg(c, [a, b]), 0), recv(a, { type: "ping-req", seq: 7, target: b, updates: [] }), 0);
    const relayPing = sends(out.effects)[0]!;
    expect(sends(out.effects)).toHaveLength(1);
    expect(relayPing.to).toBe(b);
    expect(relayPing.msg.seq).not.toBe(7);
    // a duplicate request is served once
    out = m.step(out.state, recv(a, { type: "ping-req", seq: 7, target: b, updates: [] }), 1);
    expect(sends(out.effects)).toEqual([]);
    // an ack with the right seq from someone else is not the target's
    out = m.step(out.state, recv(a, { type: "ack", seq: relayPing.msg.seq, updates: [] }), 2);
    expect(sends(out.effects)).toEqual([]);
    out = m.step(out.state, recv(b, { type: "ack", seq: relayPing.msg.seq, updates: [] }), 3);
    expect(sends(out.effects)).toEqual([{ type: "send", to: a, msg: { type: "ack", seq: 7, updates: [] } }]);
    // served once: a second ack forwards nothing
    out = m.step(out.state, recv(b, { type: "ack", seq: relayPing.msg.seq, updates: [] }), 4);
    expect(sends(out.effects)).toEqual([]);
  });

  test("a relay forgets a request after one probe interval", () => {
    let out = m.step(m.initialMembership(cfg(c, [a, b]), 0), recv(a, { type: "ping-req", seq: 7, target: b, updates: [] }), 0);
    const seq = sends(out.effects)[0]!.msg.seq;
    out = m.step(out.state, tick(), I);
    out = m.step(out.state, recv(b, { type: "ack", seq, updates: [] }), I + 1);
    expect(sends(out.effects, "ack")).toEqual([]);
  });

  test.each<[string, SwimMsg]>([
    ["itself", { type: "ping-req", seq: 1, target: c, updates: [] }],
    ["the requester", { type: "ping-req", seq: 1, target: a, updates: [] }],
    ["a stranger", { type: "ping-req", seq: 1, target: H("zz"), updates: [] }],
  ])("a ping-req for %s is ignored", (_name, msg) => {
    const out = m.step(m.initialMembership(cfg(c, [a, b]), 0), recv(a, msg), 0);
    expect(out.effects).toEqual([]);
  });

  test("a peer-disconnected hint makes the member the next target and does not suspect it", () => {
    const s = m.initialMembership(cfg(a, [b, c, d]), 0);
    for (const target of [b, c, d]) {
      const hinted = m.step(s, { type: "peer-disconnected", id: target }, 0);
      expect(hinted.effects).toEqual([]);
      expect(viewOf(hinted.state, target).status).toBe("alive");
      expect(sends(m.step(hinted.state, tick(0.123), 0).effects, "ping").map((x) => x.to)).toEqual([target]);
    }
    expect(m.step(s, { type: "peer-disconnected", id: H("zz") }, 0)).toEqual({ state: s, effects: [] });
  });

  test("one probe per interval, in rounds that each probe every peer once, dead ones included", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 0.999, noNaN: true }), { minLength: 12, maxLength: 12 }), (rands) => {
        const peers = [b, c, d];
        let s = m.initialMembership(cfg(a, peers), 0);
        s = m.step(s, gossip(b, [{ id: c, status: "dead", incarnation: 0 }]), 0).state;
        const targets: HostId[] = [];
        rands.forEach((rand, i) => {
          const out = m.step(s, tick(rand), i * I);
          const pings = sends(out.effects, "ping");
          expect(pings).toHaveLength(1);
          targets.push(pings[0]!.to);
          s = m.step(out.state, recv(pings[0]!.to, { type: "ack", seq: pings[0]!.msg.seq, updates: [] }), i * I + 1).state;
        });
        for (let r = 0; r < rands.length; r += peers.length) expect([...targets.slice(r, r + peers.length)].sort()).toEqual([...peers].sort());
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  test("the order is reshuffled with the tick's rand: rounds differ", () => {
    const peers = ["p1", "p2", "p3", "p4", "p5", "p6"].map(H);
    let s = m.initialMembership(cfg(a, peers), 0);
    const r = rng(7);
    const rounds: string[] = [];
    for (let round = 0; round < 5; round++) {
      const got: HostId[] = [];
      for (let i = 0; i < peers.length; i++) {
        const now = (round * peers.length + i) * I;
        const out = m.step(s, tick(r.next()), now);
        const ping = sends(out.effects, "ping")[0]!;
        got.push(ping.to);
        s = m.step(out.state, recv(ping.to, { type: "ack", seq: ping.msg.seq, updates: [] }), now + 1).state;
      }
      rounds.push(got.join(","));
    }
    expect(new Set(rounds).size).toBeGreaterThan(1);
  });
});

describe("precedence", () => {
  // Each row: the view holds b at (status, 1); an update (status, incarnation) arrives; does it win?
  const RULES: Array<[MemberStatus, MemberStatus, number, boolean]> = [
    // alive(i) overrides suspect/dead(j) only if i > j (and alive(j) only if i > j)
    ["alive", "alive", 0, false],
    ["alive", "alive", 1, false],
    ["alive", "alive", 2, true],
    ["suspect", "alive", 0, false],
    ["suspect", "alive", 1, false],
    ["suspect", "alive", 2, true],
    ["dead", "alive", 0, false],
    ["dead", "alive", 1, false],
    ["dead", "alive", 2, true],
    // suspect(i) overrides alive(j) if i >= j; suspect or dead(j) only if i > j
    ["alive", "suspect", 0, false],
    ["alive", "suspect", 1, true],
    ["alive", "suspect", 2, true],
    ["suspect", "suspect", 0, false],
    ["suspect", "suspect", 1, false],
    ["suspect", "suspect", 2, true],
    ["dead", "suspect", 0, false],
    ["dead", "suspect", 1, false],
    ["dead", "suspect", 2, true],
    // dead(i) overrides alive/suspect(j) if i >= j; dead(j) only if i > j
    ["alive", "dead", 0, false],
    ["alive", "dead", 1, true],
    ["alive", "dead", 2, true],
    ["suspect", "dead", 0, false],
    ["suspect", "dead", 1, true],
    ["suspect", "dead", 2, true],
    ["dead", "dead", 0, false],
    ["dead", "dead", 1, false],
    ["dead", "dead", 2, true],
  ];

  test.each(RULES)("%s(1) then %s(%i): the update wins = %p", (cs, us, ui, wins) => {
    expect(m.overrides({ status: cs, incarnation: 1 }, { status: us, incarnation: ui })).toBe(wins);
    // and the view follows the rule, with member-changed exactly when it changes
    let s = m.initialMembership(cfg(a, [b, c]), 0);
    s = m.step(s, gossip(c, [{ id: b, status: "alive", incarnation: 1 }]), 1).state;
    if (cs !== "alive") s = m.step(s, gossip(c, [{ id: b, status: cs, incarnation: 1 }]), 2).state;
    expect(viewOf(s, b)).toEqual({ id: b, status: cs, incarnation: 1 });
    const out = m.step(s, gossip(c, [{ id: b, status: us, incarnation: ui }]), 3);
    expect(viewOf(out.state, b)).toEqual(wins ? { id: b, status: us, incarnation: ui } : { id: b, status: cs, incarnation: 1 });
    expect(changes(out.effects)).toEqual(wins ? [{ type: "member-changed", id: b, status: us, incarnation: ui }] : []);
  });

  test("precedence is a strict total order: never both ways, and one way unless equal", () => {
    const arb = fc.record({ status: fc.constantFrom<MemberStatus>("alive", "suspect", "dead"), incarnation: fc.nat({ max: 4 }) });
    fc.assert(
      fc.property(arb, arb, (x, y) => {
        const same = x.status === y.status && x.incarnation === y.incarnation;
        expect(m.overrides(x, y) && m.overrides(y, x)).toBe(false);
        expect(m.overrides(x, y) || m.overrides(y, x)).toBe(!same);
        if (m.overrides(x, y)) expect(y.incarnation).toBeGreaterThanOrEqual(x.incarnation);
      }),
      { seed: 42, numRuns: 300 },
    );
  });
});

describe("refutation", () => {
  test("a host told it is suspect raises its incarnation, and the accuser takes it back as alive", () => {
    // a probes b; b does not answer in time, so a suspects it
    const { state } = probing(a, [b], b);
    let out = m.step(state, tick(), I);
    expect(viewOf(out.state, b)).toEqual({ id: b, status: "suspect", incarnation: 0 });
    // the next probe tells b it is suspected (the buddy system)
    const ping = sends(out.effects, "ping")[0]!;
    expect(ping.to).toBe(b);
    expect(ping.msg.updates).toContainEqual({ id: b, status: "suspect", incarnation: 0 });
    const accused = m.step(m.initialMembership(cfg(b, [a]), 0), recv(a, ping.msg), I + 1);
    expect(viewOf(accused.state, b)).toEqual({ id: b, status: "alive", incarnation: 1 });
    const ack = sends(accused.effects, "ack")[0]!;
    expect(ack.msg.updates).toContainEqual({ id: b, status: "alive", incarnation: 1 });
    out = m.step(out.state, recv(b, ack.msg), I + 2);
    expect(viewOf(out.state, b)).toEqual({ id: b, status: "alive", incarnation: 1 });
    expect(changes(out.effects)).toEqual([{ type: "member-changed", id: b, status: "alive", incarnation: 1 }]);
  });

  test.each<[string, MemberStatus, number, number]>([
    ["suspect at our incarnation", "suspect", 0, 1],
    ["dead at a higher incarnation", "dead", 4, 5],
    ["alive at a higher incarnation (our own claim before a restart)", "alive", 3, 3],
    ["alive at our incarnation", "alive", 0, 0],
  ])("told it is %s: own incarnation becomes the expected one", (_name, status, inc, expected) => {
    const out = m.step(m.initialMembership(cfg(b, [a, c]), 0), gossip(a, [{ id: b, status, incarnation: inc }]), 1);
    expect(viewOf(out.state, b)).toEqual({ id: b, status: "alive", incarnation: expected });
    expect(changes(out.effects)).toEqual([]); // member-changed is about peers
  });

  test("an accusation older than our incarnation does not raise it again, but the refutation is said again", () => {
    let s = m.step(m.initialMembership(cfg(b, [a, c]), 0), gossip(a, [{ id: b, status: "suspect", incarnation: 2 }]), 1).state;
    expect(s.incarnation).toBe(3);
    // the first refutation has run out of retransmits by the time c, which never heard it, accuses us
    s = { ...s, broadcasts: [] };
    s = m.step(s, gossip(c, [{ id: b, status: "dead", incarnation: 2 }]), 2).state;
    expect(s.incarnation).toBe(3);
    expect(s.broadcasts.map((x) => x.update)).toEqual([{ id: b, status: "alive", incarnation: 3 }]);
  });
});

describe("recovery", () => {
  test("a dead member that answers again, at a higher incarnation, becomes alive", () => {
    let out = m.step(m.initialMembership(cfg(a, [b]), 0), tick(), 0); // ping b, unanswered
    out = m.step(out.state, tick(), I); // suspect, and ping again
    out = m.step(out.state, tick(), I + S); // dead
    expect(changes(out.effects)).toEqual([{ type: "member-changed", id: b, status: "dead", incarnation: 0 }]);
    expect(viewOf(out.state, b)).toEqual({ id: b, status: "dead", incarnation: 0 });
    // a dead member is still probed, and the probe tells it it is dead
    const ping = sends(out.effects, "ping")[0]!;
    expect(ping.to).toBe(b);
    expect(ping.msg.updates).toContainEqual({ id: b, status: "dead", incarnation: 0 });
    // b (restarted: incarnation 0) refutes
    const bOut = m.step(m.initialMembership(cfg(b, [a]), 0), recv(a, ping.msg), I + S + 1);
    const ack = sends(bOut.effects, "ack")[0]!;
    out = m.step(out.state, recv(b, ack.msg), I + S + 2);
    expect(changes(out.effects)).toEqual([{ type: "member-changed", id: b, status: "alive", incarnation: 1 }]);
    expect(out.effects).toContainEqual({ type: "rtt-measured", id: b, rttMs: 2 });
  });

  test("an ack alone at the same incarnation does not revive a dead member", () => {
    let out = m.step(m.initialMembership(cfg(a, [b, c]), 0), gossip(c, [{ id: b, status: "dead", incarnation: 0 }]), 0);
    out = m.step(out.state, recv(b, { type: "ping", seq: 1, updates: [{ id: b, status: "alive", incarnation: 0 }] }), 1);
    expect(viewOf(out.state, b).status).toBe("dead");
    expect(changes(out.effects)).toEqual([]);
  });
});

describe("gossip and guards", () => {
  test("each update is piggybacked exactly retransmitLimit times, and never more than updatesMax per message", () => {
    const peers = [b, c, d];
    let s = m.initialMembership(cfg(a, peers, { updatesMax: 2 }), 0);
    // three pieces of news, but two slots per message
    s = m.step(s, gossip(b, [{ id: c, status: "suspect", incarnation: 2 }, { id: d, status: "alive", incarnation: 3 }, { id: b, status: "alive", incarnation: 1 }]), 0).state;
    const limit = m.retransmitLimit(peers.length + 1);
    expect(limit).toBe(3 * 3); // 3 * ceil(log2(4 + 1))
    const seen = new Map<string, number>();
    for (let i = 0; i < 3 * limit; i++) {
      const out = m.step(s, recv(b, { type: "ping", seq: i, updates: [] }), 1);
      const ack = sends(out.effects, "ack")[0]!;
      expect(ack.msg.updates.length).toBeLessThanOrEqual(2);
      for (const u of ack.msg.updates) seen.set(`${u.id}:${u.status}:${u.incarnation}`, (seen.get(`${u.id}:${u.status}:${u.incarnation}`) ?? 0) + 1);
      s = out.state;
    }
    // the buddy system adds c's own status on messages to c; these went to b only
    expect(Object.fromEntries(seen)).toEqual({ "c:suspect:2": limit, "d:alive:3": limit, "b:alive:1": limit });
    expect(s.broadcasts).toEqual([]);
  });

  test("the least-sent news goes first", () => {
    let s = m.initialMembership(cfg(a, [b, c, d], { updatesMax: 1 }), 0);
    s = m.step(s, gossip(b, [{ id: c, status: "suspect", incarnation: 0 }]), 0).state;
    s = m.step(s, recv(b, { type: "ping", seq: 1, updates: [] }), 1).state; // c's news sent once
    s = m.step(s, gossip(b, [{ id: d, status: "suspect", incarnation: 0 }]), 2).state;
    const out = m.step(s, recv(b, { type: "ping", seq: 2, updates: [] }), 3);
    expect(sends(out.effects, "ack")[0]!.msg.updates).toEqual([{ id: d, status: "suspect", incarnation: 0 }]);
  });

  test("messages from hosts not in the config have no effect", () => {
    const s = m.initialMembership(cfg(a, [b, c]), 0);
    for (const msg of [
      { type: "ping", seq: 1, updates: [{ id: b, status: "dead", incarnation: 9 }] },
      { type: "ack", seq: 1, updates: [{ id: a, status: "suspect", incarnation: 9 }] },
      { type: "ping-req", seq: 1, target: b, updates: [] },
    ] as SwimMsg[]) {
      const out = m.step(s, recv(H("mallory"), msg), 5);
      expect(out.effects).toEqual([]);
      expect(m.members(out.state)).toEqual(m.members(s));
    }
  });

  test("updates about unknown hosts are ignored", () => {
    const out = m.step(m.initialMembership(cfg(a, [b, c]), 0), gossip(b, [{ id: H("zz"), status: "dead", incarnation: 3 }]), 1);
    expect(out.effects).toEqual([]);
  });

  test.each<[string, () => unknown]>([
    ["time moves backwards", () => m.step(m.initialMembership(cfg(a, [b]), 10), tick(), 9)],
    ["rand is 1", () => m.step(m.initialMembership(cfg(a, [b]), 0), tick(1), 0)],
    ["self among the peers", () => m.initialMembership(cfg(a, [a, b]), 0)],
    ["a peer listed twice", () => m.initialMembership(cfg(a, [b, b]), 0)],
    ["the probe timeout not shorter than the interval", () => m.initialMembership(cfg(a, [b], { probeTimeoutMs: I }), 0)],
    ["no room for updates", () => m.initialMembership(cfg(a, [b], { updatesMax: 0 }), 0)],
  ])("a programmer error is an assertion: %s", (_name, f) => {
    expect(f).toThrow(AssertionError);
  });
});

describe("properties over random event sequences", () => {
  const ids = [a, b, c, d];
  const peers = [b, c, d];
  const arbUpdate = fc.record({ id: fc.constantFrom(...ids, H("zz")), status: fc.constantFrom<MemberStatus>("alive", "suspect", "dead"), incarnation: fc.nat({ max: 5 }) });
  const arbUpdates = fc.array(arbUpdate, { maxLength: 4 });
  const arbSeq = fc.nat({ max: 12 });
  const arbMsg: fc.Arbitrary<SwimMsg> = fc.oneof(
    fc.record({ type: fc.constant("ping" as const), seq: arbSeq, updates: arbUpdates }),
    fc.record({ type: fc.constant("ack" as const), seq: arbSeq, updates: arbUpdates }),
    fc.record({ type: fc.constant("ping-req" as const), seq: arbSeq, target: fc.constantFrom(...ids, H("zz")), updates: arbUpdates }),
  );
  const arbEvent: fc.Arbitrary<MembershipEvent> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ type: fc.constant("tick" as const), rand: fc.double({ min: 0, max: 0.999, noNaN: true }) }) },
    { weight: 3, arbitrary: fc.record({ type: fc.constant("received" as const), from: fc.constantFrom(...peers, H("stranger")), msg: arbMsg }) },
    { weight: 1, arbitrary: fc.record({ type: fc.constant("peer-disconnected" as const), id: fc.constantFrom(...peers, H("zz")) }) },
  );
  const arbRun = fc.array(fc.tuple(arbEvent, fc.nat({ max: 60 })), { maxLength: 150 });

  test("incarnations never decrease, self is always alive, sends go to configured peers, and step is pure", () => {
    fc.assert(
      fc.property(arbRun, (events) => {
        let s = deepFreeze(m.initialMembership(cfg(a, peers), 0));
        let now = 0;
        for (const [ev, dt] of events) {
          now += dt;
          const copy = structuredClone(s);
          const out = m.step(s, ev, now);
          expect(m.step(s, ev, now)).toEqual(out); // same inputs, same outputs
          expect(s).toEqual(copy); // the input is untouched (and frozen: a write would throw)
          const before = m.members(s);
          const after = m.members(out.state);
          for (const x of after) expect(x.incarnation).toBeGreaterThanOrEqual(before.find((y) => y.id === x.id)!.incarnation);
          expect(after[0]).toMatchObject({ id: a, status: "alive" });
          for (const f of out.effects) {
            if (f.type !== "send") continue;
            expect(peers).toContain(f.to);
            expect(f.msg.updates.length).toBeLessThanOrEqual(8);
          }
          s = deepFreeze(out.state);
        }
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  test("member-changed is emitted exactly when a member's (status, incarnation) changes", () => {
    fc.assert(
      fc.property(arbRun, (events) => {
        let s = m.initialMembership(cfg(a, peers), 0);
        let now = 0;
        for (const [ev, dt] of events) {
          now += dt;
          const out = m.step(s, ev, now);
          const before = new Map(m.members(s).map((x) => [x.id, x]));
          const diff = m.members(out.state).filter((x) => x.id !== a && (before.get(x.id)!.status !== x.status || before.get(x.id)!.incarnation !== x.incarnation));
          const emitted = changes(out.effects).map((f) => ({ id: f.id, status: f.status, incarnation: f.incarnation }));
          // one emission per change; a member changing twice in one step emits twice and ends at the last
          expect(new Set(emitted.map((x) => x.id))).toEqual(new Set(diff.map((x) => x.id)));
          for (const x of diff) expect(emitted.findLast((y) => y.id === x.id)).toEqual(x);
          s = out.state;
        }
      }),
      { seed: 42, numRuns: 300 },
    );
  });
});

describe("three hosts on a virtual network", () => {
  const TICK_MS = 5; // the lan profile's agent loop
  const DELAY_MS = 2; // every message, one way
  const ids = [a, b, c];
  const PEERS = ids.length - 1;

  /** Runs a, b, c for untilMs on a 1 ms clock; `quiet(t)` names a host whose messages, both ways, are dropped at t. */
  function run(seed: number, quiet: (atMs: number) => HostId | null, untilMs: number) {
    const r = rng(seed);
    const nodes = new Map(ids.map((id) => [id, m.initialMembership(cfg(id, ids.filter((x) => x !== id)), 0)]));
    let inFlight: Array<{ at: number; from: HostId; to: HostId; msg: SwimMsg }> = [];
    const log: Array<{ at: number; by: HostId; id: HostId; status: MemberStatus }> = [];
    const rtts: number[] = [];
    for (let now = 0; now <= untilMs; now++) {
      const q = quiet(now);
      const apply = (id: HostId, ev: MembershipEvent) => {
        const out = m.step(nodes.get(id)!, ev, now);
        nodes.set(id, out.state);
        for (const f of out.effects) {
          if (f.type === "send" && f.to !== q && id !== q) inFlight.push({ at: now + DELAY_MS, from: id, to: f.to, msg: f.msg });
          if (f.type === "member-changed") log.push({ at: now, by: id, id: f.id, status: f.status });
          if (f.type === "rtt-measured") rtts.push(f.rttMs);
        }
      };
      const due = inFlight.filter((x) => x.at === now);
      inFlight = inFlight.filter((x) => x.at !== now);
      for (const p of due) if (p.to !== q && p.from !== q) apply(p.to, recv(p.from, p.msg));
      if (now % TICK_MS === 0) for (const id of ids) apply(id, tick(r.next()));
    }
    return { nodes, log, rtts };
  }

  // SWIM's worst case: a member probed first in one round and last in the next
  // waits 2n-1 intervals, then one more for its probe to fail, then the
  // suspicion timeout; plus one tick of lateness.
  const WORST_MS = 2 * PEERS * I + S + TICK_MS;
  // The brief's bound: the typical case, when the silenced host is next in the round.
  const TYPICAL_MS = PEERS * I + T + S;

  test("a silenced host is declared dead by both others within the bound, and un-silenced it comes back alive", () => {
    const latencies: number[] = [];
    for (let seed = 1; seed <= 20; seed++) {
      for (const t0 of [1000, 1013, 1027, 1041, 1049]) {
        const t1 = t0 + 1000;
        const { nodes, log } = run(seed, (t) => (t >= t0 && t < t1 ? a : null), t1 + 600);
        expect(log.filter((x) => x.at < t0)).toEqual([]); // no false alarm before
        expect(log.filter((x) => x.by !== a && x.id !== a && x.status !== "alive")).toEqual([]); // b and c never doubt each other (they see a's accusations refuted)
        const deadAt = [b, c].map((by) => log.find((x) => x.by === by && x.id === a && x.status === "dead")?.at ?? Infinity);
        for (const at of deadAt) expect(at - t0).toBeLessThanOrEqual(WORST_MS);
        latencies.push(Math.max(...deadAt) - t0);
        for (const by of [b, c]) {
          const back = log.find((x) => x.by === by && x.id === a && x.status === "alive" && x.at >= t1);
          expect(back).toBeDefined();
          expect(back!.at - t1).toBeLessThanOrEqual(WORST_MS); // probed (it is dead, so still in the round), told, refuted
        }
        // a's own view heals too
        for (const id of [b, c]) expect(viewOf(nodes.get(a)!, id).status).toBe("alive");
        for (const by of [b, c]) expect(viewOf(nodes.get(by)!, a).status).toBe("alive");
      }
    }
    latencies.sort((x, y) => x - y);
    // most silences are caught within the brief's bound; the rest within SWIM's worst case
    expect(latencies[Math.floor(latencies.length / 2)]!).toBeLessThanOrEqual(TYPICAL_MS);
    expect(latencies.filter((x) => x <= TYPICAL_MS).length / latencies.length).toBeGreaterThanOrEqual(0.75);
  });

  test("with no faults nobody is ever suspected, and every probe measures an RTT of one round trip", () => {
    for (let seed = 1; seed <= 5; seed++) {
      const { log, rtts } = run(seed, () => null, 3000);
      expect(log).toEqual([]);
      expect(rtts.length).toBeGreaterThanOrEqual(3 * (3000 / I)); // every host, every round
      expect(new Set(rtts)).toEqual(new Set([2 * DELAY_MS]));
    }
  });
});
