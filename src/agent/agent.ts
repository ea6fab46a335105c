// The imperative shell's assembly: turns sockets, timers, samples and the
// outcomes of its own effects into events for the one host core
// (decide/host.ts, stepped in loop.ts), and carries out the core's effects
// in the order they were emitted (effects.ts). Nothing here decides.
// Network events wait in a bounded inbox that the agent empties on its own
// tick; VIP changes and hooks run off the loop (runners.ts), and their
// outcomes come back as events, so nothing on the lease path ever waits on
// `ip`, a disk or a hook.

import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { networkInterfaces, setPriority } from "node:os";
import { spawnSync } from "node:child_process";
import { isIPv4 } from "node:net";
import { randomInt } from "node:crypto";
import { assert } from "../shared/assert.ts";
import { UmbraError } from "../shared/errors.ts";
import { hostId, type HostId } from "../shared/ids.ts";
import { logger, type Logger } from "../shared/log.ts";
import { rng } from "../shared/rng.ts";
import { bootstrapOf, loadConfig, replicasOf, type Config } from "../shared/config.ts";
import { readKeyFile, type KeyPair } from "../shared/identity.ts";
import { forecastStaleMs, host } from "../decide/index.ts";
import { openMesh, parseHostPort, type Mesh, type BeaconForecast, type BeaconStanding, type BeaconVotes, type BeaconWarm } from "../mesh/index.ts";
import { RATIO_METRICS } from "../shared/metrics.ts";
import { startBackgroundSampler, startReplaySampler, type HostSample } from "../probe/index.ts";
import { announceFromPrimary, armedArping, ipBatch, runCommand, openFence, removeFence, removeVip, vipAddress, vipPlacementIssue, BATCH_QUEUE_MAX, FENCE_TABLE, type Fence, type IpBatch } from "../actuate/index.ts";
import { createApi, serveApi, type StatusDoc } from "../api/index.ts";
import { agentMetrics, type MetricsCounters } from "../api/index.ts";
import { startForecasting, type Forecasting } from "./forecasting.ts";
import { strongestAnomaly } from "../forecast/index.ts";
import { loadRecord, RecordWriter } from "./records.ts";
import { planReload, type ReloadPlan } from "./reload.ts";
import { signatures, type Signatures } from "./signatures.ts";
import { buildStatus } from "./status.ts";
import { effectRunners, type ServiceRt } from "./runners.ts";
import { effectApplier } from "./effects.ts";
import { startSwapWindows, type SwapWindows } from "./swapwindow.ts";
import { startDayLoads, type DayLoads } from "./dayload.ts";
import { diagnoser, loadSafeModes, safeModeWriter, takeLeft, writeLeft } from "./diagnostics.ts";
import { AgentLoop, type BeaconMsg } from "./loop.ts";
import { Observed } from "./observed.ts";
import { startAgentReplication, type AgentReplication } from "./replication.ts";
import { operatorsShell, type Operators } from "./operators.ts";
import { startChecks } from "./checks.ts";
import { loadStandings, loadVoteStandings, standingsWriter, voteStandingsWriter } from "./standings.ts";
import { systemdNotifier } from "./sdnotify.ts";
import { EventHub, publishingLogger, sortAudit, type OrderDeps } from "../api/index.ts";
import type { QueueCount } from "./queue.ts";
import { StealMeter } from "./steal.ts";

import { VERSION } from "../shared/version.ts";
export { VERSION };

/** Incarnations are drawn below this bound (a positive 31-bit integer). */
const BOOT_RANGE = 2 ** 31;

export type Agent = {
  status(): StatusDoc;
  stop(): Promise<void>;
  /** Reads the config file again (SIGHUP): applies what can change live, logs what needs a restart; a bad file changes nothing. */
  reload(): ReloadPlan | null;
};

/** Monotonic milliseconds: leases must never follow wall-clock jumps. */
const monoNow = (): number => performance.now();

/** Runs an agent until SIGINT or SIGTERM, then stops it; SIGHUP reloads its config. */
export async function runAgent(config: Config): Promise<void> {
  const agent = await startAgent(config);
  const onHup = () => void agent.reload();
  process.on("SIGHUP", onHup);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      process.off("SIGHUP", onHup);
      agent.stop().then(resolve, (err) => {
        process.stderr.write(`umbra: error while stopping on ${sig}: ${(err as Error).message}\n`);
        resolve();
      });
    };
    const onInt = () => stop("SIGINT");
    const onTerm = () => stop("SIGTERM");
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
  });
}

/** This host's key, checked against the one [[hosts]] lists for it. */
function ownKey(config: Config): KeyPair {
  const keyPair = readKeyFile(config.keyFile);
  const selfEntry = config.hosts.find((h) => h.id === config.host);
  assert(selfEntry !== undefined, "config validation put self in hosts");
  const hex = keyPair.publicKey.toString("hex");
  if (selfEntry.publicKey !== hex) {
    throw new UmbraError("key_invalid", `the key in ${config.keyFile} is not the one listed for host "${config.host}" in [[hosts]] (listed ${selfEntry.publicKey.slice(0, 16)}…, file has ${hex.slice(0, 16)}…)`);
  }
  return keyPair;
}

/** chrt runs in milliseconds; this only bounds a wedged one at start. */
const CHRT_TIMEOUT_MS = 5_000;

/** A partial record's given entries. */
const definedOnly = (r: Partial<Record<string, number>>): Record<string, number> => Object.fromEntries(Object.entries(r).filter((e): e is [string, number] => e[1] !== undefined));

/** The host core's configuration. A fresh incarnation per process: a grant or vote meant for an earlier run of this host counts for nothing (seq numbers restart with us). */
function hostConfigOf(config: Config): host.HostConfig {
  const t = config.timing;
  const f = config.forecast;
  return {
    self: config.host,
    hosts: config.hosts.map((h) => h.id),
    boot: randomInt(0, BOOT_RANGE),
    services: config.services.map((svc) => ({
      name: svc.name,
      candidates: replicasOf(svc),
      voters: svc.voters,
      ackShadows: svc.ackShadows,
      moveBackAfterMs: svc.moveBackAfterMs,
      swapEveryMs: svc.swap?.every ?? 0,
      moveBackInWindow: svc.swap?.moveBackInWindow ?? false,
      ...(svc.scaling === undefined ? {} : { scaling: { ...svc.scaling, staleMs: forecastStaleMs(f.stepMs) } }),
      ...(svc.migrate === undefined ? {} : { migrate: { by: svc.migrate.by ?? null } }),
      ...(svc.shadowCount === undefined ? {} : { shadowCount: { ...svc.shadowCount, max: svc.shadowCount.max ?? svc.shadows.length + svc.spares.length, staleMs: forecastStaleMs(f.stepMs), initial: svc.shadows, reserve: definedOnly(svc.shadowCount.reserve) } }),
      checks: svc.checks.map((c) => ({ rise: c.rise, fall: c.fall })),
    })),
    timing: t,
    replication: { writeTimeoutMs: t.writeTimeoutMs, staleAfterMs: t.syncStaleMs },
    proactive: f.enabled ? { threshold: f.threshold, sustainMs: f.sustainMs, staleMs: forecastStaleMs(f.stepMs), cooldownMs: f.cooldownMs, anomalyThreshold: f.anomalyThreshold ?? null, anomalyStandMs: forecastStaleMs(f.stepMs) } : null,
    fenced: config.fence,
    // The core ranks each service's shadows by these (README "Placement").
    placement: { domains: config.placement.domains, labels: Object.fromEntries(config.hosts.map((h) => [h.id, h.labels])) },
  };
}

/** A VIP left behind by a crash is not backed by any lease now: remove it. */
async function removeStaleVips(services: readonly ServiceRt[], log: Logger): Promise<void> {
  for (const s of services) {
    // Forked, not through the batch process: that one starts once the agent is real-time (warmHelpers).
    await removeVip({ cidr: s.cfg.vip, iface: s.cfg.interface }, runCommand).catch((err: Error) =>
      log("warn", "actuate", "stale-vip-remove-failed", { service: s.name, error: err.message }),
    );
  }
}

/**
 * Each VIP reachable from here (if not: said, and the core keeps this host
 * out of that service's candidacy, unless the service has a redirect hook:
 * then it holds here by the hook alone); ARP on the IPv4 VIP interfaces names
 * the host's own address as sender, never a VIP (fence or not).
 */
async function announceFromPrimaryOn(config: Config, byName: ReadonlyMap<string, ServiceRt>, log: Logger, loop: AgentLoop): Promise<void> {
  const ifaces = networkInterfaces();
  for (const s of config.services) {
    if (!replicasOf(s).includes(config.host)) continue;
    const why = vipPlacementIssue({ cidr: s.vip, iface: s.interface }, ifaces);
    if (why === null) continue;
    // Off the VIP's subnet (another site): the interface is up with addresses, none in it. A missing or bare interface is a fault, not a site.
    const onOtherSubnet = (ifaces[s.interface] ?? []).some((a) => a.family === (isIPv4(vipAddress(s.vip)) ? "IPv4" : "IPv6"));
    if (s.redirect !== undefined && onOtherSubnet) {
      byName.get(s.name)!.vipHere = false;
      log("warn", "actuate", "vip-off-subnet", { service: s.name, vip: s.vip, interface: s.interface, why, effect: "holding the service here runs its redirect hook only: the VIP is not added on this host, and its clients reach it only through the redirection" });
      continue;
    }
    log("error", "actuate", "vip-unreachable-here", { service: s.name, vip: s.vip, interface: s.interface, why, effect: "this host is no candidate for the service (a VIP added here would answer no client): fix the service's interface, or this host's place in its candidates, and restart" });
    loop.feed({ type: "placement", service: s.name, why });
  }
  const v4ifaces = config.services.filter((s) => isIPv4(vipAddress(s.vip))).map((s) => s.interface);
  for (const f of await announceFromPrimary(v4ifaces)) log("warn", "actuate", "arp-announce-failed", { iface: f.iface, error: f.error, effect: "this host's own ARP requests may name a VIP as sender; the fence drops those while the VIP is not leased here" });
}

/**
 * Runs the agent above ordinary work: a loop starved by a busy CPU misses
 * renewals, and a late nft write makes the kernel lease run late. Two
 * levers, as corosync and keepalived use:
 * - `nice` for every thread, at start (on Linux a nice value belongs to a
 *   thread: V8's and libuv's threads, started before this, would keep the
 *   old one, and a main thread waiting on a starved GC helper stalls too);
 * - `realtime` (goRealtime), once the agent has started: SCHED_RR at that
 *   priority for every thread, and so for every thread and process started
 *   after (nft, ip, the armed arping inherit it). Not before: start-up
 *   compiles and loads for a second or more of CPU, which under SCHED_RR
 *   (100 ms round-robin slices) starved the other agents of this machine's
 *   tests, a holder among them. Measured here, three agents beside a
 *   saturating load on 2 cores: at nice -10 alone 86 loop stalls over
 *   20 ms in 10 s (up to 103 ms); every thread of the agents and nft under
 *   SCHED_RR: none or one. No reset-on-fork: a thread of the process left
 *   ordinary stalls the main one too (a lock it holds when preempted: the
 *   sampler's worker alone cost 25 stalls in 10 s), and Node's spawn waits
 *   for the child's exec, which a starved ordinary child delayed by
 *   50-120 ms. Hooks start through `chrt --other 0` instead, which runs
 *   them as ordinary work.
 * Not being allowed (no CAP_SYS_NICE, an RT budget of 0 in a cgroup) is
 * said, not fatal.
 */
function raiseNice(config: Config, log: Logger): void {
  try {
    for (const tid of threadIds()) setPriority(tid, config.nice);
  } catch (err) {
    log("warn", "agent", "nice-refused", { nice: config.nice, error: (err as Error).message, effect: "under CPU contention renewals may stall" });
  }
}

/** This process's threads (Linux), else the calling thread only (0). */
function threadIds(): number[] {
  try {
    return readdirSync("/proc/self/task").map(Number);
  } catch {
    return [0];
  }
}

/** See raiseNice. Returns the prefix that starts a process as ordinary work (hooks): `chrt --other 0`, or none when not real-time. */
function goRealtime(config: Config, log: Logger): string[] {
  if (config.realtime === 0) return [];
  const r = spawnSync("chrt", ["--all-tasks", "--rr", "--pid", String(config.realtime), String(process.pid)], { encoding: "utf8", timeout: CHRT_TIMEOUT_MS });
  if (r.status !== 0) {
    const error = (r.error?.message ?? r.stderr.trim()) || `exit ${r.status}`;
    log("warn", "agent", "realtime-refused", { priority: config.realtime, error, effect: "under CPU contention the loop may stall; set realtime = 0 to silence this" });
    return [];
  }
  log("info", "agent", "realtime", { policy: "SCHED_RR", priority: config.realtime, threads: threadIds().length });
  return ["chrt", "--other", "0"];
}

/**
 * Once real-time: the helper processes a move waits on start now and inherit
 * it (nft, ip), and an armed arping per IPv4 VIP, one priority above the
 * agent: at the agent's own priority it queued behind the agents' threads
 * (round-robin among equals) just when a move keeps them busy, and the
 * clients' ARP entries named the old holder 20-45 ms after the new one
 * answered (bench/handover, a client's requests failing twice then). It
 * sleeps until the move and sends two frames a second apart.
 */
function warmHelpers(services: readonly ServiceRt[], ip: IpBatch, fence: Fence | null, realtime: boolean, config: Config): void {
  ip.warm();
  fence?.warm();
  const prefix = realtime ? ["chrt", "--rr", String(Math.min(RT_PRIORITY_MAX, config.realtime + 1))] : [];
  const cpus = allowedCpus().slice(0, GARP_SHELLS);
  for (const s of services) if (isIPv4(vipAddress(s.cfg.vip))) s.announcer = armedArping({ cidr: s.cfg.vip, iface: s.cfg.interface }, { prefix, cpus: cpus.length >= 2 ? cpus : undefined });
}

/** Armed announcement shells per IPv4 VIP, each on its own CPU: a stalled CPU no longer holds the new holder's gratuitous ARP up (garp.ts). */
const GARP_SHELLS = 2;

/** The CPUs this process may run on (/proc/self/status Cpus_allowed_list, "0-3,6"); [] when it cannot be read. */
export function allowedCpus(status: string | null = readStatus()): number[] {
  const list = status === null ? undefined : /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1];
  if (list === undefined) return [];
  const out: number[] = [];
  for (const part of list.split(",")) {
    const [lo, hi] = part.split("-").map(Number);
    if (!Number.isInteger(lo)) return [];
    for (let c = lo!; c <= (hi ?? lo!) && out.length < 1024; c++) out.push(c);
  }
  return out;
}

function readStatus(): string | null {
  try {
    return readFileSync("/proc/self/status", "utf8");
  } catch {
    return null;
  }
}

/** SCHED_RR's highest priority. */
const RT_PRIORITY_MAX = 99;

/**
 * The kernel-side lease: every VIP of the config fenced until the core gives
 * the kernel a lease. The agent does not start without it (a frozen or
 * killed agent's host would keep answering), unless the config turns it off.
 */
async function installFence(config: Config, log: Logger): Promise<Fence | null> {
  if (config.services.length === 0) return null;
  if (!config.fence) {
    log("warn", "actuate", "fence-off", { why: "fence = false in the config: a frozen or killed agent's host keeps answering for its VIPs until its addresses are removed" });
    return null;
  }
  const fence = openFence({
    onError: (line, error) => log("warn", "actuate", "nft-error", { error, line }), // the core raises the alarm (kernel-lease-failed)
    onReinstall: (error) =>
      error === null
        ? log("warn", "actuate", "fence-reinstalled", { why: "its tables were gone (a ruleset flush, as a firewall reload does): every VIP here answered unfenced until now" })
        : log("error", "actuate", "fence-reinstall-failed", { error, effect: "no kernel lease reaches the kernel: a frozen or killed agent's host would keep answering" }),
  });
  try {
    await fence.install(config.services.map((s) => vipAddress(s.vip)));
  } catch (err) {
    fence.close();
    throw new UmbraError("fence_unavailable", `cannot install the kernel-side lease: ${(err as Error).message}; install nftables (Debian: apt-get install nftables), or set fence = false to run without it`, {}, err);
  }
  log("info", "actuate", "fence-installed", { table: FENCE_TABLE, vips: config.services.map((s) => s.vip) });
  return fence;
}

/** Where this host's DHT node listens: its [[hosts]] address, so the others bootstrap from it; none: any port. */
function listenOf(config: Config): { host: string; port: number } | null {
  const address = config.hosts.find((h) => h.id === config.host)?.address;
  if (address === undefined) return null;
  const { host, port } = parseHostPort(address);
  return { host, port };
}

/** The mesh: messages with good signatures go to the inbox, connects to the loop and the observed view. */
function openAgentMesh(config: Config, keyPair: KeyPair, sigs: Signatures, loop: AgentLoop, observed: Observed, repl: AgentReplication, log: Logger): Promise<Mesh> {
  const self = config.host;
  const peersByKey = new Map<string, HostId>();
  for (const h of config.hosts) if (h.id !== self) peersByKey.set(h.publicKey, h.id);
  return openMesh({
    cluster: config.cluster,
    self,
    keyPair,
    peers: peersByKey,
    bootstrap: bootstrapOf(config).map(parseHostPort),
    listen: listenOf(config),
    bootstrapRelays: (config.bootstrap ?? []).map(parseHostPort),
    reachable: new Set(config.hosts.filter((h) => h.id !== self && h.address !== undefined).map((h) => h.id)),
    linkOpenTimeoutMs: config.timing.linkOpenTimeoutMs,
    log,
    onMessage: (from, msg) => {
      if (sigs.verify(from, msg)) loop.enqueue(from, msg);
    },
    onMux: (id, mux) => repl.onMux(id, mux),
    onPeer: (id, up) => {
      observed.peerChanged(id, up);
      loop.peerChanged(id, up);
    },
  });
}

/** This host's own forecast, as its beacon carries it. */
function ownBeaconForecast(forecasting: Forecasting | null, self: HostId): BeaconForecast | null {
  const own = forecasting?.latest().find((f) => f.host === self);
  return own === undefined ? null : { exhaustionProbability: own.exhaustionProbability, metric: own.metric, anomaly: strongestAnomaly(own)?.anomaly ?? 0 };
}

/** The probe: each sample of this host goes to the forecaster, to the day's load (auto swap windows) and, as a beacon, to every connected peer. */
function startProbe(config: Config, observed: Observed, forecasting: Forecasting | null, dayLoads: DayLoads | null, mesh: Mesh, log: Logger, extras: () => BeaconExtras): { stop(): Promise<void> } {
  const self = config.host;
  const onSample = (sample: HostSample) => {
    const latest = { ...sample, networkLatency: observed.medianLatency() };
    observed.latestSample = latest;
    forecasting?.sample(self, latest);
    dayLoads?.sample(latest);
    const forecast = ownBeaconForecast(forecasting, self);
    const { unhealthy: sick, standings, votes, safe, warm } = extras();
    // Each left out when empty (and nothing after it given): the beacon's bytes are then what agents before health checks, standings, overrides, safe mode and shadow counts send and read.
    const tail = warm.length > 0 ? { unhealthy: sick, standings, votes, safe, warm } : safe.length > 0 ? { unhealthy: sick, standings, votes, safe } : votes.length > 0 ? { unhealthy: sick, standings, votes } : standings.length > 0 ? { unhealthy: sick, standings } : sick.length > 0 ? { unhealthy: sick } : {};
    for (const h of observed.connected) mesh.send(h, { type: "beacon", sentAtWallMs: Date.now(), metrics: latest, forecast, ...tail });
  };
  const replay = config.probe.replay;
  if (replay === undefined) return startBackgroundSampler(config.probe.intervalMs, onSample, (message) => log("warn", "probe", "sample-failed", { error: message }));
  const sampler = startReplaySampler(replay, onSample, () => log("info", "probe", "replay-ended", { file: replay.file }));
  log("info", "probe", "replaying", { file: replay.file, metric: replay.metric, speed: replay.speed, skippedRepeated: sampler.skipped.repeated, skippedBackward: sampler.skipped.backward });
  return sampler;
}

/** What a running agent is made of, for its status and its stop. */
type Parts = {
  config: Config;
  log: Logger;
  startedMono: number;
  loop: AgentLoop;
  services: ServiceRt[];
  observed: Observed;
  forecasting: Forecasting | null;
  /** This host's day, for auto swap windows; null without one. */
  dayLoads: DayLoads | null;
  swapWindows: SwapWindows;
  ip: IpBatch;
  fence: Fence | null;
  repl: AgentReplication;
  records: RecordWriter;
  /** The mesh's relayed connections (Mesh.relayedVia). */
  relayedVia(): ReadonlyMap<HostId, string>;
};

/** Every bounded queue of the agent and what it dropped. */
function queuesOf(p: Parts): QueueCount[] {
  return [
    ...p.loop.queues(),
    ...(p.forecasting === null ? [] : [p.forecasting.queue()]),
    { name: "ip-batch", max: BATCH_QUEUE_MAX, dropped: p.ip.counts().queueFull },
  ];
}

function statusOf(p: Parts): StatusDoc {
  const { config, forecasting } = p;
  const { replicator } = p.repl;
  return buildStatus({
    config,
    version: VERSION,
    core: p.loop.core,
    nowMono: monoNow(),
    startedMono: p.startedMono,
    nowWall: Date.now(),
    extras: new Map(p.services.map((s) => [s.name, { lastChange: s.lastChange, alarm: s.alarm, swapWindow: p.swapWindows.view(s.name) }])),
    connected: p.observed.connected,
    relayedVia: p.relayedVia(),
    beacons: p.observed.beacons,
    rtts: p.observed.rtts,
    ownSample: p.observed.latestSample,
    ownForecast: ownBeaconForecast(forecasting, config.host),
    rest: {
      replication: replicator.status(),
      reconciliations: replicator.lastReconciles(),
      forecasts: forecasting?.latest() ?? [],
      forecastModel: forecasting === null ? null : { ...forecasting.model, bytes: forecasting.modelBytes, horizonMinutes: config.forecast.horizonMinutes },
      blobs: replicator.blobStatus(),
      queues: queuesOf(p),
    },
  });
}

/** On a clean stop, the fence goes with the VIPs; it stays while any VIP may still be up (it keeps that one quiet). */
async function dropFence(p: Parts, notRemoved: string[]): Promise<void> {
  if (p.fence === null) return;
  p.fence.close();
  if (notRemoved.length > 0) return void p.log("warn", "actuate", "fence-kept", { services: notRemoved, why: "a VIP could not be removed" });
  try {
    await removeFence();
  } catch (err) {
    p.log("error", "actuate", "fence-remove-failed", { error: (err as Error).message });
  }
}

/** Leaving on purpose: the loop stops, and every VIP held here is given up now rather than at lease expiry. */
async function stopAgent(p: Parts, sampler: { stop(): Promise<void> }, mesh: Mesh, api: { close(): Promise<void> }): Promise<void> {
  const { log } = p;
  p.loop.stop();
  // What it held, for the next start: a shadow taking over meanwhile is no demotion.
  const self = p.config.host;
  writeLeft(p.config.stateDir, Object.fromEntries(p.services.filter((s) => p.loop.core.services[s.name]!.holder === self).map((s) => [s.name, p.loop.core.services[s.name]!.epoch])), log);
  for (const s of p.services) s.announcer?.close();
  await sampler.stop();
  await p.dayLoads?.stop(); // the day learned so far, for the next start
  const notRemoved: string[] = [];
  for (const s of p.services) {
    if (!p.loop.core.services[s.name]!.vipPresent) continue;
    try {
      await removeVip({ cidr: s.cfg.vip, iface: s.cfg.interface }, p.ip.run);
      log("info", "actuate", "drop-vip", { service: s.name, why: "shutdown" });
    } catch (err) {
      log("error", "actuate", "vip-change-failed", { service: s.name, op: "del", why: "shutdown", vip: s.cfg.vip, error: (err as Error).message });
      notRemoved.push(s.name);
    }
  }
  p.ip.close();
  await dropFence(p, notRemoved);
  await mesh.close();
  await p.repl.replicator.saved(); // a change received just before the stop reaches the disk
  await p.records.drained(); // and the last certificate learned
  await api.close();
  const loopError = p.loop.error;
  log("info", "agent", "stopped", { loopError: loopError === null ? null : String(loopError) });
}

/** SIGHUP's work: the config file read again, the live changes applied to the services' runtime, the rest named (reload.ts). */
function reloader(config: Config, byName: ReadonlyMap<string, ServiceRt>, log: Logger, operators: Operators, restartChecks: (changed: ReloadPlan["checks"]) => void): () => ReloadPlan | null {
  let current = config;
  return () => {
    let next: Config;
    try {
      next = loadConfig(config.path);
    } catch (err) {
      log("error", "agent", "reload-refused", { path: config.path, error: (err as Error).message, effect: "the running config stays" });
      return null;
    }
    const plan = planReload(current, next);
    for (const h of plan.hooks) byName.get(h.service)!.cfg = { ...byName.get(h.service)!.cfg, hooks: h.hooks };
    if (plan.operators) operators.setOperators(next.operators);
    for (const c of plan.checks) byName.get(c.service)!.cfg = { ...byName.get(c.service)!.cfg, checks: c.checks };
    if (plan.checks.length > 0) restartChecks(plan.checks);
    current = { ...current, services: current.services.map((sv) => byName.get(sv.name)!.cfg), operators: next.operators };
    const applied = [...plan.hooks.map((h) => `services[${h.service}].hooks`), ...plan.checks.map((c) => `services[${c.service}].checks`), ...(plan.operators ? ["operators"] : [])];
    log(plan.restart.length > 0 ? "warn" : "info", "agent", "reloaded", { path: config.path, applied, needRestart: plan.restart });
    return plan;
  };
}

/** Each service's runtime in the shell: its config, its VIP change in flight, its fence, what status shows. */
function serviceRuntimes(config: Config): ServiceRt[] {
  return config.services.map((svc) => ({
    name: svc.name,
    cfg: svc,
    vipBusy: false,
    fenceOpen: !config.fence, // unfenced: the address alone answers
    fenceWaiters: [],
    announcer: null, // armed once real-time (warmHelpers)
    lastChange: null,
    alarm: null,
  }));
}

/** The health checks of the services this host is a candidate of; a reload starts them afresh (the core too: their counts restart). */
function checkRunner(services: readonly ServiceRt[], self: HostId, loop: AgentLoop, hookPrefix: readonly string[]): { stop(): void; restart(changed: ReloadPlan["checks"]): void } {
  const start = () => startChecks({ services: services.map((s) => s.cfg).filter((s) => replicasOf(s).includes(self)), feed: (ev) => loop.feed(ev), commandPrefix: hookPrefix });
  let running = start();
  return {
    stop: () => running.stop(),
    restart(changed) {
      running.stop();
      for (const c of changed) loop.feed({ type: "checks-configured", service: c.service, checks: c.checks.map((x) => ({ rise: x.rise, fall: x.fall })) });
      running = start();
    },
  };
}

/** A peer's beacon: its metrics to the observed view and the forecaster, what it says of health and operators to the core. */
function onBeacon(from: HostId, msg: BeaconMsg, observed: Observed, forecasting: Forecasting | null, loop: AgentLoop, counted: boolean): void {
  observed.beacon(from, { atMono: monoNow(), sample: msg.metrics, forecast: msg.forecast ?? null });
  if (msg.metrics !== null) forecasting?.sample(from, msg.metrics);
  loop.feed({ type: "peer-health", host: from, unhealthy: msg.unhealthy ?? [], safe: msg.safe ?? [] }); // none named: all healthy (or an agent without checks), in safe mode for nothing; the core ignores no change
  if (msg.standings !== undefined && msg.standings !== null && msg.standings.length > 0) loop.feed({ type: "standings", standings: Object.fromEntries(msg.standings.map(({ host: h, ...s }) => [h, s])) });
  if (msg.votes !== undefined && msg.votes !== null && msg.votes.length > 0) loop.feed({ type: "vote-standings", votes: Object.fromEntries(msg.votes.map(({ service, ...v }) => [service, v])), from: "peer" });
  for (const w of msg.warm ?? []) loop.feed({ type: "warm-word", service: w.service, word: { epoch: w.epoch, seq: w.seq, warm: w.hosts } });
  // Free capacity matters only to a shadow count's choice: no core step per beacon without one.
  if (counted && msg.metrics !== null) loop.feed({ type: "peer-free", host: from, free: Object.fromEntries(RATIO_METRICS.map((m) => [m, 1 - msg.metrics![m]])) });
}

type BeaconExtras = { unhealthy: string[]; standings: BeaconStanding[]; votes: BeaconVotes[]; safe: string[]; warm: BeaconWarm[] };

/** POST /statements waits this long for this host's core to say what it did with the order (it acts at its next turn, within milliseconds). */
const OUTCOME_WAIT_MS = 1_000;

/** What a beacon says besides metrics: the services unhealthy here, the standings this host knows, the lowered quorums it took on, and the services it is in safe mode for. */
function beaconExtras(core: host.HostState): BeaconExtras {
  return {
    unhealthy: host.unhealthyServices(core),
    standings: Object.entries(core.standby).map(([h, s]) => ({ host: hostId(h), ...s })),
    votes: Object.entries(core.votes).map(([service, v]) => ({ service, ...v })),
    safe: host.safeServices(core),
    warm: host.warmWords(core).map((w) => ({ service: w.service, epoch: w.word.epoch, seq: w.word.seq, hosts: [...w.word.warm] })),
  };
}

/** The API's orders routes: statements to the operators' shell, the audit trail from the replica kept here. */
function orderDeps(operators: Operators, replicator: AgentReplication["replicator"]): OrderDeps {
  return {
    submit: async (x) => {
      const s = operators.fromApi(x);
      return s.ok ? { ...s, outcome: await operators.outcome(s.order.nonce, OUTCOME_WAIT_MS) } : s;
    },
    audit: (service) => (replicator.services().includes(service) ? sortAudit(Object.values(replicator.get(service).state.audit ?? {})) : null),
  };
}

/** Operators' statements: checked here, orders into the core, passed on to every connected peer, audited in the replicas kept here. */
function startOperators(config: Config, loop: AgentLoop, observed: Observed, mesh: Mesh, replicator: AgentReplication["replicator"], log: Logger, metrics: Pick<MetricsCounters, "statement">): Operators {
  return operatorsShell({
    cluster: config.cluster,
    self: config.host,
    hosts: config.hosts.map((h) => h.id),
    services: config.services.map((s) => s.name),
    operators: config.operators,
    log,
    nowWall: Date.now,
    feed: (ev) => loop.feed(ev),
    passOn: (msg) => {
      for (const h of observed.connected) mesh.send(h, msg);
    },
    audit: async (service, entries, message) => {
      if (replicator.services().includes(service)) await replicator.write(service, { audit: entries }, message);
    },
    count: metrics.statement,
  });
}

/** The vote records' writer; a record the disk refused is loud, and its votes stay unsent. */
function recordWriter(config: Config, log: Logger): RecordWriter {
  return new RecordWriter(config.stateDir, (service, err) =>
    log("error", "quorum", "vote-record-failed", { code: "vote_record_unwritable", service, dir: config.stateDir, error: err.message, action: "votes of this service are not sent until a record is written" }),
  );
}

// long: the composition root, one part started a line, in the order they depend on each other
export async function startAgent(config: Config): Promise<Agent> {
  const self = config.host;
  const hub = new EventHub();
  const log: Logger = publishingLogger(hub, self, logger(self, config.logLevel));
  raiseNice(config, log);
  const keyPair = ownKey(config);
  const sigs = signatures(keyPair.secretKey, new Map(config.hosts.map((h) => [h.id, Buffer.from(h.publicKey, "hex")])), log);
  mkdirSync(config.stateDir, { recursive: true });
  const random = rng((Math.floor(Math.random() * BOOT_RANGE) ^ Date.now()) >>> 0);
  const startedMono = monoNow();
  const startedWall = Date.now();
  const loaded = Object.fromEntries(config.services.map((svc) => [svc.name, loadRecord(config.stateDir, svc.name, log)]));
  const metrics = agentMetrics(() => status()); // read at each scrape, once started
  const loop = new AgentLoop({ core: host.initialHost(hostConfigOf(config), loaded, monoNow()), log, now: monoNow, random, tickMs: config.timing.tickMs, onStall: metrics.loopStall, steal: new StealMeter() });
  const services = serviceRuntimes(config);
  const byName = new Map(services.map((s) => [s.name, s]));
  const forecasting = await startForecasting(config.forecast, log, config.services.flatMap((s) => [...(s.scaling === undefined ? [] : [s.scaling.metric]), ...(s.shadowCount === undefined ? [] : [s.shadowCount.metric])]), self);
  // VIP changes go to one long-lived `ip -batch` process: no fork on the lease's critical path.
  const ip = ipBatch();
  await removeStaleVips(services, log);
  await announceFromPrimaryOn(config, byName, log, loop);
  const kept = loadStandings(config.stateDir, log);
  if (Object.keys(kept).length > 0) loop.feed({ type: "standings", standings: kept });
  const keptVotes = loadVoteStandings(config.stateDir, log);
  if (Object.keys(keptVotes.votes).length > 0) loop.feed({ type: "vote-standings", votes: keptVotes.votes, from: "disk", kept: keptVotes.kept });
  const safeKept = restoreSafeModes(config, byName, loop, log);
  const fence = await installFence(config, log);
  const observed = new Observed();
  const records = recordWriter(config, log);
  const repl = await startAgentReplication(config, loop, log, monoNow);
  const { replicator } = repl;
  // The shadow count's cold replicas at start (the core tells each change after).
  for (const s of config.services) if (s.shadowCount !== undefined) replicator.setCold(s.name, host.coldOf(loop.core, s.name));
  const hookPrefix: string[] = []; // filled once real-time (goRealtime): hooks then start as ordinary work
  const runners = effectRunners({ self, services: byName, ip, fence, replicator, hookTimeoutMs: config.timing.hookTimeoutMs, hookPrefix, log, now: monoNow, report: (ev) => loop.feed(ev), metrics, holds: (service, epoch) => host.holdsUnderLease(loop.core, service, epoch, monoNow()) });
  const mesh = await openAgentMesh(config, keyPair, sigs, loop, observed, repl, log);
  const send = (to: HostId, msg: Parameters<Mesh["send"]>[1]) => (to === self ? loop.enqueue(self, msg) : void mesh.send(to, msg));
  const operators = startOperators(config, loop, observed, mesh, replicator, log, metrics);
  // The snapshot is read when a diagnose runs (after start): the status then, and the decisions that led to it.
  const diagnose = diagnoser({ self, stateDir: config.stateDir, services: byName, hookTimeoutMs: config.timing.hookTimeoutMs, hookPrefix, log, snapshot: () => ({ status: statusOf(parts), events: hub.recent() }), report: (ev) => loop.feed(ev) });
  const counted = config.services.some((s) => s.shadowCount !== undefined);
  loop.start({
    runEffects: effectApplier({ self, records, log, sigs, send, runners, services: byName, observed, replicator, forecasting, metrics, now: monoNow, orderApplied: (fx) => operators.applied(fx), standingsChanged: standingsWriter(config.stateDir, log), votesChanged: voteStandingsWriter(config.stateDir, log), diagnose, safeModeChanged: safeModeWriter(config.stateDir, safeKept, log) }),
    onStatement: (from, msg) => operators.fromPeer(from, msg),
    onBeacon: (from, msg) => onBeacon(from, msg, observed, forecasting, loop, counted),
    sideTick: () => {
      replicator.tick();
      return forecasting === null ? [] : forecasting.drain().map((f) => ({ type: "forecast-ready" as const, host: f.host, probability: f.exhaustionProbability, anomaly: strongestAnomaly(f)?.anomaly ?? 0, dataMs: stepStartMs(f.atTs, config.forecast.stepMs), p90: f.p90, p10: f.p10 }));
    },
  });
  const dayLoads = startDayLoads(config, log);
  const windows = startSwapWindows(config, (e) => loop.feed(e), { profile: (metric) => dayLoads?.profile(metric) ?? null, log });
  const sampler = startProbe(config, observed, forecasting, dayLoads, mesh, log, () => beaconExtras(loop.core));
  const parts: Parts = { config, log, startedMono, loop, services, observed, forecasting, dayLoads, swapWindows: windows, ip, fence, repl, records, relayedVia: () => mesh.relayedVia() };
  const status = () => statusOf(parts);
  const api = await serveApi(createApi({ status, state: replicator, log, orders: orderDeps(operators, replicator), metrics: metrics.registry, events: hub }), config.api, log);
  hookPrefix.push(...goRealtime(config, log));
  warmHelpers(services, ip, fence, hookPrefix.length > 0, config);
  const checks = checkRunner(services, self, loop, hookPrefix);
  log("info", "agent", "started", { cluster: config.cluster, api: api.socket, apiTcp: api.tcp, services: services.map((s) => s.name), hosts: config.hosts.map((h) => h.id), startedAt: new Date(startedWall).toISOString(), inboxDropped: loop.inbox.dropped });
  // Under systemd (Type=notify): ready now, and the watchdog petted while the loop lives.
  const notifier = systemdNotifier({ env: process.env, pid: process.pid, log, alive: () => loop.error === null, prefix: hookPrefix });
  notifier?.ready(`started: ${services.length} service(s), ${config.hosts.length} host(s)`);
  let stopped: Promise<void> | null = null;
  return {
    status,
    reload: reloader(config, byName, log, operators, checks.restart),
    stop: () => {
      checks.stop();
      windows.stop();
      notifier?.stopping();
      notifier?.close();
      return (stopped ??= stopAgent(parts, sampler, mesh, api));
    },
  };
}

/** Safe mode as the disk kept it, fed to the core (it diagnoses afresh), and what this host held at its last stop on purpose; returned for the writer that keeps it current. */
function restoreSafeModes(config: Config, byName: ReadonlyMap<string, ServiceRt>, loop: AgentLoop, log: Logger): Record<string, string> {
  for (const [service, epoch] of Object.entries(takeLeft(config.stateDir, log))) if (byName.has(service)) loop.feed({ type: "left-holding", service, epoch });
  const kept = loadSafeModes(config.stateDir, new Set(byName.keys()), log);
  for (const [service, why] of Object.entries(kept)) loop.feed({ type: "safe-mode-restored", service, why });
  return kept;
}

/**
 * The start of the step a forecast's newest data fell in: the data's clock as
 * the proactive machine reads it. Step-aligned, so two steps read a step
 * apart (a step's last sample drifts by a second or so live, and "high for
 * 60 s" would otherwise take a third step half the time).
 */
function stepStartMs(atTs: number, stepMs: number): number {
  return Math.floor(atTs / stepMs) * stepMs;
}
