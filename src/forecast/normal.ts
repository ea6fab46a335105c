// The normal distribution's pieces the forecaster needs, in plain numbers.

/** z of the 90th percentile of a normal: p90 - p50 = Z90 σ. */
export const Z90 = 1.2815515655446004;

/** erf, Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7, as good as float32). */
export function erf(x: number): number {
  const s = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}
