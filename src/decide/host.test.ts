// Proves the host core's routing of state replication: what the replicator
// learns goes to the replication machine of the right service, its effects
// come out named by service, the core's tick times writes out, and a host
// that keeps no replica of a service neither accepts writes for it nor
// trips over its peers' messages.
import { describe, expect, test } from "bun:test";
import * as host from "./host.ts";
import type { HostConfig, HostEffect } from "./host.ts";
import type { HostId } from "../shared/ids.ts";
import { PROFILES } from "../shared/config.ts";

const H = (s: string) => s as HostId;
const [a, b, c] = [H("a"), H("b"), H("c")];

function config(self: HostId): HostConfig {
  const p = PROFILES.lan;
  return {
    self,
    hosts: [a, b, c],
    boot: 1,
    // "web" lives on a and b (c only votes); "db" on all three
    services: [
      { name: "web", candidates: [a, b], voters: [a, b, c], ackShadows: 1 },
      { name: "db", candidates: [a, b, c], voters: [a, b, c], ackShadows: 2 },
    ],
    timing: p,
    replication: { writeTimeoutMs: 1_000, staleAfterMs: 500 },
    proactive: null,
    fenced: true,
  };
}

const of = <T extends HostEffect["type"]>(fx: HostEffect[], type: T) => fx.filter((f): f is Extract<HostEffect, { type: T }> => f.type === type);

describe("host core: replication", () => {
  test("a write is asked of the service's connected replicas and acknowledged once enough confirm it", () => {
    let s = host.initialHost(config(a), {}, 0);
    for (const p of [b, c]) s = host.step(s, { type: "state-link", peer: p, up: true }, 1).state;
    const web = host.step(s, { type: "write-durable", service: "web", id: "w1" }, 2);
    expect(of(web.effects, "request-durable")).toEqual([{ type: "request-durable", service: "web", id: "w1", to: [b] }]);
    const acked = host.step(web.state, { type: "peer-durable", service: "web", peer: b, id: "w1" }, 5);
    expect(of(acked.effects, "write-acked")).toEqual([{ type: "write-acked", service: "web", id: "w1", durableOn: [b], ms: 3 }]);
    // db needs both others: one confirmation is not enough
    let db = host.step(acked.state, { type: "write-durable", service: "db", id: "d1" }, 6);
    expect(of(db.effects, "request-durable")[0]!.to).toEqual([b, c]);
    db = host.step(db.state, { type: "peer-durable", service: "db", peer: c, id: "d1" }, 7);
    expect(of(db.effects, "write-acked")).toEqual([]);
    db = host.step(db.state, { type: "peer-durable", service: "db", peer: b, id: "d1" }, 8);
    expect(of(db.effects, "write-acked").map((f) => f.durableOn)).toEqual([[c, b]]);
  });

  test("the core's tick fails a write not acknowledged in time, and a replica not heard turns stale", () => {
    const linked = host.step(host.initialHost(config(a), {}, 0), { type: "state-link", peer: b, up: true }, 0);
    expect(of(linked.effects, "sync-status-changed").filter((f) => f.service === "web")).toEqual([{ type: "sync-status-changed", service: "web", peer: b, from: "stale", to: "in-sync" }]);
    let s = host.step(linked.state, { type: "peer-synced", service: "web", peer: b, lagChanges: 0, lagBytes: 0, theyLack: false, weLack: false }, 1).state;
    s = host.step(s, { type: "write-durable", service: "web", id: "w1" }, 2).state;
    const later = host.step(s, { type: "tick", rand: 0.5 }, 1_002);
    expect(of(later.effects, "write-failed")).toEqual([{ type: "write-failed", service: "web", id: "w1", why: "timeout", durableOn: [], ms: 1_000 }]);
    expect(of(later.effects, "sync-status-changed").filter((f) => f.service === "web")).toEqual([{ type: "sync-status-changed", service: "web", peer: b, from: "in-sync", to: "stale" }]);
    expect(host.replicaPeers(later.state, "web")![b]!.status).toBe("stale");
  });

  test("a host that keeps no replica of a service has no machine for it: its peers' findings about it change nothing", () => {
    let s = host.initialHost(config(c), {}, 0);
    expect(host.replicaPeers(s, "web")).toBeNull();
    expect(host.replicaPeers(s, "db")).not.toBeNull();
    const out = host.step(s, { type: "peer-durable", service: "web", peer: a, id: "x" }, 1);
    expect(out.effects).toEqual([]);
    s = out.state;
    expect(() => host.step(s, { type: "write-durable", service: "web", id: "x" }, 2)).toThrow(/replica/);
  });
});

describe("host core: the notify hook (keepalived's states)", () => {
  test.each([
    ["handover", "add", true, "MASTER"],
    ["handover", "add", false, "FAULT"],
    ["handover", "del", true, "BACKUP"],
    ["superseded", "del", true, "BACKUP"],
    ["lease-expired", "del", true, "FAULT"],
    ["add-failed", "del", true, "FAULT"],
    ["handover", "del", false, null],
  ] as const)("dropped for %s, %s ok=%p: %p", (why, op, ok, state) => {
    expect(host.notifyState(why, op, ok)).toBe(state);
  });
});

describe("host core: safe mode", () => {
  const cert = (epoch: number, holder: HostId, from: HostId | null, reason: "initial" | "holder-lost" | "handover", voters: HostId[]) => ({ service: "web", epoch, holder, from, reason, votes: voters.map((v) => ({ voter: v, sig: "" })) });
  /** a, restarted after holding web in epoch 1, hears of epoch 2's certificate. */
  function replaced(c2: ReturnType<typeof cert>, before: host.HostEvent[] = []) {
    const c1 = cert(1, a, null, "initial", [a, b]);
    let s = host.initialHost(config(a), { web: { epoch: 1, holder: a, cert: c1, votedEpoch: 1, votedHolder: a } }, 0);
    for (const e of before) s = host.step(s, e, 1).state;
    return host.step(s, { type: "received", from: b, msg: { type: "certificate", cert: c2, inPerson: false } }, 2);
  }

  test("a holder replaced by a certificate it neither handed over nor signed is demoted: safe mode, diagnostics asked for", () => {
    const out = replaced(cert(2, b, a, "holder-lost", [b, c]));
    expect(of(out.effects, "safe-mode-changed")).toEqual([{ type: "safe-mode-changed", service: "web", on: true, why: "demoted at epoch 2: b certified in its place (holder-lost)" }]);
    expect(of(out.effects, "diagnose")).toEqual([{ type: "diagnose", service: "web", seq: 1, why: "demoted at epoch 2: b certified in its place (holder-lost)" }]);
    expect(host.safeServices(out.state)).toEqual(["web"]);
    expect(host.unhealthyServices(out.state)).toEqual([]); // its checks are another matter
  });

  test("no demotion where it signed its replacement, handed over in person, or stopped on purpose holding that epoch", () => {
    expect(of(replaced(cert(2, b, a, "holder-lost", [b, a])).effects, "diagnose")).toEqual([]);
    expect(of(replaced(cert(2, b, a, "handover", [b, c])).effects, "diagnose")).toEqual([]);
    expect(of(replaced(cert(2, b, a, "holder-lost", [b, c]), [{ type: "left-holding", service: "web", epoch: 1 }]).effects, "diagnose")).toEqual([]);
  });
});

describe("host core: redirect retries", () => {
  /** a, restarted holder of web at epoch 1 (certified, no lease yet). */
  function holder() {
    const c1 = { service: "web", epoch: 1, holder: a, from: null, reason: "initial" as const, votes: [{ voter: a, sig: "" }, { voter: b, sig: "" }] };
    return host.initialHost(config(a), { web: { epoch: 1, holder: a, cert: c1, votedEpoch: 1, votedHolder: a } }, 0);
  }
  const failed = (s: host.HostState, now: number, epoch = 1) => host.step(s, { type: "hook-finished", service: "web", hook: "redirect", ok: false, detail: "exit 1: SERVFAIL", epoch }, now);

  test("failures of the epoch held count, back off doubling, raise an alarm at the third and end at a success; without a lease no retry goes (transcript redirect-retry.txt shows one under a lease)", () => {
    let s = failed(holder(), 10).state;
    expect(s.redirectRetry.web).toEqual({ epoch: 1, failures: 1, atMs: 1_010 });
    expect(of(host.step(s, { type: "tick", rand: 0.5 }, 1_010).effects, "pool")).toEqual([]); // no lease: a cut-off holder must not point the record back at itself
    s = failed(s, 1_100).state;
    expect(s.redirectRetry.web!.atMs).toBe(3_100);
    const third = failed(s, 1_200);
    expect(of(third.effects, "alarm")).toEqual([{ type: "alarm", service: "web", alarm: "redirect-failing", epoch: 1, error: "exit 1: SERVFAIL", attempts: 3 }]);
    const done = host.step(third.state, { type: "hook-finished", service: "web", hook: "redirect", ok: true, detail: "exit 0", epoch: 1 }, 1_300);
    expect(of(done.effects, "alarm").map((f) => f.alarm)).toEqual(["redirect-recovered"]);
    expect(done.state.redirectRetry.web).toBeUndefined();
  });

  test("a failure of an epoch no longer held is not retried", () => {
    expect(failed(holder(), 10, 0).state.redirectRetry.web).toBeUndefined();
  });
});
