// The benchmark's anchor: keepalived VRRPv3 in the same namespace layout as
// umbra's trials (h1 .11 and h2 .12 on one bridge in a switch namespace, a
// client .100 polling the VIP 198.51.100.10 every 5 ms with a 30 ms timeout,
// service.ts in both hosts). h1 (priority 150) is master, h2 (100) backup,
// no preempt delay; once the client sees h1 steadily, h1 is cut off at a
// seeded random point within one advert interval; downtime runs from the cut
// to the first answer from h2.
//
// keepalived has no quorum. With a silent partition (--partition: carrier
// stays up) h1 never hears h2 and stays master too, so both hold the VIP:
// that is recorded, as expected. With the link cut (the switch side of h1's
// veth down) h1's eth0 loses carrier, keepalived moves h1 to FAULT and it
// removes the VIP itself, so no overlap shows there.
//
//   node bench/keepalived.ts [--trials 3] [--advert-ms 1000] [--partition] [--seed 1] [--json]
//   (root; `bash scripts/ensure-system.sh --bench` installs keepalived)

import { execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { createTopology, cleanupStale, type Topology } from "../src/demo/topology.ts";
import { answeredByOf, downtimeFrom, failedShare, type Sample } from "../src/demo/downtime.ts";
import { CLIENT, HOSTS, NODE, SERVICE_PORT, SUBNET, VIP, rtPrefix, sleep, startPoller } from "../src/demo/cluster.ts";
import { assert } from "../src/shared/assert.ts";
import { UmbraError } from "../src/shared/errors.ts";
import { rng } from "../src/shared/rng.ts";
import type { TrialResult } from "./umbra.ts";

export const KEEPALIVED_PREFIX = "uk-";
const ROOT = resolve(import.meta.dirname, "..");

/** How long keepalived gets to make h1 the only holder. */
export const FIRST_MASTER_WAIT_MS = 30_000;
/** Consecutive good answers from h1 that make the client's view "steady" before the cut. */
export const STEADY_ANSWERS = 50;
export const STEADY_WAIT_MS = 10_000;
/** After the cut, how long h2 gets to answer. */
export const FAILOVER_WAIT_MS = 15_000;
/** After h2's first answer, how long holders are still watched for an overlap. */
export const SETTLE_MS = 500;
/** How often `ip -n NS -j addr` is read in both hosts during a trial. */
export const HOLDER_POLL_MS = 10;
export const POLL_INTERVAL_MS = 5;
export const POLL_TIMEOUT_MS = 30;
/** keepalived log lines kept per host, for the error message when a trial fails. */
const LOG_LINES_MAX = 40;

export type KeepalivedTrialOptions = {
  /** VRRP advert interval; under 1000 needs VRRPv3 (centiseconds). */
  advertIntMs: number;
  /** Draws the cut's point within one advert interval. */
  seed: number;
  /** "link": switch side of h1's veth down (carrier lost); "partition": h1's bridge port disabled (carrier up). */
  cut?: "link" | "partition";
  /** Namespace prefix; different prefixes let runs coexist. */
  prefix?: string;
};
export type KeepalivedTrialResult = TrialResult & {
  /** Delay drawn from the seed between the steady view and the cut. */
  cutDelayMs: number;
  /** Hosts holding the VIP SETTLE_MS after h2's first answer. */
  holdersAfter: string[];
  /** Hosts that answered the client, in order. */
  answeredBy: string[];
};

/** A keepalived VRRPv3 config: one instance on eth0 for the VIP, unicast to the peers. */
export function keepalivedConf(o: { name: string; priority: number; advertIntMs: number; peers: string[]; self: string }): string {
  return `global_defs {
  router_id ${o.name}
  vrrp_version 3
  # One burst of gratuitous ARPs at once on becoming master, no second burst.
  vrrp_garp_master_delay 0
  vrrp_garp_master_repeat 1
}
vrrp_instance VI_1 {
  state ${o.priority > 100 ? "MASTER" : "BACKUP"}
  interface eth0
  virtual_router_id 51
  priority ${o.priority}
  advert_int ${o.advertIntMs / 1000}
  unicast_src_ip ${o.self}
  unicast_peer {
    ${o.peers.join("\n    ")}
  }
  virtual_ipaddress {
    ${VIP}/24 dev eth0
  }
}
`;
}

export function keepalivedPath(): string {
  for (const p of ["/usr/sbin/keepalived", "/usr/local/sbin/keepalived"]) {
    try {
      execFileSync(p, ["--version"], { stdio: "ignore" });
      return p;
    } catch {
      // not there; try the next
    }
  }
  throw new UmbraError("trial_failed", "keepalived is not installed: run `bash scripts/ensure-system.sh --bench` as root");
}

/** Keeps the last LOG_LINES_MAX lines of a child's stdout and stderr. */
function logTail(p: ChildProcess): string[] {
  const lines: string[] = [];
  const keep = (l: string) => {
    lines.push(l);
    if (lines.length > LOG_LINES_MAX) lines.shift();
  };
  createInterface({ input: p.stdout! }).on("line", keep);
  createInterface({ input: p.stderr! }).on("line", keep);
  return lines;
}

async function holders(topo: Topology): Promise<string[]> {
  const held = await Promise.all([HOSTS[0], HOSTS[1]].map(async (h) => ((await topo.addrs(h.name)).includes(VIP) ? (h.name as string) : null)));
  return held.filter((x): x is string => x !== null);
}

export async function runKeepalivedTrial(o: KeepalivedTrialOptions): Promise<KeepalivedTrialResult> {
  assert(Number.isInteger(o.advertIntMs) && o.advertIntMs >= 10 && o.advertIntMs <= 40_950 && o.advertIntMs % 10 === 0, "VRRPv3 adverts are whole centiseconds, 10 ms .. 40.95 s");
  const prefix = o.prefix ?? KEEPALIVED_PREFIX;
  const keepalived = keepalivedPath();
  await cleanupStale(prefix);
  const cutDelayMs = Math.floor(rng(o.seed).next() * o.advertIntMs);
  const dir = mkdtempSync(join(tmpdir(), "umbra-keepalived-"));
  const [h1, h2] = [HOSTS[0], HOSTS[1]];
  let topo: Topology | undefined;
  const logs = new Map<string, string[]>();
  const fail = (what: string, ctx: Record<string, unknown>) =>
    new UmbraError("trial_failed", `keepalived trial (seed ${o.seed}, advert ${o.advertIntMs} ms): ${what}\n${logsText(logs)}`, { seed: o.seed, ...ctx });
  try {
    topo = await createTopology({
      prefix,
      subnet: SUBNET,
      hosts: [{ name: h1.name, ipv4: h1.ipv4 }, { name: h2.name, ipv4: h2.ipv4 }, { name: CLIENT.name, ipv4: CLIENT.ipv4 }],
    });
    for (const [h, priority, peer] of [[h1, 150, h2], [h2, 100, h1]] as const) startHost(topo, { keepalived, dir, logs }, { name: h.name, priority, advertIntMs: o.advertIntMs, peers: [peer.ipv4], self: h.ipv4 });

    // 1. h1 alone holds the VIP (bounded).
    const firstDeadline = Date.now() + FIRST_MASTER_WAIT_MS;
    let hs = await holders(topo);
    while (!(hs.length === 1 && hs[0] === h1.name)) {
      if (Date.now() > firstDeadline) throw fail(`h1 never became the only master (holders: [${hs.join(", ")}])`, { holders: hs });
      await sleep(50);
      hs = await holders(topo);
    }

    // 2. The client sees h1 steadily (bounded).
    const { poller, samples } = await steadyClient(topo, undefined, 600_000, fail);

    // 3. Cut h1 off at a seeded point within one advert interval.
    await sleep(cutDelayMs);
    const cutAt = performance.timeOrigin + performance.now();
    if (o.cut === "partition") await topo.partition(h1.name);
    else await topo.cutLink(h1.name);

    // 4. Watch both hosts' addresses until h2 answers and SETTLE_MS after (bounded).
    let dual = false;
    let answeredAt: number | null = null;
    const until = Date.now() + FAILOVER_WAIT_MS;
    while (Date.now() < until) {
      if ((await holders(topo)).length > 1) dual = true;
      if (answeredAt === null && samples.some((s) => s.ok && s.t >= cutAt && s.body === h2.name)) answeredAt = Date.now();
      if (answeredAt !== null && Date.now() - answeredAt >= SETTLE_MS) break;
      await sleep(HOLDER_POLL_MS);
    }
    const holdersAfter = await holders(topo);
    if (holdersAfter.length > 1) dual = true;
    await stopPoller(poller);
    const d = downtimeFrom(samples, cutAt, h2.name);
    if (d.downtimeMs === null) throw fail(`h2 never answered within ${FAILOVER_WAIT_MS} ms of the cut (holders: [${holdersAfter.join(", ")}])`, { holdersAfter });
    return { downtimeMs: d.downtimeMs, maxGapMs: d.maxGapMs, dualHolderObserved: dual, newHolder: h2.name, cutDelayMs, holdersAfter, answeredBy: d.answeredBy };
  } finally {
    await topo?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

type Fail = (what: string, ctx: Record<string, unknown>) => Error;

/** keepalived's log tails, for an error message. */
const logsText = (logs: ReadonlyMap<string, string[]>): string => [...logs].map(([h, l]) => `--- ${h} keepalived:\n${l.join("\n")}`).join("\n");

/** The demo service and keepalived (its config written to `dir`) in host `conf.name`; keepalived's log tail kept in `logs`. */
function startHost(topo: Topology, run: { keepalived: string; dir: string; logs: Map<string, string[]> }, conf: Parameters<typeof keepalivedConf>[0]): void {
  const cfg = join(run.dir, `${conf.name}.conf`);
  writeFileSync(cfg, keepalivedConf(conf));
  topo.spawn(conf.name, [NODE, join(ROOT, "src/demo/service.ts"), "--name", conf.name, "--port", String(SERVICE_PORT)], {});
  // Per-host pid files, so the instances do not take each other for a running copy.
  const k = topo.spawn(conf.name, [run.keepalived, "--dont-fork", "--log-console", "--vrrp", "-f", cfg, "-p", join(run.dir, `${conf.name}.pid`), "-r", join(run.dir, `${conf.name}.vrrp.pid`)], {});
  run.logs.set(conf.name, logTail(k));
}

/** A probe: a host of its own that sends the VIP to one host's MAC, whatever ARP says, so its poller sees whether that host answers. */
export type Probe = { name: string; ipv4: string; host: string };

/** Pins the probe's neighbour entry for the VIP to its host's MAC. */
export async function pinProbe(topo: Topology, probe: Probe): Promise<void> {
  const link = JSON.parse((await topo.exec(probe.host, ["ip", "-j", "link", "show", "eth0"])).stdout) as Array<{ address: string }>;
  const r = await topo.exec(probe.name, ["ip", "neigh", "replace", VIP, "lladdr", link[0]!.address, "dev", "eth0", "nud", "permanent"]);
  if (r.code !== 0) throw new Error(`probe ${probe.name}: ${r.stderr.trim()}`);
}

/** The client polling the VIP (under SCHED_RR `rt` if given), once it has seen h1 answer STEADY_ANSWERS times in a row (bounded). */
async function steadyClient(topo: Topology, rt: number | undefined, durationMs: number, fail: Fail): Promise<{ poller: ChildProcess; samples: Sample[] }> {
  const poller = topo.spawn(CLIENT.name, [...rtPrefix(rt), NODE, join(ROOT, "src/demo/poller.ts"), "--url", `http://${VIP}:${SERVICE_PORT}/`, "--interval-ms", String(POLL_INTERVAL_MS), "--timeout-ms", String(POLL_TIMEOUT_MS), "--duration-ms", String(durationMs)], {});
  const samples: Sample[] = [];
  createInterface({ input: poller.stdout! }).on("line", (l) => {
    try {
      samples.push(JSON.parse(l) as Sample);
    } catch {
      // a partial line at exit: nothing to record
    }
  });
  const steadyDeadline = Date.now() + STEADY_WAIT_MS;
  const steady = () => samples.length >= STEADY_ANSWERS && samples.slice(-STEADY_ANSWERS).every((s) => s.ok && s.body === HOSTS[0].name);
  while (!steady()) {
    if (Date.now() > steadyDeadline) {
      poller.kill("SIGKILL");
      throw fail(`the client never saw h1 steadily (${samples.length} samples, last ${JSON.stringify(samples.at(-1))})`, {});
    }
    await sleep(20);
  }
  return { poller, samples };
}

/** SIGTERM to the poller, resolved at its exit (it exits POLL_TIMEOUT_MS after), or after a second. */
function stopPoller(poller: ChildProcess): Promise<void> {
  return new Promise<void>((res) => {
    const bound = setTimeout(res, 1_000);
    poller.once("exit", () => (clearTimeout(bound), res()));
    poller.kill("SIGTERM");
  });
}

export type SustainedOptions = {
  advertIntMs: number;
  /** The fault, applied once the client sees h1 steadily; resolves when it is over. */
  during: () => Promise<void>;
  /** SCHED_RR priority of the client and probes (bench/chaos's pollers keep theirs under load); undefined: ordinary. */
  clientRt?: number;
  /** Probe hosts, each polling one host's service as bench/chaos's do (pinned to its MAC): the same apparatus as umbra's runs. */
  probes?: ReadonlyArray<Probe>;
  prefix?: string;
};
export type SustainedResult = {
  /** The share of the client's requests sent during the fault that failed. */
  failedShare: number;
  sent: number;
  /** Hosts that answered the client during the fault, in order, repeats collapsed: a move is a change. */
  answeredBy: string[];
};

/**
 * keepalived under a sustained fault with no host failing (bench/chaos's
 * anchor for cpu-load): h1, h2, h3 at priorities 150, 100, 90, each with
 * the demo service (ordinary work, as in umbra's runs), the client polling
 * the VIP every 5 ms, and the probes if given. keepalived runs as Debian
 * ships it (no real-time).
 */
export async function runKeepalivedSustained(o: SustainedOptions): Promise<SustainedResult> {
  const prefix = o.prefix ?? KEEPALIVED_PREFIX;
  const keepalived = keepalivedPath();
  await cleanupStale(prefix);
  const dir = mkdtempSync(join(tmpdir(), "umbra-keepalived-"));
  const hosts = HOSTS.map((h, i) => ({ ...h, priority: [150, 100, 90][i]! }));
  let topo: Topology | undefined;
  const logs = new Map<string, string[]>();
  const fail: Fail = (what, ctx) => new UmbraError("trial_failed", `keepalived under a sustained fault (advert ${o.advertIntMs} ms): ${what}\n${logsText(logs)}`, ctx);
  try {
    const probes = o.probes ?? [];
    topo = await createTopology({ prefix, subnet: SUBNET, hosts: [...hosts.map((h) => ({ name: h.name, ipv4: h.ipv4 })), { name: CLIENT.name, ipv4: CLIENT.ipv4 }, ...probes.map((p) => ({ name: p.name, ipv4: p.ipv4 }))] });
    for (const h of hosts) startHost(topo, { keepalived, dir, logs }, { name: h.name, priority: h.priority, advertIntMs: o.advertIntMs, peers: hosts.filter((p) => p !== h).map((p) => p.ipv4), self: h.ipv4 });
    const { poller, samples } = await steadyClient(topo, o.clientRt, 3_600_000, fail);
    for (const p of probes) await pinProbe(topo, p);
    const probePollers = probes.map((p) => startPoller(topo!, { intervalMs: POLL_INTERVAL_MS, timeoutMs: POLL_TIMEOUT_MS, rt: o.clientRt }, p.name));
    const from = Date.now();
    try {
      await o.during();
    } finally {
      await Promise.all([stopPoller(poller), ...probePollers.map((p) => p.stop())]);
    }
    const to = Date.now();
    const sent = samples.filter((s) => s.t >= from && s.t < to);
    return { failedShare: failedShare(samples, from, to), sent: sent.length, answeredBy: answeredByOf(sent) };
  } finally {
    await topo?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function median(xs: number[]): number {
  assert(xs.length > 0, "median of something");
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

if (import.meta.main || process.argv[1]?.endsWith("bench/keepalived.ts")) {
  const { parseArgs } = await import("node:util");
  const { values } = parseArgs({
    options: {
      trials: { type: "string", default: "3" },
      "advert-ms": { type: "string", default: "1000" },
      seed: { type: "string", default: "1" },
      partition: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
    },
  });
  const trials = Number(values.trials);
  const advertIntMs = Number(values["advert-ms"]);
  const seed0 = Number(values.seed);
  if (!Number.isInteger(trials) || trials < 1 || trials > 100 || !Number.isInteger(advertIntMs) || advertIntMs < 10 || advertIntMs % 10 !== 0 || !Number.isInteger(seed0)) {
    process.stderr.write("usage: node bench/keepalived.ts [--trials 1..100] [--advert-ms N (a multiple of 10)] [--seed N] [--partition] [--json]\n");
    process.exit(2);
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write("bench/keepalived: needs root (network namespaces)\n");
    process.exit(1);
  }
  const cut = values.partition ? ("partition" as const) : ("link" as const);
  const results: KeepalivedTrialResult[] = [];
  for (let i = 0; i < trials; i++) {
    const r = await runKeepalivedTrial({ advertIntMs, seed: seed0 + i, cut });
    results.push(r);
    if (values.json) process.stdout.write(JSON.stringify({ seed: seed0 + i, ...r }) + "\n");
    else process.stdout.write(`trial ${i + 1}/${trials} (seed ${seed0 + i}, cut ${Math.round(r.cutDelayMs)} ms into an advert): downtime ${Math.round(r.downtimeMs!)} ms, longest gap ${Math.round(r.maxGapMs ?? 0)} ms, two holders: ${r.dualHolderObserved ? "YES" : "no"} (after: [${r.holdersAfter.join(", ")}])\n`);
  }
  const downtimes = results.map((r) => r.downtimeMs!);
  const summary = { advertIntMs, cut, trials, medianMs: Math.round(median(downtimes)), worstMs: Math.round(Math.max(...downtimes)), dualHolderTrials: results.filter((r) => r.dualHolderObserved).length };
  if (values.json) process.stdout.write(JSON.stringify(summary) + "\n");
  else process.stdout.write(`keepalived VRRPv3 advert ${advertIntMs} ms, ${cut === "link" ? "link cut" : "silent partition"}: median ${summary.medianMs} ms, worst ${summary.worstMs} ms over ${trials} trials; trials with two VIP holders: ${summary.dualHolderTrials}\n`);
}
