import { describe, expect, test } from "bun:test";
import { hostId, type HostId } from "../shared/ids.ts";
import { initialShadowCount, laterWord, nextTickMs, step, wanted, type ShadowCountState } from "./shadowcount.ts";

const [h2, h3, h4, h5] = [hostId("h2"), hostId("h3"), hostId("h4"), hostId("h5")];
const POOL = [h2, h3, h4, h5];
const CFG = { min: 1, max: 3, load: 0.8, band: 0.3, cooldownMs: 1_000, staleMs: 10_000, reserve: { cpuLoad: 0.2 } };
type Opts = { alive?: HostId[]; inSync?: HostId[]; free?: Record<string, Record<string, number>>; holding?: boolean; epoch?: number };
const view = (o: Opts = {}) => ({ holding: o.holding ?? true, epoch: o.epoch ?? 1, pool: POOL, alive: o.alive ?? POOL, inSync: o.inSync ?? POOL, free: o.free ?? {}, previous: null, drained: o.inSync ?? POOL });
const tick = (s: ShadowCountState, now: number, o: Opts = {}) => step(s, { type: "tick", ...view(o) }, now);
const fc = (s: ShadowCountState, p90: number, p10: number, now: number) => step(s, { type: "forecast", p90, p10 }, now).state;
/** Ticks until nothing is due before `until`; returns the warm sets it went through. */
function run(s: ShadowCountState, from: number, until: number, o: Opts = {}): { s: ShadowCountState; sets: string[] } {
  const sets: string[] = [];
  let now = from;
  for (let i = 0; i < 50; i++) {
    const out = tick(s, now, o);
    s = out.state;
    for (const e of out.effects) sets.push(`${now}:${e.word.warm.join(",")}`);
    const next = nextTickMs(s, view(o), now);
    if (next > until) break;
    now = Math.max(now + 1, next);
  }
  return { s, sets };
}

describe("shadow count", () => {
  test("calm: the configured shadows cool down to min after the cooldown, the last listed first", () => {
    const s = initialShadowCount(CFG, [h2, h3]);
    expect(wanted(s, 0)).toEqual({ n: 1, why: "no fresh forecast" });
    const r = run(s, 0, 5_000);
    expect(r.sets).toEqual(["1000:h2"]);
  });

  test("a high and uncertain forecast wants two more (up to max), a cooldown apart; calm again, back to min", () => {
    let s = fc(initialShadowCount(CFG, [h2]), 0.9, 0.4, 0);
    expect(wanted(s, 0)).toMatchObject({ n: 3 });
    let r = run(s, 0, 5_000);
    expect(r.sets).toEqual(["0:h2,h3", "1000:h2,h3,h4"]);
    s = fc(r.s, 0.5, 0.45, 5_000);
    r = run(s, 5_000, 20_000);
    expect(r.sets).toEqual(["6000:h2,h3", "7000:h2"]);
  });

  test("a warm host that dies below min is replaced at once; the capacity check skips a host without room; it comes back and the surplus goes cold", () => {
    const s = run(initialShadowCount(CFG, [h2]), 0, 100).s;
    const free = { h3: { cpuLoad: 0.1 }, h4: { cpuLoad: 0.5 } };
    const out = tick(s, 200, { alive: [h3, h4, h5], free });
    expect(out.effects).toEqual([{ type: "warm", word: { epoch: 1, seq: 1, warm: [h2, h4] }, why: "h2 not alive: h4 warms up in its place" }]);
    const back = run(out.state, 300, 5_000, { free });
    expect(back.sets).toEqual(["1200:h2"]); // h2 back: two warm, one wanted; none dead, so the last added goes
  });

  test("a host cools only while the warm ones that stay are in sync (a write it alone acknowledged is not stranded)", () => {
    const s = initialShadowCount(CFG, [h2, h3]);
    expect(run(s, 0, 5_000, { inSync: [h3] }).sets).toEqual([]); // h2 would stay and is not in sync: h3 keeps warm
    expect(run(s, 0, 5_000, { inSync: [h2, h3] }).sets).toEqual(["1000:h2"]); // h3 drained, h2 in sync: h3 cools
  });

  test("only the holder decides; others adopt the latest word (later epoch, then more changes)", () => {
    const s = initialShadowCount(CFG, [h2, h3]);
    expect(tick(s, 5_000, { holding: false }).effects).toEqual([]);
    const later = step(s, { type: "word", word: { epoch: 2, seq: 1, warm: [h4] } }, 1).state;
    expect(later.word.warm).toEqual([h4]);
    expect(step(later, { type: "word", word: { epoch: 1, seq: 9, warm: [h5] } }, 2).state).toBe(later);
    expect(laterWord({ epoch: 2, seq: 2, warm: [] }, { epoch: 2, seq: 1, warm: [] })).toBe(true);
  });
});
