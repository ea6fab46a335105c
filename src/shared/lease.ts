// Lease arithmetic, in one place: the quorum machine counts with it and the
// config check refuses timings it cannot work with. driftMaxPpm bounds the
// rate difference between any two hosts' clocks.

export type LeaseTiming = { leaseMs: number; driftMaxPpm: number; actuationGuardMs: number };

/** Twice the drift bound, as a fraction: what one lease can differ by between two clocks, either way. */
const driftFraction = (t: Pick<LeaseTiming, "driftMaxPpm">): number => (2 * t.driftMaxPpm) / 1_000_000;

/** The lease as the holder counts it: shortened by the worst drift and by the actuation guard (the time `ip addr del` may take). */
export function holderLeaseMs(t: LeaseTiming): number {
  return Math.floor(t.leaseMs * (1 - driftFraction(t))) - t.actuationGuardMs;
}

/** After a restart a host neither votes nor grants for this long: every promise made before has run out, by any clock within the drift bound. */
export function restartWaitMs(t: Pick<LeaseTiming, "leaseMs" | "driftMaxPpm">): number {
  return Math.ceil(t.leaseMs * (1 + driftFraction(t)));
}

/** How long a new holder that was not handed over in person waits after a handover certificate. */
export function handoverWaitMs(t: LeaseTiming): number {
  return Math.ceil(t.leaseMs * (1 + driftFraction(t))) + t.actuationGuardMs;
}

/**
 * A certified holder that has heard no grant this long says so (a "lapsed"
 * renewal), and from then on takes no grant for that renewal or any before
 * it: its lease ran out at least an actuation guard ago, so its kernel's has
 * too, and the voters may forget what they granted it. Counted on the
 * holder's clock only, like the lease it bounds.
 */
export function lapsedAfterMs(t: LeaseTiming): number {
  return holderLeaseMs(t) + t.actuationGuardMs;
}
