// Pure: client-visible downtime from a poller's samples.

/** t: when the request was sent; done: when it was answered (or failed). */
export type Sample = { t: number; done?: number; ok: boolean; body?: string };
const answeredAt = (s: Sample): number => s.done ?? s.t;
export type Downtime = {
  /** From the cut to the first good answer from the new holder (null: none came). */
  downtimeMs: number | null;
  /** Longest gap between two consecutive good answers after the cut (any host). */
  maxGapMs: number | null;
  /** Hosts that answered, in order, with repeats collapsed. */
  answeredBy: string[];
};

export function downtimeFrom(samples: Sample[], cutAtMs: number, newHolder: string): Downtime {
  const sorted = [...samples].sort((a, b) => a.t - b.t);
  const firstNew = sorted.find((s) => s.t >= cutAtMs && s.ok && s.body?.trim() === newHolder);
  // Downtime ends when that answer arrives, not when its request left.
  const answeredBy: string[] = [];
  for (const s of sorted) {
    if (!s.ok || s.body === undefined) continue;
    const b = s.body.trim();
    if (answeredBy[answeredBy.length - 1] !== b) answeredBy.push(b);
  }
  const okTimes = [cutAtMs, ...sorted.filter((s) => s.ok && s.t >= cutAtMs).map(answeredAt).sort((a, b) => a - b)];
  let maxGap: number | null = null;
  for (let i = 1; i < okTimes.length; i++) maxGap = Math.max(maxGap ?? 0, okTimes[i]! - okTimes[i - 1]!);
  return { downtimeMs: firstNew === undefined ? null : answeredAt(firstNew) - cutAtMs, maxGapMs: maxGap, answeredBy };
}
