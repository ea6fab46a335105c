export { createSampler, type Sampler } from "./sampler.ts";
export type { HostMetrics, HostSample } from "./types.ts";
