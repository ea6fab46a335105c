// The rolling walk's gates, on status documents: when the cluster is fit to
// lose the next host, and when a host is back. The walk itself runs on real
// agents in test/rolling.slow.test.ts.
import { describe, expect, test } from "bun:test";
import type { MemberDoc, StatusDoc } from "../../api/index.ts";
import { backWhy, whyNotReady } from "./rolling.ts";

const member = (id: string, over: Partial<MemberDoc> = {}): MemberDoc => ({ id, status: "alive", incarnation: 0, connected: true, reach: "direct", rttMs: 0.3, labels: {}, lastBeaconAgoMs: 200, metrics: null, ...over });

/** h2 asked; h1 holds web, h3 shadows it; everyone connected and in sync. */
function fit(members: Partial<Record<"h1" | "h3", Partial<MemberDoc>>> = {}): StatusDoc {
  return {
    host: "h2",
    cluster: "demo",
    version: "0.1.0",
    nowMs: 1_000_000,
    uptimeMs: 60_000,
    role: "shadow",
    members: [member("h2", { rttMs: null, lastBeaconAgoMs: 0 }), member("h1", members.h1), member("h3", members.h3)],
    services: [{ name: "web", vip: "198.51.100.10/24", primary: "h1", shadows: ["h2", "h3"], voters: ["h1", "h2", "h3"], epoch: 3, holder: "h1", holdsVipHere: false, leaseRemainingMs: null, state: "follower", lastChange: null, alarm: null, health: null, excluded: [], quorum: { expectedVotes: 3, needed: 2, override: null } }],
    replication: [{ service: "web", primaryHostID: "h1", shadowHostID: "h2", peer: "h1", syncStatus: "in-sync", lagChanges: 0, lagBytes: 0, lastHeardAgoMs: 100 }],
  };
}

describe("whyNotReady: may the walk take the next host out?", () => {
  test("every member alive and connected, every service held: yes", () => {
    expect(whyNotReady(fit(), "h3")).toBeNull();
  });

  test("a member suspected: no, and it says which", () => {
    expect(whyNotReady(fit({ h3: { status: "suspect" } }), "h1")).toBe("h3 is suspect");
  });

  // The outage this gate closes: h1 held web, h2 had just restarted and its
  // connection to h1 was lost in a duplicate-connection race; SWIM kept h1
  // and h2 alive to each other through h3. The walk took h3 out next, and h1
  // lost its lease with no voter it could hear.
  test("a member alive only through others' probes (no connection to the agent asked): no", () => {
    expect(whyNotReady(fit({ h1: { connected: false, reach: "through-others" } }), "h3")).toBe("h1 is reached only through others (no connection to h2)");
  });

  test("a member connected through the next host's relay: not that host (the two would lose each other); another, yes", () => {
    const s = fit({ h1: { reach: "relayed", via: "h3" } });
    expect(whyNotReady(s, "h3")).toBe("h1 is reached through h3's relay");
    expect(whyNotReady(s, "h1")).toBeNull();
  });

  test("a service without a holder: no", () => {
    const s = fit();
    expect(whyNotReady({ ...s, services: s.services.map((sv) => ({ ...sv, holder: null })) }, "h3")).toBe("web has no holder");
  });
});

describe("backWhy: is the host just maintained back?", () => {
  test("alive, connected, heard since, in sync: yes", () => {
    expect(backWhy(fit(), "h1", 5_000)).toBeNull();
  });

  test("alive but with no connection to the agent asked: not yet", () => {
    expect(backWhy(fit({ h1: { connected: false, reach: "through-others" } }), "h1", 5_000)).toBe("h1 is reached only through others (no connection to h2)");
  });

  test("no beacon since its command ran: not yet", () => {
    expect(backWhy(fit({ h1: { lastBeaconAgoMs: 6_000 } }), "h1", 5_000)).toBe("no beacon from h1 since it was taken out of maintenance");
  });

  test("its replica stale: not yet", () => {
    const s = fit();
    expect(backWhy({ ...s, replication: s.replication.map((r) => ({ ...r, syncStatus: "stale" as const })) }, "h1", 5_000)).toBe("web on h1 is stale");
  });
});
