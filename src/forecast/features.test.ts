// The local view's order statistics (sliding medians, selected quantiles)
// equal what sorting each window gives, ties and short series included:
// the agent's fast path must build the very inputs the model was trained on.
import { expect, test } from "bun:test";
import { extract, FEATURE_COUNT, LOCAL_FEATURE } from "./features.ts";
import { rng } from "../shared/rng.ts";

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * (xs.length - 1)))]!;
const clip = (x: number) => Math.max(-10, Math.min(10, x));

/** The first nine local features, by sorting each window (the slow, obvious way). */
function reference(v: Float64Array, h: number, last: number, scale: number): number[] {
  const end = v.length;
  const rel = (x: number) => Math.fround(clip((x - last) / scale));
  const median = (to: number, k: number) => quantile(Array.from(v.subarray(Math.max(0, to - k), to)), 0.5);
  const out = [4, 12, 36].map((k) => rel(median(end, k)));
  const errors: number[] = [];
  for (let u = Math.max(12, end - h + 1 - 144); u <= end - h; u++) errors.push(v[u + h - 1]! - median(u, 12));
  if (errors.length >= 16) out.push(...[0.1, 0.5, 0.9].map((q) => Math.fround(clip(quantile(errors, q) / scale))), 1);
  else out.push(0, 0, 0, 0);
  const recent = Array.from(v.subarray(Math.max(0, end - 144)));
  out.push(rel(quantile(recent, 0.1)), rel(quantile(recent, 0.9)));
  return out;
}

test("the local view's medians and quantiles are a sort's, on smooth, discrete and spiky series of every length", () => {
  const r = rng(11);
  const x = new Float32Array(FEATURE_COUNT);
  for (let k = 0; k < 240; k++) {
    const n = 1 + r.int(500);
    const kind = k % 3;
    // discrete levels give ties; spikes give a window whose median is 0 while its mean is not
    const v = Float64Array.from({ length: n }, (_, i) => (kind === 0 ? Math.sin(i / 9) + r.next() : kind === 1 ? r.int(4) / 4 : r.next() < 0.05 ? 100 * r.next() : 0));
    for (const h of [1, 3, 15]) {
      const f = extract(v, n, 60_000, 1e12, h, x, 0);
      expect([k, h, ...Array.from(x.subarray(LOCAL_FEATURE, LOCAL_FEATURE + 9))]).toEqual([k, h, ...reference(v, h, f.last, f.scale)]);
    }
  }
});
