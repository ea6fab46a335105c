// The forecaster in the agent: the shipped ONNX model (models/forecaster.onnx,
// built by scripts/train-forecaster.ts) under onnxruntime-node. One run
// takes a batch of series (a host's metrics, and the one-step forecasts the
// anomaly score needs) and returns quantiles at the horizon and the
// probability of crossing each series' limit within it.
import { readFileSync } from "node:fs";
import { checkoutPath, dataFile } from "../shared/embedded.ts";
import * as ort from "onnxruntime-node";
import { extract, FEATURE_COUNT, horizonSteps, WEEK_MS } from "./features.ts";

export type ForecastInput = {
  /** The series, oldest first, one value per step. */
  values: ArrayLike<number>;
  intervalMs: number;
  /** Wall ms of the newest value. */
  ts: number;
  limit: number;
  horizonMs: number;
};

export type ForecastOutput = { p10: number; p50: number; p90: number; exhaustionProbability: number };

/** The model's description, from its ONNX metadata (PredictionModel). */
export type PredictionModel = { model_type: string; parameters: Record<string, unknown>; prediction_horizon: string };

/** Steps of history worth keeping: a week of one-minute steps and an hour beyond it (the weekly lag at the target). */
export const HISTORY_MAX = Math.round(WEEK_MS / 60_000) + 120;

export type Forecaster = {
  run(batch: readonly ForecastInput[]): Promise<ForecastOutput[]>;
  modelBytes: number;
  info: PredictionModel;
};

/** The shipped model's file in a checkout (the single executable carries it inside: src/shared/embedded.ts). */
export const DEFAULT_MODEL_PATH = checkoutPath("forecaster.onnx");

/** Loads a model: the file at `path`, or the shipped one (from the checkout or from inside the executable). */
export async function loadForecaster(path?: string): Promise<Forecaster> {
  const bytes = path === undefined ? dataFile("forecaster.onnx") : readFileSync(path);
  path ??= "the shipped forecaster";
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: "sequential", graphOptimizationLevel: "all" });
  for (const name of ["features", "last", "scale", "limit"]) {
    if (!session.inputNames.includes(name)) throw new Error(`${path} is not an umbra forecaster: it has no input "${name}"`);
  }
  const meta = readMetadata(bytes);
  let parameters: Record<string, unknown> = {};
  try {
    parameters = JSON.parse(meta["parameters"] ?? "{}") as Record<string, unknown>;
  } catch {
    // a model without readable parameters still runs; /status shows them empty
  }
  const info: PredictionModel = { model_type: meta["model_type"] ?? "unknown", parameters, prediction_horizon: meta["prediction_horizon"] ?? "" };
  return {
    modelBytes: bytes.length,
    info,
    async run(batch) {
      const n = batch.length;
      if (n === 0) return [];
      const features = new Float32Array(n * FEATURE_COUNT);
      const last = new Float32Array(n);
      const scale = new Float32Array(n);
      const limit = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const b = batch[i]!;
        if (b.values.length === 0) throw new Error("a forecast needs at least one value");
        const f = extract(b.values, b.values.length, b.intervalMs, b.ts, horizonSteps(b.horizonMs, b.intervalMs), features, i * FEATURE_COUNT);
        last[i] = f.last;
        scale[i] = f.scale;
        limit[i] = b.limit;
      }
      const out = await session.run({
        features: new ort.Tensor("float32", features, [n, FEATURE_COUNT]),
        last: new ort.Tensor("float32", last, [n, 1]),
        scale: new ort.Tensor("float32", scale, [n, 1]),
        limit: new ort.Tensor("float32", limit, [n, 1]),
      });
      const q = out["quantiles"]!.data as Float32Array;
      const e = out["exhaustion"]!.data as Float32Array;
      const res: ForecastOutput[] = [];
      for (let i = 0; i < n; i++) {
        const p = e[i]!;
        res.push({ p10: q[i * 3]!, p50: q[i * 3 + 1]!, p90: q[i * 3 + 2]!, exhaustionProbability: Number.isFinite(p) ? Math.min(1, Math.max(0, p)) : 0 });
      }
      return res;
    },
  };
}

/**
 * The model's metadata_props (ONNX ModelProto field 14: repeated
 * StringStringEntryProto {1: key, 2: value}), read straight from the
 * protobuf bytes: onnxruntime-node does not expose custom metadata, and the
 * agent should not carry a protobuf library for six strings.
 */
export function readMetadata(bytes: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = bytes[i++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
  };
  const skip = (wire: number) => {
    if (wire === 0) varint();
    else if (wire === 1) i += 8;
    else if (wire === 2) {
      const len = varint(); // not `i += varint()`: that reads i before varint moves it
      i += len;
    }
    else if (wire === 5) i += 4;
    else throw new Error(`unexpected protobuf wire type ${wire}`);
  };
  const text = (from: number, len: number) => new TextDecoder().decode(bytes.subarray(from, from + len));
  while (i < bytes.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (field === 14 && wire === 2) {
      const len = varint();
      const end = i + len;
      let k = "";
      let v = "";
      while (i < end) {
        const kk = varint();
        if ((kk & 7) !== 2) {
          skip(kk & 7);
          continue;
        }
        const l = varint();
        if (kk >> 3 === 1) k = text(i, l);
        else if (kk >> 3 === 2) v = text(i, l);
        i += l;
      }
      out[k] = v;
    } else skip(wire);
  }
  return out;
}
