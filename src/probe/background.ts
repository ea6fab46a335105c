// Samples this host every intervalMs on the agent's own thread. Every
// reading is asynchronous now (procfs.ts for disks, storage and network;
// systeminformation only for CPU and memory, which read /proc without a
// child process), so the lease loop does not wait for it. It ran in a worker
// thread while systeminformation spawned shells and parsed their output
// synchronously (stalls of 25-180 ms on the loop); that thread, a second V8
// isolate with its own copy of the modules, cost 27 MB of the agent's
// memory (bench/footprint).
import { createSampler } from "./sampler.ts";
import type { HostSample } from "./types.ts";

export type BackgroundSampler = { stop(): Promise<void> };

/** Samples every intervalMs; a slow sample skips ticks rather than piling up behind itself. */
export function startBackgroundSampler(intervalMs: number, onSample: (s: HostSample) => void, onError: (message: string) => void): BackgroundSampler {
  const sampler = createSampler({ warn: onError });
  let busy = false;
  let stopped = false;
  const timer = setInterval(() => {
    if (busy || stopped) return;
    busy = true;
    sampler
      .sample()
      .then((sample) => {
        if (!stopped) onSample(sample);
      })
      .catch((err: Error) => onError(`sample failed: ${err.message}`))
      .finally(() => {
        busy = false;
      });
  }, intervalMs);
  timer.unref();
  return {
    stop: async () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}
