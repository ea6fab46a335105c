// A share of the simulator test's chaos seeds, run in a worker thread so the
// test uses every core (src/sim/simulate.test.ts): the seeds `first`,
// `first + stride`, ... up to `last`, reported as one message.
import { parentPort, workerData } from "node:worker_threads";
import { chaosSeeds, type SeedShare } from "./seeds.ts";

parentPort!.postMessage(chaosSeeds(workerData as SeedShare));
