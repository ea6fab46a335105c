// The simulator's front door: `umbra simulate` runs seeds and shrinks a
// failing one; tests drive a cluster of real host cores directly.
export { simulate, shrink, PROFILES, TIMING_PROFILES, NODES_MIN, NODES_MAX } from "./simulate.ts";
export { VARIANTS, createCluster, type SimOptions } from "./cluster.ts";
