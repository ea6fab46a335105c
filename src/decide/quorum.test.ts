// Proves the quorum machine's rules one story at a time: majorities, a
// voter's one vote per epoch and its grants, stale and re-sent votes, the
// planned-vote exemption, holders and their leases (each simulator or spin
// finding that changed a rule has its story here).
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as q from "./quorum.ts";
import type { HostId } from "../shared/ids.ts";
import type { QuorumConfig, QuorumEffect, QuorumMsg, QuorumOut, QuorumState } from "./quorum.ts";
import { createCluster, type SimOptions } from "../sim/index.ts";

const H = (s: string) => s as HostId;
const [h1, h2, h3] = [H("h1"), H("h2"), H("h3")];
const hosts = [h1, h2, h3];

const timing = { leaseMs: 300, renewIntervalMs: 50, driftMaxPpm: 1000, actuationGuardMs: 20, proposalTimeoutMs: 150, initialGraceMs: 1000 };
const swim = { probeIntervalMs: 50, probeTimeoutMs: 20, suspicionTimeoutMs: 150 };

function cfg(self: HostId, over: Partial<QuorumConfig> = {}): QuorumConfig {
  return { service: "web", self, boot: 1, candidates: hosts, voters: hosts, hosts, ...timing, fenced: true, moveBackAfterMs: 0, ...over };
}

function sends(fx: QuorumEffect[], type: QuorumMsg["type"]): Array<Extract<QuorumEffect, { type: "send" }>> {
  return fx.filter((f): f is Extract<QuorumEffect, { type: "send" }> => f.type === "send" && f.msg.type === type);
}

const propose = (epoch: number, holder: HostId, over: Partial<Extract<QuorumMsg, { type: "propose" }>> = {}) =>
  ({ type: "propose", service: "web", epoch, holder, from: null, reason: "initial", proposer: holder, basis: null, boot: 1, ...over }) as const;

const cert1 = { service: "web", epoch: 1, holder: h1, from: null, reason: "initial" as const, votes: [{ voter: h1, sig: "" }, { voter: h2, sig: "" }] };
const renew = (epoch: number, holder: HostId, seq: number, boot = 1) => ({ type: "renew", service: "web", epoch, holder, seq, boot }) as const;

/** A voter past its reboot wait, with no holder yet. */
function freshVoter(self: HostId): QuorumState {
  return q.initialQuorum(cfg(self), null, 0);
}

describe("majority", () => {
  test.each([
    [1, 1],
    [2, 2],
    [3, 2],
    [4, 3],
    [5, 3],
    [7, 4],
  ])("%i voters need %i", (n, m) => expect(q.majority(n)).toBe(m));
});

describe("voter", () => {
  test("votes once per epoch: a second proposal for the same epoch is rejected", () => {
    let s = freshVoter(h3);
    let out = q.step(s, { type: "received", from: h1, msg: propose(1, h1) }, 400);
    expect(sends(out.effects, "vote")).toHaveLength(1);
    // the persist comes before the vote goes out
    expect(out.effects.findIndex((f) => f.type === "persist")).toBeLessThan(out.effects.findIndex((f) => f.type === "send"));
    s = out.state;
    out = q.step(s, { type: "received", from: h2, msg: propose(1, h2) }, 401);
    expect(sends(out.effects, "vote")).toHaveLength(0);
    expect(sends(out.effects, "reject")).toHaveLength(1);
    // the same proposal again gets the same vote again (lost-vote retry)
    out = q.step(out.state, { type: "received", from: h1, msg: propose(1, h1) }, 402);
    expect(sends(out.effects, "vote")).toHaveLength(1);
  });

  test("does not vote during the reboot wait", () => {
    const s = freshVoter(h3);
    const waitMs = q.restartWaitMs(cfg(h3));
    expect(waitMs).toBeGreaterThan(timing.leaseMs); // a lease by the slowest clock the drift bound allows
    const out = q.step(s, { type: "received", from: h1, msg: propose(1, h1) }, waitMs - 1);
    expect(sends(out.effects, "vote")).toHaveLength(0);
    // ...but votes for it as soon as the wait is over
    const later = q.step(out.state, { type: "tick", rand: 0.5 }, waitMs);
    expect(sends(later.effects, "vote").map((f) => f.to)).toEqual([h1]);
  });

  test.each([
    ["initial while a holder is known", "initial", h1, null],
    ["holder-lost naming the wrong old holder", "holder-lost", h2, h3],
    ["a handover not sent by the holder", "handover", h2, h1],
  ] as const)("refuses an unsupported reason: %s", (_name, reason, holder, from) => {
    // h3 knows h1 as holder of epoch 1 (from a certificate signed by h1, h2).
    let s = freshVoter(h3);
    s = q.step(s, { type: "received", from: h1, msg: { type: "certificate", inPerson: false, cert: { service: "web", epoch: 1, holder: h1, from: null, reason: "initial", votes: [{ voter: h1, sig: "" }, { voter: h2, sig: "" }] } } }, 1000).state;
    const out = q.step(s, { type: "received", from: h2, msg: propose(2, holder, { reason, from, proposer: h2 }) }, 5000);
    expect(sends(out.effects, "vote")).toHaveLength(0);
  });

  test("signs a predicted move only when its own forecast sees the holder running out, and not the target", () => {
    // h3 knows h1 as holder of epoch 1; h1 proposes to hand over to h2 because its forecast says so.
    let s = freshVoter(h3);
    s = q.step(s, { type: "received", from: h1, msg: { type: "certificate", inPerson: false, cert: { service: "web", epoch: 1, holder: h1, from: null, reason: "initial", votes: [{ voter: h1, sig: "" }, { voter: h2, sig: "" }] } } }, 1000).state;
    const predicted = propose(2, h2, { reason: "predicted", from: h1, proposer: h1 });
    expect(sends(q.step(s, { type: "received", from: h1, msg: predicted }, 1100).effects, "vote")).toHaveLength(0);
    const disagrees = q.step(s, { type: "forecast", predicted: [h1, h2] }, 1100).state;
    expect(sends(q.step(disagrees, { type: "received", from: h1, msg: predicted }, 1101).effects, "vote")).toHaveLength(0);
    const agrees = q.step(s, { type: "forecast", predicted: [h1] }, 1100).state;
    // a planned move: no wait for the holder's grant to run out
    expect(sends(q.step(agrees, { type: "received", from: h1, msg: predicted }, 1101).effects, "vote").map((f) => f.to)).toEqual([h1]);
  });

  test("holds its vote while its grant to the holder runs, and casts it when the grant expires", () => {
    let s = freshVoter(h3);
    s = q.step(s, { type: "received", from: h1, msg: { type: "certificate", inPerson: false, cert: { service: "web", epoch: 1, holder: h1, from: null, reason: "initial", votes: [{ voter: h1, sig: "" }, { voter: h2, sig: "" }] } } }, 400).state;
    const granted = q.step(s, { type: "received", from: h1, msg: { type: "renew", service: "web", epoch: 1, holder: h1, seq: 1, boot: 1 } }, 1000);
    expect(sends(granted.effects, "grant")).toHaveLength(1);
    const p = propose(2, h2, { reason: "holder-lost", from: h1, proposer: h2 });
    const early = q.step(granted.state, { type: "received", from: h2, msg: p }, 1000 + timing.leaseMs - 1);
    expect(sends(early.effects, "vote")).toHaveLength(0);
    const onTime = q.step(early.state, { type: "tick", rand: 0 }, 1000 + timing.leaseMs);
    expect(sends(onTime.effects, "vote").map((f) => f.to)).toEqual([h2]);
  });

  test("learning an older certificate it signed does not relabel the grant its newer vote gave (spin's BROKEN_ADOPT_GRANT_EPOCH)", () => {
    // h3 never heard that h2 won epoch 1 (with h3's vote); it votes for h1's initial proposal at epoch 2.
    let s = freshVoter(h3);
    s = q.step(s, { type: "received", from: h1, msg: propose(2, h1) }, 400).state;
    expect(s.grantEpoch).toBe(2);
    // now the epoch-1 certificate (signed by h2 and h3) arrives
    const cert1 = { service: "web", epoch: 1, holder: h2, from: null, reason: "initial" as const, votes: [{ voter: h2, sig: "" }, { voter: h3, sig: "" }] };
    s = q.step(s, { type: "received", from: h2, msg: { type: "certificate", inPerson: false, cert: cert1 } }, 410).state;
    expect(s.grantEpoch).toBe(2); // the grant running is still the vote for h1
    // h2, holder as h3 knows it, asks to hand over to h3 at epoch 3: h3 must wait for its grant to h1 to run out
    const handover = propose(3, h3, { reason: "handover", from: h2, proposer: h2, basis: cert1 });
    const early = q.step(s, { type: "received", from: h2, msg: handover }, 420);
    expect(sends(early.effects, "vote")).toHaveLength(0);
    const late = q.step(early.state, { type: "tick", rand: 0 }, 400 + timing.leaseMs);
    expect(sends(late.effects, "vote").map((f) => f.to)).toEqual([h2]);
  });

  test("after voting for epoch 2 it refuses the lease of epoch 1 while that vote's grant runs, and grants it again after (sim seeds 849, 938)", () => {
    let s = freshVoter(h3);
    s = q.step(s, { type: "received", from: h1, msg: { type: "certificate", inPerson: false, cert: cert1 } }, 400).state;
    s = q.step(s, { type: "received", from: h2, msg: propose(2, h2, { reason: "holder-lost", from: h1, proposer: h2 }) }, 1000).state;
    expect(s.votedEpoch).toBe(2);
    const out = q.step(s, { type: "received", from: h1, msg: renew(1, h1, 7) }, 1001);
    expect(sends(out.effects, "grant")).toHaveLength(0);
    // No certificate of epoch 2 came: refusing h1 for ever would split the voters between it and a dead proposal.
    const later = q.step(out.state, { type: "received", from: h1, msg: renew(1, h1, 8) }, 1000 + timing.leaseMs);
    expect(sends(later.effects, "grant").map((f) => f.to)).toEqual([h1]);
    expect(later.state.votedEpoch).toBe(2); // its vote stands: one vote per epoch
  });

  test("re-sends its vote (a grant) only when no grant to another holder runs (sim seed 1425)", () => {
    // Voted for h2 in epoch 2; that grant ran out with no certificate; it granted h1 (epoch 1) again.
    let s = freshVoter(h3);
    s = q.step(s, { type: "received", from: h1, msg: { type: "certificate", inPerson: false, cert: cert1 } }, 400).state;
    const p = propose(2, h2, { reason: "holder-lost", from: h1, proposer: h2 });
    s = q.step(s, { type: "received", from: h2, msg: p }, 1000).state;
    expect(s.votedEpoch).toBe(2);
    s = q.step(s, { type: "received", from: h1, msg: renew(1, h1, 9) }, 1000 + timing.leaseMs).state;
    expect(s.grantEpoch).toBe(1);
    // h2 re-sends the same proposal: the same vote would now be a second running grant
    expect(sends(q.step(s, { type: "received", from: h2, msg: p }, 1000 + timing.leaseMs + 10).effects, "vote")).toHaveLength(0);
    expect(sends(q.step(s, { type: "received", from: h2, msg: p }, 1000 + 2 * timing.leaseMs).effects, "vote").map((f) => f.to)).toEqual([h2]);
  });

  test("votes to replace the holder of a second certificate of its own epoch (a lost vote record signed twice), once that holder is lost", () => {
    // h3 knows epoch 1 names h1; a second certificate of epoch 1 names h2, and h2 is gone.
    let s = freshVoter(h3);
    s = q.step(s, { type: "received", from: h1, msg: { type: "certificate", inPerson: false, cert: cert1 } }, 400).state;
    const rival = { service: "web", epoch: 1, holder: h2, from: null, reason: "initial" as const, votes: [{ voter: h2, sig: "" }, { voter: h3, sig: "" }] };
    const p = propose(2, h1, { reason: "holder-lost", from: h2, proposer: h1, basis: rival });
    expect(sends(q.step(s, { type: "received", from: h1, msg: p }, 1000).effects, "vote").map((f) => f.to)).toEqual([h1]);
    // not to put h2 in its own place, nor on a certificate of another epoch
    expect(sends(q.step(s, { type: "received", from: h2, msg: propose(2, h2, { reason: "holder-lost", from: h2, proposer: h2, basis: rival }) }, 1000).effects, "vote")).toHaveLength(0);
  });

  test("a grant the planned-vote exemption overrode holds back every certificate of the new holder but the planned one (spin, session 6)", () => {
    // h3 grants h1 (epoch 1); a handover h1 -> h2 at epoch 2 arrives from h1's process: h3 signs (the exemption).
    let s = freshVoter(h3);
    s = q.step(s, { type: "received", from: h1, msg: { type: "certificate", inPerson: false, cert: cert1 } }, 400).state;
    s = q.step(s, { type: "received", from: h1, msg: renew(1, h1, 3) }, 1000).state;
    s = q.step(s, { type: "received", from: h1, msg: propose(2, h2, { reason: "handover", from: h1, proposer: h1, basis: cert1 }) }, 1001).state;
    expect(s.exemptFrom).toEqual({ epoch: 1, holder: h1, untilMs: 1000 + timing.leaseMs });
    // h2's own holder-lost certificate of epoch 2 (h1 and h2 signed it) is not the planned one: no grant to h2 while h1's runs
    const lost = { service: "web", epoch: 2, holder: h2, from: h1, reason: "holder-lost" as const, votes: [{ voter: h1, sig: "" }, { voter: h2, sig: "" }] };
    const other = q.step(s, { type: "received", from: h2, msg: { type: "certificate", inPerson: false, cert: lost } }, 1002).state;
    expect(sends(q.step(other, { type: "received", from: h2, msg: renew(2, h2, 1) }, 1003).effects, "grant")).toHaveLength(0);
    expect(sends(q.step(other, { type: "received", from: h2, msg: renew(2, h2, 2) }, 1000 + timing.leaseMs).effects, "grant")).toHaveLength(1);
    // the planned certificate itself: h1 dropped its VIP before forming it, h2 is granted at once
    const planned = { ...lost, reason: "handover" as const };
    const mine = q.step(s, { type: "received", from: h1, msg: { type: "certificate", inPerson: false, cert: planned } }, 1002).state;
    expect(sends(q.step(mine, { type: "received", from: h2, msg: renew(2, h2, 1) }, 1003).effects, "grant")).toHaveLength(1);
  });

  test("its running grant goes to one holder: a vote for h2 in epoch 2 holds back a grant to h1 certified in epoch 2 (two certificates of one epoch exist only after a lost vote file)", () => {
    let s = freshVoter(h3);
    s = q.step(s, { type: "received", from: h2, msg: propose(2, h2) }, 1000).state;
    const rival = { service: "web", epoch: 2, holder: h1, from: null, reason: "initial" as const, votes: [{ voter: h1, sig: "" }, { voter: h3, sig: "" }] };
    s = q.step(s, { type: "received", from: h1, msg: { type: "certificate", inPerson: false, cert: rival } }, 1001).state;
    expect(s.holder).toBe(h1);
    expect(sends(q.step(s, { type: "received", from: h1, msg: renew(2, h1, 1) }, 1002).effects, "grant")).toHaveLength(0);
    expect(sends(q.step(s, { type: "received", from: h1, msg: renew(2, h1, 2) }, 1000 + timing.leaseMs).effects, "grant")).toHaveLength(1);
  });

  test("signs a holder's handover while granting it only if the proposal comes from the process it grants (spin's BROKEN_PLANNED_BOOT)", () => {
    let s = freshVoter(h3);
    s = q.step(s, { type: "received", from: h1, msg: { type: "certificate", inPerson: false, cert: cert1 } }, 400).state;
    // h1 restarted (boot 2) and this voter grants the new process...
    s = q.step(s, { type: "received", from: h1, msg: renew(1, h1, 1, 2) }, 1000).state;
    // ...when a handover of h1's previous process, still in flight, arrives: it waits for the grant to run out
    const stale = propose(2, h2, { reason: "handover", from: h1, proposer: h1, basis: cert1, boot: 1 });
    expect(sends(q.step(s, { type: "received", from: h1, msg: stale }, 1001).effects, "vote")).toHaveLength(0);
    const current = propose(2, h2, { reason: "handover", from: h1, proposer: h1, basis: cert1, boot: 2 });
    expect(sends(q.step(s, { type: "received", from: h1, msg: current }, 1001).effects, "vote").map((f) => f.to)).toEqual([h1]);
  });
});

describe("holder", () => {
  test("a holder named again by a newer certificate drops the VIP of its old epoch's lease until the new epoch's renewals come (sim seed 8291)", () => {
    let s = q.initialQuorum(cfg(h1), { epoch: 1, holder: h1, cert: cert1, votedEpoch: 1, votedHolder: h1 }, 0);
    const t0 = q.restartWaitMs(s.config);
    const out = q.step(s, { type: "tick", rand: 0 }, t0);
    s = out.state;
    const seq = (sends(out.effects, "renew")[0]!.msg as { seq: number }).seq;
    for (const v of [h1, h2]) s = q.step(s, { type: "received", from: v, msg: { type: "grant", service: "web", epoch: 1, seq, voter: v, boot: 1 } }, t0 + 1).state;
    expect(s.vipUp).toBe(true);
    const cert2 = { service: "web", epoch: 2, holder: h1, from: null, reason: "initial" as const, votes: [{ voter: h2, sig: "" }, { voter: h3, sig: "" }] };
    s = q.step(s, { type: "received", from: h2, msg: { type: "certificate", inPerson: false, cert: cert2 } }, t0 + 2).state;
    expect(s.vipUp).toBe(false);
    expect(s.role).toBe("acquiring");
    expect(s.dropWhy).toBe("superseded");
  });

  test("a holder whose VIP could not be added gives its epoch up and, last of the candidates, proposes itself again in a new epoch (sim seed 849)", () => {
    // h1 holds epoch 1 alone with h2 (h3 is gone); its add fails.
    let s = q.initialQuorum(cfg(h1), { epoch: 1, holder: h1, cert: cert1, votedEpoch: 1, votedHolder: h1 }, 0);
    const t0 = q.restartWaitMs(s.config);
    let out = q.step(s, { type: "tick", rand: 0 }, t0);
    const seq = sends(out.effects, "renew")[0]!.msg;
    s = q.step(out.state, { type: "received", from: h1, msg: seq as QuorumMsg }, t0).state; // its own renewal, looped back: the self-grant
    for (const v of [h1, h2]) s = q.step(s, { type: "received", from: v, msg: { type: "grant", service: "web", epoch: 1, seq: (seq as { seq: number }).seq, voter: v, boot: 1 } }, t0 + 1).state;
    expect(s.vipOp?.op).toBe("add");
    s = q.step(s, { type: "vip-changed", op: "add", epoch: 1, ok: false, error: "no such device" }, t0 + 2).state;
    expect(s.gaveUpEpoch).toBe(1);
    s = q.step(s, { type: "membership", alive: [h1, h2] }, t0 + 3).state;
    // No renewals in epoch 1 any more; once its own grants ran out and h2 (ranked first) had its turn, it proposes itself.
    let proposals: QuorumOut[] = [];
    for (let t = t0 + 10; t < t0 + 10 * timing.leaseMs && proposals.length === 0; t += 10) {
      out = q.step(s, { type: "tick", rand: 0 }, t);
      s = out.state;
      expect(sends(out.effects, "renew")).toHaveLength(0);
      proposals = sends(out.effects, "propose").map((f) => f.msg);
      if (proposals.length > 0) expect(t - t0).toBeGreaterThanOrEqual(timing.leaseMs + timing.proposalTimeoutMs);
    }
    expect(proposals[0]).toMatchObject({ type: "propose", epoch: 2, holder: h1, from: h1, reason: "holder-lost" });
  });
});

describe("new holder of a planned move", () => {
  test("learns the certificate ahead, renews and leases its kernel while the old holder drops; the word in person then takes the VIP at once", () => {
    const planned = { service: "web", epoch: 2, holder: h2, from: h1, reason: "handover" as const, votes: [{ voter: h1, sig: "" }, { voter: h3, sig: "" }] };
    let s = q.initialQuorum(cfg(h2), { epoch: 1, holder: h1, cert: cert1, votedEpoch: 2, votedHolder: h2 }, 0);
    const t0 = q.restartWaitMs(s.config);
    let out = q.step(s, { type: "received", from: h1, msg: { type: "certificate", inPerson: false, cert: planned } }, t0);
    s = out.state;
    const r = sends(out.effects, "renew")[0]!.msg as { seq: number };
    expect(s.takeNotBeforeMs).toBe(t0 + q.handoverWaitMs(s.config)); // not in person: wait out the old lease...
    for (const v of [h2, h3]) {
      out = q.step(s, { type: "received", from: v, msg: { type: "grant", service: "web", epoch: 2, seq: r.seq, voter: v, boot: 1 } }, t0 + 1);
      s = out.state;
    }
    expect(s.vipUp).toBe(false); // ...with its lease, the VIP still waits,
    expect(out.effects.filter((f) => f.type === "kernel-lease")).toEqual([{ type: "kernel-lease", epoch: 2, seq: 1, untilMs: s.leaseUntilMs }]); // but its kernel has the lease
    out = q.step(s, { type: "received", from: h1, msg: { type: "certificate", inPerson: true, cert: planned } }, t0 + 3);
    expect(out.state.vipUp).toBe(true);
    expect(out.effects.map((f) => f.type)).toEqual(["take-vip"]); // no second nft commit before the VIP answers
    // The word in person from anyone but the old holder lifts nothing.
    expect(q.step(s, { type: "received", from: h3, msg: { type: "certificate", inPerson: true, cert: planned } }, t0 + 3).state.vipUp).toBe(false);
  });

  test("with an older epoch's address still here (its removal under way), its kernel gets no lease before the word (review, session 10)", () => {
    const planned = { service: "web", epoch: 2, holder: h2, from: h1, reason: "handover" as const, votes: [{ voter: h1, sig: "" }, { voter: h3, sig: "" }] };
    let s = q.initialQuorum(cfg(h2), { epoch: 1, holder: h1, cert: cert1, votedEpoch: 2, votedHolder: h2 }, 0);
    const t0 = q.restartWaitMs(s.config);
    s = { ...s, vipPresent: true, vipOp: { op: "del", epoch: 1 } }; // e.g. it handed epoch 1 on, fenced, and its `ip addr del` still retries
    let out = q.step(s, { type: "received", from: h1, msg: { type: "certificate", inPerson: false, cert: planned } }, t0);
    const r = sends(out.effects, "renew")[0]!.msg as { seq: number };
    const fx: QuorumEffect[] = [];
    for (const v of [h2, h3]) {
      out = q.step(out.state, { type: "received", from: v, msg: { type: "grant", service: "web", epoch: 2, seq: r.seq, voter: v, boot: 1 } }, t0 + 1);
      fx.push(...out.effects);
    }
    expect(out.state.leaseUntilMs).toBeGreaterThan(t0 + 1);
    expect(fx.filter((f) => f.type === "kernel-lease")).toEqual([]);
  });

  test("restarted with a planned certificate naming it, it waits out the old lease: the word went to its dead process (review, session 10)", () => {
    const planned = { service: "web", epoch: 2, holder: h2, from: h1, reason: "handover" as const, votes: [{ voter: h1, sig: "" }, { voter: h3, sig: "" }] };
    const s = q.initialQuorum(cfg(h2), { epoch: 2, holder: h2, cert: planned, votedEpoch: 2, votedHolder: h2 }, 5_000);
    expect(s.takeNotBeforeMs).toBe(5_000 + q.handoverWaitMs(s.config));
    expect(q.initialQuorum(cfg(h2), { epoch: 1, holder: h2, cert: { ...cert1, holder: h2 }, votedEpoch: 1, votedHolder: h2 }, 5_000).takeNotBeforeMs).toBe(0); // an unplanned certificate: its old holder's grants ran out before the votes
  });
});

describe("kernel lease acknowledgements", () => {
  /** h1 holding epoch 1 with its VIP added and its kernel lease applied; returns the state and the kernel-lease effect's seq. */
  function fencedHolder(fenced = true): QuorumState {
    let s = q.initialQuorum(cfg(h1, { fenced }), { epoch: 1, holder: h1, cert: cert1, votedEpoch: 1, votedHolder: h1 }, 0);
    s = q.step(s, { type: "tick", rand: 0 }, 1_000).state;
    const seq = s.renewSeq;
    for (const v of [h1, h2]) s = q.step(s, { type: "received", from: v, msg: { type: "grant", service: "web", epoch: 1, seq, voter: v, boot: 1 } }, 1_001).state;
    s = q.step(s, { type: "vip-changed", op: "add", epoch: 1, ok: true, error: null }, 1_002).state;
    if (fenced) s = q.step(s, { type: "kernel-leased", seq: s.kernelSeq, error: null }, 1_002).state;
    expect(s.role).toBe("holding");
    return s;
  }
  /** h1 hands over to h2 and the voters sign: returns the state and the effects of the certificate's step. */
  function handedOver(s: QuorumState): { s: QuorumState; fx: QuorumEffect[] } {
    s = q.step(s, { type: "handover-requested", to: h2 }, 1_010).state;
    const p = s.proposal!;
    let fx: QuorumEffect[] = [];
    for (const v of [h1, h3]) {
      const out = q.step(s, { type: "received", from: v, msg: { type: "vote", service: "web", epoch: p.epoch, holder: h2, from: h1, reason: "handover", voter: v, boot: 1, sig: "" } }, 1_011);
      s = out.state;
      fx = out.effects;
    }
    return { s, fx };
  }
  const inPerson = (fx: QuorumEffect[]) => sends(fx, "certificate").filter((f) => (f.msg as { inPerson: boolean }).inPerson);

  test("fenced, the old holder of a planned move hands over once its kernel acknowledges the lease's end, before its address is removed", () => {
    const { s, fx } = handedOver(fencedHolder());
    const end = fx.find((f) => f.type === "kernel-lease")!;
    expect(end).toMatchObject({ untilMs: null });
    expect(fx.some((f) => f.type === "drop-vip")).toBe(true);
    expect(inPerson(fx)).toHaveLength(0); // not before the kernel says so
    const acked = q.step(s, { type: "kernel-leased", seq: (end as { seq: number }).seq, error: null }, 1_012);
    expect(inPerson(acked.effects).map((f) => f.to)).toEqual([h2]);
    expect(acked.state.vipPresent).toBe(true); // the address is still there, fenced
  });

  test("an end the kernel refused: the handover waits for the removal, and the refusal raises an alarm, cleared by the next write applied", () => {
    const { s, fx } = handedOver(fencedHolder());
    const seq = (fx.find((f) => f.type === "kernel-lease") as { seq: number }).seq;
    const refused = q.step(s, { type: "kernel-leased", seq, error: "Error: Could not process rule" }, 1_012);
    expect(inPerson(refused.effects)).toHaveLength(0);
    expect(refused.effects).toContainEqual({ type: "alarm", alarm: "kernel-lease-failed", epoch: 2, error: "Error: Could not process rule", attempts: 1 });
    const removed = q.step(refused.state, { type: "vip-changed", op: "del", epoch: 2, ok: true, error: null }, 1_013);
    expect(inPerson(removed.effects).map((f) => f.to)).toEqual([h2]);
  });

  test("a refused lease while holding raises the alarm once; the next applied write clears it", () => {
    let s = fencedHolder();
    s = q.step(s, { type: "kernel-leased", seq: s.kernelSeq, error: "nft exited" }, 1_003).state;
    const again = q.step(s, { type: "kernel-leased", seq: s.kernelSeq, error: "nft exited" }, 1_004);
    expect(again.effects.filter((f) => f.type === "alarm")).toHaveLength(0);
    const ok = q.step(again.state, { type: "kernel-leased", seq: s.kernelSeq, error: null }, 1_005);
    expect(ok.effects).toContainEqual({ type: "alarm", alarm: "kernel-lease-recovered", epoch: 1, error: null, attempts: 3 });
  });

  test("without the fence no kernel-lease goes out, and the handover waits for the removal", () => {
    const { s, fx } = handedOver(fencedHolder(false));
    expect(fx.some((f) => f.type === "kernel-lease")).toBe(false);
    expect(inPerson(fx)).toHaveLength(0);
    const removed = q.step(s, { type: "vip-changed", op: "del", epoch: 2, ok: true, error: null }, 1_013);
    expect(inPerson(removed.effects).map((f) => f.to)).toEqual([h2]);
  });
});

describe("lapsed renewals", () => {
  /** h1 holding epoch 1 under cert1, its lease from a renewal granted at 1000. */
  function leasedHolder(): QuorumState {
    let s = q.initialQuorum(cfg(h1), { epoch: 1, holder: h1, cert: cert1, votedEpoch: 1, votedHolder: h1 }, 0);
    s = q.step(s, { type: "tick", rand: 0 }, 1_000).state;
    const seq = s.renewSeq;
    s = q.step(s, { type: "received", from: h2, msg: { type: "grant", service: "web", epoch: 1, seq, voter: h2, boot: 1 } }, 1_001).state;
    s = q.step(s, { type: "received", from: h1, msg: { type: "grant", service: "web", epoch: 1, seq, voter: h1, boot: 1 } }, 1_001).state;
    expect(s.role).toBe("holding");
    return s;
  }
  const tickAt = (s: QuorumState, t: number) => q.step(s, { type: "tick", rand: 0 }, t);

  test("a holder whose renewals no voter answers sends a lapsed one lapsedAfterMs after its last answered renewal, and takes no grant for it or any before", () => {
    let s = leasedHolder();
    const lapseAt = 1_000 + q.lapsedAfterMs(s.config);
    expect(lapseAt).toBeGreaterThanOrEqual(s.leaseUntilMs + timing.actuationGuardMs); // the kernel's lease is over by then
    // unanswered renewals go out as usual until then
    for (let t = 1_050; t < lapseAt; t += timing.renewIntervalMs) {
      const out = tickAt(s, t);
      expect(sends(out.effects, "renew")).toHaveLength(3);
      s = out.state;
    }
    expect(s.askedSinceMs).toBe(1_050);
    expect(sends(tickAt(s, lapseAt - 1).effects, "lapsed")).toHaveLength(0);
    // at once, not at the next renewal interval
    let out = tickAt(s, lapseAt);
    expect(sends(out.effects, "renew")).toHaveLength(0);
    expect(sends(out.effects, "lapsed").map((f) => f.to)).toEqual(hosts);
    s = out.state;
    const lapsedSeq = s.lapsedSeq;
    expect(lapsedSeq).toBe(s.renewSeq);
    expect(sends(tickAt(s, lapseAt + 1).effects, "lapsed")).toHaveLength(0); // then one per interval
    // a late grant for an earlier renewal is heard, but extends nothing
    const t = lapseAt + 1;
    const late = { type: "grant", service: "web", epoch: 1, seq: lapsedSeq - 1, boot: 1 } as const;
    out = q.step(s, { type: "received", from: h2, msg: { ...late, voter: h2 } }, t);
    out = q.step(out.state, { type: "received", from: h1, msg: { ...late, voter: h1 } }, t);
    expect(out.state.role).toBe("safe-mode");
    expect(out.state.askedSinceMs).toBe(null);
    // having heard a voter, it renews as before
    out = tickAt(out.state, lapseAt + timing.renewIntervalMs);
    expect(sends(out.effects, "renew")).toHaveLength(3);
  });

  test("a holder that just started asks for most of lapsedAfterMs before it says it lapsed", () => {
    const s = q.initialQuorum(cfg(h1), { epoch: 1, holder: h1, cert: cert1, votedEpoch: 1, votedHolder: h1 }, 0);
    const first = tickAt(s, 5_000);
    expect(sends(first.effects, "renew")).toHaveLength(3);
    const afterMs = q.lapsedAfterMs(s.config);
    expect(sends(tickAt(first.state, 5_000 + afterMs - timing.renewIntervalMs - 1).effects, "lapsed")).toHaveLength(0);
    expect(sends(tickAt(first.state, 5_000 + afterMs - timing.renewIntervalMs).effects, "lapsed")).toHaveLength(3);
  });

  test("a lapsed-ack from another voter counts as heard; its own does not", () => {
    const s = tickAt(leasedHolder(), 1_050).state;
    const t = 1_000 + q.lapsedAfterMs(s.config);
    const lapsed = tickAt(s, t).state;
    expect(lapsed.lapsedSeq).toBe(lapsed.renewSeq);
    const ack = (voter: HostId) => ({ type: "lapsed-ack", service: "web", epoch: 1, seq: lapsed.lapsedSeq, voter, boot: 1 }) as const;
    expect(q.step(lapsed, { type: "received", from: h1, msg: ack(h1) }, t + 1).state.askedSinceMs).toBe(1_050);
    expect(q.step(lapsed, { type: "received", from: h3, msg: ack(h3) }, t + 1).state.askedSinceMs).toBe(null);
  });

  test("a voter forgets its grant to the lapsed process, counts the holder lost and answers; a grant to another process of it is waited out", () => {
    const waitMs = q.restartWaitMs(cfg(h3));
    let s = q.initialQuorum(cfg(h3), { epoch: 1, holder: h1, cert: cert1, votedEpoch: 1, votedHolder: h1 }, 0);
    s = q.step(s, { type: "received", from: h1, msg: renew(1, h1, 7, 2) }, waitMs).state;
    expect(s.grantUntilMs).toBe(waitMs + timing.leaseMs);
    const lapsedMsg = (boot: number) => ({ type: "lapsed", service: "web", epoch: 1, holder: h1, seq: 9, boot }) as const;
    // from a process it does not grant: it counts h1 lost but keeps its promise
    let out = q.step(s, { type: "received", from: h1, msg: lapsedMsg(1) }, waitMs + 20);
    expect(out.state.grantUntilMs).toBe(waitMs + timing.leaseMs);
    expect(out.state.holderSeenUntilMs).toBe(waitMs + 20);
    // from the process it grants: the promise is forgotten, and it may vote at once
    out = q.step(s, { type: "received", from: h1, msg: lapsedMsg(2) }, waitMs + 20);
    expect(out.state.grantUntilMs).toBe(waitMs + 20);
    expect(sends(out.effects, "lapsed-ack")).toEqual([{ type: "send", to: h1, msg: { type: "lapsed-ack", service: "web", epoch: 1, seq: 9, voter: h3, boot: 2 } }]);
    out = q.step(out.state, { type: "received", from: h2, msg: propose(2, h2, { from: h1, reason: "holder-lost", basis: cert1 }) }, waitMs + 21);
    expect(sends(out.effects, "vote").map((f) => f.to)).toEqual([h2]);
  });

  test("a voter woken from its own stall judges no holder lost for stallGraceMs: a lapsed holder that renews meanwhile keeps the service; one that does not is replaced after it", () => {
    const waitMs = q.restartWaitMs(cfg(h2));
    let s = q.initialQuorum(cfg(h2), { epoch: 1, holder: h1, cert: cert1, votedEpoch: 1, votedHolder: h1 }, 0);
    s = q.step(s, { type: "received", from: h1, msg: renew(1, h1, 7) }, waitMs).state;
    // h2 froze past the lease; what h1 sent meanwhile waits, its lapse last
    const woke = waitMs + 3 * timing.leaseMs;
    const lapsed = { type: "received", from: h1, msg: { type: "lapsed", service: "web", epoch: 1, holder: h1, seq: 9, boot: 1 } } as const;
    // Without the stall event, h2 (first in rank after h1) proposes itself in the turn it reads the lapse.
    const unaware = q.step(q.step(s, lapsed, woke).state, { type: "tick", rand: 0 }, woke);
    expect(sends(unaware.effects, "propose").map((f) => f.to)).toEqual(hosts);
    // Told of its stall first, it does not, and holds back a vote for another's proposal.
    let out = q.step(s, { type: "stalled" }, woke);
    expect(out.state.stalledUntilMs).toBe(woke + q.stallGraceMs(s.config));
    out = q.step(out.state, lapsed, woke);
    expect(sends(out.effects, "lapsed-ack").map((f) => f.to)).toEqual([h1]);
    out = q.step(out.state, { type: "tick", rand: 0 }, woke);
    expect(sends(out.effects, "propose")).toHaveLength(0);
    const rival = q.step(out.state, { type: "received", from: h3, msg: propose(2, h3, { from: h1, reason: "holder-lost", basis: cert1 }) }, woke + 1);
    expect(sends(rival.effects, "vote")).toHaveLength(0);
    // h1, told, renews within the grace: granted, and still not lost when the grace is over
    const kept = q.step(out.state, { type: "received", from: h1, msg: renew(1, h1, 10) }, woke + timing.renewIntervalMs);
    expect(sends(kept.effects, "grant").map((f) => f.to)).toEqual([h1]);
    expect(sends(q.step(kept.state, { type: "tick", rand: 0 }, woke + q.stallGraceMs(s.config)).effects, "propose")).toHaveLength(0);
    // Silent through the grace, it is lost at its end: the next tick due is then, and h2 proposes.
    expect(q.nextTickMs(out.state)).toBeLessThanOrEqual(woke + q.stallGraceMs(s.config));
    const lost = q.step(out.state, { type: "tick", rand: 0 }, woke + q.stallGraceMs(s.config));
    expect(sends(lost.effects, "propose").map((f) => f.to)).toEqual(hosts);
  });

  test("a lapsed renewal that arrives after the grant of a later renewal voids nothing: datagrams reorder (sim seed 174)", () => {
    const waitMs = q.restartWaitMs(cfg(h3));
    let s = q.initialQuorum(cfg(h3), { epoch: 1, holder: h1, cert: cert1, votedEpoch: 1, votedHolder: h1 }, 0);
    s = q.step(s, { type: "received", from: h1, msg: renew(1, h1, 10) }, waitMs).state;
    const out = q.step(s, { type: "received", from: h1, msg: { type: "lapsed", service: "web", epoch: 1, holder: h1, seq: 9, boot: 1 } }, waitMs + 5);
    expect(out.state.grantUntilMs).toBe(waitMs + timing.leaseMs); // h1 may hold a lease on renewal 10's grants
    const later = q.step(out.state, { type: "received", from: h1, msg: { type: "lapsed", service: "web", epoch: 1, holder: h1, seq: 11, boot: 1 } }, waitMs + 6);
    expect(later.state.grantUntilMs).toBe(waitMs + 6);
  });
});

describe("certificates", () => {
  const cert = (votes: string[]) => ({ service: "web", epoch: 1, holder: h1, from: null, reason: "initial" as const, votes: votes.map((v) => ({ voter: H(v), sig: "" })) });
  test.each([
    [["h1"], false],
    [["h1", "h1"], false],
    [["h1", "h4"], false],
    [["h1", "h2"], true],
    [["h1", "h2", "h3"], true],
  ])("votes %j form a certificate: %p", (votes, ok) => {
    expect(q.certificateWellFormed(cfg(h1), cert(votes))).toBe(ok);
  });

  test("a proposer certifies only at a majority and only then takes the VIP", () => {
    let s = q.initialQuorum(cfg(h1), null, 0);
    const start = q.restartWaitMs(cfg(h1));
    const out0 = q.step(s, { type: "tick", rand: 0 }, start);
    expect(sends(out0.effects, "propose").map((f) => f.to)).toEqual(hosts);
    s = out0.state;
    const vote = (voter: HostId) => ({ type: "vote", service: "web", epoch: 1, holder: h1, from: null, reason: "initial", voter, sig: "x", boot: 1 }) as const;
    const one = q.step(s, { type: "received", from: h1, msg: vote(h1) }, start + 1);
    expect(one.effects.some((f) => f.type === "take-vip")).toBe(false);
    const dup = q.step(one.state, { type: "received", from: h1, msg: vote(h1) }, start + 2);
    expect(dup.effects.some((f) => f.type === "take-vip")).toBe(false);
    const two = q.step(dup.state, { type: "received", from: h2, msg: vote(h2) }, start + 3);
    expect(two.effects.filter((f) => f.type === "take-vip")).toHaveLength(1);
    expect(q.leaseValid(two.state, start + 3)).toBe(true);
    // the lease counts from the proposal, shortened for drift and the guard
    expect(two.state.leaseUntilMs).toBe(start + q.holderLeaseMs(cfg(h1)));
    // the add's outcome comes back; only then can a removal be asked for
    const added = q.step(two.state, { type: "vip-changed", op: "add", epoch: 1, ok: true, error: null }, start + 4);
    // and it lapses without renewals: the VIP drops, the host enters safe mode
    const lapsed = q.step(added.state, { type: "tick", rand: 0 }, two.state.leaseUntilMs);
    expect(lapsed.effects.some((f) => f.type === "drop-vip")).toBe(true);
    expect(lapsed.state.role).toBe("safe-mode");
    expect(q.leaseValid(lapsed.state, two.state.leaseUntilMs)).toBe(false);
  });
});

// ------------------------------------------------------------- cluster runs

function opts(seed: number, over: Partial<SimOptions> = {}): SimOptions {
  return {
    hosts,
    voters: hosts,
    candidates: hosts,
    timing: { ...timing, ...swim },
    tickMs: 5,
    net: { delayMinMs: 0.2, delayMaxMs: 2, dropRate: 0, duplicateRate: 0 },
    seed,
    ...over,
  };
}

describe("cluster", () => {
  test("the primary is certified first and keeps the VIP while healthy", () => {
    const c = createCluster(opts(1));
    c.run(5_000);
    expect(c.holdersNow()).toEqual([h1]);
    expect(c.certificates().map((x) => [x.epoch, x.holder])).toEqual([[1, h1]]);
  });

  test("with the primary down from the start, a shadow takes the first certificate only after the start-up grace", () => {
    const c = createCluster(opts(11));
    c.crash(h1);
    c.run(10_000);
    expect(c.holdersNow()).toEqual([h2]);
    // (SWIM soon sees h1 dead, so h2 ranks first: it waits the reboot wait and the grace)
    expect(c.takes[0]!.atMs).toBeGreaterThanOrEqual(timing.leaseMs + timing.initialGraceMs);
  });

  test("a cut-off primary drops the VIP; a shadow takes it only after the old lease ran out", () => {
    const c = createCluster(opts(2));
    c.run(2_000);
    expect(c.holdersNow()).toEqual([h1]);
    const cutAt = c.nowMs();
    c.partition([[h1], [h2, h3]]);
    c.run(cutAt + 2_000);
    expect(c.holdersNow()).toEqual([h2]);
    const take = c.takes.find((t) => t.host === h2)!;
    const drop = c.trace.find((t) => t.host === h1 && t.what.includes("drop-vip"))!;
    expect(drop.atMs).toBeLessThan(take.atMs);
    // failover within a lease plus a couple of rounds
    expect(take.atMs - cutAt).toBeLessThan(timing.leaseMs + 2 * timing.renewIntervalMs);
    // the old primary, back, does not take the VIP from a holder with a lease
    c.heal();
    c.run(c.nowMs() + 3_000);
    expect(c.holdersNow()).toEqual([h2]);
    expect(c.node(h1).role).toBe("follower");
    expect(c.node(h1).epoch).toBe(2);
  });

  test("a paused agent: a pause within the guard is ridden out; through one of two leases, the kernel-side lease silences it before a shadow takes over (without one, two hosts answer)", () => {
    const short = createCluster(opts(2));
    short.run(2_000);
    expect(short.holdersNow()).toEqual([h1]);
    short.pause(h1, timing.actuationGuardMs / 4);
    short.run(4_000);
    expect(short.holdersNow()).toEqual([h1]); // it renewed on waking, nobody moved

    const long = createCluster(opts(2));
    long.run(2_000);
    long.pause(h1, 2 * timing.leaseMs);
    long.run(4_000); // h1's kernel keeps the address, fenced once its kernel lease ends: one answering host throughout
    expect(long.holdersNow()).toHaveLength(1);
    expect(long.holdersNow()[0]).not.toBe(h1);

    const unfenced = createCluster(opts(2, { variant: "no-kernel-lease" }));
    unfenced.run(2_000);
    unfenced.pause(h1, 2 * timing.leaseMs);
    expect(() => unfenced.run(4_000)).toThrow(/two VIP holders/);
  });

  test("a killed holder's kernel keeps its VIP, silenced by the kernel lease before a shadow takes over; the restart cleans up, and the service moves back to it later", () => {
    const c = createCluster(opts(3));
    c.run(2_000);
    expect(c.holdersNow()).toEqual([h1]);
    c.kill(h1);
    c.run(4_000);
    expect(c.holdersNow()).toEqual([h2]);
    c.restart(h1);
    c.run(5_500);
    expect(c.holdersNow()).toEqual([h2]); // it does not take the VIP back by itself...
    c.run(10_000);
    expect(c.holdersNow()).toEqual([h1]); // ...h2 hands it back, once h1 has been fit and in sync for moveBackAfterMs (the simulator's: 10 leases)

    const unfenced = createCluster(opts(3, { variant: "no-kernel-lease" }));
    unfenced.run(2_000);
    unfenced.kill(h1);
    expect(() => unfenced.run(4_000)).toThrow(/two VIP holders/);
  });

  test("a deaf holder (it hears nothing, it is still heard) says its lease lapsed, and a shadow takes over about as soon as after a cut; back, it hears and follows", () => {
    const failover = (deaf: boolean): number => {
      const c = createCluster(opts(6));
      c.run(2_000);
      expect(c.holdersNow()).toEqual([h1]);
      const at = c.nowMs();
      if (deaf) for (const h of [h2, h3]) c.cutOneWay(h, h1);
      else c.partition([[h1], [h2, h3]]);
      c.run(at + 2_000);
      expect(c.holdersNow()).toEqual([h2]);
      if (deaf) {
        // its renewals still arrive, as lapsed ones: nobody grants them
        expect(c.node(h1).lapsedSeq).toBeGreaterThan(0);
        c.heal();
        c.run(c.nowMs() + 2_000);
        expect(c.holdersNow()).toEqual([h2]);
        expect(c.node(h1).role).toBe("follower");
      }
      return c.takes.find((t) => t.host === h2)!.atMs - at;
    };
    const cut = failover(false);
    const deaf = failover(true);
    // Without lapsed renewals the voters would grant a deaf holder's renewals for ever (datagrams need no answer).
    expect(deaf).toBeLessThan(1.2 * cut);
  });

  test("a crashed holder is replaced; restarted, it stays a follower until the holder moves the service back to it", () => {
    const c = createCluster(opts(3));
    c.run(2_000);
    c.crash(h1);
    c.run(4_000);
    expect(c.holdersNow()).toEqual([h2]);
    c.restart(h1);
    c.run(5_500);
    expect(c.holdersNow()).toEqual([h2]);
    expect(c.node(h1).role).toBe("follower");
    c.run(10_000);
    expect(c.holdersNow()).toEqual([h1]);
    expect(c.node(h2).epoch).toBe(3); // one handover in person: epoch 2 the failover, 3 the move back
  });

  test("with the primary and first shadow down, the last shadow cannot win alone", () => {
    const c = createCluster(opts(4));
    c.run(2_000);
    c.crash(h1);
    c.crash(h2);
    c.run(6_000);
    expect(c.holdersNow()).toEqual([]);
    c.restart(h2);
    c.run(12_000);
    expect(c.holdersNow()).toHaveLength(1);
  });

  test("a predicted move goes through when the voters' forecasts agree, and not when most see the target failing too", () => {
    const c = createCluster(opts(5));
    c.run(2_000);
    c.predict(h1, h2);
    c.run(c.nowMs() + 500);
    expect(c.holdersNow()).toEqual([h2]);
    expect(c.certificates().at(-1)).toMatchObject({ holder: h2, reason: "predicted" });
    const d = createCluster(opts(5));
    d.run(2_000);
    // h2 and h3 see h2 failing too; only h1's own view supports the move: no majority, and h1 stays.
    d.predict(h1, h2, true);
    d.run(d.nowMs() + 1_000);
    expect(d.holdersNow()).toEqual([h1]);
  });

  test("a handover in person moves the VIP with a gap of one message", () => {
    const c = createCluster(opts(5));
    c.run(2_000);
    const t0 = c.nowMs();
    c.handover(h1, h2);
    c.run(t0 + 500);
    expect(c.holdersNow()).toEqual([h2]);
    const drop = c.trace.find((t) => t.host === h1 && t.what.includes("why=handover"))!;
    const take = c.takes.find((t) => t.host === h2)!;
    expect(take.atMs - drop.atMs).toBeLessThan(10);
  });

  test("same seed, same trace", () => {
    const run = () => {
      const c = createCluster(opts(9, { net: { delayMinMs: 0.1, delayMaxMs: 30, dropRate: 0.2, duplicateRate: 0.1 } }));
      c.run(1_000);
      c.partition([[h1], [h2, h3]]);
      c.run(3_000);
      c.heal();
      c.run(5_000);
      return JSON.stringify(c.trace);
    };
    expect(run()).toBe(run());
  });

  test("property: under loss, duplication, delay, partitions and crashes, never two holders and never two certificates per epoch", () => {
    // The cluster asserts both after every step; a violation throws.
    const arbFault = fc.record({
      atMs: fc.integer({ min: 0, max: 8_000 }),
      kind: fc.constantFrom("partition", "heal", "crash", "restart", "handover", "predicted", "predicted-split"),
      a: fc.constantFrom(h1, h2, h3),
      b: fc.constantFrom(h1, h2, h3),
    });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.array(arbFault, { maxLength: 12 }), (seed, faults) => {
        const c = createCluster(
          opts(seed, { net: { delayMinMs: 0.1, delayMaxMs: 40, dropRate: 0.15, duplicateRate: 0.05 } }),
        );
        for (const f of [...faults].sort((x, y) => x.atMs - y.atMs)) {
          c.run(f.atMs);
          if (f.kind === "partition") c.partition([[f.a], hosts.filter((h) => h !== f.a)]);
          else if (f.kind === "heal") c.heal();
          else if (f.kind === "crash") c.crash(f.a);
          else if (f.kind === "restart") c.restart(f.a);
          else if (f.a !== f.b && c.holdersNow().includes(f.a)) {
            if (f.kind === "handover") c.handover(f.a, f.b);
            else c.predict(f.a, f.b, f.kind === "predicted-split");
          }
        }
        // liveness: once healed with everyone up, some host holds the VIP
        c.heal();
        for (const h of hosts) if (!c.isUp(h)) c.restart(h);
        c.run(c.nowMs() + 10_000);
        expect(c.holdersNow()).toHaveLength(1);
      }),
      { seed: 42, numRuns: 200 },
    );
  }, 60_000);
});
