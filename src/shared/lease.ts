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
