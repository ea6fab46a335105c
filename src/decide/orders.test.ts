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
const order = (action: OperatorOrder["action"], target: HostId | null, issuedAtMs: number, nonce: string): OperatorOrder => ({ nonce, action, service: action === "move" || action === "failover" ? "web" : null, target, reason: "test", operator: "op", issuedAtMs });
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
