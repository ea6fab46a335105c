// What a forecast of one host says, as status and the API show it.

import type { HostId } from "../shared/ids.ts";
import type { ForecastMetric } from "./history.ts";
import type { ForecastOutput } from "./model.ts";

export type HostForecast = {
  host: HostId;
  /** The highest exhaustion probability over the metrics with limits, and which metric. */
  exhaustionProbability: number;
  metric: ForecastMetric;
  horizonMs: number;
  /**
   * Per metric: the quantiles at the horizon, the probability of crossing
   * its limit (`limit`, the line likelier crossed: `side` says whether the
   * metric must stay below it, "above", or above it, "below"), and how
   * unusual its newest value is (anomaly score, 0..1).
   */
  metrics: Array<{ metric: ForecastMetric; limit: number; side: "above" | "below"; last: number; anomaly: number } & ForecastOutput>;
  /** Each forecast metric's p90 at the horizon: those with limits, and those scaling watches (no limit of their own). */
  p90?: Partial<Record<ForecastMetric, number>>;
  /** ...and p10: the band between says how sure the forecast is (the shadow count widens with it). */
  p10?: Partial<Record<ForecastMetric, number>>;
  /** Wall ms of the newest step the forecast used (series time when replaying). */
  atTs: number;
};

/** The metric scoring the strongest anomaly now, its score clamped to [0, 1] (a score that is no number counts 0); null when none scores above 0. */
export function strongestAnomaly(f: HostForecast): { metric: ForecastMetric; anomaly: number } | null {
  let best: { metric: ForecastMetric; anomaly: number } | null = null;
  for (const m of f.metrics) {
    const a = Number.isFinite(m.anomaly) ? Math.min(1, Math.max(0, m.anomaly)) : 0;
    if (a > (best?.anomaly ?? 0)) best = { metric: m.metric, anomaly: a };
  }
  return best;
}
