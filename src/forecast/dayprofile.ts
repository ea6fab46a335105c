// One metric's day on this host, for an auto swap window (decide/offpeak.ts
// chooses from it): samples summed per 15-minute slot of local time, day by
// day, for the last DAYS_KEPT days counted from the newest sample's day (a
// sliding window: an older day drops whole, so a changed week is learned
// within a week). Beside each slot's sum, the span its samples cover that
// day: a slot counts as seen on a day only when they cover half of it, so
// an agent started at 02:14 does not judge 02:00-02:15 by one sample.
// Times come in as local milliseconds (wall ms shifted by the zone's offset
// at that moment): the shell reads the zone, this only does arithmetic.

import { assert } from "../shared/assert.ts";
import { DAY_MIN, DAY_SLOT_MIN, DAY_SLOTS } from "../shared/dayslots.ts";

/** Days of samples a profile holds: a week, so each weekday counts once. */
export const DAYS_KEPT = 7;
const DAY_MS = DAY_MIN * 60_000;
/** Seconds in a slot. */
const SLOT_S = DAY_SLOT_MIN * 60;
/** A slot is seen on a day when that day's samples in it span this long: half of it. */
const SEEN_SPAN_S = SLOT_S / 2;
/** Significant digits of a slot's mean on disk: a load read to a millionth is plenty, and the file stays small. */
const MEAN_DIGITS = 6;

/** One day's slots: sums and counts, and the first and last second (of the slot) a sample fell in, -1 when none. */
type Day = { sum: Float64Array; n: Float64Array; first: Int16Array; last: Int16Array };

/** The profile as decide/offpeak.ts reads it (its LoadProfile). */
export type DayLoad = { mean: number[]; samples: number[]; daysSeen: number[] };

/** A profile as the state directory keeps it. */
export type DayProfileJson = { days: Array<{ day: number; mean: number[]; n: number[]; first: number[]; last: number[] }> };

/** The local day number and the second of that day of a local time in ms. */
export function localDayOf(localMs: number): { day: number; second: number } {
  const day = Math.floor(localMs / DAY_MS);
  return { day, second: Math.floor((localMs - day * DAY_MS) / 1000) };
}

export class DayProfile {
  /** By local day number; at most DAYS_KEPT, all within DAYS_KEPT of the newest. */
  private readonly days = new Map<number, Day>();

  /**
   * Adds a sample taken at `localMs` (not finite: ignored). One older than
   * the days kept means the clock stepped back (or had stepped far ahead):
   * the days after the sample's are dropped, and true returned, or every
   * sample after a far-future one would be ignored for good.
   */
  add(localMs: number, value: number): boolean {
    if (!Number.isFinite(localMs) || !Number.isFinite(value)) return false;
    const { day, second } = localDayOf(localMs);
    const newest = this.newest();
    const stepped = newest !== null && day <= newest - DAYS_KEPT;
    if (stepped) for (const k of [...this.days.keys()]) if (k > day) this.days.delete(k);
    let d = this.days.get(day);
    if (d === undefined) {
      d = emptyDay();
      this.days.set(day, d);
      for (const k of this.days.keys()) if (k <= day - DAYS_KEPT) this.days.delete(k);
    }
    assert(this.days.size <= DAYS_KEPT, "a profile holds at most DAYS_KEPT days");
    const slot = Math.floor(second / SLOT_S);
    const at = second - slot * SLOT_S;
    d.sum[slot]! += value;
    d.n[slot]! += 1;
    d.first[slot] = d.first[slot]! < 0 ? at : Math.min(d.first[slot]!, at);
    d.last[slot] = Math.max(d.last[slot]!, at);
    return stepped;
  }

  /** Days held. */
  get dayCount(): number {
    return this.days.size;
  }

  /** Each slot's mean over the days held (0 where none), its samples, and the days it was seen on. */
  profile(): DayLoad {
    const sum = new Array<number>(DAY_SLOTS).fill(0);
    const samples = new Array<number>(DAY_SLOTS).fill(0);
    const daysSeen = new Array<number>(DAY_SLOTS).fill(0);
    for (const d of this.days.values()) {
      for (let i = 0; i < DAY_SLOTS; i++) {
        sum[i]! += d.sum[i]!;
        samples[i]! += d.n[i]!;
        if (d.n[i]! > 0 && d.last[i]! - d.first[i]! >= SEEN_SPAN_S) daysSeen[i]! += 1;
      }
    }
    return { mean: sum.map((s, i) => (samples[i]! > 0 ? s / samples[i]! : 0)), samples, daysSeen };
  }

  toJSON(): DayProfileJson {
    const days = [...this.days.entries()].sort(([a], [b]) => a - b);
    return { days: days.map(([day, d]) => ({ day, mean: [...d.sum].map((s, i) => (d.n[i]! > 0 ? Number((s / d.n[i]!).toPrecision(MEAN_DIGITS)) : 0)), n: [...d.n], first: [...d.first], last: [...d.last] })) };
  }

  /** A profile from the state directory's JSON; null when anything in it is malformed (the caller says so and starts afresh). */
  static fromJSON(x: unknown): DayProfile | null {
    const j = x as Partial<DayProfileJson> | null;
    if (typeof j !== "object" || j === null || !Array.isArray(j.days) || j.days.length > DAYS_KEPT) return null;
    const p = new DayProfile();
    for (const e of j.days) {
      const d = dayOf(e);
      if (d === null || p.days.has(e.day)) return null;
      p.days.set(e.day, d);
    }
    const newest = p.newest();
    if (newest !== null && [...p.days.keys()].some((k) => k <= newest - DAYS_KEPT)) return null;
    return p;
  }

  private newest(): number | null {
    return this.days.size === 0 ? null : Math.max(...this.days.keys());
  }
}

function emptyDay(): Day {
  return { sum: new Float64Array(DAY_SLOTS), n: new Float64Array(DAY_SLOTS), first: new Int16Array(DAY_SLOTS).fill(-1), last: new Int16Array(DAY_SLOTS).fill(-1) };
}

/** One day from JSON, every slot checked: counts whole, first and last within the slot and both -1 exactly when it has no sample. */
function dayOf(x: unknown): Day | null {
  const e = x as Partial<DayProfileJson["days"][number]> | null;
  if (typeof e !== "object" || e === null || !Number.isSafeInteger(e.day)) return null;
  const slots = (a: unknown): a is number[] => Array.isArray(a) && a.length === DAY_SLOTS && a.every((v) => typeof v === "number" && Number.isFinite(v));
  if (!slots(e.mean) || !slots(e.n) || !slots(e.first) || !slots(e.last)) return null;
  const d = emptyDay();
  for (let i = 0; i < DAY_SLOTS; i++) {
    const n = e.n[i]!;
    const [first, last] = [e.first[i]!, e.last[i]!];
    if (!Number.isSafeInteger(n) || n < 0) return null;
    const none = n === 0 && first === -1 && last === -1;
    const some = n > 0 && Number.isInteger(first) && Number.isInteger(last) && first >= 0 && first <= last && last < SLOT_S;
    if (!none && !some) return null;
    d.sum[i] = e.mean[i]! * n;
    d.n[i] = n;
    d.first[i] = first;
    d.last[i] = last;
  }
  return d;
}
