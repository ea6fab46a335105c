import { Worker } from "node:worker_threads";
import type { HostSample } from "./types.ts";

export type BackgroundSampler = { stop(): Promise<void> };
/** What the worker posts: a sample, or a failure worth a warning. */
export type WorkerMessage = { ok: true; sample: HostSample } | { ok: false; error: string };

/** Samples every intervalMs in a worker thread; calls back on the main thread. */
export function startBackgroundSampler(intervalMs: number, onSample: (s: HostSample) => void, onError: (message: string) => void): BackgroundSampler {
  const w = new Worker(new URL("./worker.ts", import.meta.url), { workerData: { intervalMs } });
  w.on("message", (m: WorkerMessage) => (m.ok ? onSample(m.sample) : onError(m.error)));
  w.on("error", (err) => onError(`sampler worker died: ${err.message}`));
  w.unref();
  return { stop: async () => void (await w.terminate()) };
}
