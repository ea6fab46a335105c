// Safety properties, checked by the simulator after every step. They look
// at the whole cluster from outside, as no single host can.

import { host, type Certificate, type HostEffect, type HostState, type QuorumState } from "../decide/index.ts";
import type { HostId } from "../shared/ids.ts";

export class SimViolation extends Error {
  override name = "SimViolation";
}

/**
 * 1. At most one host has a service's VIP up at any instant of virtual time,
 * and at most one believes it holds a lease valid by its own clock.
 */
export function checkOneHolder(service: string, nowMs: number, vipUp: HostId[], leaseValid: HostId[]): void {
  if (vipUp.length > 1) throw new SimViolation(`two VIP holders: ${service} is up on ${vipUp.join(" and ")} at ${nowMs.toFixed(3)} ms`);
  if (leaseValid.length > 1) throw new SimViolation(`two valid leases: ${service} at ${nowMs.toFixed(3)} ms on ${leaseValid.join(" and ")}`);
}

/**
 * 2a. No two certificates of the same (service, epoch) name different
 * holders, unless a voter that signed both lost its vote record in between:
 * it no longer knows it voted, and nothing can tell it (a first start looks
 * the same). Invariant 1 must hold even then: a voter's running grant goes
 * to one (epoch, holder) at a time, and the restart wait outlasts every grant
 * made before the loss.
 */
export function checkCertificate(prior: Certificate | undefined, cert: Certificate, lostRecord: ReadonlySet<HostId> = new Set()): void {
  if (prior === undefined || prior.holder === cert.holder) return;
  const both = prior.votes.filter((v) => cert.votes.some((w) => w.voter === v.voter)).map((v) => v.voter);
  if (both.some((h) => lostRecord.has(h))) return;
  throw new SimViolation(`two certificates for ${cert.service} epoch ${cert.epoch}: ${prior.holder} and ${cert.holder}`);
}

/** 2b. The epochs a host accepts only grow; so do its votes. */
export function checkEpochGrows(before: QuorumState, after: QuorumState, host: HostId): void {
  if (after.epoch < before.epoch) throw new SimViolation(`${host}: ${after.config.service} epoch went back from ${before.epoch} to ${after.epoch}`);
  if (after.votedEpoch < before.votedEpoch) throw new SimViolation(`${host}: ${after.config.service} vote went back from epoch ${before.votedEpoch} to ${after.votedEpoch}`);
}

/** 3. No acknowledged write is lost: each is still held by some host (up or down: a disk survives a crash). */
export function checkAckedKept(service: string, acked: ReadonlySet<string>, docs: ReadonlyArray<ReadonlySet<string>>, when: string): void {
  for (const id of acked) {
    if (!docs.some((d) => d.has(id))) throw new SimViolation(`acknowledged write lost: ${service} write ${id} is on no host ${when}`);
  }
}

/** 3, after healing: the service's holder holds every acknowledged write. */
export function checkHolderHasAcked(service: string, holder: HostId, acked: ReadonlySet<string>, doc: ReadonlySet<string>): void {
  const missing = [...acked].filter((id) => !doc.has(id));
  if (missing.length > 0) throw new SimViolation(`acknowledged write lost: ${service} holder ${holder} lacks ${missing.length} acknowledged write(s) (${missing.slice(0, 3).join(", ")}) after healing`);
}

/**
 * 4. The agent's loop wakes its core only when host.nextTickMs says a tick
 * is due (after an event, at once if it is past). That is the same run as
 * this simulator's, which ticks every tickMs, only if no tick acts (an
 * effect, or a change of state beyond the clock) before its due time: the
 * agent would have skipped it. And a tick that did nothing must leave
 * nothing due at once, or the agent's loop would spin.
 */
export function checkTickDue(id: HostId, before: HostState, after: HostState, effects: readonly HostEffect[], nowMs: number): void {
  const changed = effects.length > 0 ? null : changedPart(before, after); // effects alone say it acted
  if (effects.length > 0 || changed !== null) {
    if (host.nextTickMs(before) <= nowMs + DUE_EPSILON_MS) return;
    const what = effects.length > 0 ? effects.map((f) => f.type).join(",") : `a change of ${changed}`;
    throw new SimViolation(`${id}: a tick at ${nowMs.toFixed(3)} ms acted (${what}) before it was due (${dueParts(before)})`);
  }
  if (host.nextTickMs(after) < nowMs - DUE_EPSILON_MS) throw new SimViolation(`${id}: a tick at ${nowMs.toFixed(3)} ms did nothing and left a tick due at once (${dueParts(after)})`);
}

/**
 * The machines test `now - since >= wait` where nextTickMs computes
 * `since + wait`: the two round apart by a few ulps of a clock in ms.
 */
const DUE_EPSILON_MS = 1e-6;

/** Each machine's due time, for a violation's message. */
const dueParts = (s: HostState): string =>
  Object.entries(host.nextTickParts(s))
    .map(([k, v]) => `${k} ${v}`)
    .join("; ");

/** The host core's parts changedPart compares one level down, so the top level skips them (the clock is skipped everywhere). */
const NESTED = new Set(["nowMs", "members", "services", "replicas", "foresight"]);
const CLOCK = new Set(["nowMs"]);

/** Whether two of a record's fields differ, those in `skip` aside (the machines replace what they change). */
function fieldsDiffer(a: object, b: object, skip: ReadonlySet<string> = CLOCK): string | null {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const k in x) {
    if (skip.has(k)) continue;
    const u = x[k];
    const v = y[k];
    if (u === v) continue;
    if (Array.isArray(u) && Array.isArray(v) && u.length === v.length && u.every((e, i) => e === v[i])) continue;
    return k;
  }
  return null;
}

/** The first part of a host core a tick changed, the clock aside (null: none). */
function changedPart(a: HostState, b: HostState): string | null {
  const top = fieldsDiffer(a, b, NESTED);
  if (top !== null) return top;
  const m = fieldsDiffer(a.members, b.members);
  if (m !== null) return `members.${m}`;
  for (const sv of Object.keys(a.services)) {
    const q = fieldsDiffer(a.services[sv]!, b.services[sv]!);
    if (q !== null) return `${sv}.${q}`;
  }
  for (const sv of Object.keys(a.replicas)) {
    const r = fieldsDiffer(a.replicas[sv]!, b.replicas[sv]!);
    if (r !== null) return `replicas.${sv}.${r}`;
  }
  if (a.foresight !== null && b.foresight !== null) {
    const f = fieldsDiffer(a.foresight, b.foresight);
    if (f !== null) return `foresight.${f}`;
  }
  return null;
}
