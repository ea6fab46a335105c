// Experiment: a trend view alone over bench/degrade's traces.
import { traces, FAILURE_LEVEL } from "../bench/degrade.ts";
const MIN = 60_000;
const K = Number(process.env.K ?? 15), SOON = Number(process.env.SOON ?? 4), TMIN = Number(process.env.TMIN ?? 3), DAYSTEPS = 1440, MARGIN = Number(process.env.MARGIN ?? 0.0);
function p(means: number[], limit: number): number {
  const n = means.length;
  if (n < K + 60) return 0;
  let sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (let i = 0; i < K; i++) { const x = i, y = means[n - K + i]!; sx += x; sy += y; sxx += x * x; sxy += x * y; }
  const s = (K * sxy - sx * sy) / (K * sxx - sx * sx);
  const b = (sy - s * sx) / K;
  const L = b + s * (K - 1);
  let rss = 0; for (let i = 0; i < K; i++) { const r = means[n - K + i]! - (b + s * i); rss += r * r; }
  const se = Math.sqrt(rss / (K - 2) / (sxx - sx * sx / K));
  if (s <= 0 || s / se < TMIN) return 0;
  let ceil = -Infinity; for (let i = Math.max(0, n - K - DAYSTEPS); i < n - K; i++) ceil = Math.max(ceil, means[i]!);
  if (L <= ceil + MARGIN) return 0;
  const tc = (limit - L) / s; // steps (minutes)
  if (process.env.GAP) return limit - L <= Number(process.env.GAP) && tc <= Number(process.env.TCMAX ?? 8) ? 1 : 0;
  return Math.max(0, Math.min(1, (2 * SOON - tc) / SOON));
}
const seeds = Number(process.env.SEEDS ?? 10);
let inTime = 0, deg = 0, falseMoves = 0;
for (let seed = 1; seed <= seeds; seed++) for (const tr of traces(seed)) {
  const means: number[] = [], peaks: number[] = []; let pk = -Infinity, acc = 0, cnt = 0, failAt: number | null = null, moveAt: number | null = null, above = 0;
  for (let t = 0; t < tr.durationMs; t += tr.sampleMs) {
    const v = tr.value(t);
    if (failAt === null && v >= FAILURE_LEVEL) failAt = t;
    acc += v; cnt++; pk = Math.max(pk, v);
    if ((t + tr.sampleMs) % MIN === 0) {
      means.push(acc / cnt); peaks.push(pk); pk = -Infinity; acc = 0; cnt = 0;
      if (moveAt === null) { const pr = Math.max(p(means, 0.95), process.env.PEAKS ? p(peaks, 0.95) : 0); above = pr >= 0.8 ? above + 1 : 0; if (above >= Number(process.env.NEED ?? 2)) moveAt = t; }
    }
  }
  if (tr.degrading) { deg++; const ok = moveAt !== null && (failAt === null || failAt - moveAt >= MIN); if (ok) inTime++; if (!tr.name.startsWith("CPU") && !process.env.ALL) continue; console.log(seed, tr.name, "fail", failAt && failAt / MIN, "move", moveAt && moveAt / MIN, ok ? "ok" : "MISS"); }
  else if (moveAt !== null) { falseMoves++; console.log(seed, tr.name, "FALSE MOVE at", moveAt / MIN, "min"); }
}
console.log({ K, SOON, TMIN, MARGIN, inTime, deg, falseMoves });
