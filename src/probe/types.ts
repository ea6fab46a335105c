/** From the seed data shapes. diskIO in operations/s; networkLatency in ms (median mesh RTT, filled by the agent). */
export type HostMetrics = { cpuLoad: number; memoryUsage: number; diskIO: number; networkLatency: number | null };

/** One probe sample: HostMetrics plus storage and bandwidth. Ratios are 0..1. */
export type HostSample = HostMetrics & {
  /** Wall-clock ms when sampled. */
  ts: number;
  /** Highest use ratio among real filesystems. */
  storageUsage: number;
  storageIOBytesPerSec: number;
  networkBandwidthBytesPerSec: number;
};
