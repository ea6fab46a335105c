// bench/chaos: real agents in namespaces under the faults that used to put
// the VIP on two hosts, with two independent detectors of two answering
// hosts.
//
// Layout: src/demo/cluster.ts (three agents h1 primary, h2/h3 shadows, all
// voters; a service on each host answering its name; a client), plus one
// probe namespace per host. Each probe has a static neighbour entry that
// sends the VIP to its host's MAC, so its poller (every 5 ms, 30 ms timeout)
// sees exactly whether that host answers for the VIP, whatever ARP says.
// - Detector 1 (hosts): two probes answered requests sent within the same
//   OVERLAP_WINDOW_MS: two hosts answered for the VIP at that moment.
// - Detector 2 (client): the client's poller, through its own ARP cache:
//   after the first answer from the new holder, an answer from a host that
//   another host has taken the VIP from since (by the agents' take-vip log
//   lines, TAKE_SLACK_MS apart): its ARP entry went back to a host that
//   still answered. An answer after a later, legitimate move is not one.
// Faults, on the holder h1 after a second of steady service:
//   sigstop-1s, sigstop-3s  the agent frozen (SIGSTOP, then SIGCONT)
//   kill9                   the agent killed; nothing runs `umbra release`
//   link-cut                the switch side of its cable down
//   partition               a silent partition: every frame to and from h1
//                           dropped at its switch port (nftables netdev
//                           hooks in the switch namespace: lost on the wire,
//                           h1's sends see no error), its link up; healed
//                           after --partition-ms and watched on
//   oneway-in               the deaf primary: frames to h1 dropped, h1 still
//                           heard; healed like partition
//   oneway-out              frames from h1 dropped, h1 still hears; healed
//                           like partition
//   kill-majority           the agents of h1 and h2 killed: no host may answer
//                           (h3 alone has no quorum); restarted after
//                           MAJORITY_DOWN_MS. Its downtime runs from the
//                           restart to the first answer of any host, and
//                           "answered without quorum" counts the trials in
//                           which a probe got an answer just before it
//   loss-5, loss-30         no host fails: every host drops that share of the
//                           packets it sends (nftables numgen; this kernel
//                           has no netem) for --loss-seconds; measured are the
//                           moves and the share of the time some host held
//                           the VIP (from the agents' take-vip/drop-vip logs:
//                           the probes' own packets are lost too)
//   cpu-load                no host fails: both cores saturated (stress-ng,
//                           one worker per core, at normal priority) for
//                           --loss-seconds; measured like the loss faults,
//                           plus the client's failed requests. The
//                           services run as ordinary work here, beside
//                           the load, whatever --apparatus-rt says; the
//                           pollers, which stand for machines elsewhere,
//                           keep it (see APPARATUS_RT_DEFAULT)
//   flap                    h1's link down and up every FLAP_HALF_PERIOD_MS
//                           for --flap-seconds; measured like cpu-load
//   disk-full               h1's state directory on a small tmpfs (mounted
//                           before its agent starts), filled until ENOSPC and
//                           left full for --loss-seconds; measured like
//                           cpu-load, plus what h1's agent logged (errors)
// While h1's cable drops its frames, its probe cannot hear it either: the
// detectors see what the network sees, and what h1 does after the heal.
// Per fault: trials, client downtime p50/p99 (fault to the first answer of
// another host), moments with two answering hosts by each detector and the
// longest, trials that failed (no new holder answered), moves where they
// mean something. Sustained faults also report the machine's steal
// (bench/steal.ts: time the hypervisor gave the virtual CPUs to others),
// its pauses of 20 ms or more, and the client's failed requests whose wait
// overlapped no pause. With oneway-in and link-cut both run, a last line gives
// the ratio of their downtime p50s (the issue's line: at most 1.2).
// Every fault undoes itself (rules, link, mount, processes) in a finally,
// and on SIGINT/SIGTERM; a trial first removes what a crashed run left.
//
//   node bench/chaos.ts [--trials N] [--faults all|F,F...] [--loss-seconds 60] [--partition-ms 3000] [--flap-seconds 5] [--lease-ms N] [--no-fence] [--apparatus-rt 5] [--log-dir DIR] [--keepalived] [--json]
//
// --trials defaults to 5 per fault, 1 for the sustained ones (loss-5,
// loss-30, cpu-load, flap, disk-full); --faults defaults to every fault that
// is not sustained, `all` runs every fault.
// --keepalived runs, after umbra's cpu-load trials, as many of keepalived
// under the same load (bench/keepalived.ts runKeepalivedSustained: VRRPv3
// at 0.05 s adverts, the anchor of lan's order; three hosts, the services
// ordinary, the client and the probes as umbra's): the failed requests the
// machine, the load and the apparatus cause with no umbra at all. No DHT
// bootstrap node runs there.
// --no-fence runs the agents with `fence = false` (no kernel-side lease):
// the detectors' own check, and the figure the fence is measured against.
//
// Needs root (network namespaces, nftables).

import { parseArgs } from "node:util";
import { spawn, execFileSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { availableParallelism, constants, tmpdir } from "node:os";
import { join } from "node:path";
import { startDemoCluster, startPoller, sleep, HOSTS, VIP, type DemoCluster } from "../src/demo/cluster.ts";
import { pinProbe, runKeepalivedSustained, type SustainedResult } from "./keepalived.ts";
import { failedBesidePauses, PAUSE_MIN_MS, pauses, startStealWatch, stealIn, type StealReading } from "./steal.ts";
import { cleanupStale } from "../src/demo/topology.ts";
import { nftPath } from "../src/actuate/fence.ts";
import { assert, assertNever } from "../src/shared/assert.ts";
import type { LogLine } from "../src/demo/cluster.ts";
import { failedShare, type Sample } from "../src/demo/downtime.ts";
import { rng } from "../src/shared/rng.ts";

const PREFIX = "uc-";
export const FAULTS = ["sigstop-1s", "sigstop-3s", "kill9", "link-cut", "partition", "oneway-in", "oneway-out", "kill-majority", "loss-5", "loss-30", "cpu-load", "flap", "disk-full"] as const;
export type Fault = (typeof FAULTS)[number];
/** Faults held for a while with no host failing for good: measured by moves, the share of the time held and the client's failed requests, not by a downtime. */
const SUSTAINED: ReadonlySet<Fault> = new Set<Fault>(["loss-5", "loss-30", "cpu-load", "flap", "disk-full"]);
/** Faults that cut the holder off and heal: measured by the downtime, and by the moves up to the end of the watch. */
const CUT_OFF: ReadonlySet<Fault> = new Set<Fault>(["partition", "oneway-in", "oneway-out"]);
const DEFAULT_FAULTS = FAULTS.filter((f) => !SUSTAINED.has(f));
/** Trials per fault by default: a trial of a short fault takes ~10 s. */
const TRIALS_DEFAULT = 5;
/** Trials per sustained fault by default: each lasts --loss-seconds (or --flap-seconds). */
const SUSTAINED_TRIALS_DEFAULT = 1;
/** The nftables table of the bench's own rules (loss in the hosts, drops at the switch), apart from the agents' umbra_fence. */
const CHAOS_TABLE = "umbra_chaos";
/** The chaos rules' hook priority: before the fence's chains (-250) and before raw (-300). */
const CHAOS_PRIORITY = -400;
/** Requests of two probes sent this close together count as one moment. */
export const OVERLAP_WINDOW_MS = 5;
/** Two-answering moments this close together belong to one stretch (a poller's jitter leaves holes in a stretch). */
const STRETCH_GAP_MS = 30;
const POLL = { intervalMs: 5, timeoutMs: 30 };
/** Steady service before the fault, plus a random part of a renewal interval. */
const SETTLE_MS = 1_000;
/** The random part of the settle, at most. */
const SETTLE_JITTER_MS = 50;
/** After the fault (and the resume), how long the pollers keep watching. */
const WATCH_MS = 3_000;
const FIRST_HOLDER_WAIT_MS = 30_000;
/** The last part of a watch, in which the probes say who answers at the end. */
const END_WINDOW_MS = 500;
/** Loss-seconds a loss fault lasts by default (the issue asks 60 s at 30 % and 10 min at 5 %). */
const LOSS_SECONDS_DEFAULT = 60;
/** How long partition, oneway-in and oneway-out last by default. */
const PARTITION_MS_DEFAULT = 3_000;
/** How long flap flaps by default. */
const FLAP_SECONDS_DEFAULT = 5;
/** flap: the link is down this long, then up this long. */
const FLAP_HALF_PERIOD_MS = 400;
/** kill-majority: how long the two agents stay dead (the holder's lease ends well within it). */
const MAJORITY_DOWN_MS = 3_000;
/** kill-majority: after the restart, how long some host has to answer before the watch goes on without it. */
const RECOVERY_WAIT_MS = 30_000;
/** How often the bench looks at the client's samples while it waits for an answer. */
const RECOVERY_POLL_MS = 20;
/** disk-full: the size of the tmpfs under h1's state directory (room for the agent's start, filled afterwards). */
const SMALL_DISK_SIZE = "16m";
/** disk-full: the tmpfs's source name, by which a crashed run's mounts are found again. */
const SMALL_DISK_SOURCE = "umbra-chaos";
/** disk-full: the filler file is written in pieces of this many bytes. */
const FILL_CHUNK_BYTES = 65_536;
/** The issue's line: the deaf primary's downtime at most this many times the link cut's. */
export const DEAF_RATIO_MAX = 1.2;
const PROBES = HOSTS.map((h, i) => ({ name: `p${i + 1}`, ipv4: `198.51.100.${61 + i}`, host: h.name }));

export type Trial = {
  downtimeMs: number | null;
  dualHost: number;
  dualHostLongestMs: number;
  dualClient: number;
  newHolder: string | null;
  answeringAtEnd: string[];
  clientOkAfter: number;
  /** Sustained and cut-off faults: new holders certified during the fault (cut-off: to the end of the watch). */
  moves?: number;
  /** Sustained faults: the share of the fault's time some host held the VIP. */
  heldShare?: number;
  /** Sustained faults: the share of the client's requests sent during the fault that failed. */
  clientFailedShare?: number;
  /** Sustained faults: the machine's steal during the fault (bench/steal.ts): its share of the CPUs' time, and its pauses. */
  steal?: { share: number; pauses: number };
  /** Sustained faults: the share of the client's requests that failed with no pause of the machine during their wait. */
  clientFailedBesidePausesShare?: number;
  /** kill-majority: hosts whose probe got an answer just before the restart (none expected). */
  answeredWithoutQuorum?: string[];
  /** disk-full: the error and warning events h1's agent logged during the fault. */
  h1Complaints?: string[];
};

/** Synchronous undo steps of the faults under way: run by their finally, or by the signal handler on Ctrl-C. */
const undoOnSignal = new Set<() => void>();

/** Registers an undo step until the returned function runs it (once). */
function undoable(undo: () => void): () => void {
  const once = () => {
    if (!undoOnSignal.delete(once)) return;
    undo();
  };
  undoOnSignal.add(once);
  return once;
}


const answeredAt = (s: Sample): number => s.done ?? s.t;
const quantile = (xs: number[], q: number): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

/** Detector 1: moments (OVERLAP_WINDOW_MS slots) in which two probes got answers, and the longest stretch of them. */
export function dualFromProbes(byHost: Map<string, Sample[]>): { moments: number; longestMs: number } {
  const slots = new Map<number, Set<string>>();
  for (const [h, samples] of byHost) {
    for (const s of samples) if (s.ok) {
      const k = Math.floor(s.t / OVERLAP_WINDOW_MS);
      if (!slots.has(k)) slots.set(k, new Set());
      slots.get(k)!.add(h);
    }
  }
  const dual = [...slots].filter(([, hs]) => hs.size >= 2).map(([k]) => k).sort((a, b) => a - b);
  let longest = 0;
  let start = 0;
  for (let i = 0; i < dual.length; i++) {
    if (i === 0 || (dual[i]! - dual[i - 1]!) * OVERLAP_WINDOW_MS > STRETCH_GAP_MS) start = dual[i]!;
    longest = Math.max(longest, (dual[i]! - start + 1) * OVERLAP_WINDOW_MS);
  }
  return { moments: dual.length, longestMs: longest };
}

/** Detector 2 and the downtime: from the client's samples after the fault (oldHolder null: the first answer of any host counts). */
export function fromClient(samples: Sample[], faultAt: number, oldHolder: string | null, takes: Take[] | null = null): { downtimeMs: number | null; newHolder: string | null; dual: number } {
  const good = samples.filter((s) => s.ok && s.body !== undefined && s.t >= faultAt).sort((a, b) => answeredAt(a) - answeredAt(b));
  const first = good.find((s) => s.body!.trim() !== oldHolder);
  if (first === undefined) return { downtimeMs: null, newHolder: null, dual: 0 };
  const newHolder = first.body!.trim();
  const later = good.filter((s) => answeredAt(s) > answeredAt(first));
  const dual = takes === null ? later.filter((s) => s.body!.trim() !== newHolder).length : later.filter((s) => supersededAt(takes, s.body!.trim(), s.t)).length;
  return { downtimeMs: answeredAt(first) - faultAt, newHolder, dual };
}

/** A host's agent deciding to take the VIP (its take-vip log line), by the machine's one clock. */
export type Take = { host: string; at: number };
/** Log timestamps are whole milliseconds, and a request's send time is read before it leaves: slack for both. */
export const TAKE_SLACK_MS = 5;

export const takesFromLogs = (logs: LogLine[]): Take[] => logs.filter((l) => l.event === "take-vip").map((l) => ({ host: l.host, at: Date.parse(l.ts) })).sort((a, b) => a.at - b.at);

/**
 * Whether `host` answering a request sent at `t` means two answering hosts:
 * another host took the VIP after `host` last did and before the request
 * left. A later move to `host` (it took the VIP again) is not that.
 */
export function supersededAt(takes: Take[], host: string, t: number): boolean {
  const own = takes.filter((k) => k.host === host && k.at <= t).at(-1);
  const since = own?.at ?? -Infinity;
  return takes.some((k) => k.host !== host && k.at > since && k.at < t - TAKE_SLACK_MS);
}

/** From the agents' logs between `from` and `to`: holders certified in between, and the share of the time some host had its VIP up (take-vip to drop-vip). */
export function holdingFromLogs(logs: LogLine[], from: number, to: number): { moves: number; heldShare: number } {
  const at = (l: LogLine) => Date.parse(l.ts);
  const certified = new Set(logs.filter((l) => l.event === "certified" && at(l) >= from && at(l) <= to).map((l) => String(l.epoch)));
  const changes = logs.filter((l) => (l.event === "take-vip" || l.event === "drop-vip") && at(l) <= to).sort((a, b) => at(a) - at(b));
  const up = new Set<string>();
  let held = 0;
  let last = from;
  for (const l of changes) {
    const t = Math.max(from, at(l));
    if (up.size > 0) held += t - last;
    last = t;
    if (l.event === "take-vip") up.add(l.host);
    else up.delete(l.host);
  }
  if (up.size > 0) held += to - last;
  return { moves: certified.size, heldShare: held / (to - from) };
}

/** The error and warning events a host's agent logged in [from, to]: each kind once ("event(why)"), with the time of its first since `from`. */
export function complaints(logs: LogLine[], host: string, from: number, to: number): string[] {
  const at = (l: LogLine) => Date.parse(l.ts);
  const first = new Map<string, number>();
  for (const l of logs) {
    if (l.host !== host || (l.level !== "error" && l.level !== "warn") || at(l) < from || at(l) > to) continue;
    const kind = typeof l.why === "string" ? `${l.event}(${l.why})` : l.event;
    if (!first.has(kind)) first.set(kind, at(l) - from);
  }
  return [...first].sort((a, b) => a[1] - b[1]).map(([kind, ms]) => `${kind} at +${ms} ms`);
}

/** Which frames a cable drops, from its host's side: those it receives, those it sends, or both. */
export type Direction = "in" | "out" | "both";

/** nftables (netdev family, for the switch namespace) dropping `dir`'s frames on a host's switch port: the port's egress carries them to the host, its ingress from it. */
export function dropRuleset(port: string, dir: Direction): string {
  const toHost = `chain to_host { type filter hook egress device "${port}" priority ${CHAOS_PRIORITY}; drop; };`;
  const fromHost = `chain from_host { type filter hook ingress device "${port}" priority ${CHAOS_PRIORITY}; drop; };`;
  const chains = dir === "in" ? [toHost] : dir === "out" ? [fromHost] : [toHost, fromHost];
  return `table netdev ${CHAOS_TABLE} { ${chains.join(" ")} }`;
}

/** Every host drops `percent` % of the packets it sends, for `ms`. */
async function lossFor(c: DemoCluster, percent: number, ms: number): Promise<void> {
  const rules = `table inet ${CHAOS_TABLE} { chain out { type filter hook output priority ${CHAOS_PRIORITY}; numgen random mod 100 < ${percent} drop; }; }`;
  try {
    for (const h of HOSTS) {
      const r = await c.topo.exec(h.name, [nftPath(), rules]);
      if (r.code !== 0) throw new Error(`loss on ${h.name}: ${r.stderr.trim()}`);
    }
    await sleep(ms);
  } finally {
    for (const h of HOSTS) await c.topo.exec(h.name, [nftPath(), `delete table inet ${CHAOS_TABLE}`]); // a host without the table answers an error: nothing to undo
  }
}

/** The frames of `dir` on `host`'s cable dropped at the switch for `ms`, then let through again. */
async function dropFor(c: DemoCluster, host: string, dir: Direction, ms: number): Promise<void> {
  try {
    const r = await c.topo.execSwitch([nftPath(), dropRuleset(c.topo.switchPort(host), dir)]);
    if (r.code !== 0) throw new Error(`dropping frames on ${host}'s cable: ${r.stderr.trim()}`);
    await sleep(ms);
  } finally {
    await c.topo.execSwitch([nftPath(), `delete table netdev ${CHAOS_TABLE}`]);
  }
}

/** `host`'s link down for FLAP_HALF_PERIOD_MS, up for as long, again and again for `ms`; up at the end. */
async function flapFor(c: DemoCluster, host: string, ms: number): Promise<void> {
  const start = Date.now();
  try {
    // Bounded by the deadline; each half period is timed from the start so the slow `ip` calls do not add up.
    for (let k = 0; Date.now() < start + ms; k++) {
      await c.topo.cutLink(host);
      await sleep(Math.max(0, start + (2 * k + 1) * FLAP_HALF_PERIOD_MS - Date.now()));
      await c.topo.restoreLink(host);
      await sleep(Math.max(0, start + (2 * k + 2) * FLAP_HALF_PERIOD_MS - Date.now()));
    }
  } finally {
    await c.topo.restoreLink(host);
  }
}

/** Both cores busy for `ms`: one stress-ng CPU worker per core, in the root namespace (the CPU is shared). */
async function cpuLoadFor(ms: number): Promise<void> {
  const p = spawn("stress-ng", ["--cpu", String(availableParallelism()), "--timeout", `${Math.ceil(ms / 1000)}s`, "--quiet"], { stdio: "ignore" });
  const undo = undoable(() => p.exitCode === null && p.signalCode === null && p.kill("SIGKILL"));
  try {
    await new Promise<void>((res, rej) => {
      p.once("error", (err) => rej(new Error(`stress-ng: ${err.message} (bash scripts/ensure-system.sh --bench installs it)`)));
      p.once("exit", () => res());
    });
  } finally {
    undo();
  }
}

/** The holder h1 and the shadow h2 killed; restarted after MAJORITY_DOWN_MS. Resolves with the time of the restart. */
async function killMajority(c: DemoCluster): Promise<number> {
  c.signalAgent("h1", "SIGKILL");
  c.signalAgent("h2", "SIGKILL");
  await sleep(MAJORITY_DOWN_MS);
  const restartAt = Date.now();
  c.restartAgent("h1");
  c.restartAgent("h2");
  return restartAt;
}

/** A small tmpfs for h1's state directory, mounted before its agent starts; release() unmounts it (also on Ctrl-C). */
type SmallDisk = { dir: string; release(): void };

function unmountSmallDisk(dir: string): void {
  try {
    execFileSync("umount", ["--lazy", dir], { stdio: "ignore" }); // lazy: a process of the dying cluster may still hold a file there
  } catch {
    // not mounted (any more): only the directory is left
  }
  rmSync(dir, { recursive: true, force: true });
}

function mountSmallDisk(): SmallDisk {
  const dir = mkdtempSync(join(tmpdir(), "umbra-chaos-state-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${SMALL_DISK_SIZE},mode=0700`, SMALL_DISK_SOURCE, dir], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`mounting a tmpfs over ${dir}: ${(err as Error).message}`);
  }
  return { dir, release: undoable(() => unmountSmallDisk(dir)) };
}

/** The small disks a crashed run left mounted (found by their source name in /proc/self/mounts). */
function cleanupStaleDisks(): void {
  const mounts = readFileSync("/proc/self/mounts", "utf8").split("\n").map((l) => l.split(" "));
  for (const [source, target] of mounts) if (source === SMALL_DISK_SOURCE && target !== undefined) unmountSmallDisk(target);
}

/** Writes a file into `dir` until its filesystem says ENOSPC. */
function fillUp(dir: string): void {
  const fd = openSync(join(dir, "filler"), "w");
  const chunk = Buffer.alloc(FILL_CHUNK_BYTES, 1);
  try {
    // Bounded by the filesystem's size: the write that finds it full throws ENOSPC.
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  } finally {
    closeSync(fd);
  }
}

/** Applies the fault to the cluster and resolves when it is over (kill-majority: with the time of the restart). */
async function applyFault(c: DemoCluster, f: Fault, o: Options, disk: SmallDisk | null): Promise<{ restartAt?: number }> {
  switch (f) {
    case "cpu-load":
      await cpuLoadFor(o.lossMs);
      return {};
    case "loss-5":
    case "loss-30":
      await lossFor(c, f === "loss-5" ? 5 : 30, o.lossMs);
      return {};
    case "sigstop-1s":
    case "sigstop-3s":
      c.signalAgent("h1", "SIGSTOP");
      await sleep(f === "sigstop-1s" ? 1_000 : 3_000);
      c.signalAgent("h1", "SIGCONT");
      return {};
    case "kill9":
      c.signalAgent("h1", "SIGKILL");
      return {};
    case "link-cut":
      await c.topo.cutLink("h1");
      return {};
    case "partition":
    case "oneway-in":
    case "oneway-out":
      await dropFor(c, "h1", f === "partition" ? "both" : f === "oneway-in" ? "in" : "out", o.partitionMs);
      return {};
    case "flap":
      await flapFor(c, "h1", o.flapMs);
      return {};
    case "kill-majority":
      return { restartAt: await killMajority(c) };
    case "disk-full":
      assert(disk !== null, "disk-full runs on a small disk");
      fillUp(disk.dir);
      await sleep(o.lossMs);
      return {};
    default:
      return assertNever(f);
  }
}

type Poller = ReturnType<typeof startPoller>;
/** What a trial watched: the client, the probes, and when the fault began, ended, restarted agents (kill-majority) and the watch ended. */
type Watched = { client: Poller; probes: Array<{ host: string; poller: Poller }>; faultAt: number; faultEnd: number; restartAt?: number; stopAt: number; steal: StealReading[] };

/** Resolves once the client got an answer sent at or after `from`, or after `timeoutMs`. */
async function waitForAnswer(samples: Sample[], from: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // Bounded by the deadline.
  while (Date.now() < deadline && !samples.some((s) => s.ok && s.t >= from)) await sleep(RECOVERY_POLL_MS);
}

/** Hosts whose probe got an answer to a request sent in [from, to). */
const answering = (w: Watched, from: number, to: number): string[] => w.probes.filter((p) => p.poller.samples.some((s) => s.ok && s.t >= from && s.t < to)).map((p) => p.host);

/** The figures of one trial from what it watched and the agents' logs. */
function measure(f: Fault, w: Watched, logs: LogLine[]): Trial {
  const d1 = dualFromProbes(new Map(w.probes.map((p) => [p.host, p.poller.samples])));
  // kill-majority: the downtime runs from the restart, to the first answer of any host.
  const takes = takesFromLogs(logs);
  const d2 = w.restartAt === undefined ? fromClient(w.client.samples, w.faultAt, "h1", takes) : fromClient(w.client.samples, w.restartAt, null, takes);
  const t: Trial = {
    downtimeMs: d2.downtimeMs,
    newHolder: d2.newHolder,
    dualHost: d1.moments,
    dualHostLongestMs: d1.longestMs,
    dualClient: d2.dual,
    answeringAtEnd: answering(w, w.stopAt - END_WINDOW_MS, w.stopAt), // who answers at the end: what a failed trial is read by
    clientOkAfter: w.client.samples.filter((s) => s.ok && s.t >= w.faultAt).length,
  };
  if (SUSTAINED.has(f)) {
    const besides = failedBesidePauses(w.client.samples, pauses(w.steal), w.faultAt, w.faultEnd, POLL.timeoutMs);
    Object.assign(t, holdingFromLogs(logs, w.faultAt, w.faultEnd), { clientFailedShare: failedShare(w.client.samples, w.faultAt, w.faultEnd), steal: stealIn(w.steal, w.faultAt, w.faultEnd), clientFailedBesidePausesShare: besides });
  }
  if (CUT_OFF.has(f)) t.moves = holdingFromLogs(logs, w.faultAt, w.stopAt).moves;
  if (w.restartAt !== undefined) t.answeredWithoutQuorum = answering(w, w.restartAt - END_WINDOW_MS, w.restartAt);
  if (f === "disk-full") t.h1Complaints = complaints(logs, "h1", w.faultAt, w.faultEnd);
  return t;
}

/** Steady service, the fault, the watch; the pollers stopped. */
async function watchFault(c: DemoCluster, f: Fault, seed: number, o: Options, disk: SmallDisk | null): Promise<Watched> {
  await c.waitForHolders((h) => h.length === 1 && h[0] === "h1", FIRST_HOLDER_WAIT_MS);
  for (const p of PROBES) await pinProbe(c.topo, p);
  const poll = { ...POLL, rt: o.apparatusRt };
  const client = c.startPoller(poll);
  const probes = PROBES.map((p) => ({ host: p.host, poller: startPoller(c.topo, poll, p.name) }));
  const steal = startStealWatch();
  try {
    await sleep(SETTLE_MS + Math.floor(rng(seed).next() * SETTLE_JITTER_MS));
    const faultAt = Date.now();
    const { restartAt } = await applyFault(c, f, o, disk);
    const faultEnd = Date.now();
    if (restartAt !== undefined) await waitForAnswer(client.samples, restartAt, RECOVERY_WAIT_MS);
    await sleep(WATCH_MS);
    return { client, probes, faultAt, faultEnd, restartAt, stopAt: Date.now(), steal: steal.readings };
  } finally {
    steal.stop();
    await Promise.all([client.stop(), ...probes.map((p) => p.poller.stop())]);
  }
}

/** --log-dir: the agents' log lines (NAME.jsonl), and the client's failed requests and the machine's steal readings (NAME-client.jsonl, NAME-steal.jsonl). */
function keepLogs(dir: string, name: string, logs: readonly LogLine[], w: Watched | null): void {
  const lines = (xs: readonly unknown[]) => xs.map((x) => JSON.stringify(x) + "\n").join("");
  writeFileSync(join(dir, `${name}.jsonl`), lines(logs));
  if (w === null) return;
  writeFileSync(join(dir, `${name}-client.jsonl`), lines(w.client.samples.filter((s) => !s.ok)));
  writeFileSync(join(dir, `${name}-steal.jsonl`), lines(w.steal));
}

async function trial(f: Fault, seed: number, o: Options): Promise<Trial> {
  await cleanupStale(PREFIX);
  cleanupStaleDisks();
  const disk = f === "disk-full" ? mountSmallDisk() : null;
  try {
    const c = await startDemoCluster({
      prefix: PREFIX,
      timing: o.timing,
      extraHosts: PROBES.map((p) => ({ name: p.name, ipv4: p.ipv4 })),
      extraToml: o.fence ? undefined : () => "fence = false",
      stateDir: (h) => (h === "h1" ? disk?.dir : undefined),
      apparatusRt: f === "cpu-load" ? undefined : o.apparatusRt,
    });
    const forgetDir = undoable(() => rmSync(c.dir, { recursive: true, force: true })); // on Ctrl-C: destroy() would have removed it
    let w: Watched | null = null;
    try {
      w = await watchFault(c, f, seed, o, disk);
      return measure(f, w, c.logs);
    } finally {
      if (o.logDir !== undefined) keepLogs(o.logDir, `${f}-${seed}`, c.logs, w);
      await c.destroy();
      forgetDir();
    }
  } finally {
    disk?.release();
  }
}

export type Options = {
  trials: number | undefined;
  faults: Fault[];
  fence: boolean;
  lossMs: number;
  partitionMs: number;
  flapMs: number;
  json: boolean;
  timing: Record<string, number> | undefined;
  /** SCHED_RR priority of the apparatus (services, probes, client); undefined: ordinary work. */
  apparatusRt: number | undefined;
  /** Where each trial's agent log lines go (FAULT-TRIAL.jsonl), for diagnosis; undefined: nowhere. */
  logDir: string | undefined;
  /** cpu-load: as many trials of keepalived under the same load, after umbra's. */
  keepalived: boolean;
};

/**
 * The apparatus (services, probes, client) runs under SCHED_RR at this
 * priority, below the agents' 10, by default: on this 2-core machine the
 * hosts, the network's other machines and the load share two cores, and at
 * ordinary priority a starved poller's timeouts read as outages
 * (DemoOptions.apparatusRt). The load (stress-ng) stays ordinary work.
 * Except under cpu-load: there the real-time apparatus, busy beside a CPU
 * that is never idle, used up the kernel's real-time budget (95 % of each
 * CPU per second, sched_rt_runtime_us), and the kernel then paused every
 * real-time task, the agents with it, for 50-100 ms about every 10 s: the
 * holder's lease lapsed (session 20: 3 moves and 0.53 % failed requests in
 * 3 minutes; ordinary services, same code: 0 moves, 0.009 %). A machine's
 * own services are ordinary work too. The pollers (client, probes) stay
 * real-time: they stand for other machines, and alone they use a small
 * part of a CPU. The stalls that remained over 10 minutes were the
 * hypervisor's: pauses of the whole virtual machine (bench/steal.ts,
 * bench/RESULTS.md session 21), reported beside the figures.
 */
export const APPARATUS_RT_DEFAULT = 5;

/** A lease other than the lan profile's, with the rest scaled as bench/failover.ts scales it. */
const timingFor = (leaseMs: number): Record<string, number> => ({ leaseMs, renewIntervalMs: Math.floor(leaseMs / 6), proposalTimeoutMs: Math.floor(leaseMs / 2), actuationGuardMs: Math.floor(leaseMs / 3) });

/** The faults of --faults: `all`, or a comma-separated list of known faults (null: an unknown one, or none). */
export function parseFaults(s: string): Fault[] | null {
  if (s === "all") return [...FAULTS];
  const fs = s.split(",").map((x) => x.trim());
  if (fs.length === 0 || fs.some((f) => !(FAULTS as readonly string[]).includes(f))) return null;
  return [...new Set(fs as Fault[])];
}

/** How many trials a fault gets: --trials when given, else the default for its kind. */
export const trialsFor = (f: Fault, given: number | undefined): number => given ?? (SUSTAINED.has(f) ? SUSTAINED_TRIALS_DEFAULT : TRIALS_DEFAULT);

export const USAGE = `usage: node bench/chaos.ts [--trials N] [--faults all|${FAULTS.join(",")}] [--loss-seconds S] [--partition-ms N] [--flap-seconds S] [--lease-ms N (whole, ≥ 60)] [--no-fence] [--apparatus-rt N (default ${APPARATUS_RT_DEFAULT}; 0 = ordinary)] [--log-dir DIR (each trial's agent log lines, JSON)] [--keepalived (cpu-load: keepalived under the same load, after)] [--json]`;

/** The options from argv, or what is wrong with them. */
export function parseOptions(args: string[]): Options | { error: string } | { help: true } {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        trials: { type: "string" },
        faults: { type: "string", default: DEFAULT_FAULTS.join(",") },
        "loss-seconds": { type: "string", default: String(LOSS_SECONDS_DEFAULT) },
        "partition-ms": { type: "string", default: String(PARTITION_MS_DEFAULT) },
        "flap-seconds": { type: "string", default: String(FLAP_SECONDS_DEFAULT) },
        "lease-ms": { type: "string" },
        json: { type: "boolean", default: false },
        "no-fence": { type: "boolean", default: false },
        "apparatus-rt": { type: "string", default: String(APPARATUS_RT_DEFAULT) },
        "log-dir": { type: "string" },
        keepalived: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (err) {
    return { error: (err as Error).message };
  }
  if (values.help) return { help: true };
  const whole = (s: string | undefined, min: number): number | null => (s !== undefined && /^\d+$/.test(s) && Number(s) >= min ? Number(s) : null);
  const trials = values.trials === undefined ? undefined : whole(values.trials, 1);
  const faults = parseFaults(values.faults!);
  const [lossS, partitionMs, flapS] = [whole(values["loss-seconds"], 1), whole(values["partition-ms"], 1), whole(values["flap-seconds"], 1)];
  const leaseMs = values["lease-ms"] === undefined ? undefined : whole(values["lease-ms"], 60);
  if (trials === null) return { error: "--trials: a whole number ≥ 1" };
  if (faults === null) return { error: `--faults: all, or some of ${FAULTS.join(",")}` };
  if (lossS === null || partitionMs === null || flapS === null) return { error: "--loss-seconds, --partition-ms, --flap-seconds: whole numbers ≥ 1" };
  if (leaseMs === null) return { error: "--lease-ms: a whole number ≥ 60" };
  const rt = whole(values["apparatus-rt"], 0);
  if (rt === null || rt > 99) return { error: "--apparatus-rt: a whole number 0-99 (0: ordinary work)" };
  const apparatusRt = rt === 0 ? undefined : rt;
  const logDir = values["log-dir"];
  if (logDir !== undefined && !existsSync(logDir)) return { error: `--log-dir: ${logDir} does not exist` };
  return { trials, faults, fence: !values["no-fence"], lossMs: lossS * 1000, partitionMs, flapMs: flapS * 1000, json: values.json!, timing: leaseMs === undefined ? undefined : timingFor(leaseMs), apparatusRt, logDir, keepalived: values.keepalived! };
}

function options(): Options {
  const o = parseOptions(process.argv.slice(2));
  if ("help" in o) {
    process.stdout.write(`${USAGE}\n  needs root: network namespaces, nftables rules and (disk-full) a mount\n`);
    process.exit(0);
  }
  if ("error" in o) {
    process.stderr.write(`${o.error}\n${USAGE}\n`);
    process.exit(2);
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write("bench/chaos needs root: it creates network namespaces, nftables rules and (disk-full) a mount\n");
    process.exit(1);
  }
  return o;
}

function describeTrial(t: Trial): string {
  const moves = t.moves === undefined ? "" : `, ${t.moves} move(s)`;
  const held = t.heldShare === undefined ? "" : `, held ${(100 * t.heldShare).toFixed(2)} %, client requests failed ${(100 * t.clientFailedShare!).toFixed(3)} %`;
  const steal = t.steal === undefined ? "" : `; the machine: steal ${(100 * t.steal.share).toFixed(2)} % with ${t.steal.pauses} pause(s) ≥ ${PAUSE_MIN_MS} ms, client requests failed outside them ${(100 * t.clientFailedBesidePausesShare!).toFixed(3)} %`;
  const quorum = t.answeredWithoutQuorum === undefined ? "" : `, answering without quorum: ${t.answeredWithoutQuorum.join(",") || "none"}`;
  const disk = t.h1Complaints === undefined ? "" : `, h1 logged: ${t.h1Complaints.join(",") || "no error"}`;
  return `downtime ${t.downtimeMs === null ? "none" : `${Math.round(t.downtimeMs)} ms`} -> ${t.newHolder ?? "-"}, two answering: hosts ${t.dualHost} (longest ${t.dualHostLongestMs} ms), client ${t.dualClient}; answering at the end: ${t.answeringAtEnd.join(",") || "none"}, client answers after the fault ${t.clientOkAfter}${moves}${held}${steal}${quorum}${disk}`;
}

export type Row = { fault: Fault; results: Trial[] };
const downtimes = (results: Trial[]): number[] => results.map((r) => r.downtimeMs).filter((x): x is number => x !== null);

export const TABLE_HEAD = "| fault | trials | downtime p50 | p99 | failed | two answering (hosts: moments, longest) | two answering (client) | moves | held (min) | client requests failed (max) | machine's steal, pauses (max) | failed outside pauses (max) | answered without quorum |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";

/** One row of the table: "-" where a figure means nothing for the fault. */
export function rowCells({ fault, results }: Row): string[] {
  const sustained = SUSTAINED.has(fault);
  const ds = downtimes(results);
  const p = (q: number) => (sustained || quantile(ds, q) === null ? "-" : `${Math.round(quantile(ds, q)!)} ms`);
  const sum = (g: (r: Trial) => number) => results.reduce((a, r) => a + g(r), 0);
  const moves = results.length > 0 && results.every((r) => r.moves !== undefined) ? String(sum((r) => r.moves!)) : "-";
  const held = sustained ? `${(100 * Math.min(...results.map((r) => r.heldShare!))).toFixed(2)} %` : "-";
  const clientFailed = sustained ? `${(100 * Math.max(...results.map((r) => r.clientFailedShare!))).toFixed(3)} %` : "-";
  const steals = results.flatMap((r) => (r.steal === undefined ? [] : [r.steal]));
  const steal = sustained && steals.length > 0 ? `${(100 * Math.max(...steals.map((s) => s.share))).toFixed(2)} %, ${Math.max(...steals.map((s) => s.pauses))}` : "-";
  const besides = results.flatMap((r) => (r.clientFailedBesidePausesShare === undefined ? [] : [r.clientFailedBesidePausesShare]));
  const failedOutside = sustained && besides.length > 0 ? `${(100 * Math.max(...besides)).toFixed(3)} %` : "-";
  const noQuorum = fault === "kill-majority" ? String(results.filter((r) => r.answeredWithoutQuorum!.length > 0).length) : "-";
  const longest = Math.max(0, ...results.map((r) => r.dualHostLongestMs));
  return [fault, String(results.length), p(0.5), p(0.99), sustained ? "-" : String(results.length - ds.length), `${sum((r) => r.dualHost)}, ${longest} ms`, String(sum((r) => r.dualClient)), moves, held, clientFailed, steal, failedOutside, noQuorum];
}

/** The deaf primary's downtime p50 over the link cut's, when both ran and both have one. */
export function deafRatio(rows: Row[]): { ratio: number; deafMs: number; cutMs: number } | null {
  const p50 = (f: Fault): number | null => {
    const row = rows.find((r) => r.fault === f);
    return row === undefined ? null : quantile(downtimes(row.results), 0.5);
  };
  const [deafMs, cutMs] = [p50("oneway-in"), p50("link-cut")];
  return deafMs === null || cutMs === null || cutMs <= 0 ? null : { ratio: deafMs / cutMs, deafMs, cutMs };
}

function printTable(rows: Row[]): void {
  process.stdout.write(TABLE_HEAD);
  for (const row of rows) process.stdout.write(`| ${rowCells(row).join(" | ")} |\n`);
  if (!rows.some((r) => r.fault === "oneway-in") || !rows.some((r) => r.fault === "link-cut")) return;
  const d = deafRatio(rows);
  process.stdout.write(d === null ? "\ndeaf/link-cut: - (no downtime p50 for one of them)\n" : `\ndeaf/link-cut: ${d.ratio.toFixed(2)} (oneway-in p50 ${Math.round(d.deafMs)} ms / link-cut p50 ${Math.round(d.cutMs)} ms; the issue's line: ≤ ${DEAF_RATIO_MAX})\n`);
}

/** keepalived's adverts in the cpu-load anchor: its setting of lan's order (0.16 s failover). */
const KEEPALIVED_ADVERT_MS = 50;

/** --keepalived: as many trials of keepalived under cpu-load as umbra ran. */
async function keepalivedUnderLoad(o: Options): Promise<SustainedResult[]> {
  const out: SustainedResult[] = [];
  const n = trialsFor("cpu-load", o.trials);
  for (let i = 0; i < n; i++) {
    const r = await runKeepalivedSustained({ advertIntMs: KEEPALIVED_ADVERT_MS, during: () => cpuLoadFor(o.lossMs), clientRt: o.apparatusRt, probes: PROBES });
    out.push(r);
    process.stderr.write(`  keepalived under cpu-load ${i + 1}/${n}: client requests failed ${(100 * r.failedShare).toFixed(3)} % of ${r.sent}, answered by ${r.answeredBy.join(" -> ")}\n`);
  }
  return out;
}

/** Ctrl-C (or SIGTERM): the faults' undo steps, then exit; the topology's exit handler removes the namespaces. */
function onSignal(sig: NodeJS.Signals): void {
  for (const undo of [...undoOnSignal]) undo();
  process.exit(128 + constants.signals[sig]);
}

async function main(): Promise<void> {
  const o = options();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const rows: Row[] = [];
  for (const f of o.faults) {
    const results: Trial[] = [];
    const n = trialsFor(f, o.trials);
    for (let i = 0; i < n; i++) {
      const t = await trial(f, i + 1, o);
      results.push(t);
      process.stderr.write(`  ${f} trial ${i + 1}/${n}: ${describeTrial(t)}\n`);
    }
    rows.push({ fault: f, results });
  }
  const anchor = o.keepalived && o.faults.includes("cpu-load") ? await keepalivedUnderLoad(o) : [];
  if (o.json) process.stdout.write(JSON.stringify(o.keepalived ? { rows, keepalived: anchor } : rows) + "\n");
  else {
    printTable(rows);
    if (anchor.length > 0) process.stdout.write(`\nkeepalived VRRPv3 at ${KEEPALIVED_ADVERT_MS / 1000} s adverts under the same load: client requests failed ${anchor.map((a) => `${(100 * a.failedShare).toFixed(3)} %`).join(", ")}; moves ${anchor.map((a) => a.answeredBy.length - 1).join(", ")}\n`);
  }
}

if (import.meta.main ?? process.argv[1]?.endsWith("chaos.ts")) await main();
