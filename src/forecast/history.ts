// A host's recent metrics, as the forecaster reads them: samples averaged
// into fixed steps (live samples come every second; the model thinks in
// steps of a minute or more), one ring per metric. Replayed samples carry
// their series' own timestamps, so a 5-minute series fills one step per row.
import { assert } from "../shared/assert.ts";
import { HOST_METRICS, type HostMetric, type HostSample } from "../shared/metrics.ts";
import { Ring } from "./ring.ts";

/** The forecaster reads every numeric host metric. */
export const FORECAST_METRICS = HOST_METRICS;
export type ForecastMetric = HostMetric;

/** Step spacings kept to estimate the interval (the median of these). */
const SPACINGS_KEPT = 8;

export class HostHistory {
  private readonly rings = new Map<ForecastMetric, Ring>();
  private bucket: number | null = null;
  private sums = new Map<ForecastMetric, number>();
  private n = 0;
  private bucketLastTs = 0;
  private readonly stepTs: number[] = [];
  /** Wall ms of the newest closed step. */
  lastTs = 0;

  readonly stepMs: number;
  readonly capacity: number;

  constructor(stepMs: number, capacity: number) {
    assert(stepMs > 0 && capacity >= 2, "a history has a positive step and room for two values");
    this.stepMs = stepMs;
    this.capacity = capacity;
    for (const m of FORECAST_METRICS) this.rings.set(m, new Ring(capacity));
  }

  /** Adds a sample; true when it closed a step (new values to forecast from). A sample older than the current step is ignored. */
  add(s: HostSample): boolean {
    const b = Math.floor(s.ts / this.stepMs);
    let closed = false;
    if (this.bucket !== null && b < this.bucket) return false;
    if (this.bucket !== null && b > this.bucket) {
      for (const m of FORECAST_METRICS) this.rings.get(m)!.push(this.sums.get(m)! / this.n);
      this.stepTs.push(this.bucketLastTs);
      if (this.stepTs.length > SPACINGS_KEPT + 1) this.stepTs.shift();
      this.lastTs = this.bucketLastTs;
      this.bucket = null;
      closed = true;
    }
    if (this.bucket === null) {
      this.bucket = b;
      this.n = 0;
      for (const m of FORECAST_METRICS) this.sums.set(m, 0);
    }
    for (const m of FORECAST_METRICS) {
      const v = s[m];
      this.sums.set(m, this.sums.get(m)! + (Number.isFinite(v) ? v : 0));
    }
    this.n += 1;
    this.bucketLastTs = s.ts;
    return closed;
  }

  /** Steps held (the same for every metric). */
  get length(): number {
    return this.rings.get("cpuLoad")!.length;
  }

  values(m: ForecastMetric): Float64Array {
    return this.rings.get(m)!.toArray();
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
