// Proves operators' orders in the host core: standby and maintenance keep a
// host out of every service it is a candidate of, and the later statement of
// each host wins whatever order statements arrive in (from an order, a
// peer's beacon, the disk); an order seen twice acts once; a move to a host
// kept out is not made.
import { describe, expect, test } from "bun:test";
import * as host from "./host.ts";
import type { HostConfig, HostEffect, OperatorOrder } from "./host.ts";
import type { HostId } from "../shared/ids.ts";
import { PROFILES } from "../shared/config.ts";

const H = (s: string) => s as HostId;
const [a, b, c] = [H("a"), H("b"), H("c")];
const config: HostConfig = {
  self: a,
  hosts: [a, b, c],
  boot: 1,
  services: [{ name: "web", candidates: [a, b, c], voters: [a, b, c], ackShadows: 1 }],
  timing: PROFILES.lan,
  replication: { writeTimeoutMs: 1_000, staleAfterMs: 500 },
  proactive: null,
  fenced: true,
};
const order = (action: OperatorOrder["action"], target: HostId | null, issuedAtMs: number, nonce: string): OperatorOrder => ({ nonce, action, service: action === "move" || action === "failover" ? "web" : null, target, expectVotes: null, reason: "test", operator: "op", issuedAtMs });
const applied = (fx: HostEffect[]) => fx.filter((f): f is Extract<HostEffect, { type: "order-applied" }> => f.type === "order-applied");

describe("standings", () => {
  test("the later statement wins, whatever order they arrive in", () => {
    let s = host.initialHost(config, {}, 0);
    let out = host.step(s, { type: "order", order: order("maintenance", b, 2_000, "n2") }, 1);
    expect(out.state.services.web!.excluded).toEqual([b]);
    expect(out.effects.some((f) => f.type === "standings-changed")).toBe(true);
    // An unstandby issued before the maintenance, arriving after it, is superseded.
    out = host.step(out.state, { type: "order", order: order("unstandby", b, 1_000, "n1") }, 2);
    expect(applied(out.effects)[0]!.outcome).toBe("superseded: a later statement put b in maintenance");
    expect(out.state.services.web!.excluded).toEqual([b]);
    // A peer's beacon with a later unstandby ends it; an older standing from the disk changes nothing.
    s = host.step(out.state, { type: "standings", standings: { [b]: { mode: "active", reason: "done", nonce: "n3", issuedAtMs: 3_000 } } }, 3).state;
    expect(s.services.web!.excluded).toEqual([]);
    const stale = host.step(s, { type: "standings", standings: { [b]: { mode: "standby", reason: "old", nonce: "n0", issuedAtMs: 500 } } }, 4);
    expect(stale.effects).toEqual([]);
    expect(stale.state.standby[b]!.mode).toBe("active");
  });

  test("an order seen twice acts once; a move to a host kept out is not made", () => {
    let s = host.initialHost(config, {}, 0);
    s = host.step(s, { type: "order", order: order("standby", c, 1_000, "n1") }, 1).state;
    const again = host.step(s, { type: "order", order: order("standby", c, 1_000, "n1") }, 2);
    expect(applied(again.effects)).toMatchObject([{ repeat: true, outcome: "seen before: nothing more to do" }]);
    const move = host.step(again.state, { type: "order", order: order("move", c, 2_000, "n2") }, 3);
    expect(applied(move.effects)[0]!.outcome).toBe("noted (no host holds web)");
  });
});

/** Runs a lone host's core: ticks every tickMs, its messages to itself looped back, the rest lost (its peers are gone); returns the state and every effect. */
function runAlone(s0: host.HostState, fromMs: number, toMs: number, tickMs = 5): { s: host.HostState; fx: HostEffect[] } {
  let s = s0;
  const fx: HostEffect[] = [];
  const feed = (ev: host.HostEvent, at: number) => {
    const queue: host.HostEvent[] = [ev];
    for (let i = 0; i < 10_000 && queue.length > 0; i++) {
      const out = host.step(s, queue.shift()!, at);
      s = out.state;
      for (const f of out.effects) {
        fx.push(f);
        if (f.type === "send" && f.to === s.config.self) queue.push({ type: "received", from: f.to, msg: f.msg.type === "vote" ? { ...f.msg, sig: "" } : f.msg });
        if (f.type === "take-vip") queue.push({ type: "vip-changed", service: f.service, op: "add", epoch: f.epoch, ok: true, error: null });
        if (f.type === "kernel-lease") queue.push({ type: "kernel-leased", service: f.service, seq: f.seq, error: null });
      }
    }
  };
  for (let t = fromMs; t <= toMs; t += tickMs) feed({ type: "tick", rand: 0.5 }, t);
  return { s, fx };
}

describe("override: a lowered quorum for a majority gone for good", () => {
  const override = (votes: number, issuedAtMs: number, nonce: string): OperatorOrder => ({ nonce, action: "override", service: "web", target: null, expectVotes: votes, reason: "b and c burned", operator: "op", issuedAtMs });
  const wait = Math.ceil(PROFILES.lan.leaseMs * (1 + PROFILES.lan.driftMaxPpm / 1e6));

  test("refused while more voters are alive than it expects; taken once they are dead, and the lone voter holds after a restart wait", () => {
    let s = host.initialHost(config, {}, 0);
    const early = host.step(s, { type: "order", order: override(1, 1_000, "n1") }, 1);
    expect(applied(early.effects)[0]!.outcome).toBe("refused: 3 of web's voters are alive as this host sees them (a, b, c), more than the 1 expected: two groups of them could each make a majority");
    expect(early.state.services.web!.expect).toBeNull(); // known (a certificate of its count is followed), not taken on
    expect(early.state.services.web!.knownVotes).toBe(1);
    // Alone for a while: b and c dead in its view, no holder (no majority of 3).
    let run = runAlone(early.state, 1, 2_000);
    expect(host.aliveHosts(run.s)).toEqual([a]);
    expect(run.fx.some((f) => f.type === "certified")).toBe(false);
    const t = 2_005;
    const taken = host.step(run.s, { type: "order", order: override(1, 2_000, "n2") }, t);
    expect(applied(taken.effects)[0]!.outcome).toMatch(/^web: a majority of 1 expected vote counts in \d+ ms/);
    expect(taken.effects).toContainEqual({ type: "votes-changed", votes: { web: { votes: 1, reason: "b and c burned", nonce: "n2", issuedAtMs: 2_000 } }, kept: { web: { taken: true, heard: [a] } } });
    // Nothing certified before the wait is over; then a alone, and the VIP goes up.
    run = runAlone(taken.state, t + 5, t + wait - 5);
    expect(run.fx.some((f) => f.type === "certified")).toBe(false);
    run = runAlone(run.s, t + wait, t + wait + 1_000);
    const certs = run.fx.filter((f): f is Extract<HostEffect, { type: "certified" }> => f.type === "certified");
    expect(certs.map((f) => [f.cert.holder, f.cert.votes.map((v) => v.voter)])).toEqual([[a, [a]]]);
    expect(host.leaseValid(run.s, "web", t + wait + 1_000)).toBe(true);
    expect(run.fx.some((f) => f.type === "take-vip")).toBe(true);
  });

  test("a voter heard again counts again: the count only rises, and the lone holder then needs it", () => {
    let s = runAlone(host.initialHost(config, {}, 0), 0, 2_000).s;
    s = host.step(s, { type: "order", order: override(1, 2_000, "n1") }, 2_001).state;
    s = runAlone(s, 2_005, 2_005 + wait + 1_000).s;
    expect(host.leaseValid(s, "web", 2_005 + wait + 1_000)).toBe(true);
    // b comes back: a ping from it is heard. A majority of 2 now: a's own grants no longer renew, and its lease runs out.
    const back = 2_010 + wait + 1_000;
    const pinged = host.step(s, { type: "received", from: b, msg: { type: "ping", seq: 1, updates: [] } }, back);
    s = pinged.state;
    expect(s.services.web!.expect!.heard).toEqual([a, b]);
    expect(pinged.effects).toContainEqual(expect.objectContaining({ type: "votes-changed", kept: { web: { taken: true, heard: [a, b] } } })); // on disk: a restart keeps it
    s = runAlone(s, back + 5, back + 2 * PROFILES.lan.leaseMs).s;
    expect(host.leaseValid(s, "web", back + 2 * PROFILES.lan.leaseMs)).toBe(false);
  });

  test("from a peer only while this host's view agrees; from its own disk as it is; the count of every voter ends it", () => {
    const said = { votes: 1, reason: "r", nonce: "n1", issuedAtMs: 1_000 };
    const fresh = host.initialHost(config, {}, 0);
    expect(host.step(fresh, { type: "vote-standings", votes: { web: said }, from: "peer" }, 1).state.services.web!.expect).toBeNull();
    const fromDisk = host.step(fresh, { type: "vote-standings", votes: { web: said }, from: "disk" }, 1).state;
    expect(fromDisk.votes).toEqual({ web: said });
    expect(fromDisk.services.web!.expect).toMatchObject({ votes: 1, heard: [a] });
    const lone = runAlone(fresh, 0, 2_000).s;
    expect(host.step(lone, { type: "vote-standings", votes: { web: said }, from: "peer" }, 2_001).state.services.web!.expect).toMatchObject({ votes: 1 });
    // Out of range is refused; the full count ends the override.
    expect(applied(host.step(lone, { type: "order", order: override(4, 3_000, "n4") }, 2_001).effects)[0]!.outcome).toBe("refused: web has 3 voters, so 1-3 votes may be expected");
    const ended = host.step(fromDisk, { type: "order", order: override(3, 2_000, "n3") }, 2);
    expect(applied(ended.effects)[0]!.outcome).toBe("web: a majority of all 3 voters again");
    expect(ended.state.services.web!.expect).toBeNull();
  });

  test("who was heard survives a restart and a later order: a survivor cut off from voters that came back does not count alone again (review, session 12)", () => {
    // a took the override and then heard b and c come back: its count is 3 (a majority of 2).
    let s = runAlone(host.initialHost(config, {}, 0), 0, 2_000).s;
    s = host.step(s, { type: "order", order: override(1, 2_000, "n1") }, 2_001).state;
    for (const [i, p] of [b, c].entries()) s = host.step(s, { type: "received", from: p, msg: { type: "ping", seq: i, updates: [] } }, 2_002).state;
    const kept = { web: { taken: true, heard: [a, b, c] } };
    // Cut off from them, a restarts: from its disk it counts 3 again, not 1.
    const restarted = host.step(host.initialHost(config, {}, 10_000), { type: "vote-standings", votes: s.votes, from: "disk", kept }, 10_000).state;
    expect(restarted.services.web!.expect!.heard).toEqual([a, b, c]);
    let run = runAlone(restarted, 10_005, 12_000);
    expect(run.fx.some((f) => f.type === "certified")).toBe(false); // alone it is no majority of 3
    // And ordered again while it sees only itself: still 3.
    const again = host.step(run.s, { type: "order", order: override(1, 12_000, "n2") }, 12_001).state;
    expect(again.services.web!.expect).toMatchObject({ votes: 1, heard: [a, b, c] });
    run = runAlone(again, 12_005, 14_000);
    expect(run.fx.some((f) => f.type === "certified")).toBe(false);
  });

  test("a voter that refused the override still follows the certificate the survivors made with it, and grants its holder (review, session 12)", () => {
    // b sees everyone alive (it just started) and refuses; c certified epoch 2 alone under the override.
    const bConfig = { ...config, self: b };
    let s = host.step(host.initialHost(bConfig, {}, 0), { type: "vote-standings", votes: { web: { votes: 1, reason: "r", nonce: "n1", issuedAtMs: 1 } }, from: "peer" }, 1).state;
    expect(s.services.web!.expect).toBeNull();
    const cert = { service: "web", epoch: 2, holder: c, from: a, reason: "holder-lost" as const, votes: [{ voter: c, sig: "" }] };
    s = host.step(s, { type: "received", from: c, msg: { type: "certificate", cert, inPerson: false } }, 2).state;
    expect([s.services.web!.epoch, s.services.web!.holder]).toEqual([2, c]);
    // Past its restart wait, it grants c's renewals.
    const out = host.step(s, { type: "received", from: c, msg: { type: "renew", service: "web", epoch: 2, holder: c, seq: 1, boot: 1 } }, 1_000);
    expect(out.effects).toContainEqual(expect.objectContaining({ type: "send", to: c, msg: expect.objectContaining({ type: "grant", epoch: 2, voter: b }) }));
  });
});
