// Proves bench/chaos's detectors on made-up samples: two probes answered in
// the same moment count, a stretch with holes is one stretch, answers in
// turn are no overlap; the client's downtime runs from the fault to the new
// holder's first answer, and an answer from another host after it counts;
// under loss, moves are certificates in the window and the held share runs
// from take-vip to drop-vip.
import { expect, test } from "bun:test";
import { dualFromProbes, fromClient, holdingFromLogs, OVERLAP_WINDOW_MS } from "./chaos.ts";
import type { LogLine } from "../src/demo/cluster.ts";
import type { Sample } from "../src/demo/downtime.ts";

const ok = (t: number, body = "x"): Sample => ({ t, done: t + 1, ok: true, body });
const failed = (t: number): Sample => ({ t, done: t + 30, ok: false, err: "timeout" });

test("two probes answering in the same moment are counted; a stretch with holes is one stretch; answers in turn are none", () => {
  const w = OVERLAP_WINDOW_MS;
  const both = [0, 1, 2, 4, 5].map((i) => i * w); // a hole at slot 3, within the stretch gap
  const d = dualFromProbes(new Map([["h1", both.map((t) => ok(t))], ["h2", both.map((t) => ok(t + 1))]]));
  expect(d.moments).toBe(5);
  expect(d.longestMs).toBe(6 * w);
  const inTurn = dualFromProbes(new Map([["h1", [ok(0), ok(10), failed(20)]], ["h2", [failed(0), ok(20), ok(30)]]]));
  expect(inTurn).toEqual({ moments: 0, longestMs: 0 });
});

test("the client: downtime to the new holder's first answer; another host answering after it is a two-holder sign", () => {
  const samples = [ok(100, "h1"), failed(1_000), ok(1_300, "h2"), ok(1_310, "h2"), ok(1_320, "h1"), ok(1_330, "h2")];
  expect(fromClient(samples, 1_000, "h1")).toEqual({ downtimeMs: 301, newHolder: "h2", dual: 1 });
  expect(fromClient([ok(100, "h1"), failed(1_000)], 1_000, "h1")).toEqual({ downtimeMs: null, newHolder: null, dual: 0 });
});

test("under loss: certificates in the window are moves; the VIP counts as held from take-vip to drop-vip, on any host", () => {
  const l = (ms: number, host: string, event: string, epoch?: number): LogLine => ({ ts: new Date(ms).toISOString(), level: "info", host, part: "x", event, epoch });
  const logs = [l(0, "h1", "take-vip"), l(1_000, "h1", "drop-vip"), l(1_100, "h2", "certified", 2), l(1_100, "h3", "certified", 2), l(1_200, "h2", "take-vip"), l(5_000, "h2", "drop-vip")];
  expect(holdingFromLogs(logs, 500, 2_500)).toEqual({ moves: 1, heldShare: (500 + 1_300) / 2_000 });
  expect(holdingFromLogs([l(0, "h1", "take-vip")], 100, 200)).toEqual({ moves: 0, heldShare: 1 });
});
