// Proves the simulator: hundreds of chaos seeds run the real core with no
// violation; a seed replays bit for bit; and the checker can fail: each
// deliberately broken core is caught within a bounded number of seeds.
import { describe, expect, test } from "bun:test";
import { drawSchedule, runSchedule, shrink, simulate } from "./simulate.ts";
import type { Variant } from "./cluster.ts";
import { REGRESSIONS } from "./regressions.ts";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { SeedReport, SeedShare } from "./seeds.ts";

describe("simulator", () => {
  test("500 chaos seeds (3 and 5 hosts, 2 services, 2000 steps): zero violations (no acknowledged write lost either), services mostly held", async () => {
    // The seeds are split over worker threads, one per core (at most 4): the same 500 seeds, in less wall time.
    const workers = Math.max(1, Math.min(4, availableParallelism()));
    const reports = await Promise.all(
      Array.from({ length: workers }, (_, k) => {
        const share: SeedShare = { first: k + 1, last: 500, stride: workers, steps: 2000 };
        return new Promise<SeedReport>((resolve, reject) => {
          const w = new Worker(new URL("./seeds.worker.ts", import.meta.url), { workerData: share });
          let report: SeedReport | null = null;
          w.once("message", (r: SeedReport) => (report = r));
          w.once("error", reject);
          w.once("exit", (code) => (report !== null ? resolve(report) : reject(new Error(`a seed worker exited (${code}) before it reported`))));
        });
      }),
    );
    const seeds = reports.reduce((n, r) => n + r.seeds, 0);
    expect(seeds).toBe(500);
    expect(reports.flatMap((r) => r.failures)).toEqual([]);
    // chaos drops up to 30% of messages and partitions often; a holder still serves most of the time
    expect(reports.reduce((a, r) => a + r.availability, 0) / seeds).toBeGreaterThan(0.5);
    expect(reports.reduce((a, r) => a + r.acked, 0)).toBeGreaterThan(500); // the writes invariant 3 guards did happen
    // Only a bound on a runaway: beside the model check (scripts/test.sh) the seeds take 205-250 s on CI's 2 cores, 114 s alone.
  }, 600_000);

  test("a majority lost for good: the survivors hold every service on an operator's lowered quorum, certificates signed by fewer than a majority of all voters", () => {
    let lowered = 0;
    let phases = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const r = simulate({
        seed,
        nodes: 5,
        services: 2,
        steps: 2000,
        profile: "chaos",
        onEnd: (c) => {
          if (c.trace.some((e) => e.what.startsWith("lowered quorums"))) phases += 1;
          lowered += c.certificates().filter((x) => x.votes.length < 3).length;
        },
      });
      expect(r.violation).toBeNull();
    }
    expect(phases).toBeGreaterThan(5);
    expect(lowered).toBeGreaterThan(5);
  }, 120_000);

  test.each(REGRESSIONS)("regression: seed $seed ($why)", (args) => {
    expect(simulate(args).violation).toBeNull();
  });

  test("the same seed gives the same trace; another seed another", () => {
    const a = simulate({ seed: 77, nodes: 5, services: 3, steps: 2000, profile: "chaos" });
    const b = simulate({ seed: 77, nodes: 5, services: 3, steps: 2000, profile: "chaos" });
    const c = simulate({ seed: 78, nodes: 5, services: 3, steps: 2000, profile: "chaos" });
    expect(a.trace.length).toBeGreaterThan(10);
    expect(b.traceHash).toBe(a.traceHash);
    expect(JSON.stringify(b.trace)).toBe(JSON.stringify(a.trace));
    expect(c.traceHash).not.toBe(a.traceHash);
  });

  test.each<[Variant, number, RegExp]>([
    ["double-vote", 50, /two certificates|vote went back|two VIP holders/],
    ["ignore-lease", 50, /two VIP holders|two valid leases/],
    ["no-grant-wait", 50, /two VIP holders|two valid leases|two certificates/],
    // With the kernel-side lease, a failed removal the shell takes for done is no longer unsafe (the fence
    // silences the address); without it, a killed agent or a long pause puts the VIP on two hosts.
    ["no-kernel-lease", 100, /two VIP holders/],
    // planned-vote (the old rule) needs a planned move right after a rival's election the voter never saw
    // decided: random schedules rarely line that up, so testdata/planned-vote-old-rule.txt shows it caught.
    // rarer: a disk must be lost within a sync interval of a write on it
    ["local-ack", 400, /acknowledged write lost/],
  ])("a broken core (%s) is caught within %i seeds", (variant, seeds, kind) => {
    let caught: string | null = null;
    for (let seed = 1; seed <= seeds && caught === null; seed++) {
      caught = simulate({ seed, nodes: 3, services: 2, steps: 2000, profile: "chaos", variant }).violation;
    }
    expect(caught).not.toBeNull();
    expect(caught!).toMatch(kind);
  }, 60_000);

  test("a failing seed's schedule shrinks to a 1-minimal one that still fails", () => {
    // find a seed the ignore-lease core fails with a few faults
    let args = null;
    for (let seed = 1; seed <= 50 && args === null; seed++) {
      const a = { seed, nodes: 3, services: 1, steps: 2000, profile: "chaos" as const, variant: "ignore-lease" as const };
      if (!simulate(a).ok && drawSchedule(a).schedule.length >= 3) args = a;
    }
    expect(args).not.toBeNull();
    const sh = shrink(args!)!;
    expect(sh.schedule.length).toBeLessThan(sh.of);
    const { params } = drawSchedule(args!);
    expect(runSchedule(args!, params, sh.schedule).ok).toBe(false);
    for (let i = 0; i < sh.schedule.length; i++) {
      expect(runSchedule(args!, params, sh.schedule.filter((_, j) => j !== i)).ok).toBe(true);
    }
    // and a passing seed does not shrink
    expect(shrink({ seed: 1, nodes: 3, services: 1, steps: 2000, profile: "chaos" })).toBeNull();
  }, 60_000);
});
