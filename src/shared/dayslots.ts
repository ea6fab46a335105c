// The day in slots of local time: the grid the agent keeps its day's load on
// (forecast/dayprofile.ts) and an auto swap window starts and ends on
// (decide/offpeak.ts). One place, so the config refuses a length the grid
// cannot hold.

/** Minutes in a slot: fine enough to place a window, coarse enough that a slot holds hundreds of samples a day. */
export const DAY_SLOT_MIN = 15;
/** Minutes in a day of the wall clock (a DST day has one more or fewer hour, counted into the slots it repeats or skips). */
export const DAY_MIN = 24 * 60;
/** Slots in a day. */
export const DAY_SLOTS = DAY_MIN / DAY_SLOT_MIN;

/** "02:15": a minute of the day as a clock shows it (1440: "24:00"). */
export function clockText(minuteOfDay: number): string {
  return `${String(Math.floor(minuteOfDay / 60)).padStart(2, "0")}:${String(minuteOfDay % 60).padStart(2, "0")}`;
}

/** "02:15-04:15": a window of the day as the config writes it. */
export function windowText(w: { fromMin: number; toMin: number }): string {
  return `${clockText(w.fromMin)}-${clockText(w.toMin)}`;
}
