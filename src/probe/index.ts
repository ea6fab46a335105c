// The probe's front door: host samplers (live, in a worker, or a replayed
// series) and the sample types.
export { createSampler, type Sampler, type SamplerOptions } from "./sampler.ts";
export { startBackgroundSampler, type BackgroundSampler } from "./background.ts";
export type { HostMetrics, HostSample } from "./types.ts";
export { startReplaySampler } from "./replay.ts";
