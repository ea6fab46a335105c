// The degradation suite's traces: seeded (the same seed, the same values),
// and each kind is what it says: a degrading trace reaches the failure
// level within its run, a calm one keeps its trend below the limit.
import { expect, test } from "bun:test";
import { FAILURE_LEVEL, traces } from "./degrade.ts";

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
