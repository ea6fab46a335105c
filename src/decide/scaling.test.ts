import { describe, expect, test } from "bun:test";
import { hostId } from "../shared/ids.ts";
import { initialScaling, nextTickMs, step, type ScalingState } from "./scaling.ts";

const [h1, h2, h3] = [hostId("h1"), hostId("h2"), hostId("h3")];
const CFG = { threshold: 0.8, lowThreshold: 0.5, cooldownMs: 1_000, maxActive: 2, staleMs: 5_000 };
const tick = (s: ScalingState, now: number, fit = [h2, h3], holding = true) => step(s, { type: "tick", holding, fit }, now, h1);
const load = (s: ScalingState, p90: number, now: number) => step(s, { type: "forecast", p90 }, now, h1).state;

describe("scaling", () => {
  test("a high forecast adds the best fit shadow, one per cooldown, up to maxActive; calm for the cooldown removes the last added", () => {
    let s = load(initialScaling(CFG), 0.9, 0);
    expect(nextTickMs(s, true, [h2, h3], h1, 0)).toBe(-Infinity); // never changed: due at once
    let out = tick(s, 0);
    expect(out.effects).toEqual([{ type: "pool", hosts: [h1, h2], why: "forecast p90 0.90 >= 0.8" }]);
    s = out.state;
    expect(tick(s, 999).effects).toEqual([]); // the cooldown
    expect(nextTickMs(s, true, [h2, h3], h1, 999)).toBe(1_000);
    s = tick(s, 1_000).state;
    expect(s.active).toEqual([h2, h3]);
    s = load(s, 0.95, 2_500);
    expect(tick(s, 3_000).effects).toEqual([]); // maxActive
    s = load(s, 0.3, 3_000);
    expect(nextTickMs(s, true, [h2, h3], h1, 3_000)).toBe(4_000); // calm for the cooldown
    out = tick(s, 4_000);
    expect(out.effects).toEqual([{ type: "pool", hosts: [h1, h2], why: "calm: forecast p90 under 0.5 for 1000 ms" }]);
  });

  test("between the thresholds nothing moves; a stale forecast holds; an unfit shadow leaves at once; a holder no more drops its pool quietly", () => {
    let s = tick(load(initialScaling(CFG), 0.9, 0), 0).state;
    s = load(s, 0.6, 100);
    expect(tick(s, 9_000).effects).toEqual([]);
    s = load(s, 0.9, 10_000);
    expect(tick(s, 16_000).effects).toEqual([]); // 6 s old: stale
    expect(nextTickMs(s, true, [h2, h3], h1, 16_000)).toBe(Infinity);
    const gone = tick(s, 16_000, [h3]);
    expect(gone.effects).toEqual([{ type: "pool", hosts: [h1], why: "h2 no longer fit" }]);
    const lost = tick(tick(load(initialScaling(CFG), 0.9, 0), 0).state, 1, [h2, h3], false);
    expect(lost.state.active).toEqual([]);
    expect(lost.effects).toEqual([]);
  });

  test("no warm shadow free for one more: a request for a new host, at most once a cooldown; a shadow fit again is taken instead", () => {
    let s = load(initialScaling(CFG), 0.9, 0);
    let out = tick(s, 0, []);
    expect(out.effects).toEqual([{ type: "provision", why: "forecast p90 0.90 >= 0.8, and no warm shadow is free" }]);
    s = out.state;
    expect(tick(s, 999, []).effects).toEqual([]);
    expect(nextTickMs(s, true, [], h1, 999)).toBe(1_000);
    out = tick(s, 1_000, []);
    expect(out.effects.map((e) => e.type)).toEqual(["provision"]);
    out = tick(out.state, 1_500, [h3]); // a new host joined, fit: it is taken (the cooldown runs from the pool's last change)
    expect(out.effects).toEqual([{ type: "pool", hosts: [h1, h3], why: "forecast p90 0.90 >= 0.8" }]);
    expect(tick(load(initialScaling(CFG), 0.6, 0), 0, []).effects).toEqual([]); // not high: nothing asked
  });
});
