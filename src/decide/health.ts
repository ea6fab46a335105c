// Service health, as a pure machine: each configured check's results (a
// command, an HTTP GET, a TCP connect, run by the shell off the loop) become
// a state with keepalived's rise and fall semantics: a check counts as
// failing after `fall` failures in a row, and as passing again after `rise`
// successes in a row. A check starts passing (as keepalived's scripts do
// unless told otherwise), so a cluster elects at once; a host whose service
// is dead at start is found within fall × interval. A service is healthy
// here when every check passes and its VIP can answer from this host (its
// interface exists and holds an address in the VIP's subnet; the shell says
// at start). Peers' health arrives with their beacons. What the quorum does
// with it (an unhealthy host is no candidate; an unhealthy holder hands
// over) is the host core's routing (host.ts).

import { assert } from "../shared/assert.ts";
import type { HostId } from "../shared/ids.ts";

/** rise and fall of one check. */
export type CheckSpec = { rise: number; fall: number };

type CheckView = { readonly ok: boolean; readonly streak: number; readonly detail: string };

export type ServiceHealth = {
  readonly specs: readonly CheckSpec[];
  readonly checks: readonly CheckView[];
  /** Why this host's VIP for the service would answer no client (null: it would). */
  readonly placement: string | null;
};

/** A service's health from its checks, the same on every host for one config. */
export function initialHealth(specs: readonly CheckSpec[]): ServiceHealth {
  for (const s of specs) assert(Number.isInteger(s.rise) && s.rise >= 1 && Number.isInteger(s.fall) && s.fall >= 1, "rise and fall are at least 1");
  return { specs: [...specs], checks: specs.map(() => ({ ok: true, streak: 0, detail: "not run yet" })), placement: null };
}

/** One check's result: the check flips only after `fall` failures (or `rise` successes) in a row. */
export function checkResult(h: ServiceHealth, index: number, ok: boolean, detail: string): ServiceHealth {
  assert(Number.isInteger(index) && index >= 0 && index < h.checks.length, "a configured check");
  const spec = h.specs[index]!;
  const c = h.checks[index]!;
  const streak = ok === c.ok ? 0 : c.streak + 1;
  const flips = streak >= (c.ok ? spec.fall : spec.rise);
  const next: CheckView = flips ? { ok, streak: 0, detail } : { ok: c.ok, streak, detail: ok === c.ok ? detail : c.detail };
  return { ...h, checks: h.checks.map((x, i) => (i === index ? next : x)) };
}

export function withPlacement(h: ServiceHealth, why: string | null): ServiceHealth {
  return { ...h, placement: why };
}

export function healthy(h: ServiceHealth): boolean {
  return h.placement === null && h.checks.every((c) => c.ok);
}

/** Why the service is unhealthy here, for logs and status (null: healthy). */
export function unhealthyWhy(h: ServiceHealth): string | null {
  if (h.placement !== null) return `its VIP cannot answer from here: ${h.placement}`;
  const failing = h.checks.map((c, i) => ({ c, i })).filter(({ c }) => !c.ok);
  if (failing.length === 0) return null;
  return failing.map(({ c, i }) => `check ${i + 1} failing: ${c.detail}`).join("; ");
}

/** The hosts a service must not go to: those an operator keeps out, and those that report it unhealthy (self by its own checks). */
export function excluded(standby: Iterable<HostId>, unhealthyHosts: Iterable<HostId>): HostId[] {
  return [...new Set([...standby, ...unhealthyHosts])].sort();
}
