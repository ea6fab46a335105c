// Every seed that once failed stays here and runs in the suite.
import type { SimArgs } from "./simulate.ts";

export const REGRESSIONS: Array<SimArgs & { why: string }> = [
  {
    seed: 5618, nodes: 5, services: 3, steps: 2000, profile: "chaos",
    why: "liveness: a holder certified after it had voted for a newer epoch kept renewing; two loyal voters and two voters for the replacement stayed short of a majority forever",
  },
];
