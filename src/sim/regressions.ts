// Every seed that once failed stays here and runs in the suite.
import type { SimArgs } from "./simulate.ts";

export const REGRESSIONS: Array<SimArgs & { why: string }> = [
  {
    seed: 5618, nodes: 5, services: 3, steps: 2000, profile: "chaos",
    why: "liveness: a holder certified after it had voted for a newer epoch kept renewing; two loyal voters and two voters for the replacement stayed short of a majority forever",
  },
  { seed: 880, nodes: 3, services: 2, steps: 2000, profile: "chaos", why: "safety: a voter that lost its vote record signed a second certificate of an epoch; one running grant per (epoch, holder) keeps one VIP holder" },
  { seed: 849, nodes: 3, services: 2, steps: 2000, profile: "chaos", why: "liveness: a holder whose add failed gave its epoch up, and nobody proposed: it was the only candidate left" },
  { seed: 938, nodes: 2, services: 2, steps: 2000, profile: "chaos", why: "liveness: two holders of different epochs in their own eyes, each having voted for the other, stood aside for ever" },
  { seed: 1425, nodes: 3, services: 3, steps: 2000, profile: "chaos", why: "safety: a voter re-sent its old vote (a grant) while it granted the holder it had voted to replace" },
  { seed: 8215, nodes: 5, services: 3, steps: 2000, profile: "chaos", why: "liveness: after a lost record, two certificates of one epoch; voters that adopted one refused to replace the other's dead holder" },
  { seed: 8291, nodes: 3, services: 3, steps: 2000, profile: "chaos", why: "safety: a holder of an old epoch re-won after a lost record learned a newer certificate naming it, its VIP still up" },
];
