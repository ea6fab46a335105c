// Pure: client-visible downtime from a poller's samples (src/demo/poller.ts).
import { assert } from "../shared/assert.ts";

/** t: wall-clock ms when the request was sent; done: when it was answered (or failed). */
export type Sample = { t: number; done?: number; ok: boolean; body?: string; err?: string };
export type Downtime = {
  /** From the cut to the arrival of the first good answer from the new holder (null: none came). */
  downtimeMs: number | null;
  /** Longest gap between consecutive good answers (any host), counted from the cut; null when none came after it. */
  maxGapMs: number | null;
  /** Hosts that answered, over the whole run, in order, with repeats collapsed: ["h1", "h2"]. */
  answeredBy: string[];
};

const answeredAt = (s: Sample): number => s.done ?? s.t;

/** The share of the requests sent in [from, to) that failed. */
export function failedShare(samples: readonly Sample[], from: number, to: number): number {
  const sent = samples.filter((s) => s.t >= from && s.t < to);
  return sent.length === 0 ? 0 : sent.filter((s) => !s.ok).length / sent.length;
}

/** The good answers, in the order they arrived. */
const goodInOrder = (samples: readonly Sample[]): Sample[] => samples.filter((s) => s.ok && s.body !== undefined).sort((a, b) => answeredAt(a) - answeredAt(b));

/** The hosts that answered, in order, repeats collapsed: ["h1", "h2"]. */
export function answeredByOf(samples: readonly Sample[]): string[] {
  const answeredBy: string[] = [];
  for (const s of goodInOrder(samples)) {
    const who = s.body!.trim();
    if (answeredBy[answeredBy.length - 1] !== who) answeredBy.push(who);
  }
  return answeredBy;
}

export function downtimeFrom(samples: readonly Sample[], cutAtMs: number, newHolder: string): Downtime {
  assert(Number.isFinite(cutAtMs), "cutAtMs is a time");
  assert(newHolder.length > 0, "newHolder names a host");
  const good = goodInOrder(samples);
  const answeredBy = answeredByOf(samples);
  // Only requests sent after the cut count: one sent before it says nothing about the new holder.
  const after = good.filter((s) => s.t >= cutAtMs);
  const firstNew = after.find((s) => s.body!.trim() === newHolder);
  let maxGapMs: number | null = null;
  let prev = cutAtMs;
  for (const s of after) {
    maxGapMs = Math.max(maxGapMs ?? 0, answeredAt(s) - prev);
    prev = answeredAt(s);
  }
  const downtimeMs = firstNew === undefined ? null : answeredAt(firstNew) - cutAtMs;
  assert(downtimeMs === null || downtimeMs >= 0, "an answer to a request sent after the cut arrives after it");
  return { downtimeMs, maxGapMs, answeredBy };
}
