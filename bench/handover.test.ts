// Proves bench/handover's measures on made-up samples and log lines: the
// probes' gap runs from the old holder's last answer to the new one's first;
// two hosts answer only when one's answer falls inside the other's stretch
// of answering (a move back later is not an overlap, a stalled poller's hole
// ends a stretch); the logs' gaps follow the handover's own drop; the
// client's failures near the move are told from those in steady service;
// loop stalls are counted in the trial's window;
// the summary's acceptance needs every figure, and a quantile is by rank.
import { expect, test } from "bun:test";
import { answeringRuns, clientCounts, clientSwitchedAt, GAP_MEDIAN_TARGET_MS, logGaps, loopStalls, medianSpacing, moveWindow, probeGap, quantile, RUN_GAP_MAX_MS, summarize, twoAnswering, type ClientSample, type Trial } from "./handover.ts";
import { answeringSpans, holesBefore, kernelEvents, kernelGap } from "./kernelwatch.ts";
import { VIP, type LogLine } from "../src/demo/cluster.ts";
import type { Sample } from "../src/demo/downtime.ts";

const ok = (t: number): Sample => ({ t, done: t + 1, ok: true, body: "x" });
const no = (t: number): Sample => ({ t, done: t + 30, ok: false, err: "timeout" });
const every = (from: number, to: number, f: (t: number) => Sample, step = 1): Sample[] => Array.from({ length: Math.floor((to - from) / step) + 1 }, (_, i) => f(from + i * step));

test("the probes' gap: the new holder's first answer minus the old holder's last before it", () => {
  const old = [...every(0, 100, ok), ...every(101, 200, no)];
  const neu = [...every(0, 112, no), ...every(113, 200, ok)];
  expect(probeGap(old, neu, 0)).toBe(13);
  expect(probeGap(old, every(0, 200, no), 0)).toBeNull();
  expect(probeGap(every(0, 200, no), neu, 0)).toBeNull();
  // Answers of the new holder before `since` are not its first.
  expect(probeGap(old, [ok(-5), ...neu], 0)).toBe(13);
  expect(medianSpacing(every(0, 100, ok, 2))).toBe(2);
});

test("two answering: inside the other's stretch counts; a move back later and a stalled poller's hole do not", () => {
  const h1 = [...every(0, 100, ok), ...every(101, 199, no), ...every(200, 300, ok)];
  const h2 = [...every(0, 104, no), ...every(105, 195, ok), ...every(196, 300, no)];
  expect(twoAnswering(h1, h2)).toBe(0);
  // h1 answers twice while h2 answers on both sides of it.
  const leak = h1.map((s) => (s.t === 150 || s.t === 151 ? ok(s.t) : s));
  expect(twoAnswering(leak, h2)).toBe(2);
  expect(twoAnswering(h2, leak)).toBe(2);
  // A hole longer than RUN_GAP_MAX_MS in h2's requests ends its stretch: h1's answer in the hole is no overlap.
  const stalled = [ok(0), ok(1), ok(2 + RUN_GAP_MAX_MS + 10)];
  expect(answeringRuns(stalled)).toEqual([[0, 1], [2 + RUN_GAP_MAX_MS + 10, 2 + RUN_GAP_MAX_MS + 10]]);
  expect(twoAnswering([ok(15)], stalled)).toBe(0);
  // A new holder's request stamped before the old one stopped but answered after it (the poller waited to send it): no proof of two answering.
  const late: Sample = { t: 99, done: 106, ok: true, body: "h2" };
  expect(twoAnswering(h1, [...h2.filter((x) => x.t !== 99), late])).toBe(0);
});

const line = (ms: number, host: string, event: string, extra: Record<string, unknown> = {}): LogLine => ({ ts: new Date(ms).toISOString(), level: "info", host, part: "x", event, service: "web", ...extra });

test("the logs' gaps follow the handover's own drop, not an earlier lapse of the lease", () => {
  const logs = [
    line(900, "h1", "drop-vip", { why: "lease-expired" }),
    line(905, "h1", "vip-removed"),
    line(1_000, "h1", "statement-accepted"),
    line(1_040, "h1", "drop-vip", { why: "handover" }),
    line(1_042, "h1", "vip-removed"),
    line(1_050, "h2", "take-vip", { reason: "handover" }),
    line(1_055, "h2", "vip-added"),
    line(1_056, "h2", "vip-answering"),
  ];
  expect(logGaps(logs, "h1", "h2", 800)).toEqual({ gapMs: 13, dropToAddedMs: 15, dropToAnsweringMs: 16, moveMs: 55, askedAt: 1_000, removedAt: 1_042, droppedAt: 1_040, addedAt: 1_055, takenFor: "handover", steps: { askedToDrop: 40, dropToRemoved: 2, removedToTake: 8, takeToAdded: 5 } });
  expect(loopStalls([line(10, "h1", "loop-stall", { gapMs: 40 }), line(20, "h2", "loop-stall", { gapMs: 90 }), line(5_000, "h2", "loop-stall", { gapMs: 500 })], 0, 1_000)).toEqual({ count: 2, maxMs: 90 });
  const lapsed = logGaps(logs.filter((l) => l.why !== "handover"), "h1", "h2", 800);
  expect(lapsed.droppedAt).toBeNull();
  expect(lapsed.gapMs).toBeNull();
});

test("the client: failures near the move apart from steady service's, retries counted, errors by kind", () => {
  const s = (t: number, good: boolean, attempts: number, err?: string): ClientSample => ({ t, ok: good, attempts, ...(err === undefined ? {} : { err }) });
  const samples = [s(100, false, 2, "timeout"), s(990, true, 2), s(995, false, 2, "timeout"), s(1_010, false, 2, "ECONNREFUSED"), s(1_020, true, 1), s(5_000, false, 2, "timeout")];
  const window = moveWindow(1_000, 1_015, null, 10, 500);
  expect(window).toEqual({ from: 980, to: 1_515 });
  // Once the client's ARP names the new holder, its later failures are steady service's.
  expect(moveWindow(1_000, 1_015, 1_040, 10, 500)).toEqual({ from: 980, to: 1_060 });
  const late = [...samples, s(1_100, false, 2, "timeout")];
  expect(clientCounts(late, moveWindow(1_000, 1_015, null, 10, 500), 1_002)).toMatchObject({ failedNearMove: 3, failedSteady: 2 });
  expect(clientCounts(late, moveWindow(1_000, 1_015, 1_005, 10, 500), 1_002)).toMatchObject({ failedNearMove: 2, failedSteady: 3 });
  expect(clientCounts(samples, window, 1_002)).toEqual({ requests: 6, failedNearMove: 2, failedSteady: 2, retried: 5, errors: { timeout: 3, ECONNREFUSED: 1 }, failedAtMs: [-7, 8] });
  expect(clientCounts(samples, null, null).failedNearMove).toBe(0);
});

test("the summary: quantiles by rank; acceptance needs the gap, no failures near a move, no overlap, nothing incomplete", () => {
  expect(quantile([], 0.5)).toBeNull();
  expect(quantile([3, 1, 2], 0.5)).toBe(2);
  expect(quantile([1, 2, 3, 4], 0.5)).toBe(2);
  expect(quantile([1, 2, 3, 4], 0.99)).toBe(4);
  const trial = (gap: number, extra: Partial<Trial> = {}): Trial => ({
    from: "h1", to: "h2", incomplete: null, gapKernelMs: gap, kernelHoles: 0, gapProbesMs: gap, twoAnswering: 0, probeSpacingMs: 1.5, gapLogsMs: gap, gapRemovedMs: gap, dropToAddedMs: gap, moveMs: 40, steps: { askedToDrop: 30, dropToRemoved: 1, removedToTake: 5, takeToAdded: 1 },
    client: { requests: 100, failedNearMove: 0, failedSteady: 1, retried: 2, errors: {}, failedAtMs: [] }, clientSwitchedMs: 25, loopStalls: 1, loopStallMaxMs: 30, stealMs: 0, ...extra,
  });
  const good = summarize([trial(2), trial(4), trial(GAP_MEDIAN_TARGET_MS + 20)]);
  expect(good).toMatchObject({ trials: 3, incomplete: 0, gapProbesP50: 4, gapProbesP99: 25, clientFailedSteady: 3, clientRetried: 6, loopStalls: 3, accepted: true });
  expect(summarize([trial(2), trial(GAP_MEDIAN_TARGET_MS + 1), trial(GAP_MEDIAN_TARGET_MS + 1)]).accepted).toBe(false);
  expect(summarize([trial(2, { client: { ...trial(2).client, failedNearMove: 1 } })]).accepted).toBe(false);
  expect(summarize([trial(2, { twoAnswering: 1 })]).accepted).toBe(false);
  // The server-side gap is the kernels': slow probes alone do not fail it; an overlap of the kernels does.
  expect(summarize([trial(2, { gapProbesMs: 30 })]).accepted).toBe(true);
  expect(summarize([trial(2, { gapKernelMs: 30 })]).accepted).toBe(false);
  expect(summarize([trial(2, { gapKernelMs: -0.5 })])).toMatchObject({ kernelOverlaps: 1, accepted: false });
  expect(summarize([trial(2, { gapKernelMs: null })])).toMatchObject({ incomplete: 1, accepted: false });
  expect(summarize([trial(2, { incomplete: "h2 did not log vip-added" })])).toMatchObject({ incomplete: 1, accepted: false });
});

test("the client's switch: the first neighbour line naming the new holder's MAC for the VIP, after the take", () => {
  const lines = [`900 ${VIP} dev eth0 lladdr 02:00:00:00:00:02 REACHABLE`, `1010 198.51.100.7 dev eth0 lladdr 02:00:00:00:00:02 STALE`, `1020 ${VIP} dev eth0 lladdr 02:00:00:00:00:01 STALE`, `1030 ${VIP} dev eth0 lladdr 02:00:00:00:00:02 STALE`];
  expect(clientSwitchedAt(lines, "02:00:00:00:00:02", 1_000)).toBe(1_030);
  expect(clientSwitchedAt(lines, "02:00:00:00:00:03", 1_000)).toBeNull();
});

test("the kernels' view: a transaction's lease changes at its generation line; a refresh is no hole; the gap runs from the old kernel's end to the new one's start", () => {
  const el = (op: string, t = "") => `${op} element inet umbra_fence lease4 { ${VIP}${t} }`;
  const refresh = (at: number, ms: number) => [`${at} nft ${el("add", " timeout 4ms expires 4ms")}`, `${at} nft ${el("delete", " timeout 4ms expires 4ms")}`, `${at} nft ${el("add", ` timeout ${ms}ms expires ${ms}ms`)}`, `${at + 0.05} nft # new generation 7 by process 9 (nft)`];
  const unlease = (at: number) => [`${at} nft ${el("add", " timeout 4ms expires 4ms")}`, `${at} nft ${el("delete", " timeout 4ms expires 4ms")}`, `${at} nft add element arp umbra_fence lease4 { ${VIP} timeout 100ms }`, `${at + 0.05} nft # new generation 8 by process 9 (nft)`];
  const oldLines = [...refresh(1_000, 100), ...refresh(1_020, 100), `1030.2 nft add element inet umbra_fence lease4 { 198.51.100.11 timeout 100ms }`, ...unlease(1_031), `1034.5 addr Deleted 2: eth0    inet ${VIP}/24 scope global eth0`];
  const oldEv = kernelEvents(oldLines, VIP);
  expect(oldEv.map((e) => e.kind)).toEqual(["lease", "lease", "unlease", "addr-down"]);
  const oldSpans = answeringSpans(oldEv, 2_000, { addrUp: true, leasedUntil: Infinity });
  expect(oldSpans).toEqual([[-Infinity, 1_031.05]]); // answering when the watch began
  const newLines = [...refresh(1_010, 100), `1033.4 addr 2: eth0    inet ${VIP}/24 scope global eth0`, ...refresh(1_040, 100)];
  const newSpans = answeringSpans(kernelEvents(newLines, VIP), 2_000, { addrUp: false, leasedUntil: -Infinity });
  expect(newSpans).toEqual([[1_033.4, 1_140.05]]);
  expect(kernelGap(oldSpans, newSpans, 900)).toBeCloseTo(2.35, 5);
  // A lease left to run out ends the stretch at its expiry, with no notification.
  expect(answeringSpans(kernelEvents([...refresh(1_000, 100), `1033.4 addr 2: eth0    inet ${VIP}/24 scope global eth0`], VIP), 2_000, { addrUp: false, leasedUntil: -Infinity })).toEqual([[1_033.4, 1_100.05]]);
  // Both at once: negative.
  expect(kernelGap([[0, 1_040]], [[1_033.4, 1_100]], 900)).toBeCloseTo(-6.6, 5);
  expect(kernelGap(oldSpans, [], 900)).toBeNull();
  // A hole in the old holder's answering before the move (a refresh come late) is not the move's gap, but is counted.
  const holed: Array<[number, number]> = [[-Infinity, 500], [520, 1_031]];
  expect(kernelGap(holed, newSpans, 0)).toBeCloseTo(2.4, 5);
  expect(holesBefore(holed, 0)).toBe(1);
  expect(holesBefore(oldSpans, 900)).toBe(0);
});
