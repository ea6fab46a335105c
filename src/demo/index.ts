// The demo's surface: `umbra demo` runs runDemo (run.ts); the scenario
// tests and the benchmarks start their clusters through cluster.ts.

export { runDemo, DEMO_PREFIX, POLL_INTERVAL_MS, POLL_TIMEOUT_MS, type DemoOptions } from "./run.ts";
export { cleanupStale, createTopology, type Topology } from "./topology.ts";
export { NODE } from "./cluster.ts";
