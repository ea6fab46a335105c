// `umbra simulate`: the host core of every host on a virtual clock and a hostile network.
import { EXIT, fail, parse } from "../args.ts";

export const HELP = `usage: umbra simulate [--seed 1] [--seeds 1] [--nodes 3] [--services 1] [--steps 2000]
                      [--profile lan|wan|chaos] [--timing lan|wan|edge] [--trace] [--json]

Runs the agent's own host core (src/decide/host.ts) for every host on a
virtual clock (one agent tick a step) and a network that drops, delays,
duplicates and partitions, with crashes, lost disks, restarts, clock drift
and jumps, operator and predicted moves, and VIP changes that take time and
fail, all drawn from the seed. Safety is checked after every step; then the
network heals, a minority of hosts may stay dead, and every service must
have a holder again.
The same seed gives the same trace. A violation prints a reproduction
command and the seed's fault schedule shrunk to the fewest faults that
still fail, and exits 1.
  --seed N       first seed (default 1)
  --seeds M      run M seeds from N (default 1)
  --nodes K      hosts, 2 to 128, all candidates and voters (default 3)
  --services S   services, one quorum per service (default 1)
  --steps T      agent ticks of virtual time (default 2000: 10 s at lan timing)
  --profile P    lan, wan or chaos: the ranges the seed draws faults from (default chaos)
  --timing T     lan, wan or edge: the agent's timing profile every host runs (default lan)
  --variant V    run a deliberately broken core to see the checker catch it:
                 double-vote, ignore-lease, no-grant-wait, planned-vote (signs a
                 planned move while a rival's grant runs), ignore-failed-drop (takes
                 a failed VIP removal for done) or local-ack (a writer that
                 acknowledges state writes no shadow holds) (default correct)
  --trace        print the event log of each run
  --json         one JSON object per run
example: umbra simulate --seed 1 --seeds 500 --nodes 5 --services 3
`;

export async function run(rest: string[]): Promise<void> {
  const v = parse("simulate", rest, {
    seed: { type: "string", default: "1" },
    seeds: { type: "string", default: "1" },
    nodes: { type: "string", default: "3" },
    services: { type: "string", default: "1" },
    steps: { type: "string", default: "2000" },
    profile: { type: "string", default: "chaos" },
    timing: { type: "string", default: "lan" },
    variant: { type: "string", default: "correct" },
    trace: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  });
  if (v.help) return void process.stdout.write(HELP);
  const int = (k: string, lo: number, hi: number): number => {
    const n = Number(v[k]);
    if (!Number.isInteger(n) || n < lo || n > hi) fail(EXIT.usage, [`simulate: --${k} must be a whole number from ${lo} to ${hi}, got "${v[k]}"`]);
    return n;
  };
  const { simulate, shrink, PROFILES, TIMING_PROFILES, NODES_MIN, NODES_MAX, VARIANTS } = await import("../../sim/index.ts");
  const profile = v.profile as (typeof PROFILES)[number];
  if (!PROFILES.includes(profile)) fail(EXIT.usage, [`simulate: --profile must be one of ${PROFILES.join(", ")}, got "${v.profile}"`]);
  const timing = v.timing as (typeof TIMING_PROFILES)[number];
  if (!TIMING_PROFILES.includes(timing)) fail(EXIT.usage, [`simulate: --timing must be one of ${TIMING_PROFILES.join(", ")}, got "${v.timing}"`]);
  const variant = v.variant as (typeof VARIANTS)[number];
  if (!VARIANTS.includes(variant)) fail(EXIT.usage, [`simulate: --variant must be one of ${VARIANTS.join(", ")}, got "${v.variant}"`]);
  const a = { seed: int("seed", 0, 2 ** 31 - 1), seeds: int("seeds", 1, 1_000_000), nodes: int("nodes", NODES_MIN, NODES_MAX), services: int("services", 1, 32), steps: int("steps", 10, 10_000_000) };
  let failed = 0;
  const t0 = performance.now();
  for (let seed = a.seed; seed < a.seed + a.seeds; seed++) {
    const r = simulate({ seed, nodes: a.nodes, services: a.services, steps: a.steps, profile, timing, variant });
    const repro = `umbra simulate --seed ${seed} --nodes ${a.nodes} --services ${a.services} --steps ${a.steps} --profile ${profile}${timing === "lan" ? "" : ` --timing ${timing}`}${variant === "correct" ? "" : ` --variant ${variant}`}`;
    if (v.json) process.stdout.write(JSON.stringify({ ...r, trace: v.trace ? r.trace : undefined, reproduce: repro }) + "\n");
    else {
      if (v.trace) for (const e of r.trace) process.stdout.write(`${e.atMs.toFixed(3).padStart(12)} ${e.host.padEnd(4)} ${e.what}\n`);
      if (a.seeds === 1 || !r.ok) process.stdout.write(`seed ${seed}: ${r.ok ? "ok" : "VIOLATION"}  failovers ${r.failovers}  availability ${(r.availability * 100).toFixed(1)}%  messages ${r.messages}  faults ${r.faults}  trace ${r.traceHash}\n`);
    }
    if (!r.ok) {
      failed += 1;
      process.stderr.write(`umbra: seed ${seed}: ${r.violation}\nreproduce: ${repro} --trace\n`);
      const sh = shrink({ seed, nodes: a.nodes, services: a.services, steps: a.steps, profile, timing, variant });
      if (sh !== null) {
        process.stderr.write(`shrunk to ${sh.schedule.length} of ${sh.of} faults (${sh.runs} runs), still: ${sh.violation}\n`);
        for (const f of sh.schedule) process.stderr.write(`  ${f.atMs.toFixed(1).padStart(9)} ms  ${JSON.stringify({ ...f, atMs: undefined })}\n`);
      }
    }
    if (!v.json && a.seeds > 1 && (seed - a.seed + 1) % 1000 === 0) process.stderr.write(`  ${seed - a.seed + 1}/${a.seeds} seeds...\n`);
  }
  if (!v.json && a.seeds > 1) process.stdout.write(`${a.seeds} seeds, ${failed} with violations, ${((a.seeds * 1000) / (performance.now() - t0)).toFixed(1)} seeds/s\n`);
  process.exitCode = failed > 0 ? 1 : 0;
  return;
}
