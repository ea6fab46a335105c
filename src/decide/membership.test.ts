import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as m from "./membership.ts";
import type { HostId } from "../shared/ids.ts";
import type { MembershipEffect, MembershipState, MemberStatus, SwimMsg } from "./membership.ts";

const H = (s: string) => s as HostId;
const [a, b, c] = [H("a"), H("b"), H("c")];
const cfg = (self: HostId, peers: HostId[]) => ({ self, peers, probeIntervalMs: 50, probeTimeoutMs: 20, indirectProbes: 2, suspicionTimeoutMs: 150, updatesMax: 8 });

const sends = (fx: MembershipEffect[], type?: SwimMsg["type"]) =>
  fx.filter((f): f is Extract<MembershipEffect, { type: "send" }> => f.type === "send" && (type === undefined || f.msg.type === type));
const statusOf = (s: MembershipState, id: HostId) => m.members(s).find((x) => x.id === id)!;

describe("probing", () => {
  test("an ack in time keeps the member alive and measures its RTT", () => {
    let s = m.initialMembership(cfg(a, [b]), 0);
    const out = m.step(s, { type: "tick", rand: 0.1 }, 0);
    const ping = sends(out.effects, "ping")[0]!;
    expect(ping.to).toBe(b);
    s = out.state;
    const acked = m.step(s, { type: "received", from: b, msg: { type: "ack", seq: ping.msg.seq, updates: [] } }, 3);
    expect(acked.effects).toContainEqual({ type: "rtt-measured", id: b, rttMs: 3 });
    const later = m.step(acked.state, { type: "tick", rand: 0.1 }, 60);
    expect(statusOf(later.state, b).status).toBe("alive");
  });

  test("no ack: ping-req to k helpers, then suspect, then dead after the suspicion timeout", () => {
    let s = m.initialMembership(cfg(a, [b, c, H("d")]), 0);
    // force the target: the transport lost b
    s = m.step(s, { type: "peer-disconnected", id: b }, 0).state;
    let out = m.step(s, { type: "tick", rand: 0.5 }, 0);
    expect(sends(out.effects, "ping").map((x) => x.to)).toEqual([b]);
    out = m.step(out.state, { type: "tick", rand: 0.5 }, 20);
    const reqs = sends(out.effects, "ping-req");
    expect(reqs).toHaveLength(2);
    expect(reqs.every((r) => r.to !== b && r.msg.type === "ping-req" && r.msg.target === b)).toBe(true);
    out = m.step(out.state, { type: "tick", rand: 0.5 }, 50);
    expect(out.effects).toContainEqual({ type: "member-changed", id: b, status: "suspect", incarnation: 0 });
    out = m.step(out.state, { type: "tick", rand: 0.5 }, 199);
    expect(statusOf(out.state, b).status).toBe("suspect");
    out = m.step(out.state, { type: "tick", rand: 0.5 }, 200);
    expect(out.effects).toContainEqual({ type: "member-changed", id: b, status: "dead", incarnation: 0 });
  });

  test("a relayed ack prevents suspicion, and the relay forwards it", () => {
    let s = m.initialMembership(cfg(a, [b, c]), 0);
    s = m.step(s, { type: "peer-disconnected", id: b }, 0).state;
    let out = m.step(s, { type: "tick", rand: 0.5 }, 0);
    const seq = sends(out.effects, "ping")[0]!.msg.seq;
    out = m.step(out.state, { type: "tick", rand: 0.5 }, 20);
    out = m.step(out.state, { type: "received", from: c, msg: { type: "ack", seq, updates: [] } }, 30);
    out = m.step(out.state, { type: "tick", rand: 0.5 }, 60);
    expect(statusOf(out.state, b).status).toBe("alive");

    // the helper's side: c serves a's ping-req for b
    let r = m.initialMembership(cfg(c, [a, b]), 0);
    let rout = m.step(r, { type: "received", from: a, msg: { type: "ping-req", seq: 7, target: b, updates: [] } }, 0);
    const relayPing = sends(rout.effects, "ping")[0]!;
    expect(relayPing.to).toBe(b);
    rout = m.step(rout.state, { type: "received", from: b, msg: { type: "ack", seq: relayPing.msg.seq, updates: [] } }, 2);
    expect(sends(rout.effects, "ack")).toEqual([{ type: "send", to: a, msg: { type: "ack", seq: 7, updates: expect.any(Array) } }]);
    void r;
  });
});

describe("precedence", () => {
  // [current status, current inc, update status, update inc, wins]
  test.each<[MemberStatus, number, MemberStatus, number, boolean]>([
    ["alive", 1, "alive", 1, false],
    ["alive", 1, "alive", 2, true],
    ["alive", 1, "suspect", 1, true],
    ["alive", 1, "suspect", 0, false],
    ["suspect", 1, "alive", 1, false],
    ["suspect", 1, "alive", 2, true],
    ["suspect", 1, "suspect", 1, false],
    ["suspect", 1, "suspect", 2, true],
    ["suspect", 1, "dead", 1, true],
    ["alive", 2, "dead", 1, false],
    ["dead", 1, "alive", 1, false],
    ["dead", 1, "alive", 2, true],
    ["dead", 1, "suspect", 1, false],
    ["dead", 1, "dead", 2, true],
  ])("%s(%i) then %s(%i): the update wins = %p", (cs, ci, us, ui, wins) => {
    let s = m.initialMembership(cfg(a, [b, c]), 0);
    // set up the current view through c's gossip
    s = m.step(s, { type: "received", from: c, msg: { type: "ack", seq: 999, updates: [{ id: b, status: "alive", incarnation: ci }] } }, 1).state;
    if (cs !== "alive") s = m.step(s, { type: "received", from: c, msg: { type: "ack", seq: 999, updates: [{ id: b, status: cs, incarnation: ci }] } }, 2).state;
    expect(statusOf(s, b)).toEqual({ id: b, status: cs, incarnation: ci });
    const out = m.step(s, { type: "received", from: c, msg: { type: "ack", seq: 999, updates: [{ id: b, status: us, incarnation: ui }] } }, 3);
    expect(statusOf(out.state, b)).toEqual(wins ? { id: b, status: us, incarnation: ui } : { id: b, status: cs, incarnation: ci });
  });
});

describe("refutation", () => {
  test("a host told it is suspect raises its incarnation, and the accuser takes it back as alive", () => {
    let accused = m.initialMembership(cfg(b, [a]), 0);
    let out = m.step(m.initialMembership(cfg(a, [b]), 0), { type: "tick", rand: 0 }, 0);
    // no ack within the round: suspect; the next round's ping carries the suspicion to b
    out = m.step(out.state, { type: "tick", rand: 0 }, 50);
    let accuser = out.state;
    expect(statusOf(accuser, b).status).toBe("suspect");
    const ping = sends(out.effects, "ping")[0]!;
    expect(ping.to).toBe(b);
    expect(ping.msg.updates).toContainEqual({ id: b, status: "suspect", incarnation: 0 });
    const bOut = m.step(accused, { type: "received", from: a, msg: ping.msg }, 61);
    accused = bOut.state;
    expect(accused.incarnation).toBe(1);
    const ack = sends(bOut.effects, "ack")[0]!;
    expect(ack.msg.updates).toContainEqual({ id: b, status: "alive", incarnation: 1 });
    out = m.step(accuser, { type: "received", from: b, msg: ack.msg }, 62);
    expect(statusOf(out.state, b)).toEqual({ id: b, status: "alive", incarnation: 1 });
  });
});

describe("three hosts on a virtual network", () => {
  /** Delivers every message after delayMs unless its sender or receiver is silenced. */
  function run(silenced: (atMs: number) => HostId | null, untilMs: number) {
    const ids = [a, b, c];
    const nodes = new Map(ids.map((id) => [id, m.initialMembership(cfg(id, ids.filter((x) => x !== id)), 0)]));
    let q: Array<{ at: number; from: HostId; to: HostId; msg: SwimMsg }> = [];
    const changes: Array<{ at: number; by: HostId; id: HostId; status: MemberStatus }> = [];
    let seed = 1;
    for (let now = 0; now <= untilMs; now += 5) {
      const due = q.filter((x) => x.at <= now);
      q = q.filter((x) => x.at > now);
      const quiet = silenced(now);
      const apply = (id: HostId, ev: m.MembershipEvent) => {
        const out = m.step(nodes.get(id)!, ev, now);
        nodes.set(id, out.state);
        for (const f of out.effects) {
          if (f.type === "send" && f.to !== quiet && id !== quiet) q.push({ at: now + 2, from: id, to: f.to, msg: f.msg });
          if (f.type === "member-changed") changes.push({ at: now, by: id, id: f.id, status: f.status });
        }
      };
      for (const d of due) apply(d.to, { type: "received", from: d.from, msg: d.msg });
      for (const id of ids) apply(id, { type: "tick", rand: ((seed = (seed * 48271) % 2147483647) / 2147483647) % 1 });
    }
    return { nodes, changes };
  }

  test("a silenced host is declared dead by both others within the bound, and comes back alive after", () => {
    const bound = 50 * 2 + 20 + 150 + 50; // two rounds to reach it, timeout, suspicion, slack
    const { changes } = run((t) => (t >= 1000 && t < 2000 ? a : null), 3000);
    for (const by of [b, c]) {
      const dead = changes.find((x) => x.by === by && x.id === a && x.status === "dead" && x.at >= 1000);
      expect(dead).toBeDefined();
      expect(dead!.at - 1000).toBeLessThanOrEqual(bound);
      const back = changes.find((x) => x.by === by && x.id === a && x.status === "alive" && x.at >= 2000);
      expect(back).toBeDefined();
    }
  });

  test("with no faults nobody is ever suspected", () => {
    const { changes } = run(() => null, 3000);
    expect(changes).toEqual([]);
  });
});

describe("properties", () => {
  const ids = [a, b, c, H("d")];
  const arbUpdate = fc.record({ id: fc.constantFrom(...ids), status: fc.constantFrom<MemberStatus>("alive", "suspect", "dead"), incarnation: fc.nat({ max: 5 }) });
  const arbEvent = fc.oneof(
    fc.record({ type: fc.constant("tick" as const), rand: fc.double({ min: 0, max: 0.999, noNaN: true }) }),
    fc.record({
      type: fc.constant("received" as const),
      from: fc.constantFrom(b, c, H("d"), H("stranger")),
      msg: fc.oneof(
        fc.record({ type: fc.constant("ping" as const), seq: fc.nat({ max: 20 }), updates: fc.array(arbUpdate, { maxLength: 4 }) }),
        fc.record({ type: fc.constant("ack" as const), seq: fc.nat({ max: 20 }), updates: fc.array(arbUpdate, { maxLength: 4 }) }),
        fc.record({ type: fc.constant("ping-req" as const), seq: fc.nat({ max: 20 }), target: fc.constantFrom(...ids), updates: fc.array(arbUpdate, { maxLength: 4 }) }),
      ),
    }),
    fc.record({ type: fc.constant("peer-disconnected" as const), id: fc.constantFrom(b, c) }),
  );

  test("incarnations never decrease, self is always alive, sends go to configured peers, and step is pure", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(arbEvent, fc.nat({ max: 40 })), { maxLength: 200 }), (events) => {
        let s = m.initialMembership(cfg(a, [b, c, H("d")]), 0);
        let now = 0;
        for (const [ev, dt] of events) {
          now += dt;
          const before = m.members(s);
          const out = m.step(s, ev as m.MembershipEvent, now);
          const again = m.step(s, ev as m.MembershipEvent, now);
          expect(again).toEqual(out);
          const after = m.members(out.state);
          for (const x of after) expect(x.incarnation).toBeGreaterThanOrEqual(before.find((y) => y.id === x.id)!.incarnation);
          expect(after.find((x) => x.id === a)!.status).toBe("alive");
          for (const f of out.effects) if (f.type === "send") expect([b, c, H("d")]).toContain(f.to);
          s = out.state;
        }
      }),
      { seed: 42, numRuns: 300 },
    );
  });
});
