// The simulator test's chaos seeds: one share of them (every `stride`-th
// seed from `first`), so the test can split them over worker threads
// (seeds.worker.ts) and still run exactly the same seeds.
import { simulate } from "./simulate.ts";

export type SeedShare = { first: number; last: number; stride: number; steps: number };
export type SeedReport = { seeds: number; failures: string[]; availability: number; acked: number };

/** Runs a share of the chaos seeds: 3 hosts, or 5 on every fifth seed; 2 services. */
export function chaosSeeds({ first, last, stride, steps }: SeedShare): SeedReport {
  const out: SeedReport = { seeds: 0, failures: [], availability: 0, acked: 0 };
  for (let seed = first; seed <= last; seed += stride) {
    const nodes = seed % 5 === 0 ? 5 : 3;
    const r = simulate({ seed, nodes, services: 2, steps, profile: "chaos", onEnd: (c) => (out.acked += c.services.reduce((n, sv) => n + c.acked(sv).size, 0)) });
    if (!r.ok) out.failures.push(`umbra simulate --seed ${seed} --nodes ${nodes} --services 2 --steps ${steps} --profile chaos: ${r.violation}`);
    out.availability += r.availability;
    out.seeds++;
  }
  return out;
}
