// Runs the sampler in a worker thread: systeminformation parses command
// output synchronously (stalls of 25-180 ms were measured on the agent's
// loop), and the lease loop must never wait for it.
import { parentPort, workerData } from "node:worker_threads";
import { createSampler } from "./sampler.ts";
import type { WorkerMessage } from "./background.ts";

const intervalMs = (workerData as { intervalMs: number }).intervalMs;
const post = (m: WorkerMessage) => parentPort!.postMessage(m);
const sampler = createSampler({ warn: (error) => post({ ok: false, error }) });
// A slow sample skips ticks rather than piling up behind itself.
let busy = false;
setInterval(() => {
  if (busy) return;
  busy = true;
  sampler
    .sample()
    .then((sample) => post({ ok: true, sample }))
    .catch((err: Error) => post({ ok: false, error: `sample failed: ${err.message}` }))
    .finally(() => {
      busy = false;
    });
}, intervalMs);
