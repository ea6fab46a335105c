// The off-peak window of a swap window = "auto": the quietest stretch of the
// day by this host's own load profile (per 15-minute slot of local time, the
// metric's mean over the last days: forecast/dayprofile.ts). The profile is
// the prediction: tonight's 02:00 is expected to look like the last nights'
// 02:00 (seasonal naive; the model forecasts minutes ahead, not a day's
// shape). Pure: the shell keeps the profile and reads the clock
// (agent/swapwindow.ts), and asks again now and then.
//
// A profile is ready once every slot of the day was seen on at least one of
// the days kept (seen: that day's samples in it span half the slot or more,
// so a slot the agent started in at 02:14 does not count by one sample).
// Before that there is no window: a guess would be a swap at peak hours.

import { assert } from "../shared/assert.ts";
import { DAY_MIN, DAY_SLOT_MIN, DAY_SLOTS } from "../shared/dayslots.ts";

/** A window in use is kept unless another is quieter by this share of the day's range (busiest slot minus quietest): near-equal nights would otherwise trade places as each hour's samples come in. */
export const OFFPEAK_KEEP_MARGIN = 0.05;
/** Windows whose loads differ by less than this share of the day's range are equal (the earliest wins): sums in another order round differently. */
const TIE_SHARE = 1e-9;

/** One metric's day, slot by slot from 00:00 local (DAY_SLOTS of them). */
export type LoadProfile = {
  /** The metric's mean in each slot over the days kept (0 where there is no sample). */
  mean: readonly number[];
  /** The samples behind each mean. */
  samples: readonly number[];
  /** The days kept on which each slot was seen (samples spanning half of it or more). */
  daysSeen: readonly number[];
};

/** A window of the day (minutes from 00:00 local; to < from: across midnight, to = 0: up to midnight) and its predicted load, the mean of its slots' means. */
export type OffPeakWindow = { fromMin: number; toMin: number; load: number };

/** The share of the day's slots seen so far, 0..1: 1 when a window can be chosen. */
export function daySeenShare(p: LoadProfile): number {
  checkProfile(p);
  return p.daysSeen.filter((d) => d > 0).length / DAY_SLOTS;
}

/**
 * The quietest `lengthMin` of the day (lowest mean predicted load, across
 * midnight too; of equal ones the earliest from 00:00), starting on a slot;
 * null until every slot has been seen. With `keepFromMin` (the window in
 * use, same length), that one stays unless the quietest beats it by more
 * than OFFPEAK_KEEP_MARGIN of the day's range.
 */
export function quietestWindow(p: LoadProfile, lengthMin: number, keepFromMin: number | null = null): OffPeakWindow | null {
  checkProfile(p);
  assert(Number.isInteger(lengthMin) && lengthMin % DAY_SLOT_MIN === 0, "a window is whole slots");
  const slots = lengthMin / DAY_SLOT_MIN;
  assert(slots >= 1 && slots < DAY_SLOTS, "a window is at least a slot and less than the day");
  assert(keepFromMin === null || (Number.isInteger(keepFromMin) && keepFromMin % DAY_SLOT_MIN === 0 && keepFromMin >= 0 && keepFromMin < DAY_MIN), "a kept window starts on a slot");
  if (daySeenShare(p) < 1) return null;
  const range = Math.max(...p.mean) - Math.min(...p.mean);
  let best = 0;
  let bestLoad = windowLoad(p, 0, slots);
  for (let start = 1; start < DAY_SLOTS; start++) {
    const load = windowLoad(p, start, slots);
    if (load < bestLoad - TIE_SHARE * range) {
      best = start;
      bestLoad = load;
    }
  }
  if (keepFromMin !== null) {
    const kept = keepFromMin / DAY_SLOT_MIN;
    const keptLoad = windowLoad(p, kept, slots);
    if (bestLoad > keptLoad - OFFPEAK_KEEP_MARGIN * range) return windowOf(kept, slots, keptLoad);
  }
  return windowOf(best, slots, bestLoad);
}

/** The mean of `slots` slot means from `start`, around midnight. */
function windowLoad(p: LoadProfile, start: number, slots: number): number {
  let sum = 0;
  for (let k = 0; k < slots; k++) sum += p.mean[(start + k) % DAY_SLOTS]!;
  return sum / slots;
}

function windowOf(start: number, slots: number, load: number): OffPeakWindow {
  return { fromMin: start * DAY_SLOT_MIN, toMin: ((start + slots) % DAY_SLOTS) * DAY_SLOT_MIN, load };
}

function checkProfile(p: LoadProfile): void {
  assert(p.mean.length === DAY_SLOTS && p.samples.length === DAY_SLOTS && p.daysSeen.length === DAY_SLOTS, "a profile has a value per slot of the day");
  for (let i = 0; i < DAY_SLOTS; i++) {
    assert(Number.isFinite(p.mean[i]), "a slot's mean is finite");
    assert(p.samples[i]! >= 0 && p.daysSeen[i]! >= 0, "counts are non-negative");
    assert(p.daysSeen[i] === 0 || p.samples[i]! > 0, "a slot seen has samples");
  }
}
