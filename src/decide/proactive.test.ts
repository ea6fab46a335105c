// Proves the proactive machine asks to move a service only on a sustained,
// fresh forecast, once per cooldown, and only to a healthy shadow.
import { expect, test } from "bun:test";
import type { HostId } from "../shared/ids.ts";
import { initialProactive, step, type ProactiveEffect, type ProactiveEvent, type ProactiveState } from "./proactive.ts";

const h = (s: string) => s as HostId;
const cfg = { self: h("h1"), threshold: 0.8, sustainMs: 3_000, staleMs: 5_000, cooldownMs: 10_000, anomalyThreshold: null, anomalyStandMs: 0 };
const held = [{ service: "web", candidates: [h("h1"), h("h2"), h("h3")], alive: [h("h1"), h("h2"), h("h3")] }];

function run(evs: Array<[ProactiveEvent, number]>, s0: ProactiveState = initialProactive(cfg, 0)) {
  let s = s0;
  const fx: Array<ProactiveEffect & { at: number }> = [];
  for (const [e, t] of evs) {
    const out = step(s, e, t);
    s = out.state;
    for (const f of out.effects) fx.push({ ...f, at: t });
  }
  return { s, fx };
}

test("a probability that stays high for sustainMs on the holder asks to hand over to the best healthy shadow, once per cooldown", () => {
  const evs: Array<[ProactiveEvent, number]> = [];
  for (let t = 0; t <= 15_000; t += 1_000) {
    evs.push([{ type: "forecast", host: h("h1"), probability: t < 2_000 ? 0.1 : 0.95, dataMs: t }, t]);
    evs.push([{ type: "tick", holding: held }, t]);
  }
  const { fx } = run(evs);
  const asks = fx.filter((f) => f.type === "request-handover");
  expect(asks.map((f) => f.at)).toEqual([5_000, 15_000]);
  expect(asks[0]).toMatchObject({ service: "web", to: "h2", probability: 0.95, aboveForMs: 3_000 });
  expect(fx.find((f) => f.type === "predicted-changed")).toMatchObject({ predicted: ["h1"], at: 5_000 });
});

test("one dip below the threshold restarts the clock; a stale forecast predicts nothing", () => {
  const dip = run([
    [{ type: "forecast", host: h("h1"), probability: 0.9, dataMs: 0 }, 0],
    [{ type: "forecast", host: h("h1"), probability: 0.5, dataMs: 2_000 }, 2_000],
    [{ type: "forecast", host: h("h1"), probability: 0.9, dataMs: 2_500 }, 2_500],
    [{ type: "tick", holding: held }, 5_000],
  ]);
  expect(dip.fx.filter((f) => f.type === "request-handover")).toEqual([]);
  const stale = run([
    [{ type: "forecast", host: h("h2"), probability: 0.9, dataMs: 0 }, 0],
    [{ type: "forecast", host: h("h2"), probability: 0.9, dataMs: 3_000 }, 3_000],
    [{ type: "tick", holding: [] }, 4_000],
    [{ type: "tick", holding: [] }, 9_000],
  ]);
  expect(stale.fx.map((f) => (f.type === "predicted-changed" ? f.predicted.join(",") : f.type))).toEqual(["h2", ""]);
});

test("no healthy place to go: it stays (the reactive path remains)", () => {
  const { fx } = run([
    [{ type: "forecast", host: h("h1"), probability: 0.9, dataMs: 0 }, 0],
    [{ type: "forecast", host: h("h2"), probability: 0.9, dataMs: 0 }, 0],
    [{ type: "tick", holding: [{ service: "web", candidates: [h("h1"), h("h2"), h("h3")], alive: [h("h1"), h("h2")] }] }, 4_000],
  ]);
  expect(fx.filter((f) => f.type === "request-handover")).toEqual([]);
});

test("sustain and cooldown run on the data's clock: a replay 1,800 times faster moves after 60 s of its series, not 60 s of the agent's", () => {
  const live = { ...cfg, sustainMs: 60_000, staleMs: 180_000, cooldownMs: 300_000 };
  const evs: Array<[ProactiveEvent, number]> = [];
  // A 5-minute series replayed at 1,800×: a row every 167 ms of the agent's clock.
  for (let i = 0; i <= 12; i++) {
    const t = Math.round((i * 300_000) / 1_800);
    evs.push([{ type: "forecast", host: h("h1"), probability: i < 2 ? 0.1 : 0.95, dataMs: 1_700_000_000_000 + i * 300_000 }, t]);
    evs.push([{ type: "tick", holding: held }, t]);
  }
  const { fx } = run(evs, initialProactive(live, 0));
  const asks = fx.filter((f) => f.type === "request-handover");
  // High from row 2; 60 s of series later is row 3; the cooldown (300 s) is one row, so it asks at every row after.
  expect(asks.map((f) => f.at)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((i) => Math.round((i * 300_000) / 1_800)));
  expect(asks[0]).toMatchObject({ aboveForMs: 300_000 });
});

test("a data clock that goes back (a replay starting over) starts the reading afresh, and ends a cooldown", () => {
  const evs: Array<[ProactiveEvent, number]> = [
    [{ type: "forecast", host: h("h1"), probability: 0.9, dataMs: 10_000 }, 0],
    [{ type: "forecast", host: h("h1"), probability: 0.9, dataMs: 14_000 }, 100],
    [{ type: "tick", holding: held }, 100],
    // the series starts over: high again, but only since its new start
    [{ type: "forecast", host: h("h1"), probability: 0.9, dataMs: 0 }, 200],
    [{ type: "tick", holding: held }, 200],
    [{ type: "forecast", host: h("h1"), probability: 0.9, dataMs: 3_000 }, 300],
    [{ type: "tick", holding: held }, 300],
  ];
  const { fx } = run(evs);
  expect(fx.filter((f) => f.type === "request-handover").map((f) => f.at)).toEqual([100, 300]);
});

test("an anomaly alarm counts only with anomalyThreshold set: the holder asks at once (cause anomaly), the alarm stands anomalyStandMs of the data, and a peer's alarm keeps it from being chosen", () => {
  const alarm = (host: string, anomaly: number, t: number): [ProactiveEvent, number] => [{ type: "forecast", host: h(host), probability: 0, anomaly, dataMs: t }, t];
  const tick = (t: number): [ProactiveEvent, number] => [{ type: "tick", holding: held }, t];
  const asks = (r: ReturnType<typeof run>) => r.fx.filter((f) => f.type === "request-handover");

  const off = run([alarm("h1", 1, 0), tick(0)]);
  expect(asks(off)).toEqual([]);

  const on = { ...cfg, anomalyThreshold: 0.9, anomalyStandMs: 2_000 };
  const moved = run([alarm("h2", 0.95, 0), alarm("h1", 0.95, 0), tick(0)], initialProactive(on, 0));
  expect(asks(moved)).toEqual([{ type: "request-handover", service: "web", to: h("h3"), cause: "anomaly", probability: 0, anomaly: 0.95, aboveForMs: 0, at: 0 }]);

  const below = run([alarm("h1", 0.85, 0), tick(0)], initialProactive(on, 0));
  expect(asks(below)).toEqual([]);

  // The alarm at 0 stands until 2 s of data; a calm forecast at 2.5 s ends it.
  const stands = run([alarm("h1", 1, 0), alarm("h1", 0, 1_500), alarm("h1", 0, 2_500)], initialProactive({ ...on, cooldownMs: 100_000 }, 0));
  expect(stands.fx.filter((f) => f.type === "predicted-changed").map((f) => [f.at, f.predicted])).toEqual([
    [0, [h("h1")]],
    [2_500, []],
  ]);
});

test("a move asked on an alarm does not hold back one on exhaustion: each cause has its own cooldown", () => {
  const on = { ...cfg, anomalyThreshold: 0.9, anomalyStandMs: 500 };
  const evs: Array<[ProactiveEvent, number]> = [
    [{ type: "forecast", host: h("h1"), probability: 0, anomaly: 1, dataMs: 0 }, 0],
    [{ type: "tick", holding: held }, 0],
  ];
  for (let t = 1_000; t <= 5_000; t += 1_000) {
    evs.push([{ type: "forecast", host: h("h1"), probability: 0.95, anomaly: 0, dataMs: t }, t]);
    evs.push([{ type: "tick", holding: held }, t]);
  }
  const asks = run(evs, initialProactive(on, 0)).fx.filter((f) => f.type === "request-handover");
  expect(asks.map((f) => [f.at, f.type === "request-handover" ? f.cause : ""])).toEqual([
    [0, "anomaly"],
    [4_000, "exhaustion"], // high since 1 s, sustained 3 s; the alarm's cooldown (10 s) runs on
  ]);
});
