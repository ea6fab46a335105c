// Safety properties, checked by the simulator after every step. They look
// at the whole cluster from outside, as no single host can.

import type { Certificate, QuorumState } from "../decide/index.ts";
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
