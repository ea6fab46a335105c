// The probe's sample types live with the rest of the shared vocabulary
// (shared/metrics.ts); this file keeps the probe's own name for them.
export type { HostMetrics, HostSample } from "../shared/metrics.ts";
