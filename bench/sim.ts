// bench/sim: many seeded simulation runs of the real core under the chaos
// profile: seeds per second, violations (must be 0) and availability (the
// share of virtual time each service had a holder). Shards over the cores.
//
//   node bench/sim.ts [--seeds 10000] [--steps 2000] [--nodes 5] [--services 3] [--profile chaos] [--timing lan]

import { parseArgs } from "node:util";
import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { createInterface } from "node:readline";
import { simulate, PROFILES, TIMING_PROFILES, type Profile, type TimingProfile } from "../src/sim/simulate.ts";

const { values } = parseArgs({
  options: {
    seeds: { type: "string", default: "10000" },
    steps: { type: "string", default: "2000" },
    nodes: { type: "string", default: "5" },
    services: { type: "string", default: "3" },
    profile: { type: "string", default: "chaos" },
    timing: { type: "string", default: "lan" },
    shard: { type: "string" }, // "i/n": run seeds with seed % n == i and print one JSON line each
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  process.stdout.write("usage: node bench/sim.ts [--seeds 10000] [--steps 2000] [--nodes 5] [--services 3] [--profile chaos] [--timing lan|wan|edge]\n");
  process.exit(0);
}
const seeds = Number(values.seeds);
const args = { steps: Number(values.steps), nodes: Number(values.nodes), services: Number(values.services), profile: values.profile as Profile, timing: values.timing as TimingProfile };
if (!TIMING_PROFILES.includes(args.timing)) {
  process.stderr.write(`bench/sim: --timing must be one of ${TIMING_PROFILES.join(", ")}\n`);
  process.exit(2);
}
if (!PROFILES.includes(args.profile)) {
  process.stderr.write(`bench/sim: --profile must be one of ${PROFILES.join(", ")}\n`);
  process.exit(2);
}

if (values.shard !== undefined) {
  const [i, n] = values.shard.split("/").map(Number) as [number, number];
  for (let seed = 1 + i; seed <= seeds; seed += n) {
    const r = simulate({ seed, ...args });
    process.stdout.write(JSON.stringify({ seed, ok: r.ok, violation: r.violation, availability: r.availability, failovers: r.failovers, messages: r.messages, acked: r.ackedWrites, wipes: r.diskLosses }) + "\n");
  }
  process.exit(0);
}

const shards = Math.max(1, availableParallelism());
const t0 = performance.now();
let done = 0;
let availability = 0;
let failovers = 0;
let messages = 0;
let acked = 0;
let wipes = 0;
const violations: string[] = [];
await Promise.all(
  Array.from({ length: shards }, (_, i) => {
    const p = spawn(process.execPath, [import.meta.filename, "--shard", `${i}/${shards}`, "--seeds", String(seeds), "--steps", String(args.steps), "--nodes", String(args.nodes), "--services", String(args.services), "--profile", args.profile, "--timing", args.timing], { stdio: ["ignore", "pipe", "inherit"] });
    createInterface({ input: p.stdout! }).on("line", (l) => {
      const r = JSON.parse(l);
      done += 1;
      availability += r.availability;
      failovers += r.failovers;
      messages += r.messages;
      acked += r.acked;
      wipes += r.wipes;
      if (!r.ok) violations.push(`seed ${r.seed}: ${r.violation} (umbra simulate --seed ${r.seed} --nodes ${args.nodes} --services ${args.services} --steps ${args.steps} --profile ${args.profile} --timing ${args.timing})`);
      if (done % 1000 === 0) process.stderr.write(`  ${done}/${seeds} seeds, ${violations.length} violations\n`);
    });
    return new Promise<void>((res, rej) => p.on("exit", (code) => (code === 0 ? res() : rej(new Error(`shard ${i} exited ${code}`)))));
  }),
);
const secs = (performance.now() - t0) / 1000;
process.stdout.write(
  [
    `bench/sim: ${done} seeds × ${args.steps} steps, ${args.nodes} nodes, ${args.services} services, profile ${args.profile}, timing ${args.timing}, ${shards} processes`,
    `  seeds/s          ${(done / secs).toFixed(1)}  (${secs.toFixed(1)} s wall)`,
    `  violations       ${violations.length}`,
    `  availability     ${((availability / done) * 100).toFixed(2)} % of virtual time each service had a holder (mean)`,
    `  failovers/seed   ${(failovers / done).toFixed(1)}`,
    `  messages/seed    ${Math.round(messages / done)}`,
    `  state writes     ${(acked / done).toFixed(1)} acknowledged per seed, none lost; ${wipes} runs in which a host lost its disk`,
    ...violations.slice(0, 20).map((v) => `  ${v}`),
  ].join("\n") + "\n",
);
process.exitCode = violations.length > 0 ? 1 : 0;
