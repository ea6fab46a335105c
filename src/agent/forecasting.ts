// The agent's forecasting: every host's samples (its own, and its peers'
// from their beacons) into per-host histories; a new step runs the model
// for that host (all its metrics in one batch, off the loop in
// onnxruntime's threads); the results wait for the agent's tick, which
// feeds them to decide/proactive.ts. Each host forecasts every host itself:
// a voter judges a "predicted" move by its own reading of the holder.

import { UmbraError } from "../shared/errors.ts";
import type { HostId } from "../shared/ids.ts";
import type { Logger } from "../shared/log.ts";
import type { Config } from "../shared/config.ts";
import type { HostSample } from "../probe/types.ts";
import { HostHistory, type ForecastMetric } from "../forecast/history.ts";
import type { Forecaster, ForecastInput, ForecastOutput, PredictionModel } from "../forecast/model.ts";
import { AnomalyScorer, type OneStep } from "../forecast/anomaly.ts";
import type { HostForecast } from "../forecast/types.ts";

export type { HostForecast };


export type Forecasting = {
  /** A sample of `host` (this host's own, or a peer's from its beacon). */
  sample(host: HostId, s: HostSample): void;
  /** Forecasts finished since the last call, oldest first. */
  drain(): HostForecast[];
  /** The latest forecast of every host. */
  latest(): HostForecast[];
  modelBytes: number;
  model: PredictionModel;
};

export async function startForecasting(cfg: Config["forecast"], log: Logger): Promise<Forecasting | null> {
  if (!cfg.enabled) return null;
  const metrics = Object.keys(cfg.limits) as ForecastMetric[];
  if (metrics.length === 0) return null;
  const { loadForecaster, HISTORY_MAX } = await import("../forecast/model.ts");
  let model: Forecaster;
  try {
    model = await loadForecaster(cfg.model);
  } catch (err) {
    throw new UmbraError("config_invalid", `forecast.model: cannot load ${cfg.model ?? "the shipped model"}: ${(err as Error).message} (set forecast.enabled = false to run without forecasts)`, {}, err);
  }
  const horizonMs = cfg.horizonMinutes * 60_000;
  const histories = new Map<HostId, HostHistory>();
  const running = new Set<HostId>();
  const again = new Set<HostId>();
  const done: HostForecast[] = [];
  const latest = new Map<HostId, HostForecast>();
  // Per host and metric: the anomaly scorer, and the one-step forecast the next value is judged against.
  const anomaly = new Map<HostId, Map<ForecastMetric, { scorer: AnomalyScorer; next: OneStep | null; score: number }>>();

  const run = (host: HostId) => {
    if (running.has(host)) {
      again.add(host);
      return;
    }
    const h = histories.get(host)!;
    if (h.length < 2) return;
    const intervalMs = h.intervalMs();
    const series = metrics.map((m) => h.values(m));
    // Each metric twice: at the horizon, and one step ahead (what the next value's anomaly score is judged against).
    const batch: ForecastInput[] = metrics.flatMap((m, i) => [
      { values: series[i]!, intervalMs, ts: h.lastTs, limit: cfg.limits[m]!, horizonMs },
      { values: series[i]!, intervalMs, ts: h.lastTs, limit: cfg.limits[m]!, horizonMs: intervalMs },
    ]);
    let scores = anomaly.get(host);
    if (scores === undefined) {
      scores = new Map(metrics.map((m) => [m, { scorer: new AnomalyScorer(), next: null, score: 0 }]));
      anomaly.set(host, scores);
    }
    const perMetric = scores;
    // The newest value meets the one-step forecast made a step ago.
    metrics.forEach((m, i) => {
      const a = perMetric.get(m)!;
      const v = series[i]!;
      a.score = a.scorer.push(h.lastTs, v[v.length - 1]!, a.next);
    });
    running.add(host);
    model
      .run(batch)
      .then((outs) => {
        const per = metrics.map((m, i) => {
          const a = perMetric.get(m)!;
          a.next = outs[2 * i + 1]!;
          const v = series[i]!;
          return { metric: m, limit: cfg.limits[m]!, last: v[v.length - 1]!, anomaly: a.score, ...outs[2 * i]! };
        });
        const top = per.reduce((a, b) => (b.exhaustionProbability > a.exhaustionProbability ? b : a));
        const f: HostForecast = { host, exhaustionProbability: top.exhaustionProbability, metric: top.metric, horizonMs, metrics: per, atTs: h.lastTs };
        latest.set(host, f);
        done.push(f);
        if (done.length > 1_000) done.shift(); // the tick drains every few ms; this only bounds a stalled loop
      })
      .catch((err: Error) => log("warn", "forecast", "inference-failed", { host, error: err.message }))
      .finally(() => {
        running.delete(host);
        if (again.delete(host)) run(host);
      });
  };

  log("info", "forecast", "model-loaded", { bytes: model.modelBytes, model: model.info.model_type, metrics, horizonMinutes: cfg.horizonMinutes, threshold: cfg.threshold });
  return {
    sample(host, s) {
      let h = histories.get(host);
      if (h === undefined) {
        h = new HostHistory(cfg.stepMs, HISTORY_MAX);
        histories.set(host, h);
      }
      if (h.add(s)) run(host);
    },
    drain: () => done.splice(0),
    latest: () => [...latest.values()],
    modelBytes: model.modelBytes,
    model: model.info,
  };
}
