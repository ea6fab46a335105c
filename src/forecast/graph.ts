// The forecaster's parameters and the two things built from them: the ONNX
// graph the agent runs (onnxruntime-node), and the same arithmetic in plain
// TypeScript, which the trainer uses to calibrate and the tests use to check
// that the exported graph computes what was trained.
//
//   features [N,F] ─Gemm─Tanh─Gemm─▶ o [N,6]
//   o[0..2]: centre, lower and upper offsets of the value at the horizon
//   o[3..5]: the same for the highest value within the horizon
//   quantiles   = last + scale · (c - kq·softplus(l), c, c + kq·softplus(u))
//   exhaustion  = P(max within horizon > limit): z = (limit - m50) / σ with
//                 σ from the max's quantiles on the limit's side (p10/p90 are
//                 ∓1.2816 σ of a normal), recalibrated (probit: ca·z + cb +
//                 ce·min(z, 0) + cc·horizon feature + cd·where the newest value stands
//                 against the limit, in scale units, clipped to ±10), and
//                 the normal tail beyond it.
import onnxProto from "onnx-proto";
import { FEATURE_COUNT, HORIZON_FEATURE } from "./features.ts";
import { erf, Z90 } from "./normal.ts";

const { onnx } = onnxProto;

export const OUTPUTS = 6;

export type Params = {
  hidden: number;
  /** [FEATURE_COUNT × hidden], row-major. */
  w1: Float64Array;
  b1: Float64Array;
  /** [hidden × OUTPUTS], row-major. */
  w2: Float64Array;
  b2: Float64Array;
  /** Width multiplier of the p10–p90 interval (calibrated for coverage). */
  kq: number;
  /** Probit recalibration of the exhaustion probability (fitted for log loss): z' = ca·z + ce·min(z, 0) + cb + cc·h + cd·g, g = clip((limit - last) / scale). */
  ca: number;
  cb: number;
  cc: number;
  cd: number;
  /** Extra slope below z = 0 (the limit under the max's median): the probit is steeper there. */
  ce: number;
};

export type Metadata = Record<string, string>;

function softplus(x: number): number {
  return x > 30 ? x : Math.log1p(Math.exp(x));
}

/** The network's raw outputs for one feature row. */
export function forwardRaw(p: Params, x: ArrayLike<number>, xo: number, out: Float64Array, hiddenOut?: Float64Array): void {
  const H = p.hidden;
  const hid = hiddenOut ?? new Float64Array(H);
  for (let j = 0; j < H; j++) {
    let z = p.b1[j]!;
    for (let i = 0; i < FEATURE_COUNT; i++) z += x[xo + i]! * p.w1[i * H + j]!;
    hid[j] = Math.tanh(z);
  }
  for (let k = 0; k < OUTPUTS; k++) {
    let z = p.b2[k]!;
    for (let j = 0; j < H; j++) z += hid[j]! * p.w2[j * OUTPUTS + k]!;
    out[k] = z;
  }
}

export type Heads = { p10: number; p50: number; p90: number; m10: number; m50: number; m90: number };

/** Raw outputs, in the frame's units (kq applied to the quantiles; the max heads bare). */
export function heads(p: Params, o: ArrayLike<number>, last: number, scale: number): Heads {
  const c = last + scale * o[0]!;
  const m = last + scale * o[3]!;
  return {
    p10: c - scale * p.kq * softplus(o[1]!),
    p50: c,
    p90: c + scale * p.kq * softplus(o[2]!),
    m10: m - scale * softplus(o[4]!),
    m50: m,
    m90: m + scale * softplus(o[5]!),
  };
}

/** The exhaustion's z before recalibration: how many σ the limit lies above the max's median. */
export function exhaustionZ(h: Heads, limit: number): number {
  const sigma = (limit > h.m50 ? h.m90 - h.m50 : h.m50 - h.m10) / Z90 + 1e-20;
  return (limit - h.m50) / sigma;
}

/** P(max within the horizon > limit), as the graph computes it; `hfeat` is the horizon feature. */
/** How far the limit lies above the newest value, in scale units, clipped to ±10. */
export function limitGap(limit: number, last: number, scale: number): number {
  return Math.max(-10, Math.min(10, (limit - last) / scale));
}

export function exhaustion(p: Pick<Params, "ca" | "cb" | "cc" | "cd" | "ce">, h: Heads, limit: number, hfeat: number, gap: number): number {
  const z0 = exhaustionZ(h, limit);
  const z = p.ca * z0 + p.ce * Math.min(z0, 0) + p.cb + p.cc * hfeat + p.cd * gap;
  return 0.5 * (1 - erf(z / Math.SQRT2));
}

/** The ONNX model (opset 13), serialised. */
export function buildOnnx(p: Params, meta: Metadata): Uint8Array {
  const F = FEATURE_COUNT;
  const H = p.hidden;
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const INT64 = onnx.TensorProto.DataType.INT64;
  const tensor = (name: string, dims: number[], data: ArrayLike<number>) =>
    onnx.TensorProto.create({ name, dims, dataType: FLOAT, floatData: Array.from(data, (v) => Math.fround(v)) });
  const scalar = (name: string, v: number) => tensor(name, [1], [v]);
  const index = (name: string, i: number) => onnx.TensorProto.create({ name, dims: [1], dataType: INT64, int64Data: [i] });
  const nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  const node = (opType: string, input: string[], output: string, attribute: InstanceType<typeof onnx.AttributeProto>[] = []) => {
    nodes.push(onnx.NodeProto.create({ opType, input, output: [output], name: output, attribute }));
    return output;
  };
  const intAttr = (name: string, i: number) => onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i });
  const io = (name: string, cols: number) =>
    onnx.ValueInfoProto.create({
      name,
      type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: "N" }, { dimValue: cols }] } } },
    });

  const initializer = [
    tensor("w1", [F, H], p.w1),
    tensor("b1", [H], p.b1),
    tensor("w2", [H, OUTPUTS], p.w2),
    tensor("b2", [OUTPUTS], p.b2),
    scalar("kq", p.kq),
    scalar("inv_z90", 1 / Z90),
    scalar("ca", p.ca),
    scalar("cb", p.cb),
    scalar("cc", p.cc),
    scalar("cd", p.cd),
    scalar("ce", p.ce),
    scalar("zero", 0),
    scalar("gap_min", -10),
    scalar("gap_max", 10),
    scalar("inv_sqrt2", Math.SQRT1_2),
    index("ih", HORIZON_FEATURE),
    scalar("eps", 1e-20),
    scalar("one", 1),
    scalar("half", 0.5),
    ...Array.from({ length: OUTPUTS }, (_, i) => index(`i${i}`, i)),
  ];
  const hidden = node("Tanh", [node("Gemm", ["features", "w1", "b1"], "z1")], "a1");
  const o = node("Gemm", [hidden, "w2", "b2"], "o");
  const col = (i: number) => node("Gather", [o, `i${i}`], `o${i}`, [intAttr("axis", 1)]);
  const [c, l, u, m, ml, mu] = [0, 1, 2, 3, 4, 5].map(col) as [string, string, string, string, string, string];
  const p50 = node("Add", ["last", node("Mul", ["scale", c], "sc")], "p50");
  const wl = node("Mul", ["scale", node("Mul", [node("Softplus", [l], "spl"), "kq"], "kl")], "wl");
  const wu = node("Mul", ["scale", node("Mul", [node("Softplus", [u], "spu"), "kq"], "ku")], "wu");
  const p10 = node("Sub", [p50, wl], "p10");
  const p90 = node("Add", [p50, wu], "p90");
  node("Concat", [p10, p50, p90], "quantiles", [intAttr("axis", 0 + 1)]);
  const m50 = node("Add", ["last", node("Mul", ["scale", m], "sm")], "m50");
  // σ on each side of the max's median, z of the limit, recalibrated, then a normal tail beyond it.
  const sl = node("Add", [node("Mul", [node("Mul", ["scale", node("Softplus", [ml], "spml")], "wml"), "inv_z90"], "sl0"), "eps"], "sl");
  const su = node("Add", [node("Mul", [node("Mul", ["scale", node("Softplus", [mu], "spmu")], "wmu"), "inv_z90"], "su0"), "eps"], "su");
  const sigma = node("Where", [node("Greater", ["limit", m50], "above"), su, sl], "sigma");
  const z0 = node("Div", [node("Sub", ["limit", m50], "gap"), sigma], "z0");
  const hfeat = node("Gather", ["features", "ih"], "hfeat", [intAttr("axis", 1)]);
  const gap = node("Clip", [node("Div", [node("Sub", ["limit", "last"], "lgap"), "scale"], "lgaps"), "gap_min", "gap_max"], "lastgap");
  const zh = node("Add", [node("Add", [node("Mul", [z0, "ca"], "caz"), "cb"], "cazb"), node("Mul", [hfeat, "cc"], "cch")], "zh");
  const zneg = node("Mul", [node("Min", [z0, "zero"], "z0neg"), "ce"], "cez");
  const z = node("Add", [node("Add", [zh, node("Mul", [gap, "cd"], "cdg")], "zg"), zneg], "z");
  node("Mul", [node("Sub", ["one", node("Erf", [node("Mul", [z, "inv_sqrt2"], "zs")], "erfz")], "tail2"), "half"], "exhaustion");

  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: "umbra scripts/train-forecaster.ts",
    opsetImport: [{ domain: "", version: 13 }],
    metadataProps: Object.entries(meta).map(([key, value]) => ({ key, value })),
    graph: {
      name: "umbra-forecaster",
      node: nodes,
      initializer,
      input: [io("features", F), io("last", 1), io("scale", 1), io("limit", 1)],
      output: [io("quantiles", 3), io("exhaustion", 1)],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
