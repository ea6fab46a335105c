// The degradation suite's traces: seeded (the same seed, the same values),
// and each kind is what it says: a degrading trace reaches the failure
// level within its run, a calm one keeps its trend below the limit.
import { expect, test } from "bun:test";
import { FAILURE_LEVEL, judge, traces, type Replayed } from "./degrade.ts";

test("traces are seeded, degrading ones reach the failure level, calm ones mostly stay clear of it", () => {
  const a = traces(1);
  const b = traces(1);
  for (let i = 0; i < a.length; i++) {
    const ts = Array.from({ length: 50 }, (_, k) => Math.floor((k * a[i]!.durationMs) / 50));
    expect(ts.map((t) => a[i]!.value(t))).toEqual(ts.map((t) => b[i]!.value(t)));
  }
  for (const tr of traces(3)) {
    let over = 0;
    let n = 0;
    for (let t = 0; t < tr.durationMs; t += tr.sampleMs) {
      n++;
      if (tr.value(t) >= FAILURE_LEVEL) over++;
    }
    if (tr.degrading) expect([tr.name, over > 0]).toEqual([tr.name, true]);
    else expect([tr.name, over / n < 0.01]).toEqual([tr.name, true]);
  }
});

test("one replay is judged at each setting by the proactive machine: sustained on the data's clock, lead against the failure", () => {
  const [leak] = traces(1);
  const calm = traces(1).find((t) => !t.degrading)!;
  const MIN = 60_000;
  // Probabilities a minute apart, read a second after each step's data.
  const replayed = (ps: number[], failureAtMs: number | null): Replayed => ({ failureAtMs, forecasts: ps.map((probability, i) => ({ t: i * MIN + 1_000, dataMs: i * MIN, probability })) });
  const r = replayed([0.5, 0.82, 0.86, 0.7, 0.9, 0.95, 0.99, 0.99], 8 * MIN);
  // 0.8 for 60 s: 0.82 then 0.86 (data 1 and 2 minutes in) is enough.
  expect(judge(leak!, r, { threshold: 0.8, sustainMs: MIN })).toMatchObject({ moveAtMs: 2 * MIN + 1_000, leadMs: 6 * MIN - 1_000, ok: true });
  // 0.85: 0.86 alone, then the dip to 0.7; sustained from 4 minutes in, so at 5.
  expect(judge(leak!, r, { threshold: 0.85, sustainMs: MIN })).toMatchObject({ moveAtMs: 5 * MIN + 1_000, ok: true });
  // 0.9 for 3 minutes: sustained from 4 minutes in, moves at 7, 59 s before the failure: late.
  expect(judge(leak!, r, { threshold: 0.9, sustainMs: 3 * MIN })).toMatchObject({ moveAtMs: 7 * MIN + 1_000, leadMs: MIN - 1_000, ok: false });
  expect(judge(leak!, r, { threshold: 0.995, sustainMs: MIN })).toMatchObject({ moveAtMs: null, ok: false });
  // A calm trace is right when nothing moves, wrong when anything does.
  expect(judge(calm, r, { threshold: 0.995, sustainMs: MIN }).ok).toBe(true);
  expect(judge(calm, r, { threshold: 0.8, sustainMs: MIN }).ok).toBe(false);
  // Sustain runs on the data's clock: read 2 s apart, data a minute apart, is sustained; read a minute apart, data 2 s apart, is not.
  const late = (fs: Array<[t: number, dataMs: number, p: number]>): Replayed => ({ failureAtMs: 10 * MIN, forecasts: fs.map(([t, dataMs, probability]) => ({ t, dataMs, probability })) });
  expect(judge(leak!, late([[MIN + 59_000, MIN, 0.9], [2 * MIN + 1_000, 2 * MIN, 0.9]]), { threshold: 0.8, sustainMs: MIN }).moveAtMs).toBe(2 * MIN + 1_000);
  expect(judge(leak!, late([[MIN, MIN, 0.9], [2 * MIN, MIN + 2_000, 0.9]]), { threshold: 0.8, sustainMs: MIN }).moveAtMs).toBe(null);
  // Forecasts drained at one sample time are fed together, then one tick: the newest decides.
  expect(judge(leak!, late([[MIN, MIN, 0.9], [3 * MIN, 2 * MIN, 0.9], [3 * MIN, 3 * MIN, 0.5]]), { threshold: 0.8, sustainMs: MIN }).moveAtMs).toBe(null);
});
