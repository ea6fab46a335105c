// A host's recent metrics, as the forecaster reads them: samples averaged
// into fixed steps (live samples come every second; the model thinks in
// steps of a minute or more), one ring per metric; and beside each step's
// mean its peak, the highest sample in it: a climb sampled every 5 s
// reached 98 % while its one-minute means still read 85-89 % (issue 17),
// so exhaustion is judged on the peaks too; and its trough, the lowest,
// for a limit the metric must not fall below. Replayed samples carry their
// series' own timestamps, so a 5-minute series fills one step per row (its
// peaks and troughs are its values).
//
// A step closes with its last sample: the one after which the next, at the
// samples' usual spacing, would fall in a later step. Waiting for the next
// step's first sample instead held every forecast back by one sample
// interval: nothing at one sample a second, but a whole minute at one a
// minute, a minute less lead before a failure (issue 17). A sample that
// comes after its step closed (sooner than the usual gap) counts in the
// next step: none is lost, and the spacing goes on being learned from all.
import { assert } from "../shared/assert.ts";
import { HOST_METRICS, type HostMetric, type HostSample } from "../shared/metrics.ts";
import { Ring } from "./ring.ts";

/** The forecaster reads every numeric host metric. */
export const FORECAST_METRICS = HOST_METRICS;
export type ForecastMetric = HostMetric;

/** Step spacings kept to estimate the interval (the median of these). */
const SPACINGS_KEPT = 8;
/** Sample spacings kept to tell a step's last sample (the median of these). */
const GAPS_KEPT = 8;

export class HostHistory {
  private readonly rings = new Map<ForecastMetric, Ring>();
  private readonly peakRings = new Map<ForecastMetric, Ring>();
  private readonly troughRings = new Map<ForecastMetric, Ring>();
  private bucket: number | null = null;
  private sums = new Map<ForecastMetric, number>();
  private maxes = new Map<ForecastMetric, number>();
  private mins = new Map<ForecastMetric, number>();
  private n = 0;
  private bucketLastTs = 0;
  /** The newest step closed (a sample of it, come late, counts in the next). */
  private closedBucket = -Infinity;
  private lastSampleTs: number | null = null;
  private readonly gaps: number[] = [];
  private readonly stepTs: number[] = [];
  /** Wall ms of the newest closed step. */
  lastTs = 0;
  /** Steps closed since the start (the newest value is step closedSteps - 1, whatever the ring still holds). */
  closedSteps = 0;

  readonly stepMs: number;
  readonly capacity: number;

  constructor(stepMs: number, capacity: number) {
    assert(stepMs > 0 && capacity >= 2, "a history has a positive step and room for two values");
    this.stepMs = stepMs;
    this.capacity = capacity;
    for (const m of FORECAST_METRICS) {
      this.rings.set(m, new Ring(capacity));
      this.peakRings.set(m, new Ring(capacity));
      this.troughRings.set(m, new Ring(capacity));
    }
  }

  /**
   * Adds a sample; true when it closed a step (new values to forecast
   * from): the one before it, or its own when it is that step's last. A
   * sample of the step closed last (it came sooner than the usual gap)
   * counts in the next step; one older than that, or than the open step,
   * is ignored.
   */
  add(s: HostSample): boolean {
    if (this.lastSampleTs !== null && s.ts > this.lastSampleTs) {
      this.gaps.push(s.ts - this.lastSampleTs);
      if (this.gaps.length > GAPS_KEPT) this.gaps.shift();
    }
    this.lastSampleTs = Math.max(this.lastSampleTs ?? -Infinity, s.ts);
    let b = Math.floor(s.ts / this.stepMs);
    if (b === this.closedBucket) b += 1;
    if ((this.bucket !== null && b < this.bucket) || b <= this.closedBucket) return false;
    let closed = false;
    if (this.bucket !== null && b > this.bucket) closed = this.close();
    if (this.bucket === null) {
      this.bucket = b;
      this.n = 0;
      for (const m of FORECAST_METRICS) {
        this.sums.set(m, 0);
        this.maxes.set(m, -Infinity);
        this.mins.set(m, Infinity);
      }
    }
    for (const m of FORECAST_METRICS) {
      const v = s[m];
      const x = Number.isFinite(v) ? (v as number) : 0;
      this.sums.set(m, this.sums.get(m)! + x);
      this.maxes.set(m, Math.max(this.maxes.get(m)!, x));
      this.mins.set(m, Math.min(this.mins.get(m)!, x));
    }
    this.n += 1;
    this.bucketLastTs = s.ts;
    // Its step's last sample: the next, a usual gap later, starts a later step.
    const gap = this.usualGap();
    if (gap !== null && s.ts + gap >= (b + 1) * this.stepMs) closed = this.close();
    return closed;
  }

  /** The samples' usual spacing (the lower median of the recent ones: mixed gaps close a step late rather than early), or null before one is known. */
  private usualGap(): number | null {
    if (this.gaps.length === 0) return null;
    const d = [...this.gaps].sort((a, c) => a - c);
    return d[Math.floor((d.length - 1) / 2)]!;
  }

  /** Closes the current step: its mean, peak and trough become the newest values. */
  private close(): true {
    for (const m of FORECAST_METRICS) {
      this.rings.get(m)!.push(this.sums.get(m)! / this.n);
      this.peakRings.get(m)!.push(this.maxes.get(m)!);
      this.troughRings.get(m)!.push(this.mins.get(m)!);
    }
    this.stepTs.push(this.bucketLastTs);
    if (this.stepTs.length > SPACINGS_KEPT + 1) this.stepTs.shift();
    this.lastTs = this.bucketLastTs;
    this.closedSteps += 1;
    this.closedBucket = this.bucket!;
    this.bucket = null;
    return true;
  }

  /** Steps held (the same for every metric). */
  get length(): number {
    return this.rings.get("cpuLoad")!.length;
  }

  /** Each step's mean, oldest first. */
  values(m: ForecastMetric): Float64Array {
    return this.rings.get(m)!.toArray();
  }

  /** Each step's highest sample, oldest first. */
  peaks(m: ForecastMetric): Float64Array {
    return this.peakRings.get(m)!.toArray();
  }

  /** Each step's lowest sample, oldest first. */
  troughs(m: ForecastMetric): Float64Array {
    return this.troughRings.get(m)!.toArray();
  }

  /** The spacing of the steps: the median of the recent ones, or stepMs before two are known. */
  intervalMs(): number {
    if (this.stepTs.length < 2) return this.stepMs;
    const d: number[] = [];
    for (let i = 1; i < this.stepTs.length; i++) d.push(this.stepTs[i]! - this.stepTs[i - 1]!);
    d.sort((a, b) => a - b);
    return Math.max(1, d[Math.floor(d.length / 2)]!);
  }
}
