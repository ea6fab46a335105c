// The forecaster's parameters and the two things built from them: the ONNX
// graph the agent runs (onnxruntime-node), and the same arithmetic in plain
// TypeScript, which the trainer uses to calibrate and the tests use to check
// that the exported graph computes what was trained.
//
//   features [N,F] ─Gemm─Tanh─Gemm─┬─▶ o [N,6]
//            └──────MatMul─────────┘  (a linear path beside the hidden layer)
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
/** The limit's gap from the newest value is clipped to ±this many scale units. */
const GAP_CLIP = 10;
/** Keeps σ above zero when a head's softplus underflows. */
const SIGMA_EPS = 1e-20;
/** softplus(x) is x to double precision above this. */
const SOFTPLUS_LINEAR_ABOVE = 30;

export type Params = {
  hidden: number;
  /** [FEATURE_COUNT × hidden], row-major. */
  w1: Float64Array;
  b1: Float64Array;
  /** [hidden × OUTPUTS], row-major. */
  w2: Float64Array;
  b2: Float64Array;
  /** [FEATURE_COUNT × OUTPUTS], row-major: the linear path from the features straight to the outputs, beside the hidden layer. */
  ws: Float64Array;
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
  return x > SOFTPLUS_LINEAR_ABOVE ? x : Math.log1p(Math.exp(x));
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
    for (let i = 0; i < FEATURE_COUNT; i++) z += x[xo + i]! * p.ws[i * OUTPUTS + k]!;
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
  const sigma = (limit > h.m50 ? h.m90 - h.m50 : h.m50 - h.m10) / Z90 + SIGMA_EPS;
  return (limit - h.m50) / sigma;
}

/** P(max within the horizon > limit), as the graph computes it; `hfeat` is the horizon feature. */
/** How far the limit lies above the newest value, in scale units, clipped to ±10. */
export function limitGap(limit: number, last: number, scale: number): number {
  return Math.max(-GAP_CLIP, Math.min(GAP_CLIP, (limit - last) / scale));
}

export function exhaustion(p: Pick<Params, "ca" | "cb" | "cc" | "cd" | "ce">, h: Heads, limit: number, hfeat: number, gap: number): number {
  const z0 = exhaustionZ(h, limit);
  const z = p.ca * z0 + p.ce * Math.min(z0, 0) + p.cb + p.cc * hfeat + p.cd * gap;
  return 0.5 * (1 - erf(z / Math.SQRT2));
}

/** The ONNX IR version and operator set the model is written for. */
const ONNX_IR_VERSION = 8;
const ONNX_OPSET = 13;
/** Columns of the quantiles output (p10, p50, p90). */
const QUANTILE_COLUMNS = 3;

type NodeProto = InstanceType<typeof onnx.NodeProto>;
type AttributeProto = InstanceType<typeof onnx.AttributeProto>;

/** The pieces of an ONNX graph, built in the order they are asked for (node order is graph order). */
class GraphBuilder {
  readonly nodes: NodeProto[] = [];

  tensor(name: string, dims: number[], data: ArrayLike<number>) {
    return onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, floatData: Array.from(data, (v) => Math.fround(v)) });
  }

  scalar(name: string, v: number) {
    return this.tensor(name, [1], [v]);
  }

  index(name: string, i: number) {
    return onnx.TensorProto.create({ name, dims: [1], dataType: onnx.TensorProto.DataType.INT64, int64Data: [i] });
  }

  /** Adds a node named after its one output; returns that name. */
  node(opType: string, input: string[], output: string, attribute: AttributeProto[] = []): string {
    this.nodes.push(onnx.NodeProto.create({ opType, input, output: [output], name: output, attribute }));
    return output;
  }

  intAttr(name: string, i: number): AttributeProto {
    return onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i });
  }

  /** A float input or output of N rows and `cols` columns. */
  io(name: string, cols: number) {
    return onnx.ValueInfoProto.create({
      name,
      type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimParam: "N" }, { dimValue: cols }] } } },
    });
  }
}

/** The weights and the constants the graph's nodes name. */
function initializers(b: GraphBuilder, p: Params) {
  return [
    b.tensor("w1", [FEATURE_COUNT, p.hidden], p.w1),
    b.tensor("b1", [p.hidden], p.b1),
    b.tensor("w2", [p.hidden, OUTPUTS], p.w2),
    b.tensor("b2", [OUTPUTS], p.b2),
    b.tensor("ws", [FEATURE_COUNT, OUTPUTS], p.ws),
    b.scalar("kq", p.kq),
    b.scalar("inv_z90", 1 / Z90),
    b.scalar("ca", p.ca),
    b.scalar("cb", p.cb),
    b.scalar("cc", p.cc),
    b.scalar("cd", p.cd),
    b.scalar("ce", p.ce),
    b.scalar("zero", 0),
    b.scalar("gap_min", -GAP_CLIP),
    b.scalar("gap_max", GAP_CLIP),
    b.scalar("inv_sqrt2", Math.SQRT1_2),
    b.index("ih", HORIZON_FEATURE),
    b.scalar("eps", SIGMA_EPS),
    b.scalar("one", 1),
    b.scalar("half", 1 / 2),
    ...Array.from({ length: OUTPUTS }, (_, i) => b.index(`i${i}`, i)),
  ];
}

/** The network, then the quantiles: last + scale · (c - kq·softplus(l), c, c + kq·softplus(u)). Returns the raw output columns of the max. */
function quantileNodes(b: GraphBuilder): { m: string; ml: string; mu: string } {
  const hidden = b.node("Tanh", [b.node("Gemm", ["features", "w1", "b1"], "z1")], "a1");
  const o = b.node("Add", [b.node("Gemm", [hidden, "w2", "b2"], "ohid"), b.node("MatMul", ["features", "ws"], "olin")], "o");
  const col = (i: number) => b.node("Gather", [o, `i${i}`], `o${i}`, [b.intAttr("axis", 1)]);
  const [c, l, u, m, ml, mu] = Array.from({ length: OUTPUTS }, (_, i) => col(i)) as [string, string, string, string, string, string];
  const p50 = b.node("Add", ["last", b.node("Mul", ["scale", c], "sc")], "p50");
  const wl = b.node("Mul", ["scale", b.node("Mul", [b.node("Softplus", [l], "spl"), "kq"], "kl")], "wl");
  const wu = b.node("Mul", ["scale", b.node("Mul", [b.node("Softplus", [u], "spu"), "kq"], "ku")], "wu");
  const p10 = b.node("Sub", [p50, wl], "p10");
  const p90 = b.node("Add", [p50, wu], "p90");
  b.node("Concat", [p10, p50, p90], "quantiles", [b.intAttr("axis", 1)]);
  return { m, ml, mu };
}

/** σ on each side of the max's median, z of the limit, recalibrated, then a normal tail beyond it. */
function exhaustionNodes(b: GraphBuilder, { m, ml, mu }: { m: string; ml: string; mu: string }): void {
  const m50 = b.node("Add", ["last", b.node("Mul", ["scale", m], "sm")], "m50");
  const sl = b.node("Add", [b.node("Mul", [b.node("Mul", ["scale", b.node("Softplus", [ml], "spml")], "wml"), "inv_z90"], "sl0"), "eps"], "sl");
  const su = b.node("Add", [b.node("Mul", [b.node("Mul", ["scale", b.node("Softplus", [mu], "spmu")], "wmu"), "inv_z90"], "su0"), "eps"], "su");
  const sigma = b.node("Where", [b.node("Greater", ["limit", m50], "above"), su, sl], "sigma");
  const z0 = b.node("Div", [b.node("Sub", ["limit", m50], "gap"), sigma], "z0");
  const hfeat = b.node("Gather", ["features", "ih"], "hfeat", [b.intAttr("axis", 1)]);
  const gap = b.node("Clip", [b.node("Div", [b.node("Sub", ["limit", "last"], "lgap"), "scale"], "lgaps"), "gap_min", "gap_max"], "lastgap");
  const zh = b.node("Add", [b.node("Add", [b.node("Mul", [z0, "ca"], "caz"), "cb"], "cazb"), b.node("Mul", [hfeat, "cc"], "cch")], "zh");
  const zneg = b.node("Mul", [b.node("Min", [z0, "zero"], "z0neg"), "ce"], "cez");
  const z = b.node("Add", [b.node("Add", [zh, b.node("Mul", [gap, "cd"], "cdg")], "zg"), zneg], "z");
  b.node("Mul", [b.node("Sub", ["one", b.node("Erf", [b.node("Mul", [z, "inv_sqrt2"], "zs")], "erfz")], "tail2"), "half"], "exhaustion");
}

/** The ONNX model (opset 13), serialised. */
export function buildOnnx(p: Params, meta: Metadata): Uint8Array {
  const b = new GraphBuilder();
  const initializer = initializers(b, p);
  exhaustionNodes(b, quantileNodes(b));
  const model = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    producerName: "umbra scripts/train-forecaster.ts",
    opsetImport: [{ domain: "", version: ONNX_OPSET }],
    metadataProps: Object.entries(meta).map(([key, value]) => ({ key, value })),
    graph: {
      name: "umbra-forecaster",
      node: b.nodes,
      initializer,
      input: [b.io("features", FEATURE_COUNT), b.io("last", 1), b.io("scale", 1), b.io("limit", 1)],
      output: [b.io("quantiles", QUANTILE_COLUMNS), b.io("exhaustion", 1)],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
