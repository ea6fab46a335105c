// Proves bench/chaos's detectors on made-up samples: two probes answered in
// the same moment count, a stretch with holes is one stretch, answers in
// turn are no overlap; the client's downtime runs from the fault to the new
// holder's first answer, and an answer from another host after it counts;
// under loss, moves are certificates in the window and the held share runs
// from take-vip to drop-vip. And its pure parts: the options (`--faults all`,
// the default trials of each kind of fault, bad values refused), the rules
// that drop a cable's frames in one direction or both, the table's rows
// ("-" where a figure means nothing), the deaf/link-cut ratio, and what an
// agent complained of.
import { expect, test } from "bun:test";
import { complaints, deafRatio, dropRuleset, dualFromProbes, FAULTS, fromClient, holdingFromLogs, OVERLAP_WINDOW_MS, parseFaults, parseOptions, rowCells, supersededAt, TAKE_SLACK_MS, takesFromLogs, trialsFor, type Options, type Trial } from "./chaos.ts";
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
  // No old holder (kill-majority, from the restart): the first answer of any host ends the downtime.
  expect(fromClient([ok(100, "h1"), failed(1_000), ok(1_500, "h1"), ok(1_510, "h3")], 1_000, null)).toEqual({ downtimeMs: 501, newHolder: "h1", dual: 1 });
});

test("the client, with the agents' takes: an answer from a host another has taken the VIP from since is a two-holder sign; a later move back to it is not", () => {
  const takes = [{ host: "h1", at: 0 }, { host: "h2", at: 1_250 }, { host: "h1", at: 2_000 }];
  const samples = [ok(100, "h1"), failed(1_000), ok(1_300, "h2"), ok(1_320, "h1"), ok(2_100, "h1")];
  expect(fromClient(samples, 1_000, "h1", takes)).toEqual({ downtimeMs: 301, newHolder: "h2", dual: 1 }); // h1 at 1 320 only
  expect(supersededAt(takes, "h1", 1_320)).toBe(true);
  expect(supersededAt(takes, "h1", 1_250 + TAKE_SLACK_MS)).toBe(false); // within the slack of h2's take
  expect(supersededAt(takes, "h1", 2_100)).toBe(false); // it took the VIP back at 2 000
  expect(supersededAt(takes, "h2", 2_100)).toBe(true);
  expect(takesFromLogs([{ ts: new Date(5).toISOString(), level: "info", host: "h2", part: "actuate", event: "take-vip" }, { ts: new Date(1).toISOString(), level: "info", host: "h1", part: "actuate", event: "take-vip" }])).toEqual([{ host: "h1", at: 1 }, { host: "h2", at: 5 }]);
});

test("under loss: certificates in the window are moves; the VIP counts as held from take-vip to drop-vip, on any host", () => {
  const l = (ms: number, host: string, event: string, epoch?: number): LogLine => ({ ts: new Date(ms).toISOString(), level: "info", host, part: "x", event, epoch });
  const logs = [l(0, "h1", "take-vip"), l(1_000, "h1", "drop-vip"), l(1_100, "h2", "certified", 2), l(1_100, "h3", "certified", 2), l(1_200, "h2", "take-vip"), l(5_000, "h2", "drop-vip")];
  expect(holdingFromLogs(logs, 500, 2_500)).toEqual({ moves: 1, heldShare: (500 + 1_300) / 2_000 });
  expect(holdingFromLogs([l(0, "h1", "take-vip")], 100, 200)).toEqual({ moves: 0, heldShare: 1 });
});

test("--faults: all, a list (repeats once), and nothing unknown or empty", () => {
  const cases: Array<[string, string[] | null]> = [
    ["all", [...FAULTS]],
    ["kill9,link-cut", ["kill9", "link-cut"]],
    ["oneway-in,link-cut,oneway-in", ["oneway-in", "link-cut"]],
    ["partition, flap", ["partition", "flap"]],
    ["kill9,oneway", null],
    ["", null],
    ["all,kill9", null],
  ];
  for (const [arg, want] of cases) expect([arg, parseFaults(arg) as string[] | null]).toEqual([arg, want]);
});

test("trials: --trials when given; else 5 for a short fault and 1 for a sustained one", () => {
  const cases: Array<[(typeof FAULTS)[number], number | undefined, number]> = [
    ["kill9", undefined, 5],
    ["oneway-in", undefined, 5],
    ["kill-majority", undefined, 5],
    ["loss-5", undefined, 1],
    ["flap", undefined, 1],
    ["disk-full", undefined, 1],
    ["disk-full", 3, 3],
    ["partition", 2, 2],
  ];
  for (const [f, given, want] of cases) expect([f, given, trialsFor(f, given)]).toEqual([f, given, want]);
});

test("options: the defaults, each flag read, and bad values refused with a reason", () => {
  const d = parseOptions([]) as Options;
  expect(d).toEqual({ trials: undefined, faults: FAULTS.filter((f) => !["loss-5", "loss-30", "cpu-load", "flap", "disk-full"].includes(f)), fence: true, lossMs: 60_000, partitionMs: 3_000, flapMs: 5_000, json: false, timing: undefined, apparatusRt: 5, logDir: undefined, keepalived: false });
  const o = parseOptions(["--trials", "2", "--faults", "all", "--loss-seconds", "10", "--partition-ms", "1500", "--flap-seconds", "3", "--lease-ms", "150", "--no-fence", "--apparatus-rt", "0", "--json", "--log-dir", ".", "--keepalived"]) as Options;
  expect(o).toEqual({ trials: 2, faults: [...FAULTS], fence: false, lossMs: 10_000, partitionMs: 1_500, flapMs: 3_000, json: true, timing: { leaseMs: 150, renewIntervalMs: 25, proposalTimeoutMs: 75, actuationGuardMs: 50 }, apparatusRt: undefined, logDir: ".", keepalived: true });
  const bad = [["--trials", "0"], ["--trials", "1.5"], ["--faults", "nope"], ["--loss-seconds", "x"], ["--partition-ms", "0"], ["--flap-seconds", "-1"], ["--lease-ms", "59"], ["--apparatus-rt", "100"], ["--log-dir", "/nonexistent/umbra-chaos"], ["--bogus"]];
  for (const args of bad) expect([args, "error" in parseOptions(args)]).toEqual([args, true]);
  expect(parseOptions(["--help"])).toEqual({ help: true });
});

test("a cable's frames dropped at the switch port: to the host on its egress, from the host on its ingress, or both", () => {
  const chains = (rules: string) => [...rules.matchAll(/hook (\w+) device "(\S+)"/g)].map((m) => `${m[1]} ${m[2]}`);
  expect(chains(dropRuleset("uc-h1", "in"))).toEqual(["egress uc-h1"]);
  expect(chains(dropRuleset("uc-h1", "out"))).toEqual(["ingress uc-h1"]);
  expect(chains(dropRuleset("uc-h1", "both"))).toEqual(["egress uc-h1", "ingress uc-h1"]);
  expect(dropRuleset("uc-h1", "both")).toStartWith("table netdev umbra_chaos {");
});

const trialOf = (x: Partial<Trial>): Trial => ({ downtimeMs: null, dualHost: 0, dualHostLongestMs: 0, dualClient: 0, newHolder: null, answeringAtEnd: [], clientOkAfter: 0, ...x });

test("the table's rows: downtimes and failed trials where a host fails; moves, held and failed requests where the fault is sustained; quorum-less answers for kill-majority", () => {
  const cut = rowCells({ fault: "partition", results: [trialOf({ downtimeMs: 300, moves: 1 }), trialOf({ downtimeMs: 500, moves: 2, dualHost: 3, dualHostLongestMs: 15, dualClient: 1 }), trialOf({ moves: 0 })] });
  expect(cut).toEqual(["partition", "3", "500 ms", "500 ms", "1", "3, 15 ms", "1", "3", "-", "-", "-", "-", "-"]);
  const sustained = rowCells({ fault: "flap", results: [trialOf({ downtimeMs: 400, moves: 1, heldShare: 0.97, clientFailedShare: 0.05, steal: { share: 0.001, pauses: 2 }, clientFailedBesidePausesShare: 0.01 }), trialOf({ moves: 0, heldShare: 1, clientFailedShare: 0, steal: { share: 0.02, pauses: 1 }, clientFailedBesidePausesShare: 0 })] });
  expect(sustained).toEqual(["flap", "2", "-", "-", "-", "0, 0 ms", "0", "1", "97.00 %", "5.000 %", "2.00 %, 2", "1.000 %", "-"]);
  const km = rowCells({ fault: "kill-majority", results: [trialOf({ downtimeMs: 1_300, answeredWithoutQuorum: [] }), trialOf({ downtimeMs: 1_900, answeredWithoutQuorum: ["h3"] })] });
  expect(km).toEqual(["kill-majority", "2", "1900 ms", "1900 ms", "0", "0, 0 ms", "0", "-", "-", "-", "-", "-", "1"]);
  expect(rowCells({ fault: "kill9", results: [trialOf({ downtimeMs: 350 })] })).toEqual(["kill9", "1", "350 ms", "350 ms", "0", "0, 0 ms", "0", "-", "-", "-", "-", "-", "-"]);
});

test("deaf/link-cut: the downtime p50s' ratio when both faults ran and have one, else none", () => {
  const row = (fault: "oneway-in" | "link-cut" | "kill9", ds: Array<number | null>) => ({ fault, results: ds.map((downtimeMs) => trialOf({ downtimeMs })) });
  expect(deafRatio([row("link-cut", [400, 300, 500]), row("oneway-in", [480, 200, 520])])).toEqual({ ratio: 1.2, deafMs: 480, cutMs: 400 });
  expect(deafRatio([row("link-cut", [400]), row("oneway-in", [null, 1_200, null])])).toEqual({ ratio: 3, deafMs: 1_200, cutMs: 400 });
  expect(deafRatio([row("link-cut", [400]), row("kill9", [300])])).toBeNull();
  expect(deafRatio([row("link-cut", [400]), row("oneway-in", [null])])).toBeNull();
});

test("complaints: one host's errors and warnings in the window, each kind once with its first time and its why", () => {
  const l = (ms: number, host: string, level: string, event: string, why?: string): LogLine => ({ ts: new Date(ms).toISOString(), level, host, part: "x", event, why });
  const logs = [l(900, "h1", "warn", "loop-stall"), l(1_050, "h1", "warn", "loop-stall"), l(1_100, "h1", "info", "take-vip"), l(1_200, "h2", "error", "vote-record-failed"), l(1_300, "h1", "warn", "drop-vip", "lease-expired"), l(1_400, "h1", "warn", "loop-stall"), l(3_000, "h1", "error", "late")];
  expect(complaints(logs, "h1", 1_000, 2_000)).toEqual(["loop-stall at +50 ms", "drop-vip(lease-expired) at +300 ms"]);
  expect(complaints(logs, "h3", 0, 5_000)).toEqual([]);
});
