// The forecaster, loaded only when forecasts are wanted: model.ts imports
// onnxruntime-node, whose native addon costs start-up time and memory an
// agent with forecasts off should not pay (and `umbra --help` neither).

import type { Forecaster } from "./model.ts";

/** Loads the ONNX model (the shipped one when `path` is absent) and says how many steps of history it reads at most. */
export async function loadForecasterLazily(path?: string): Promise<{ model: Forecaster; historyMax: number }> {
  const m = await import("./model.ts");
  return { model: await m.loadForecaster(path), historyMax: m.HISTORY_MAX };
}
