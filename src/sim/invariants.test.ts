// Invariant 4 (a tick acts only when host.nextTickMs says it is due) must
// be able to fail: a tick that acts early, and a quiet tick that leaves one
// due at once, are each caught.

import { describe, expect, test } from "bun:test";
import { host, type HostState } from "../decide/index.ts";
import { hostId } from "../shared/ids.ts";
import { PROFILES } from "../shared/profiles.ts";
import { simHostConfig } from "./host-shell.ts";
import { checkTickDue, SimViolation } from "./invariants.ts";

const N1 = hostId("n1");
const HOSTS = [N1, hostId("n2"), hostId("n3")];
const SERVICES = { names: ["svc"], candidates: HOSTS, voters: HOSTS, ackShadows: 1, moveBackAfterMs: 0 };
const fresh = (nowMs: number): HostState => host.initialHost(simHostConfig(N1, HOSTS, 1, SERVICES, PROFILES.sim, PROFILES.sim), {}, nowMs);

describe("invariant 4: ticks only when due", () => {
  test("a real tick at its due time passes, and what it leaves is due later", () => {
    const s0 = fresh(0);
    const due = host.nextTickMs(s0);
    expect(due).toBeLessThan(Infinity);
    const out = host.step(s0, { type: "tick", rand: 0.5 }, due);
    expect(out.effects.length).toBeGreaterThan(0); // the first probe, at least
    expect(() => checkTickDue(N1, s0, out.state, out.effects, due)).not.toThrow();
    expect(host.nextTickMs(out.state)).toBeGreaterThan(due);
  });

  test("a tick that acts before it is due is caught", () => {
    const s0 = fresh(0);
    const due = host.nextTickMs(s0);
    const acted = host.step(s0, { type: "tick", rand: 0.5 }, due);
    // The same acting step, claimed of a state that says nothing is due until much later.
    const later = { ...s0, members: { ...s0.members, nextProbeAtMs: due + 10_000 } };
    expect(host.nextTickMs(later)).toBeGreaterThan(due);
    expect(() => checkTickDue(N1, later, acted.state, acted.effects, due)).toThrow(SimViolation);
  });

  test("a quiet tick that leaves a tick due at once is caught (the agent's loop would spin)", () => {
    const s0 = fresh(0);
    const stuck = { ...s0, members: { ...s0.members, nextProbeAtMs: -1 } };
    expect(() => checkTickDue(N1, stuck, stuck, [], 100)).toThrow(/did nothing/);
  });
});
