// The forecaster's front door: per-host histories, the anomaly scorer, the
// ONNX model, loaded lazily (onnxruntime only when forecasts are on), and
// this host's day profile (auto swap windows).
export { loadForecasterLazily } from "./lazy.ts";
export { HostHistory, type ForecastMetric } from "./history.ts";
export { HISTORY_MIN_STEPS, horizonSteps } from "./features.ts";
export { QuantileBlend, BLEND_DEFAULTS, type BlendSettings, type Quantiles } from "./blend.ts";
export { type ForecastInput, type ForecastOutput, type Forecaster, type PredictionModel } from "./model.ts";
export { AnomalyScorer, ANOMALY_DEFAULTS, type AnomalySettings, type OneStep } from "./anomaly.ts";
export { type ValueRange } from "./context.ts";
export { type HostForecast, strongestAnomaly } from "./types.ts";
export { DayProfile, localDayOf, type DayLoad, type DayProfileJson } from "./dayprofile.ts";
