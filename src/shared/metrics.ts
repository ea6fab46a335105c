// The vocabulary of host metrics every part speaks: what a probe samples,
// what beacons carry, what the forecaster reads and what limits name. The
// probe fills these; nothing here reads a host.

/** The numeric metrics a series can be replayed into and a forecast limit can name. */
export const HOST_METRICS = ["cpuLoad", "memoryUsage", "diskIO", "storageUsage", "storageIOBytesPerSec", "networkBandwidthBytesPerSec"] as const;
export type HostMetric = (typeof HOST_METRICS)[number];
/** The metrics that are shares of a host's capacity (0..1): 1 minus each is what is free. */
export const RATIO_METRICS = ["cpuLoad", "memoryUsage", "storageUsage"] as const;

/**
 * The host metrics of the seed data shapes: what the forecaster reads.
 * Ratios are 0..1.
 */
export type HostMetrics = {
  /** CPU busy share since the previous sample, 0..1. */
  cpuLoad: number;
  /** Active memory (not buffers or page cache) over total, 0..1. */
  memoryUsage: number;
  /** Block-device read + write operations per second. */
  diskIO: number;
  /** Median mesh RTT in ms, filled by the agent; null until a peer has answered. The sampler leaves it null. */
  networkLatency: number | null;
};

/** One probe sample: HostMetrics plus storage and bandwidth. */
export type HostSample = HostMetrics & {
  /** Wall-clock ms when sampled. */
  ts: number;
  /** Highest use ratio among real, writable filesystems, 0..1; refreshed every 10 s. */
  storageUsage: number;
  /** Filesystem read + write bytes per second. */
  storageIOBytesPerSec: number;
  /** rx + tx bytes per second summed over non-loopback interfaces. */
  networkBandwidthBytesPerSec: number;
};
