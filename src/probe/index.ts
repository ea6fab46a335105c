export { createSampler, type Sampler, type SamplerOptions } from "./sampler.ts";
export { startBackgroundSampler, type BackgroundSampler } from "./background.ts";
export type { HostMetrics, HostSample } from "./types.ts";
