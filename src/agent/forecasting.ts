// The agent's forecasting: every host's samples (its own, and its peers'
// from their beacons) into per-host histories; a new step runs the model
// for that host (all its metrics in one batch, off the loop in
// onnxruntime's threads); the results wait for the agent loop's side turn
// (every SIDE_TICK_MS), which feeds them to decide/proactive.ts. Each host forecasts every host itself:
// a voter judges a "predicted" move by its own reading of the holder.

import { UmbraError } from "../shared/errors.ts";
import type { HostId } from "../shared/ids.ts";
import type { Logger } from "../shared/log.ts";
import type { Config } from "../shared/config.ts";
import type { HostSample } from "../probe/index.ts";
import { loadForecasterLazily, HostHistory, type ForecastMetric, type Forecaster, type ForecastInput, type ForecastOutput, type PredictionModel, AnomalyScorer, type OneStep, type HostForecast } from "../forecast/index.ts";
import { BoundedQueue, type QueueCount } from "./queue.ts";

export type { HostForecast };


/** Finished forecasts waiting for the loop's side turn, at most: it drains them every SIDE_TICK_MS, so this only bounds a stalled loop (the oldest go). */
export const FORECASTS_WAITING_MAX = 1_000;
/** Milliseconds in a minute of `forecast.horizonMinutes`. */
const MS_PER_MINUTE = 60_000;
/** Values a history needs before the model can run on it. */
const HISTORY_MIN = 2;

export type Forecasting = {
  /** A sample of `host` (this host's own, or a peer's from its beacon). */
  sample(host: HostId, s: HostSample): void;
  /** Forecasts finished since the last call, oldest first. */
  drain(): HostForecast[];
  /** The latest forecast of every host. */
  latest(): HostForecast[];
  /** The queue of finished forecasts and what it dropped. */
  queue(): QueueCount;
  modelBytes: number;
  model: PredictionModel;
};

/** Per metric of one host: the anomaly scorer, and the one-step forecast the next value is judged against. */
type MetricScore = { scorer: AnomalyScorer; next: OneStep | null; score: number };

export async function startForecasting(cfg: Config["forecast"], log: Logger): Promise<Forecasting | null> {
  if (!cfg.enabled) return null;
  const metrics = Object.keys(cfg.limits) as ForecastMetric[];
  if (metrics.length === 0) return null;
  let model: Forecaster;
  let historyMax: number;
  try {
    ({ model, historyMax } = await loadForecasterLazily(cfg.model));
  } catch (err) {
    throw new UmbraError("config_invalid", `forecast.model: cannot load ${cfg.model ?? "the shipped model"}: ${(err as Error).message} (set forecast.enabled = false to run without forecasts)`, {}, err);
  }
  const runner = new ForecastRunner(cfg, metrics, model, log);
  log("info", "forecast", "model-loaded", { bytes: model.modelBytes, model: model.info.model_type, metrics, horizonMinutes: cfg.horizonMinutes, threshold: cfg.threshold });
  return {
    sample(host, s) {
      let h = runner.histories.get(host);
      if (h === undefined) {
        h = new HostHistory(cfg.stepMs, historyMax);
        runner.histories.set(host, h);
      }
      if (h.add(s)) runner.run(host);
    },
    drain: () => runner.done.drain(),
    latest: () => [...runner.latest.values()],
    queue: () => runner.done.count(),
    modelBytes: model.modelBytes,
    model: model.info,
  };
}

/** Runs the model for a host on a new step, one run per host at a time (a step that lands during a run runs again after it). */
class ForecastRunner {
  readonly histories = new Map<HostId, HostHistory>();
  readonly done = new BoundedQueue<HostForecast>("forecasts", FORECASTS_WAITING_MAX, "drop-oldest");
  readonly latest = new Map<HostId, HostForecast>();
  private readonly running = new Set<HostId>();
  private readonly again = new Set<HostId>();
  private readonly anomaly = new Map<HostId, Map<ForecastMetric, MetricScore>>();
  private readonly horizonMs: number;
  private readonly cfg: Config["forecast"];
  private readonly metrics: ForecastMetric[];
  private readonly model: Forecaster;
  private readonly log: Logger;

  constructor(cfg: Config["forecast"], metrics: ForecastMetric[], model: Forecaster, log: Logger) {
    this.cfg = cfg;
    this.metrics = metrics;
    this.model = model;
    this.log = log;
    this.horizonMs = cfg.horizonMinutes * MS_PER_MINUTE;
  }

  run(host: HostId): void {
    if (this.running.has(host)) {
      this.again.add(host);
      return;
    }
    const h = this.histories.get(host)!;
    if (h.length < HISTORY_MIN) return;
    const { metrics, cfg, horizonMs } = this;
    const intervalMs = h.intervalMs();
    const series = metrics.map((m) => h.values(m));
    const peaks = metrics.map((m) => h.peaks(m));
    // Each metric three times: its means at the horizon (the quantiles), one
    // step ahead (what the next value's anomaly score is judged against), and
    // its steps' peaks at the horizon (a limit crossed by a sample, not only
    // by a step's mean).
    const batch: ForecastInput[] = metrics.flatMap((m, i) => [
      { values: series[i]!, intervalMs, ts: h.lastTs, limit: cfg.limits[m]!, horizonMs },
      { values: series[i]!, intervalMs, ts: h.lastTs, limit: cfg.limits[m]!, horizonMs: intervalMs },
      { values: peaks[i]!, intervalMs, ts: h.lastTs, limit: cfg.limits[m]!, horizonMs },
    ]);
    const perMetric = this.scoresOf(host);
    // The newest value meets the one-step forecast made a step ago.
    metrics.forEach((m, i) => {
      const a = perMetric.get(m)!;
      const v = series[i]!;
      a.score = a.scorer.push(h.lastTs, v[v.length - 1]!, a.next);
    });
    this.running.add(host);
    this.model
      .run(batch)
      .then((outs) => this.finished(host, h, series, perMetric, outs))
      .catch((err: Error) => this.log("warn", "forecast", "inference-failed", { host, error: err.message }))
      .finally(() => {
        this.running.delete(host);
        if (this.again.delete(host)) this.run(host);
      });
  }

  private scoresOf(host: HostId): Map<ForecastMetric, MetricScore> {
    let scores = this.anomaly.get(host);
    if (scores === undefined) {
      scores = new Map(this.metrics.map((m) => [m, { scorer: new AnomalyScorer(), next: null, score: 0 }]));
      this.anomaly.set(host, scores);
    }
    return scores;
  }

  private finished(host: HostId, h: HostHistory, series: Float64Array[], perMetric: Map<ForecastMetric, MetricScore>, outs: ForecastOutput[]): void {
    const per = this.metrics.map((m, i) => {
      const a = perMetric.get(m)!;
      a.next = outs[3 * i + 1]!;
      const v = series[i]!;
      const byMean = outs[3 * i]!;
      const byPeak = outs[3 * i + 2]!;
      // Exhaustion: whichever of the means and the peaks crosses first.
      return { metric: m, limit: this.cfg.limits[m]!, last: v[v.length - 1]!, anomaly: a.score, ...byMean, exhaustionProbability: Math.max(byMean.exhaustionProbability, byPeak.exhaustionProbability) };
    });
    const top = per.reduce((a, b) => (b.exhaustionProbability > a.exhaustionProbability ? b : a));
    const f: HostForecast = { host, exhaustionProbability: top.exhaustionProbability, metric: top.metric, horizonMs: this.horizonMs, metrics: per, atTs: h.lastTs };
    this.latest.set(host, f);
    this.done.push(f);
  }
}
