// The context view of the anomaly score: how new the newest value's place
// in its sequence is. Streaming and pure, no look-ahead, bounded memory.
//
// Each value is read as one of LEVELS levels over a range: the range is cut
// in LEVELS - 1 steps, so level 0 starts at its bottom and the last level
// starts at its top (CAD OSE's binning). The range is either known (a share
// of the host's capacity lies in 0..1; NAB gives each series' range to
// every detector) or learned: taken from the first `learning` values,
// widened by `margin` of itself on each side, and widened again, with the
// same margin, when a value falls outside it. A value outside a known range
// reads as one of two extra levels, below or above; one outside a learned
// range too, once, before the range takes it in. After a widening the levels
// mean other values, so what was remembered by them is forgotten: the view
// goes on scoring, and the series' ordinary levels are news to it again
// until seen once more. A learned range only grows.
//
// The view remembers every run of levels it has seen, one level to
// ORDERS + 1 long, and when it last saw each. The newest value scores by
// the length k of the shortest run it ends that was not seen within the
// last `memoryRows` values:
//
//   k = 1, the level itself           1
//   k = 2, the last two levels        1 - 1 / (ORDERS + 1)   (0.75)
//   k = 3, 4                          0.5, 0.25
//   every run seen                    0
//
// So a value at a level the series has not visited scores 1, a familiar
// level reached from an unfamiliar one 0.75, and an unfamiliar rhythm of
// familiar moves less. The idea, anomalies as values in contexts never seen
// before, is the Contextual Anomaly Detector's (CAD OSE, Smirnov 2016, 69.9
// on NAB's scoreboard), whose contexts are richer (sets of facts, its own
// active contexts among them); this is a smaller reading of it. LEVELS is
// CAD's (3 bits); ORDERS and the score's steps are umbra's.
//
// Memory: at most (LEVELS + 2)^k runs of each length k, about 11,000 keys at
// the defaults, each with the row it was last seen at, per view (a learned
// range has one view per LEARNED_MARGINS).

export const LEVELS = 8;
export const ORDERS = 3;
/**
 * A learned range is read at several scales at once, each widened by one of
 * these shares of the learning values' range on each side (the anomaly
 * score takes the strongest): a narrow one sees small departures, a wide
 * one is not thrown by the first drift. A ladder of doublings, the first
 * tried (on NAB: bench/nab/cv.ts, models/README.md).
 */
export const LEARNED_MARGINS: readonly number[] = [0.5, 1, 2, 4];

export type ValueRange = { readonly lo: number; readonly hi: number };

export type ContextSettings = {
  /** Levels the range is cut into. */
  readonly levels: number;
  /** The longest run judged, in steps back from the newest value. */
  readonly orders: number;
  /** A run last seen longer ago than this many values counts as new again. */
  readonly memoryRows: number;
  /** Values before the view scores (and, with no known range, that the range is learned from). */
  readonly learning: number;
  /** A learned range is widened by this share of itself on each side (LEARNED_MARGINS). */
  readonly margin: number;
};

export class ContextNovelty {
  private readonly settings: ContextSettings;
  /** A range given, never widened. */
  private readonly known: boolean;
  private lo: number;
  private hi: number;
  /** Whether the range is known or learned; until then the values are kept in `first`. */
  private ranged: boolean;
  private readonly first: number[] = [];
  /** The newest levels, oldest first (at most orders + 1). */
  private readonly recent: number[] = [];
  /** Each run of levels seen (encoded as digits of levels + 2, behind a leading 1), and the row it was last seen at. */
  private readonly lastSeen = new Map<number, number>();
  /** Runs kept before the ones not seen within the memory are dropped (keyBound). */
  private readonly keysMax: number;
  private row = 0;

  constructor(range: ValueRange | null, settings: ContextSettings) {
    if (!(Number.isInteger(settings.levels) && settings.levels >= 2 && Number.isInteger(settings.orders) && settings.orders >= 0 && (settings.levels + 2) ** (settings.orders + 2) < Number.MAX_SAFE_INTEGER)) {
      throw new RangeError(`context view: levels ${settings.levels} and orders ${settings.orders} make no runs a key can hold`);
    }
    this.settings = settings;
    this.keysMax = keyBound(settings);
    this.known = range !== null && range.hi > range.lo;
    this.ranged = this.known;
    this.lo = this.ranged ? range!.lo : 0;
    this.hi = this.ranged ? range!.hi : 0;
  }

  /** Runs remembered (for tests: memory stays bounded). */
  get runsKept(): number {
    return this.lastSeen.size;
  }

  /** The newest value; returns its score in [0, 1] (0 while learning). */
  push(value: number): number {
    if (!Number.isFinite(value)) return 0;
    if (!this.ranged) {
      this.first.push(value);
      if (this.first.length < this.settings.learning) return 0;
      this.learnRange();
      return 0;
    }
    const shortestNew = this.remember(this.levelOf(value)); // beyond a learned range: below or above, before the range takes it in
    this.widenFor(value);
    if (this.row <= this.settings.learning) return 0;
    return shortestNew === 0 ? 0 : 1 - (shortestNew - 1) / (this.settings.orders + 1);
  }

  /** Notes a value's level and the runs it ends; returns the length of the shortest run not seen within the memory (0: all seen). */
  private remember(level: number): number {
    const s = this.settings;
    const row = this.row++;
    this.recent.push(level);
    if (this.recent.length > s.orders + 1) this.recent.shift();
    let shortestNew = 0;
    let key = 1;
    for (let k = 0; k < this.recent.length; k++) {
      key = key * (s.levels + 2) + this.recent[this.recent.length - 1 - k]! + 1;
      const seen = this.lastSeen.get(key);
      if ((seen === undefined || row - seen > s.memoryRows) && shortestNew === 0) shortestNew = k + 1;
      this.lastSeen.set(key, row);
    }
    if (this.lastSeen.size > this.keysMax) this.forget(row);
    return shortestNew;
  }

  /** The level of a value: 0..levels-1 inside the range, -1 below, levels above. */
  private levelOf(value: number): number {
    const levels = this.settings.levels;
    const step = (this.hi - this.lo) / (levels - 1);
    if (!(step > 0 && Number.isFinite(step))) return 0; // a range past the doubles' reach reads as one level
    const level = Math.floor((value - this.lo) / step);
    return level < 0 ? -1 : level >= levels ? levels : level;
  }

  /** The range from the learning values, widened by the margin; then those values go through the memory (none of them is scored). */
  private learnRange(): void {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of this.first) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const width = hi - lo || Math.abs(hi) || 1;
    this.lo = lo - width * this.settings.margin;
    this.hi = hi + width * this.settings.margin;
    this.ranged = true;
    for (const v of this.first) this.remember(this.levelOf(v));
    this.first.length = 0;
  }

  /** A learned range takes in a value outside it, with the margin beyond (a known one never moves: outside reads as below or above). */
  private widenFor(value: number): void {
    if (this.known || (value >= this.lo && value <= this.hi)) return;
    const width = Math.max(this.hi, value) - Math.min(this.lo, value);
    if (value < this.lo) this.lo = value - width * this.settings.margin;
    else this.hi = value + width * this.settings.margin;
    // The levels mean other values now: what was remembered by them would be misread.
    this.lastSeen.clear();
    this.recent.length = 0;
  }

  /** Drops the runs not seen within the memory: they count as new anyway. */
  private forget(row: number): void {
    for (const [key, seen] of this.lastSeen) if (row - seen > this.settings.memoryRows) this.lastSeen.delete(key);
  }
}

/** How many runs can exist: (levels + 2)^k for k = 1..orders + 1, and no more than the memory can hold, twice over before forgetting. */
function keyBound(s: ContextSettings): number {
  let n = 0;
  for (let k = 1; k <= s.orders + 1; k++) n += (s.levels + 2) ** k;
  return Math.max(1024, 2 * Math.min(n, s.memoryRows * (s.orders + 1)));
}
