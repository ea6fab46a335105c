// Runs the sampler in a worker thread: systeminformation parses command
// output synchronously (stalls of 25-180 ms were measured on the agent's
// loop), and the lease loop must never wait for it.
import { parentPort, workerData } from "node:worker_threads";
import { createSampler } from "./sampler.ts";

const intervalMs = (workerData as { intervalMs: number }).intervalMs;
const sampler = createSampler();
let busy = false;
setInterval(() => {
  if (busy) return;
  busy = true;
  sampler
    .sample()
    .then((s) => parentPort!.postMessage({ ok: true, sample: s }))
    .catch((err: Error) => parentPort!.postMessage({ ok: false, error: err.message }))
    .finally(() => {
      busy = false;
    });
}, intervalMs);
