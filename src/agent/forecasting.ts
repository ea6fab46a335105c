// The agent's forecasting: every host's samples (its own, and its peers'
// from their beacons) into per-host histories; a new step runs the model
// for that host (all its metrics in one batch, off the loop in
// onnxruntime's threads); the results wait for the agent loop's side turn
// (every SIDE_TICK_MS), which feeds them to decide/proactive.ts. Each host forecasts every host itself:
// a voter judges a "predicted" move by its own reading of the holder.

import { UmbraError } from "../shared/errors.ts";
import type { HostId } from "../shared/ids.ts";
import type { Logger } from "../shared/log.ts";
import { limitLines, type Config } from "../shared/config.ts";
import type { HostSample } from "../probe/index.ts";
import { loadForecasterLazily, HostHistory, type ForecastMetric, type Forecaster, type ForecastInput, type ForecastOutput, type PredictionModel, AnomalyScorer, ANOMALY_DEFAULTS, type AnomalySettings, type OneStep, type HostForecast, type ValueRange, HISTORY_MIN_STEPS, QuantileBlend, horizonSteps } from "../forecast/index.ts";
import { RATIO_METRICS } from "../shared/metrics.ts";
import { BoundedQueue, type QueueCount } from "./queue.ts";

export type { HostForecast };


/** Finished forecasts waiting for the loop's side turn, at most: it drains them every SIDE_TICK_MS, so this only bounds a stalled loop (the oldest go). */
export const FORECASTS_WAITING_MAX = 1_000;
/** Milliseconds in a minute of `forecast.horizonMinutes`. */
const MS_PER_MINUTE = 60_000;

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

/** A metric's known range, for the anomaly score's context view: a share of the host's capacity lies in 0..1; a rate's range is learned. */
const knownRange = (metric: ForecastMetric): ValueRange | null => ((RATIO_METRICS as readonly string[]).includes(metric) ? { lo: 0, hi: 1 } : null);

/** Per metric of one host: the anomaly scorer, the one-step forecast the next value is judged against, and the blend of the quantiles at the horizon. */
type MetricScore = { scorer: AnomalyScorer; next: OneStep | null; score: number; blend: QuantileBlend };

/** A metric with a limit, and its lines: the value it must not rise above, and the one it must not fall below (null: none; both null: a metric scaling watches, with no limit). */
type Watched = { metric: ForecastMetric; above: number | null; below: number | null };

/**
 * What the model is asked of one metric, in batch order: its means at the
 * horizon (the quantiles status shows, and the crossing of an upper line),
 * one step ahead (what the next value's anomaly score is judged against),
 * and for each line the steps' extremes at the horizon: the peaks against
 * an upper line (a limit crossed by a sample, not only by a step's mean),
 * and against a lower line the means and the troughs turned upside down (a
 * drop is a climb of the negated series, so the one model serves both).
 */
type Ask = "means" | "next" | "peaks" | "dropMeans" | "dropTroughs";
const asksOf = (w: Watched): Ask[] => ["means", "next", ...(w.above !== null ? (["peaks"] as const) : []), ...(w.below !== null ? (["dropMeans", "dropTroughs"] as const) : [])];
/** A metric with lines (a limit): its forecast counts toward exhaustion; one without is watched for its quantiles alone (scaling). */
const limited = (w: Watched): boolean => w.above !== null || w.below !== null;

/** Starts the forecaster on the limits' metrics and on `scaled` ones (scaling's, their p90 only, and only of `self`: scaling reads no other host's); null when off or with nothing to watch. */
export async function startForecasting(cfg: Config["forecast"], log: Logger, scaled: readonly ForecastMetric[] = [], self: HostId | null = null): Promise<Forecasting | null> {
  if (!cfg.enabled) return null;
  const withLimits = (Object.entries(cfg.limits) as [ForecastMetric, NonNullable<(typeof cfg.limits)[ForecastMetric]>][]).map(([metric, l]): Watched => ({ metric, ...limitLines(l) }));
  const watched = [...withLimits, ...[...new Set(scaled)].filter((m) => !withLimits.some((w) => w.metric === m)).map((metric): Watched => ({ metric, above: null, below: null }))];
  if (watched.length === 0) return null;
  const metrics = watched.map((w) => w.metric);
  let model: Forecaster;
  let historyMax: number;
  try {
    ({ model, historyMax } = await loadForecasterLazily(cfg.model));
  } catch (err) {
    throw new UmbraError("config_invalid", `forecast.model: cannot load ${cfg.model ?? "the shipped model"}: ${(err as Error).message} (set forecast.enabled = false to run without forecasts)`, {}, err);
  }
  const runner = new ForecastRunner(cfg, watched, model, log, self);
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
  /** Per host, the steps closed when its values were last scored (HostHistory.closedSteps). */
  private readonly scoredSteps = new Map<HostId, number>();
  private readonly horizonMs: number;
  private readonly watched: Watched[];
  private readonly model: Forecaster;
  private readonly log: Logger;

  private readonly self: HostId | null;
  /** The anomaly scorer's settings: the defaults, its rest started only at the move threshold when alarms move services. */
  private readonly anomalySettings: AnomalySettings;

  constructor(cfg: Config["forecast"], watched: Watched[], model: Forecaster, log: Logger, self: HostId | null) {
    this.anomalySettings = { ...ANOMALY_DEFAULTS, restBase: Math.max(ANOMALY_DEFAULTS.restBase, cfg.anomalyThreshold ?? 0) };
    this.watched = watched;
    this.self = self;
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
    // Scaling's metrics only of this host (no peer's is read): an edge host's inference is the limits' alone otherwise.
    const watched = this.self === null || host === this.self ? this.watched : this.watched.filter(limited);
    if (h.length < HISTORY_MIN_STEPS || watched.length === 0) return;
    const { horizonMs } = this;
    const intervalMs = h.intervalMs();
    const series = watched.map((w) => h.values(w.metric));
    const batch: ForecastInput[] = watched.flatMap((w, i) => asksOf(w).map((ask) => this.input(ask, w, h, series[i]!, intervalMs, horizonMs)));
    const perMetric = this.scoresOf(host);
    // The newest value's step, and the horizon in steps: what the quantile blend is fed with once the model answers.
    const at = { step: h.closedSteps - 1, steps: horizonSteps(horizonMs, intervalMs) };
    // Every value not yet scored, oldest first (more than one when a sample closed two steps, or runs were merged while one was in flight): the first meets the one-step forecast made from the step before it; the score is the strongest.
    const fresh = Math.max(1, Math.min(h.closedSteps - (this.scoredSteps.get(host) ?? h.closedSteps - 1), h.length));
    this.scoredSteps.set(host, h.closedSteps);
    watched.forEach(({ metric }, i) => {
      const a = perMetric.get(metric)!;
      const v = series[i]!;
      a.score = 0;
      for (let k = v.length - fresh; k < v.length; k++) a.score = Math.max(a.score, a.scorer.push(h.lastTs, v[k]!, k === v.length - fresh ? a.next : null));
    });
    this.running.add(host);
    this.model
      .run(batch)
      .then((outs) => this.finished(host, h, watched, series, perMetric, at, outs))
      .catch((err: Error) => this.log("warn", "forecast", "inference-failed", { host, error: err.message }))
      .finally(() => {
        this.running.delete(host);
        if (this.again.delete(host)) this.run(host);
      });
  }

  /** One question of the batch (see Ask). */
  private input(ask: Ask, w: Watched, h: HostHistory, means: Float64Array, intervalMs: number, horizonMs: number): ForecastInput {
    const at = { intervalMs, ts: h.lastTs };
    const upper = w.above ?? w.below ?? 1; // the means' crossing counts only against an upper line (none: scaling's, whose crossing nobody reads)
    switch (ask) {
      case "means":
        return { ...at, values: means, limit: upper, horizonMs };
      case "next":
        return { ...at, values: means, limit: upper, horizonMs: intervalMs };
      case "peaks":
        return { ...at, values: h.peaks(w.metric), limit: w.above!, horizonMs };
      case "dropMeans":
        return { ...at, values: means.map((x) => -x), limit: -w.below!, horizonMs };
      case "dropTroughs":
        return { ...at, values: h.troughs(w.metric).map((x) => -x), limit: -w.below!, horizonMs };
    }
  }

  private scoresOf(host: HostId): Map<ForecastMetric, MetricScore> {
    let scores = this.anomaly.get(host);
    if (scores === undefined) {
      scores = new Map(this.watched.map((w) => [w.metric, { scorer: new AnomalyScorer(this.anomalySettings, knownRange(w.metric)), next: null, score: 0, blend: new QuantileBlend() }]));
      this.anomaly.set(host, scores);
    }
    return scores;
  }

  private finished(host: HostId, h: HostHistory, watched: readonly Watched[], series: Float64Array[], perMetric: Map<ForecastMetric, MetricScore>, at: { step: number; steps: number }, outs: ForecastOutput[]): void {
    let k = 0;
    const p90: Partial<Record<ForecastMetric, number>> = {};
    const p10: Partial<Record<ForecastMetric, number>> = {};
    const all = watched.map((w, i) => {
      const asks = asksOf(w);
      const out = new Map(asks.map((ask) => [ask, outs[k++]!] as const));
      const a = perMetric.get(w.metric)!;
      a.next = out.get("next")!;
      const v = series[i]!;
      // The quantiles at the horizon: the model's, blended with robust medians by their recent losses (src/forecast/blend.ts); the crossing stays the model's.
      const means = { ...out.get("means")!, ...a.blend.push(v, v.length, at.step, at.steps, out.get("means")!) };
      p90[w.metric] = means.p90;
      p10[w.metric] = means.p10;
      // Exhaustion: whichever line is likelier crossed, by the means or by the steps' extremes.
      const rise = w.above === null ? -1 : Math.max(means.exhaustionProbability, out.get("peaks")!.exhaustionProbability);
      const drop = w.below === null ? -1 : Math.max(out.get("dropMeans")!.exhaustionProbability, out.get("dropTroughs")!.exhaustionProbability);
      const side = rise >= drop ? ("above" as const) : ("below" as const);
      return { metric: w.metric, limit: side === "above" ? w.above! : w.below!, side, last: v[v.length - 1]!, anomaly: a.score, ...means, exhaustionProbability: Math.max(rise, drop) };
    });
    const per = all.filter((_, i) => limited(watched[i]!));
    const top = per.reduce((a, b) => (b.exhaustionProbability > a.exhaustionProbability ? b : a), { exhaustionProbability: 0, metric: watched[0]!.metric });
    const f: HostForecast = { host, exhaustionProbability: top.exhaustionProbability, metric: top.metric, horizonMs: this.horizonMs, metrics: per, p90, p10, atTs: h.lastTs };
    this.latest.set(host, f);
    this.done.push(f);
  }
}
