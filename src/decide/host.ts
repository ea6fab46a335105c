// The host core: one pure machine for a whole host, composed of SWIM
// membership, one quorum machine per service, the proactive machine and one
// replication machine per service this host keeps a replica of, with all
// the routing among them (etcd raft's RawNode is the model). Everything a
// host can see comes in as one event: a message, a tick, a forecast, and the
// outcome of every effect it asked for (a VIP change, a hook). Out come only
// I/O effects, in the order the shell must carry them out: a persist before
// the sends that follow it.
//
// The agent (src/agent/) and the simulator (src/sim/) are two drivers of
// this very function. A routing rule written anywhere else ("a forecast
// reaches the quorum machines when...") is one the simulator cannot check.

import { assert, assertNever } from "../shared/assert.ts";
import { hostId, type HostId } from "../shared/ids.ts";
import { rng } from "../shared/rng.ts";
import * as membership from "./membership.ts";
import type { MemberStatus, MemberUpdate, MembershipState, SwimMsg } from "./membership.ts";
import * as health from "./health.ts";
import type { CheckSpec, ServiceHealth } from "./health.ts";
import * as proactive from "./proactive.ts";
import type { ProactiveState } from "./proactive.ts";
import * as quorum from "./quorum.ts";
import * as replication from "./replication.ts";
import * as safemode from "./safemode.ts";
import * as scaling from "./scaling.ts";
import * as migration from "./migration.ts";
import * as shadowcount from "./shadowcount.ts";
import type { ShadowCountConfig, ShadowCountEvent, ShadowCountState, WarmWord } from "./shadowcount.ts";
import type { MigrationEvent, MigrationState } from "./migration.ts";
import type { ScalingConfig, ScalingEvent, ScalingState } from "./scaling.ts";
import { distance, domainPath, rankCandidates, type Labels } from "./placement.ts";
import type { SafeEffect, SafeEvent, SafeMode } from "./safemode.ts";
import type { PeerSync, ReplicationEffect, ReplicationEvent, ReplicationState } from "./replication.ts";
import type { Certificate, DropWhy, Persisted, QuorumEffect, QuorumEvent, QuorumMsg, QuorumOut, QuorumState, Reason, VipAlarm } from "./quorum.ts";

/** Most services one host runs a quorum machine for: every per-step loop over services is bounded by it. */
export const SERVICES_MAX = 64;

/** A message as it travels and as the host core receives it (votes signed). */
export type HostMsg = QuorumMsg | SwimMsg;
/** A message as the host core sends it: the shell signs its votes (the agent with its key, the simulator with an empty signature). */
export type HostOut = QuorumOut | SwimMsg;

export type ServiceSpec = {
  name: string;
  /** Who may hold the VIP, best first: the primary, then its shadows. */
  candidates: HostId[];
  /** A majority of these certifies a holder and renews its lease. */
  voters: HostId[];
  /** Other replicas (candidates) that must hold a state write durably before it is acknowledged (capped at their number). */
  ackShadows: number;
  /** The service's health checks (rise and fall each; the shell runs them); none: healthy unless its VIP cannot answer here. */
  checks?: CheckSpec[];
  /** A holder other than the primary hands the service back to it once it has been fit this long (QuorumConfig.moveBackAfterMs); 0 or absent: never. */
  moveBackAfterMs?: number;
  /** A holder swaps roles with another candidate after holding this long, in the service's swap window (QuorumConfig.swapEveryMs); 0 or absent: never. */
  swapEveryMs?: number;
  /** A move back also waits for the swap window to be open (QuorumConfig.moveBackInWindow). */
  moveBackInWindow?: boolean;
  /** Scale out and in on the holder's forecast of `metric` (decide/scaling.ts); absent: never. */
  scaling?: ScalingConfig & { metric: string };
  /**
   * The number of warm shadows follows the holder's forecast of `metric`
   * (decide/shadowcount.ts), chosen among the candidates after the primary
   * (its shadows and spares); `initial`: the ones warm from the start (the
   * configured shadows). Absent: every candidate is warm.
   */
  shadowCount?: ShadowCountConfig & { metric: string; initial: HostId[] };
  /** Workloads follow the pool (decide/migration.ts), weighed by this resource of their requirements (null: each weighs 1); absent: they never move. */
  migrate?: { by: string | null };
};

export type HostTiming = {
  probeIntervalMs: number;
  probeTimeoutMs: number;
  suspicionTimeoutMs: number;
  leaseMs: number;
  renewIntervalMs: number;
  driftMaxPpm: number;
  actuationGuardMs: number;
  proposalTimeoutMs: number;
  initialGraceMs: number;
};

export type HostConfig = {
  self: HostId;
  /** Every host of the cluster, self included: membership is static. */
  hosts: HostId[];
  /** This process's incarnation, drawn by the shell at start: a grant or vote meant for an earlier process counts for nothing. */
  boot: number;
  services: ServiceSpec[];
  timing: HostTiming;
  /** State writes: a write not acknowledged within writeTimeoutMs fails; a replica not heard within staleAfterMs is stale. */
  replication: { writeTimeoutMs: number; staleAfterMs: number };
  /** Predicted moves; null when forecasting is off (no forecast ever arrives). */
  proactive: { threshold: number; sustainMs: number; staleMs: number; cooldownMs: number; anomalyThreshold: number | null; anomalyStandMs: number } | null;
  /** The host has the kernel-side lease (QuorumConfig.fenced). */
  fenced: boolean;
  /** Failure domains (label keys, widest first) and each host's labels: the core ranks every service's shadows by them (placement.ts). Absent or no domains: the candidates' order as given. */
  placement?: { domains: string[]; labels: Readonly<Record<HostId, Labels>> };
  /** Failed safe-mode diagnostics run again this long after (default safemode.DIAGNOSE_RETRY_MS). */
  diagnoseRetryMs?: number;
};

/** What an operator's order asks (its statement checked by the shell: signature, key, cluster, time, replay). */
export type OrderAction = "move" | "failover" | "standby" | "unstandby" | "maintenance" | "release" | "override" | "rejoin";
/** An operator's order as the host core receives it. `service`: move, failover, override (rejoin: one service, or null for all); `target`: move --to, and the host of the others; `expectVotes`: override's; `issuedAtMs`: the statement's issue time (wall clock), which orders standings. */
export type OperatorOrder = { nonce: string; action: OrderAction; service: string | null; target: HostId | null; expectVotes: number | null; reason: string; operator: string; issuedAtMs: number };
/**
 * What the operators last said of a host: standby or maintenance (kept out
 * of candidacy, with the operator's reason), or active (unstandby). The
 * latest statement wins (by issue time, then nonce), wherever and in
 * whatever order it arrives: from an order, a peer's beacon, or the disk.
 */
export type Standing = { mode: "standby" | "maintenance" | "active"; reason: string; nonce: string; issuedAtMs: number };
export type Standings = Readonly<Record<HostId, Standing>>;

/**
 * What the operators last said of a service's quorum (`umbra override
 * --expect-votes`): a majority of `votes` certifies and renews, for a
 * majority of its voters gone for good. Latest statement wins, as for
 * standings; one that names every voter ends the override.
 */
export type VoteStanding = { votes: number; reason: string; nonce: string; issuedAtMs: number };
export type VoteStandings = Readonly<Record<string, VoteStanding>>;
/** What this host keeps on disk of each override beside the statement: whether it took it on, and the voters heard since (the count never falls, a restart included). */
export type VotesKept = Readonly<Record<string, { taken: boolean; heard: HostId[] }>>;

/** Whether `a` says something later than `b` (none: anything is later). */
export const laterStanding = (a: { issuedAtMs: number; nonce: string }, b: { issuedAtMs: number; nonce: string } | undefined): boolean => b === undefined || a.issuedAtMs > b.issuedAtMs || (a.issuedAtMs === b.issuedAtMs && a.nonce > b.nonce);
/** Orders remembered by nonce, at most: the same order delivered twice (by two peers, or again after a reconnect) acts once. */
export const ORDERS_REMEMBERED_MAX = 1024;

export type HookName = "activate" | "demote" | "notify" | "swap" | "redirect" | "provision";
/** keepalived's notify states, for its scripts: MASTER (the VIP up here), BACKUP (handed on or superseded), FAULT (the lease lost, or the add failed). */
export type NotifyState = "MASTER" | "BACKUP" | "FAULT";

export type HostState = {
  readonly config: HostConfig;
  /** The SWIM view: who is alive ranks the candidates of every service. */
  readonly members: MembershipState;
  /** One quorum machine per service, keyed by name. */
  readonly services: Readonly<Record<string, QuorumState>>;
  /** Write acknowledgement and sync status, per service this host is a candidate (a replica) of. */
  readonly replicas: Readonly<Record<string, ReplicationState>>;
  /** Forecasts in, predicted hosts and predicted moves out; null when off. */
  readonly foresight: ProactiveState | null;
  /** Hosts an operator keeps out of candidacy, by host. */
  readonly standby: Standings;
  /** The latest override of each service's quorum this host knows of, taken on here or not (see takeVotes). */
  readonly votes: VoteStandings;
  /** Nonces of the orders applied, oldest first (at most ORDERS_REMEMBERED_MAX). */
  readonly orders: readonly string[];
  /** This host's health of each service it is a candidate of. */
  readonly health: Readonly<Record<string, ServiceHealth>>;
  /** The services each peer says are unhealthy there (its beacons). */
  readonly peerUnhealthy: Readonly<Record<HostId, readonly string[]>>;
  /** The services each peer says it is in safe mode for (its beacons): kept out while a fit candidate is left. */
  readonly peerSafe: Readonly<Record<HostId, readonly string[]>>;
  /** Scaling per service with it that this host is a candidate of (decide/scaling.ts): as holder, its active shadows. */
  readonly scaling: Readonly<Record<string, ScalingState>>;
  /** The warm set per service with a shadow count (every host keeps it: cold hosts are kept out of candidacy), and as holder the count's decisions. */
  readonly warm: Readonly<Record<string, ShadowCountState>>;
  /** The cold hosts of each service as last told to the shell (its replicas sync with none of them). */
  readonly coldTold: Readonly<Record<string, readonly HostId[]>>;
  /** Each peer's free capacity (1 - utilization, per metric) by its last beacon: a host becomes a warm shadow only if it covers the reserve. */
  readonly peerFree: Readonly<Record<HostId, Readonly<Record<string, number>>>>;
  /** Workload migration per service with it that this host is a candidate of (decide/migration.ts): as holder, the moves that bring them onto its pool. */
  readonly migration: Readonly<Record<string, MigrationState>>;
  /** Safe mode per service this host is a candidate of (decide/safemode.ts): demoted, it runs diagnostics and is no candidate until they pass. */
  readonly safe: Readonly<Record<string, SafeMode>>;
  /** As holder: a redirect run that failed in this epoch, and when the next try goes (Infinity: one is running); absent: none failed. */
  readonly redirectRetry: Readonly<Record<string, { epoch: number; failures: number; atMs: number }>>;
  /** The last hook outcome per service, for status. */
  readonly hooks: Readonly<Record<string, { hook: HookName; ok: boolean; atMs: number; detail: string }>>;
  /** When the core last ran: time must not move backwards. */
  readonly nowMs: number;
};

export type HostEvent =
  | { type: "tick"; rand: number } // the shell's timer; rand in [0,1) drawn by the driver
  | { type: "loop-stalled" } // the shell's loop ran no turn long past a due tick (the process was frozen or starved); stepped before what arrived meanwhile
  | { type: "received"; from: HostId; msg: HostMsg } // a message from a peer, or from self (the shell loops those back)
  | { type: "peer-connected"; id: HostId } // the transport reached a peer
  | { type: "peer-disconnected"; id: HostId } // the transport lost a peer
  | { type: "forecast-ready"; host: HostId; probability?: number; anomaly?: number; dataMs: number; p90?: Readonly<Record<string, number>>; p10?: Readonly<Record<string, number>> } // a fresh exhaustion probability for a host, from its data up to dataMs (the sampler's clock: wall ms live, the series' time in a replay), and each forecast metric's p90 at the horizon
  | { type: "vip-changed"; service: string; op: "add" | "del"; epoch: number; ok: boolean; error: string | null } // the outcome of a take-vip or drop-vip
  | { type: "kernel-leased"; service: string; seq: number; error: string | null } // the outcome of a kernel-lease: applied (null) or nft's error
  | { type: "hook-finished"; service: string; hook: HookName; ok: boolean; detail: string; epoch?: number } // the outcome of a run-hook (or a pool's redirect run), of that epoch
  | { type: "diagnosed"; service: string; seq: number; ok: boolean; detail: string; bundle: string | null } // the outcome of a diagnose: the hook's verdict (none configured: passed), and the bundle's path (null: not written)
  | { type: "safe-mode-restored"; service: string; why: string } // this host was in safe mode for the service when its agent last stopped (its disk): it is again, and diagnoses afresh
  | { type: "swap-window"; service: string; open: boolean } // the service's swap window opened or closed, by this host's wall clock (the shell looks)
  | { type: "warm-word"; service: string; word: WarmWord } // a holder's word on the service's warm shadows (its beacon)
  | { type: "peer-free"; host: HostId; free: Readonly<Record<string, number>> } // a peer's free capacity by its beacon's metrics (1 - each utilization)
  | { type: "workloads"; service: string; workloads: ReadonlyArray<{ id: string; host: HostId; requirements: Readonly<Record<string, number>> }> } // the service's workloads as this host's replica of its document has them (at start, and at each change)
  | { type: "migrated"; service: string; workload: string; to: HostId; ok: boolean; detail: string; stale?: boolean } // the outcome of a migrate: the hook ran and the move is recorded and acknowledged (ok), or either failed; stale: removed or moved meanwhile by someone else, nothing recorded
  | { type: "left-holding"; service: string; epoch: number } // the agent last stopped on purpose while holding the service in this epoch (its disk): the certificate that replaced it demotes nobody
  | { type: "order"; order: OperatorOrder } // an operator's signed order, checked by the shell, from the local API or a peer
  | { type: "check-result"; service: string; check: number; ok: boolean; detail: string } // one run of a service's health check (its index in the config)
  | { type: "placement"; service: string; why: string | null } // whether this host's VIP for the service could answer a client (the shell looks at start)
  | { type: "peer-health"; host: HostId; unhealthy: string[]; safe?: string[] } // the services a peer says are unhealthy there, and those it is in safe mode for (its beacon; absent: none)
  | { type: "checks-configured"; service: string; checks: CheckSpec[] } // a reload changed the service's checks: their counts start afresh
  | { type: "standings"; standings: Standings } // what operators said of hosts, as a peer's beacon or this host's disk has it: the later statement of each host wins
  | { type: "vote-standings"; votes: VoteStandings; from: "disk" | "peer"; kept?: VotesKept } // lowered quorums, as a peer's beacon or this host's disk has them (the disk also says whether it was taken on, and who was heard): the later statement of each service wins, taken on only while this host sees no more voters alive than it expects (from its own disk: as it was)
  // State replication (the document stays in the shell; these are what it learns):
  | { type: "write-durable"; service: string; id: string } // a write made here is on this host's disk
  | { type: "peer-durable"; service: string; peer: HostId; id: string } // that replica confirmed the write on its disk
  | { type: "peer-synced"; service: string; peer: HostId; lagChanges: number; lagBytes: number; theyLack: boolean; weLack: boolean } // measured after a sync exchange
  | { type: "state-link"; peer: HostId; up: boolean }; // the state channel to a peer opened or closed

export type HostEffect =
  | { type: "persist"; service: string; record: Persisted } // write durably before the sends that follow
  | { type: "send"; to: HostId; msg: HostOut }
  | { type: "kernel-lease"; service: string; epoch: number; seq: number; untilMs: number | null } // the kernel answers for the VIP until then (this host's monotonic clock), or stops now (null); answer with kernel-leased (seq)
  | { type: "take-vip"; service: string; epoch: number; reason: Reason } // start adding the VIP; answer with vip-changed
  | { type: "drop-vip"; service: string; epoch: number; why: DropWhy } // start removing it; answer with vip-changed
  | { type: "run-hook"; service: string; hook: HookName; epoch: number; state?: NotifyState; why?: string } // off the loop; answer with hook-finished
  | { type: "diagnose"; service: string; seq: number; why: string } // write a diagnostics bundle and run the diagnose hook, off the loop; answer with diagnosed (seq)
  | { type: "reconcile"; service: string; epoch: number } // a new holder brings the state to the intended one
  | { type: "request-durable"; service: string; id: string; to: HostId[] } // ask these replicas to confirm a write once durable (answer: peer-durable)
  | { type: "write-acked"; service: string; id: string; durableOn: HostId[]; ms: number } // tell the writer: durable here and on enough replicas
  | { type: "write-failed"; service: string; id: string; why: "timeout" | "too-many-pending"; durableOn: HostId[]; ms: number }
  // What the shell logs and shows; nothing to carry out.
  | { type: "certified"; service: string; cert: Certificate }
  | { type: "move-abandoned"; service: string; epoch: number }
  /** The standings changed: the shell keeps them on disk and in its beacons. */
  | { type: "standings-changed"; standings: Standings }
  /** The overrides known here changed, or who was heard since: the shell keeps them on disk (with `kept`) and in its beacons (the statements). */
  | { type: "votes-changed"; votes: VoteStandings; kept: VotesKept }
  /** This host's health of a service changed: unhealthy, it is no candidate and, holding it, hands it over. */
  | { type: "health-changed"; service: string; healthy: boolean; why: string | null }
  /** As holder: the pool of a service changed (scale out or in): the holder and its active shadows, for the redirect hook. */
  | { type: "pool"; service: string; epoch: number; hosts: HostId[]; why: string }
  /** As holder: the service's warm shadows changed (the shell's beacons carry the word; cold replicas stop syncing). Also on any host that adopted a newer word. */
  | { type: "warm-changed"; service: string; word: WarmWord; cold: HostId[]; why: string; mine: boolean }
  /** As holder: move a workload of the service between hosts (the migrate hook, then its record in the document); answer with migrated. */
  | { type: "migrate"; service: string; epoch: number; workload: string; from: HostId; to: HostId; why: string }
  /** This host entered safe mode for a service (on) or left it, and why: the shell keeps it on disk; its beacons say the service is unhealthy here meanwhile. */
  | { type: "safe-mode-changed"; service: string; on: boolean; why: string }
  /** An order acted on (or seen again: `repeat`), with what it did here, and the services it concerns (their audit trails record it). */
  | { type: "order-applied"; order: OperatorOrder; services: string[]; outcome: string; repeat: boolean; concerned: boolean } // concerned: this host is the one the order is about (the holder of its service, or its host)
  | { type: "alarm"; service: string; alarm: VipAlarm; epoch: number; error: string | null; attempts: number }
  | { type: "member-changed"; id: HostId; status: MemberStatus; incarnation: number }
  | { type: "rtt-measured"; id: HostId; rttMs: number }
  | { type: "predicted-changed"; predicted: HostId[] }
  | { type: "move-predicted"; service: string; to: HostId; cause: proactive.Cause; probability: number; anomaly: number; aboveForMs: number } // cause: exhaustion (aboveForMs: how long of its data the forecast stood high) or an anomaly alarm of that score (aboveForMs: how long of its data since it)
  | { type: "sync-status-changed"; service: string; peer: HostId; from: replication.SyncStatus; to: replication.SyncStatus };

export type HostStep = { state: HostState; effects: HostEffect[] };

/** The config with every service's candidates in placement's order: the primary, then the shadows farthest from it first. */
function ranked(c: HostConfig): HostConfig {
  const p = c.placement;
  if (p === undefined || p.domains.length === 0) return c;
  const labelsOf = (h: HostId): Labels => p.labels[h] ?? {};
  return { ...c, services: c.services.map((sv) => ({ ...sv, candidates: rankCandidates(sv.candidates[0]!, sv.candidates.slice(1), labelsOf, p.domains) })) };
}

/** A service's candidates in the order they take over, each with its failure domain ("/"-joined, widest first) and its distance from the primary; empty without domains. For status. */
export function placementOf(s: HostState, service: string): Array<{ host: HostId; domain: string; distance: number }> {
  const p = s.config.placement;
  const sv = s.config.services.find((x) => x.name === service);
  assert(sv !== undefined, "a known service");
  if (p === undefined || p.domains.length === 0) return [];
  const path = (h: HostId) => domainPath(h, p.labels[h] ?? {}, p.domains);
  return sv.candidates.map((h) => ({ host: h, domain: path(h).slice(0, -1).join("/"), distance: distance(path(h), path(sv.candidates[0]!)) }));
}

/** The state a host starts with; `persisted` is what its disk kept per service (null: nothing, or lost). */
export function initialHost(given: HostConfig, persisted: Readonly<Record<string, Persisted | null>>, nowMs: number): HostState {
  const config = ranked(given);
  assert(config.hosts.includes(config.self), "self is a host");
  assert(config.services.length <= SERVICES_MAX, "at most SERVICES_MAX services");
  assert(new Set(config.services.map((s) => s.name)).size === config.services.length, "service names are distinct");
  const t = config.timing;
  const members = membership.initialMembership(
    {
      self: config.self,
      peers: config.hosts.filter((h) => h !== config.self),
      probeIntervalMs: t.probeIntervalMs,
      probeTimeoutMs: t.probeTimeoutMs,
      indirectProbes: 2,
      suspicionTimeoutMs: t.suspicionTimeoutMs,
      updatesMax: 8,
    },
    nowMs,
  );
  const services: Record<string, QuorumState> = {};
  for (const sv of config.services) {
    services[sv.name] = quorum.initialQuorum(
      {
        service: sv.name,
        self: config.self,
        boot: config.boot,
        candidates: sv.candidates,
        voters: sv.voters,
        hosts: config.hosts,
        leaseMs: t.leaseMs,
        renewIntervalMs: t.renewIntervalMs,
        driftMaxPpm: t.driftMaxPpm,
        actuationGuardMs: t.actuationGuardMs,
        proposalTimeoutMs: t.proposalTimeoutMs,
        initialGraceMs: t.initialGraceMs,
        fenced: config.fenced,
        moveBackAfterMs: sv.moveBackAfterMs ?? 0,
        swapEveryMs: sv.swapEveryMs ?? 0,
        moveBackInWindow: sv.moveBackInWindow ?? false,
      },
      persisted[sv.name] ?? null,
      nowMs,
    );
  }
  const replicas: Record<string, ReplicationState> = {};
  for (const sv of config.services) {
    if (!sv.candidates.includes(config.self)) continue;
    const others = sv.candidates.filter((h) => h !== config.self);
    replicas[sv.name] = replication.initialReplication(
      { service: sv.name, self: config.self, replicas: others, ackShadows: Math.min(sv.ackShadows, others.length), writeTimeoutMs: config.replication.writeTimeoutMs, staleAfterMs: config.replication.staleAfterMs },
      nowMs,
    );
  }
  const p = config.proactive;
  const foresight = p === null ? null : proactive.initialProactive({ self: config.self, ...p }, nowMs);
  const m = lifecycleMachines(config);
  const s: Draft = { config, members, services, replicas, foresight, standby: {}, votes: {}, orders: [], ...m, coldTold: initialCold(config, m.warm), peerFree: {}, redirectRetry: {}, peerUnhealthy: {}, peerSafe: {}, hooks: {}, nowMs };
  // Cold hosts are kept out from the start (no one holds yet: the quorum machines answer with nothing to do).
  if (Object.keys(m.warm).length > 0) syncExcluded(s, []);
  return s;
}

/** Each service's health, safe mode, scaling and migration where this host is a candidate; its shadow count everywhere (every host keeps cold ones out). */
function lifecycleMachines(config: HostConfig): Pick<HostState, "health" | "safe" | "scaling" | "migration" | "warm"> {
  const healthOf: Record<string, ServiceHealth> = {};
  const safe: Record<string, SafeMode> = {};
  const scales: Record<string, ScalingState> = {};
  const migrations: Record<string, MigrationState> = {};
  const warm: Record<string, ShadowCountState> = {};
  for (const sv of config.services) {
    if (sv.shadowCount !== undefined) warm[sv.name] = shadowcount.initialShadowCount(sv.shadowCount, sv.shadowCount.initial);
    if (!sv.candidates.includes(config.self)) continue;
    healthOf[sv.name] = health.initialHealth(sv.checks ?? []);
    safe[sv.name] = safemode.initialSafeMode();
    if (sv.scaling !== undefined) scales[sv.name] = scaling.initialScaling(sv.scaling);
    if (sv.migrate !== undefined) migrations[sv.name] = migration.initialMigration();
  }
  return { health: healthOf, safe, scaling: scales, migration: migrations, warm };
}

// long: the router, one case per event type, each handing it to its machine
export function step(s0: HostState, e: HostEvent, nowMs: number): HostStep {
  assert(nowMs >= s0.nowMs, "time moves forward");
  const d: Draft = { ...s0, services: { ...s0.services }, replicas: { ...s0.replicas }, nowMs };
  const fx: HostEffect[] = [];
  switch (e.type) {
    case "tick":
      onTick(d, fx, e.rand);
      break;
    case "loop-stalled":
      for (const sv of d.config.services) stepQuorum(d, fx, sv.name, { type: "stalled" });
      break;
    case "received":
      onReceived(d, fx, e.from, e.msg);
      break;
    case "peer-connected":
    case "peer-disconnected":
      stepMembership(d, fx, { type: e.type, id: e.id });
      break;
    case "swap-window":
      if (d.services[e.service] !== undefined) stepQuorum(d, fx, e.service, { type: "swap-window", open: e.open });
      break;
    case "kernel-leased":
      assert(d.services[e.service] !== undefined, "a kernel lease's outcome names a known service");
      stepQuorum(d, fx, e.service, { type: "kernel-leased", seq: e.seq, error: e.error });
      break;
    case "forecast-ready":
      onForecast(d, fx, e);
      break;
    case "vip-changed":
      onVipChanged(d, fx, e);
      break;
    case "hook-finished":
      onHookFinished(d, fx, e);
      break;
    case "warm-word":
      if (d.warm[e.service] !== undefined) stepShadowCount(d, fx, e.service, { type: "word", word: e.word });
      break;
    case "peer-free":
      if (e.host !== d.config.self && d.config.hosts.includes(e.host)) d.peerFree = { ...d.peerFree, [e.host]: e.free };
      break;
    case "workloads":
    case "migrated":
      if (d.migration[e.service] !== undefined) stepMigration(d, fx, e.service, e.type === "workloads" ? { type: "workloads", list: weighed(d, e.service, e.workloads) } : { type: "migrated", id: e.workload, to: e.to, ok: e.ok, detail: e.detail, stale: e.stale });
      break;
    case "diagnosed":
    case "safe-mode-restored":
    case "left-holding":
      if (d.safe[e.service] !== undefined) stepSafe(d, fx, e.service, safeEvent(e));
      break;
    case "order":
      applyOrder(d, fx, e.order);
      break;
    case "check-result":
    case "placement":
    case "checks-configured":
      onOwnHealth(d, fx, e);
      break;
    case "peer-health":
      onPeerHealth(d, fx, e.host, e.unhealthy, e.safe ?? []);
      break;
    case "standings":
      mergeStandings(d, fx, e.standings);
      break;
    case "vote-standings":
      for (const [sv, v] of Object.entries(e.votes)) takeVotes(d, fx, sv, v, e.from === "disk" ? (e.kept?.[sv] ?? { taken: true, heard: [] }) : null);
      break;
    case "write-durable":
    case "peer-durable":
    case "peer-synced":
    case "state-link":
      routeReplicas(d, fx, e);
      break;
    default:
      assertNever(e);
  }
  // Whatever the event, a service's cold hosts follow its holder (never cold) and its warm set.
  for (const sv of Object.keys(d.warm)) if (tellCold(d, fx, sv, "the cold hosts changed")) syncExcluded(d, fx);
  return { state: d, effects: fx };
}

/** A tick, to every machine, each with its own draw from the tick's: the same tick, the same run. */
function onTick(d: Draft, fx: HostEffect[], rand: number): void {
  assert(rand >= 0 && rand < 1, "rand in [0,1)");
  const r = rng(Math.floor(rand * 2 ** 32));
  stepMembership(d, fx, { type: "tick", rand: r.next() });
  for (const sv of d.config.services) stepQuorum(d, fx, sv.name, { type: "tick", rand: r.next() });
  stepForesight(d, fx, { type: "tick", holding: holdingNow(d) });
  routeReplicas(d, fx, { type: "tick" });
  for (const sv of Object.keys(d.safe)) stepSafe(d, fx, sv, { type: "tick" });
  for (const sv of Object.keys(d.scaling)) stepScaling(d, fx, sv, { type: "tick", ...scaleView(d, sv) });
  for (const sv of Object.keys(d.redirectRetry)) retryRedirect(d, fx, sv);
  for (const sv of Object.keys(d.migration)) stepMigration(d, fx, sv, { type: "tick", ...poolView(d, sv) });
  for (const sv of Object.keys(d.warm)) stepShadowCount(d, fx, sv, { type: "tick", ...countView(d, sv) });
}

/** A hook's outcome: kept for status; a redirect's, to its retries. */
function onHookFinished(d: Draft, fx: HostEffect[], e: Extract<HostEvent, { type: "hook-finished" }>): void {
  assert(d.services[e.service] !== undefined, "a hook outcome names a known service");
  d.hooks = { ...d.hooks, [e.service]: { hook: e.hook, ok: e.ok, atMs: d.nowMs, detail: e.detail } };
  if (e.hook === "redirect" && e.epoch !== undefined) onRedirected(d, fx, e.service, e.epoch, e.ok, e.detail);
}

/** Redirect runs failed in a row before the alarm; the retries' back-off, from its first to its longest. */
export const REDIRECT_ALARM_AFTER = 3;
const REDIRECT_RETRY_MS_MIN = 1_000;
const REDIRECT_RETRY_MS_MAX = 30_000;

/**
 * A redirect run's outcome. Failed while this host still holds the epoch it
 * ran for: tried again after a back-off that doubles (the pool as it is
 * then), with an alarm from the third failure in a row; across sites the
 * redirection is the whole takeover, and a record left on the old holder
 * is an outage. Done: the retry and any alarm end.
 */
function onRedirected(d: Draft, fx: HostEffect[], service: string, epoch: number, ok: boolean, detail: string): void {
  const r = d.redirectRetry[service];
  const q = d.services[service]!;
  if (ok || q.holder !== d.config.self || q.epoch !== epoch) {
    if (r === undefined) return;
    if (ok && r.epoch === epoch && r.failures >= REDIRECT_ALARM_AFTER) fx.push({ type: "alarm", service, alarm: "redirect-recovered", epoch, error: null, attempts: r.failures });
    const { [service]: _, ...rest } = d.redirectRetry;
    d.redirectRetry = rest;
    return;
  }
  const failures = r?.epoch === epoch ? r.failures + 1 : 1;
  d.redirectRetry = { ...d.redirectRetry, [service]: { epoch, failures, atMs: d.nowMs + Math.min(REDIRECT_RETRY_MS_MIN * 2 ** (failures - 1), REDIRECT_RETRY_MS_MAX) } };
  if (failures === REDIRECT_ALARM_AFTER) fx.push({ type: "alarm", service, alarm: "redirect-failing", epoch, error: detail, attempts: failures });
}

/** A failed redirect's retry, when due and this host still holds that epoch: the pool as it is now (the holder alone, or with its active shadows). */
function retryRedirect(d: Draft, fx: HostEffect[], service: string): void {
  const r = d.redirectRetry[service]!;
  const q = d.services[service]!;
  if (q.holder !== d.config.self || q.epoch !== r.epoch) {
    const { [service]: _, ...rest } = d.redirectRetry;
    d.redirectRetry = rest;
    return;
  }
  // Only under a lease: a holder cut off must not point the record back at itself after its successor did.
  if (d.nowMs < r.atMs || !quorum.leaseValid(q, d.nowMs)) return;
  d.redirectRetry = { ...d.redirectRetry, [service]: { ...r, atMs: Infinity } };
  fx.push({ type: "pool", service, epoch: r.epoch, hosts: [d.config.self, ...activeOf(d, service)], why: `the redirect failed ${r.failures} time(s) in a row: again` });
}

/** A forecast: to the proactive machine; this host's own, its metrics' p90, to each scaling service. */
function onForecast(d: Draft, fx: HostEffect[], e: Extract<HostEvent, { type: "forecast-ready" }>): void {
  if (e.probability !== undefined) stepForesight(d, fx, { type: "forecast", host: e.host, probability: e.probability, ...(e.anomaly === undefined ? {} : { anomaly: e.anomaly }), dataMs: e.dataMs });
  if (e.host !== d.config.self || e.p90 === undefined) return;
  for (const sv of d.config.services) {
    const p90 = sv.scaling === undefined ? undefined : e.p90[sv.scaling.metric];
    if (p90 !== undefined && d.scaling[sv.name] !== undefined) stepScaling(d, fx, sv.name, { type: "forecast", p90 });
    const c = sv.shadowCount;
    const band = c === undefined ? undefined : { p90: e.p90[c.metric], p10: e.p10?.[c.metric] };
    if (band?.p90 !== undefined && band.p10 !== undefined && d.warm[sv.name] !== undefined) stepShadowCount(d, fx, sv.name, { type: "forecast", p90: band.p90, p10: band.p10 });
  }
}

/** Whether this host holds a service under a lease now, and the shadows fit to serve beside it, best first: alive, kept in, not predicted to run out, in sync or catching up. */
function scaleView(s: HostState, service: string): { holding: boolean; fit: HostId[] } {
  const q = s.services[service]!;
  const self = s.config.self;
  // Holding once its VIP is in (the add done): the take's redirect run then comes before any pool of its.
  const holding = q.holder === self && q.role === quorum.Role.holding && q.vipUp && q.vipPresent && q.vipOp === null;
  const fit = q.config.candidates.filter((h) => h !== self && quorum.fitToServe(q, h));
  return { holding, fit };
}

function stepScaling(d: Draft, fx: HostEffect[], service: string, ev: ScalingEvent): void {
  const out = scaling.step(d.scaling[service]!, ev, d.nowMs, d.config.self);
  if (out.state !== d.scaling[service]) d.scaling = { ...d.scaling, [service]: out.state };
  const epoch = d.services[service]!.epoch;
  for (const f of out.effects) fx.push(f.type === "pool" ? { type: "pool", service, epoch, hosts: f.hosts, why: f.why } : { type: "run-hook", service, hook: "provision", epoch, why: f.why });
}

/** Whether this host holds a service under a lease now (its VIP in), and its pool: itself, then its active shadows. */
function poolView(s: HostState, service: string): { holding: boolean; pool: HostId[] } {
  return { holding: scaleView(s, service).holding && quorum.leaseValid(s.services[service]!, s.nowMs), pool: [s.config.self, ...activeOf(s, service)] };
}

/** The document's workloads as the migration machine weighs them: by the service's `by` resource (absent there: 0), or 1 each. */
function weighed(s: HostState, service: string, list: Extract<HostEvent, { type: "workloads" }>["workloads"]): migration.Workload[] {
  const by = s.config.services.find((x) => x.name === service)!.migrate!.by;
  // The same first WORKLOADS_MAX on every host (by id), and no weight a peer's raw change could make NaN.
  const sorted = [...list].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).slice(0, migration.WORKLOADS_MAX);
  const weight = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? Math.max(0, x) : 0);
  return sorted.map((w) => ({ id: w.id, host: w.host, weight: by === null ? 1 : weight(w.requirements[by]) }));
}

function stepMigration(d: Draft, fx: HostEffect[], service: string, ev: MigrationEvent): void {
  const out = migration.step(d.migration[service]!, ev, d.nowMs);
  if (out.state !== d.migration[service]) d.migration = { ...d.migration, [service]: out.state };
  const epoch = d.services[service]!.epoch;
  for (const f of out.effects) {
    if (f.type === "migrate") fx.push({ type: "migrate", service, epoch, workload: f.id, from: f.from, to: f.to, why: f.why });
    else fx.push({ type: "alarm", service, alarm: f.failing ? "migrate-failing" : "migrate-recovered", epoch, error: f.detail, attempts: f.attempts });
  }
}

/** A service's workloads as this host knows them, where each runs, and the move under way, for status. */
export function workloadsOf(s: HostState, service: string): { workloads: ReadonlyArray<{ id: string; host: HostId; weight: number }>; moving: { id: string; from: HostId; to: HostId } | null } | null {
  const m = s.migration[service];
  return m === undefined ? null : { workloads: m.workloads, moving: m.running };
}

/** What the shadow count's tick sees: holding under a lease now (its VIP in), the epoch, the shadows and spares in placement's order, who is alive, and peers' free capacity. */
function countView(s: HostState, service: string): Omit<Extract<ShadowCountEvent, { type: "tick" }>, "type"> {
  const q = s.services[service]!;
  // The primary is no shadow (never cold: it always keeps a replica), nor is the holder. Only a host that could take over counts as alive.
  const usable = [s.config.self, ...aliveHosts(s)].filter((h) => !q.excluded.includes(h));
  return { holding: poolView(s, service).holding, epoch: q.epoch, pool: q.config.candidates.slice(1).filter((h) => h !== s.config.self), alive: usable, inSync: q.inSync, free: s.peerFree, previous: q.cert?.from ?? null, drained: drainedOf(s, service) };
}

function stepShadowCount(d: Draft, fx: HostEffect[], service: string, ev: ShadowCountEvent): void {
  const before = d.warm[service]!;
  const out = shadowcount.step(before, ev, d.nowMs);
  if (out.state === before) return;
  d.warm = { ...d.warm, [service]: out.state };
  let changed = false;
  for (const f of out.effects) changed = tellCold(d, fx, service, f.why, true) || changed;
  if (out.state.word !== before.word && out.effects.length === 0) changed = tellCold(d, fx, service, "a holder's word") || changed;
  if (changed) syncExcluded(d, fx);
}

/** Tells the shell the service's warm set and cold hosts when the cold ones changed (or this host, holding, changed the set: `mine`, its beacons carry it); whether the cold ones changed (candidacy follows). */
function tellCold(d: Draft, fx: HostEffect[], service: string, why: string, mine = false): boolean {
  const cold = coldOf(d, service);
  const changed = (d.coldTold[service] ?? []).join() !== cold.join();
  if (!mine && !changed) return false;
  d.coldTold = { ...d.coldTold, [service]: cold };
  fx.push({ type: "warm-changed", service, word: d.warm[service]!.word, cold, why, mine });
  return changed;
}

/** The latest word on the warm shadows of each service with a shadow count that this host knows (its own as holder, else the latest heard): its beacons relay them, so views converge even once the holder is gone. */
export function warmWords(s: HostState): Array<{ service: string; word: WarmWord }> {
  return Object.entries(s.warm).map(([service, w]) => ({ service, word: w.word }));
}

/** A service's warm shadows as this host knows them, how many the forecast wants, and the rest of its shadows and spares (cold); null without a shadow count. For status. */
export function warmOf(s: HostState, service: string): { warm: readonly HostId[]; cold: HostId[]; wanted: number; why: string; word: WarmWord; reserve: Readonly<Record<string, number>>; free: Readonly<Record<HostId, Readonly<Record<string, number>>>> } | null {
  const w = s.warm[service];
  const c = s.config.services.find((sv) => sv.name === service)?.shadowCount;
  if (w === undefined || c === undefined) return null;
  const want = shadowcount.wanted(w, s.nowMs);
  const cold = coldOf(s, service);
  // Each shadow's and spare's free capacity by its last beacon: what the reserve is checked against.
  const free = Object.fromEntries([...w.word.warm, ...cold].filter((h) => s.peerFree[h] !== undefined).map((h) => [h, s.peerFree[h]!]));
  return { warm: w.word.warm, cold, wanted: want.n, why: want.why, word: w.word, reserve: c.reserve, free };
}

/** The replicas whose every change this host has (in sync, or only they lack some of ours): a cold one strands nothing. */
function drainedOf(s: HostState, service: string): HostId[] {
  const peers = s.replicas[service]?.peers ?? {};
  return Object.entries(peers).filter(([, p]) => p.status === "in-sync" || (p.status === "syncing" && !p.weLack)).map(([h]) => hostId(h));
}

/** The shadows and spares of a service that are not warm now (never its holder): kept out while a warm one is fit; their replicas do not sync. */
export function coldOf(s: Pick<HostState, "warm" | "services">, service: string): HostId[] {
  const w = s.warm[service];
  if (w === undefined) return [];
  const q = s.services[service]!;
  // The holder it replaced has the state: warm until the new holder's word of this epoch says otherwise.
  const previous = w.word.epoch < q.epoch ? (q.cert?.from ?? null) : null;
  return q.config.candidates.slice(1).filter((h) => !w.word.warm.includes(h) && h !== q.holder && h !== previous);
}

/** The cold hosts at start, as the shell reads them then (coldOf). */
function initialCold(config: HostConfig, warm: Readonly<Record<string, ShadowCountState>>): Record<string, HostId[]> {
  return Object.fromEntries(config.services.filter((sv) => warm[sv.name] !== undefined).map((sv) => [sv.name, sv.candidates.slice(1).filter((h) => !warm[sv.name]!.word.warm.includes(h))]));
}

/** A service's active shadows (as holder), for status. */
export function activeOf(s: HostState, service: string): readonly HostId[] {
  return s.scaling[service]?.active ?? [];
}

// ---------------------------------------------------------------- deadlines

/**
 * The earliest time at which a tick could do anything, with no other event
 * in between: the agent's loop sets its timer for then (and ticks at once
 * when it is past after an event), so an idle host wakes only when one of
 * its machines has something due, not every tickMs. Each machine's part
 * mirrors its tick and is never later than it; the simulator, which ticks
 * every tickMs, checks that no tick acts before it is due and that a tick
 * that did nothing leaves nothing due at once. Infinity: only an event can
 * make a tick act.
 */
export function nextTickMs(s: HostState): number {
  let due = Infinity;
  eachDue(s, (_, ms) => (due = Math.min(due, ms)));
  return due;
}

/** Each machine's part of nextTickMs, by name (a service's with its role), for diagnostics. */
export function nextTickParts(s: HostState): Record<string, number> {
  const parts: Record<string, number> = {};
  eachDue(s, (name, ms) => (parts[name()] = ms));
  return parts;
}

/** Each machine's due time, with its name for diagnostics (built only when asked: nextTickMs runs every turn). */
function eachDue(s: HostState, f: (name: () => string, ms: number) => void): void {
  f(() => "members", membership.nextTickMs(s.members));
  for (const [sv, q] of Object.entries(s.services)) f(() => `${sv} (${q.role}, holder ${q.holder ?? "none"})`, quorum.nextTickMs(q));
  if (s.foresight !== null) f(() => "foresight", proactive.nextTickMs(s.foresight, () => holdingNow(s)));
  for (const [sv, r] of Object.entries(s.replicas)) f(() => `replicas ${sv}`, replication.nextTickMs(r));
  for (const [sv, m] of Object.entries(s.safe)) f(() => `safe mode ${sv}`, safemode.nextTickMs(m));
  for (const [sv, r] of Object.entries(s.redirectRetry)) {
    const q = s.services[sv]!;
    f(() => `redirect retry ${sv}`, q.holder !== s.config.self || q.epoch !== r.epoch ? s.nowMs : quorum.leaseValid(q, s.nowMs) ? r.atMs : Infinity);
  }
  for (const [sv, m] of Object.entries(s.scaling)) {
    const v = scaleView(s, sv);
    f(() => `scaling ${sv}`, scaling.nextTickMs(m, v.holding, v.fit, s.config.self, s.nowMs));
  }
  for (const [sv, m] of Object.entries(s.warm)) f(() => `shadow count ${sv}`, shadowcount.nextTickMs(m, countView(s, sv), s.nowMs));
  for (const [sv, m] of Object.entries(s.migration)) {
    const v = poolView(s, sv);
    // Holding ends with the lease, which the quorum's own part already wakes for.
    f(() => `migration ${sv}`, migration.nextTickMs(m, v.holding, v.pool, s.nowMs));
  }
}

// ---------------------------------------------------------------- queries

/** Whether this host's lease for a service is valid by its own clock (it may keep the VIP). */
export function leaseValid(s: HostState, service: string, nowMs: number): boolean {
  const q = s.services[service];
  assert(q !== undefined, "a known service");
  return quorum.leaseValid(q, nowMs);
}

/** Whether this host holds a service in that epoch under a lease valid by its clock now. */
export function holdsUnderLease(s: HostState, service: string, epoch: number, nowMs: number): boolean {
  const q = s.services[service];
  assert(q !== undefined, "a known service");
  return q.holder === s.config.self && q.epoch === epoch && quorum.leaseValid(q, nowMs);
}

/** Milliseconds left of this host's lease for a service, or null when it holds none. */
export function leaseRemainingMs(s: HostState, service: string, nowMs: number): number | null {
  const q = s.services[service];
  assert(q !== undefined, "a known service");
  return quorum.leaseRemainingMs(q, nowMs);
}

/** With whom and when this host, holding a service, will swap roles (null: it will not now), for status. */
export function swapPlan(s: HostState, service: string, nowMs: number): { to: HostId; inMs: number } | null {
  const q = s.services[service];
  assert(q !== undefined, "a known service");
  return quorum.swapPlan(q, nowMs);
}

/** Where and when this host, holding a service in the primary's place, will move it back (null: it will not), for status. */
export function moveBackPlan(s: HostState, service: string, nowMs: number): { to: HostId; inMs: number; inWindow: boolean } | null {
  const q = s.services[service];
  assert(q !== undefined, "a known service");
  return quorum.moveBackPlan(q, nowMs);
}

/** A service's quorum for status: the votes its majority is counted over now, how many make it, and the operator's override taken on here (null: none), with how long until it counts and the voters heard since. */
export function quorumOf(s: HostState, service: string, nowMs: number): { expectedVotes: number; needed: number; override: (VoteStanding & { countsInMs: number; heard: HostId[] }) | null } {
  const q = s.services[service];
  assert(q !== undefined, "a known service");
  const said = s.votes[service];
  const override = said === undefined || q.expect === null ? null : { ...said, countsInMs: Math.max(0, q.expect.fromMs - nowMs), heard: [...q.expect.heard] };
  return { expectedVotes: quorum.expectedVotes(q), needed: quorum.votesNeeded(q), override };
}

/** The membership view, self first, for status. */
export function memberView(s: HostState): MemberUpdate[] {
  return membership.members(s.members);
}

/** Each other replica of a service as this host sees it (sync status, lag, last heard); null where this host keeps no replica. */
export function replicaPeers(s: HostState, service: string): Readonly<Record<string, PeerSync>> | null {
  return s.replicas[service]?.peers ?? null;
}

/** The hosts this host's membership view does not hold dead: they rank as candidates. */
export function aliveHosts(s: HostState): HostId[] {
  // Suspects still rank: a false suspicion (a stalled peer) must not let a
  // lower-ranked shadow jump the queue; the dead do not.
  return membership.members(s.members).filter((m) => m.status !== "dead").map((m) => m.id);
}

// ---------------------------------------------------------------- routing

/** A message: to membership or its service's quorum machine; its sender is heard (a lowered quorum counts a voter heard again). */
function onReceived(d: Draft, fx: HostEffect[], from: HostId, m: HostMsg): void {
  heard(d, fx, from);
  if (m.type === "ping" || m.type === "ack" || m.type === "ping-req") return stepMembership(d, fx, { type: "received", from, msg: m });
  const service = m.type === "certificate" ? m.cert.service : m.service;
  if (d.services[service] !== undefined) stepQuorum(d, fx, service, { type: "received", from, msg: m });
}

type Draft = { -readonly [K in keyof HostState]: HostState[K] } & { services: Record<string, QuorumState>; replicas: Record<string, ReplicationState> };

function routeReplicas(d: Draft, fx: HostEffect[], e: ReplicaEvent): void {
  const out = stepReplicas(d.replicas, e, d.nowMs);
  d.replicas = out.replicas;
  fx.push(...out.effects);
  // Who is current changed: the quorum moves a service back only to a replica
  // in sync or catching up (heard recently, not diverged: a write makes a
  // replica "syncing" for a moment, which must not restart the wait).
  for (const f of out.effects) {
    if (f.type !== "sync-status-changed" || d.services[f.service] === undefined) continue;
    const peers = d.replicas[f.service]!.peers;
    const candidates = d.config.services.find((sv) => sv.name === f.service)!.candidates;
    stepQuorum(d, fx, f.service, { type: "in-sync", hosts: candidates.filter((h) => peers[h]?.status === "in-sync" || peers[h]?.status === "syncing") });
  }
}

/** The host core's replication events (and its tick), as they reach the replication machines. */
export type ReplicaEvent = Extract<HostEvent, { type: "write-durable" | "peer-durable" | "peer-synced" | "state-link" }> | { type: "tick" };
/** The host core's replication effects. */
export type ReplicaEffect = Extract<HostEffect, { type: "request-durable" | "write-acked" | "write-failed" | "sync-status-changed" }>;

/**
 * Routes one replication event to the machines it concerns (one per service
 * this host keeps a replica of) and names their effects as the host core
 * does. Pure; the host core runs it, and so does a replicator that has no
 * host core (state/owncore.ts), so both route alike.
 */
export function stepReplicas(replicas: Readonly<Record<string, ReplicationState>>, e: ReplicaEvent, nowMs: number): { replicas: Record<string, ReplicationState>; effects: ReplicaEffect[] } {
  const next = { ...replicas };
  const effects: ReplicaEffect[] = [];
  const run = (service: string, ev: ReplicationEvent): void => {
    const out = replication.step(next[service]!, ev, nowMs);
    next[service] = out.state;
    for (const f of out.effects) effects.push(replicaEffect(service, f));
  };
  switch (e.type) {
    case "tick":
      for (const sv of Object.keys(next)) run(sv, { type: "tick" });
      break;
    case "write-durable":
      assert(next[e.service] !== undefined, "a write is made only where a replica is kept");
      run(e.service, { type: "write-durable", id: e.id });
      break;
    case "peer-durable":
      if (next[e.service] !== undefined) run(e.service, { type: "peer-durable", peer: e.peer, id: e.id });
      break;
    case "peer-synced":
      if (next[e.service] !== undefined) run(e.service, { type: "peer-sync", peer: e.peer, lagChanges: e.lagChanges, lagBytes: e.lagBytes, theyLack: e.theyLack, weLack: e.weLack });
      break;
    case "state-link":
      for (const sv of Object.keys(next)) run(sv, { type: e.up ? "peer-connected" : "peer-disconnected", peer: e.peer });
      break;
    default:
      assertNever(e);
  }
  return { replicas: next, effects };
}

function replicaEffect(service: string, f: ReplicationEffect): ReplicaEffect {
  switch (f.type) {
    case "request-durable":
      return { type: "request-durable", service, id: f.id, to: f.to };
    case "acked":
      return { type: "write-acked", service, id: f.id, durableOn: f.durableOn, ms: f.ms };
    case "write-failed":
      return { type: "write-failed", service, id: f.id, why: f.why, durableOn: f.durableOn, ms: f.ms };
    case "status-changed":
      return { type: "sync-status-changed", service, peer: f.peer, from: f.from, to: f.to };
    default:
      return assertNever(f);
  }
}

function stepMembership(d: Draft, fx: HostEffect[], ev: membership.MembershipEvent): void {
  const out = membership.step(d.members, ev, d.nowMs);
  d.members = out.state;
  let changed = false;
  for (const f of out.effects) {
    switch (f.type) {
      case "send":
        fx.push({ type: "send", to: f.to, msg: f.msg });
        break;
      case "member-changed":
        fx.push(f);
        changed = true;
        break;
      case "rtt-measured":
        fx.push(f);
        break;
      default:
        assertNever(f);
    }
  }
  if (!changed) return;
  const alive = aliveHosts(d);
  for (const sv of d.config.services) stepQuorum(d, fx, sv.name, { type: "membership", alive });
  syncExcluded(d, fx); // safe mode keeps a host out only while a fit candidate lives
}

function stepQuorum(d: Draft, fx: HostEffect[], service: string, ev: QuorumEvent): void {
  const before = d.services[service]!;
  const out = quorum.step(before, ev, d.nowMs);
  d.services[service] = out.state;
  for (const f of out.effects) fx.push(withService(service, f));
  const m = d.safe[service];
  const why = demotedWhy(d.config.self, before, out.state);
  // Replaced in the epoch it held when its agent stopped on purpose (a restart, an upgrade): left, not demoted.
  const left = m !== undefined && m.leftEpoch === before.epoch && out.state.cert?.from === d.config.self;
  if (why !== null && m !== undefined && !left) stepSafe(d, fx, service, { type: "demoted", why });
  // Holding again since: a later replacement is a demotion like any.
  if (m !== undefined && m.leftEpoch !== null && out.state.role === quorum.Role.holding) stepSafe(d, fx, service, { type: "left", epoch: null });
}

/** The host core's safe-mode events as the safe-mode machine takes them. */
function safeEvent(e: Extract<HostEvent, { type: "diagnosed" | "safe-mode-restored" | "left-holding" }>): SafeEvent {
  if (e.type === "diagnosed") return { type: "diagnosed", seq: e.seq, ok: e.ok, detail: e.detail, bundle: e.bundle };
  return e.type === "left-holding" ? { type: "left", epoch: e.epoch } : { type: "restored", why: e.why };
}

/**
 * Whether a quorum step demoted this host: it was the certified holder and
 * now knows a later certificate of another, which it did not hand over to in
 * person (a planned move from it: a handover, a predicted move, a move
 * back). Null: not demoted; else why, for safe mode.
 */
export function demotedWhy(self: HostId, before: QuorumState, after: QuorumState): string | null {
  if (before.holder !== self || after.holder === self || after.holder === null || after.epoch <= before.epoch) return null;
  const c = after.cert;
  if (c !== null && c.from === self && quorum.isPlanned(c.reason)) return null;
  // It signed its own replacement: it saw itself lost (a restart that lost its lease or its disk), not cut off;
  // unless it gave its epoch up because its VIP could not be added here: that is a fault to diagnose.
  if (c !== null && c.votes.some((v) => v.voter === self) && before.gaveUpEpoch !== before.epoch) return null;
  return `demoted at epoch ${after.epoch}: ${after.holder} certified in its place (${c === null ? "certificate not seen" : c.reason})`;
}

/** Safe mode's step for a service: diagnostics to run, and a change in whom the service excludes. */
function stepSafe(d: Draft, fx: HostEffect[], service: string, ev: SafeEvent): void {
  const out = safemode.step(d.safe[service]!, ev, d.nowMs, d.config.diagnoseRetryMs);
  if (out.state !== d.safe[service]) d.safe = { ...d.safe, [service]: out.state }; // unchanged: the same object (a tick that did nothing changes nothing)
  for (const f of out.effects) fx.push(withServiceSafe(service, f));
  if (out.effects.some((f) => f.type === "safe-mode-changed")) syncExcluded(d, fx);
}

function withServiceSafe(service: string, f: SafeEffect): HostEffect {
  switch (f.type) {
    case "diagnose":
      return { type: "diagnose", service, seq: f.seq, why: f.why };
    case "safe-mode-changed":
      return { type: "safe-mode-changed", service, on: f.on, why: f.why };
    default:
      return assertNever(f);
  }
}

function withService(service: string, f: QuorumEffect): HostEffect {
  switch (f.type) {
    case "persist":
      return { type: "persist", service, record: f.record };
    case "send":
      return { type: "send", to: f.to, msg: f.msg };
    case "kernel-lease":
      return { type: "kernel-lease", service, epoch: f.epoch, seq: f.seq, untilMs: f.untilMs };
    case "take-vip":
      return { type: "take-vip", service, epoch: f.epoch, reason: f.reason };
    case "drop-vip":
      return { type: "drop-vip", service, epoch: f.epoch, why: f.why };
    case "certified":
      return { type: "certified", service, cert: f.cert };
    case "move-abandoned":
      return { type: "move-abandoned", service, epoch: f.epoch };
    case "swapped": // handed over by its swap: the swap hook runs on the host that left (an upgrade, a check)
      return { type: "run-hook", service, hook: "swap", epoch: f.epoch };
    case "alarm":
      return { type: "alarm", service, alarm: f.alarm, epoch: f.epoch, error: f.error, attempts: f.attempts };
    default:
      return assertNever(f);
  }
}

/** The services an order concerns: its service, or every service its host is a candidate of. */
function servicesOf(d: Draft, o: OperatorOrder): string[] {
  if (o.service !== null) return d.services[o.service] === undefined ? [] : [o.service];
  return d.config.services.filter((sv) => o.target !== null && sv.candidates.includes(o.target)).map((sv) => sv.name);
}

/**
 * An operator's order: a move or failover asks the holder (if this host is
 * it) to hand over in person; standby and maintenance keep a host out of
 * candidacy everywhere (a holder among them hands over), unstandby and
 * release end that. Every host gets every order; each acts on its own part,
 * and the same order twice acts once.
 */
function applyOrder(d: Draft, fx: HostEffect[], o: OperatorOrder): void {
  const services = servicesOf(d, o);
  if (d.orders.includes(o.nonce)) return void fx.push({ type: "order-applied", order: o, services, outcome: "seen before: nothing more to do", repeat: true, concerned: false });
  d.orders = [...d.orders.slice(-(ORDERS_REMEMBERED_MAX - 1)), o.nonce];
  const self = d.config.self;
  const concerned = o.service === null ? o.target === self : services.some((sv) => d.services[sv]!.holder === self);
  fx.push({ type: "order-applied", order: o, services, outcome: orderOutcome(d, fx, o, services), repeat: false, concerned });
}

function orderOutcome(d: Draft, fx: HostEffect[], o: OperatorOrder, services: string[]): string {
  const self = d.config.self;
  switch (o.action) {
    case "move":
    case "failover": {
      const sv = services[0];
      if (sv === undefined) return `no service "${o.service}" here`;
      const q = d.services[sv]!;
      if (q.holder !== self || q.role !== quorum.Role.holding) return q.holder === self ? `holds ${sv} without a lease (${q.role}): no move` : `noted (${q.holder ?? "no host"} holds ${sv})`;
      const to = o.action === "move" ? o.target : quorum.successor(q);
      if (to === null) return `no other candidate of ${sv} is alive and out of standby: it stays here`;
      if (keptOut(d.standby[to])) return `${to} is in ${d.standby[to]!.mode}: no move`;
      stepQuorum(d, fx, sv, { type: "handover-requested", to, reason: "handover" });
      return d.services[sv]!.role === quorum.Role.handingOver ? `handing ${sv} over to ${to} in person` : `cannot hand ${sv} over to ${to} (not a candidate, or a move is under way)`;
    }
    case "standby":
    case "maintenance":
    case "unstandby":
    case "release": {
      if (o.target === null || !d.config.hosts.includes(o.target)) return `no host "${o.target}" in the cluster`;
      const on = o.action === "standby" || o.action === "maintenance";
      const said: Standing = { mode: o.action === "standby" || o.action === "maintenance" ? o.action : "active", reason: o.reason, nonce: o.nonce, issuedAtMs: o.issuedAtMs };
      const now = d.standby[o.target];
      if (!laterStanding(said, now)) return `superseded: a later statement put ${o.target} in ${now!.mode}`;
      mergeStandings(d, fx, { [o.target]: said } as Standings);
      const handing = services.filter((sv) => d.services[sv]!.role === quorum.Role.handingOver && o.target === self);
      return on ? `${o.target} in ${o.action}${handing.length > 0 ? `; handing over ${handing.join(", ")}` : ""}` : `${o.target} a candidate again`;
    }
    case "rejoin":
      return rejoin(d, fx, o, services);
    case "override":
      if (o.service === null || services[0] === undefined) return `no service "${o.service}" here`;
      return takeVotes(d, fx, services[0], { votes: o.expectVotes ?? 0, reason: o.reason, nonce: o.nonce, issuedAtMs: o.issuedAtMs }, null);
    default:
      return assertNever(o.action);
  }
}

/** An operator's rejoin: the host it names leaves safe mode for the service (or all), without waiting for diagnostics. */
function rejoin(d: Draft, fx: HostEffect[], o: OperatorOrder, services: string[]): string {
  if (o.target === null || !d.config.hosts.includes(o.target)) return `no host "${o.target}" in the cluster`;
  if (o.target !== d.config.self) return `noted (for ${o.target})`;
  const inSafe = services.filter((sv) => d.safe[sv] !== undefined && safemode.inSafeMode(d.safe[sv]!));
  if (inSafe.length === 0) return `${o.target} is not in safe mode${o.service === null ? "" : ` for ${o.service}`}: nothing to end`;
  for (const sv of inSafe) stepSafe(d, fx, sv, { type: "rejoin", by: o.operator });
  return `${o.target} out of safe mode for ${inSafe.join(", ")}: a candidate again`;
}

/**
 * A lowered quorum for a service, from an order, a peer or the disk: the
 * later statement wins and is known here whatever happens next (its count
 * is enough for a certificate from another host: see knownVotes). It is
 * taken on only while this host sees no more of the service's voters alive
 * than the votes it expects (else two groups of them could each make a
 * majority of it); refused, an override taken on before stays. From this
 * host's own disk (`disk`) it is taken on as it was, with who was heard:
 * after a restart every peer looks alive until the membership learns
 * otherwise. Returns what happened, for an order's outcome.
 */
function takeVotes(d: Draft, fx: HostEffect[], service: string, v: VoteStanding, disk: { taken: boolean; heard: HostId[] } | null): string {
  const spec = d.config.services.find((x) => x.name === service);
  if (spec === undefined) return `no service "${service}" here`;
  const n = spec.voters.length;
  if (!Number.isSafeInteger(v.votes) || v.votes < 1 || v.votes > n) return `refused: ${service} has ${n} voters, so 1-${n} votes may be expected`;
  const now = d.votes[service];
  if (!laterStanding(v, now)) return `superseded: a later override of ${service} expects ${now!.votes} votes`;
  d.votes = { ...d.votes, [service]: { votes: v.votes, reason: v.reason, nonce: v.nonce, issuedAtMs: v.issuedAtMs } };
  stepQuorum(d, fx, service, { type: "expect-known", votes: v.votes });
  const alive = aliveHosts(d).filter((h) => spec.voters.includes(h));
  const refused = disk === null ? alive.length > v.votes : !disk.taken;
  if (!refused) stepQuorum(d, fx, service, { type: "expect-votes", votes: v.votes, heard: disk?.heard ?? [] });
  votesChanged(d, fx);
  if (refused) return disk !== null ? `${service}: known, not taken on (it was not before the restart)` : `refused: ${alive.length} of ${service}'s voters are alive as this host sees them (${alive.join(", ")}), more than the ${v.votes} expected: two groups of them could each make a majority`;
  if (v.votes === n) return `${service}: a majority of all ${n} voters again`;
  return `${service}: a majority of ${v.votes} expected vote${v.votes === 1 ? "" : "s"} counts in ${quorum.restartWaitMs(d.services[service]!.config)} ms (every lease the lost voters granted has run out by then); a voter heard again counts again`;
}

/** The overrides known here and what the disk keeps beside them, as the shell writes them. */
function votesChanged(d: Draft, fx: HostEffect[]): void {
  const kept: Record<string, { taken: boolean; heard: HostId[] }> = {};
  for (const sv of Object.keys(d.votes)) {
    const x = d.services[sv]?.expect ?? null;
    kept[sv] = { taken: x !== null, heard: x === null ? [] : [...x.heard] };
  }
  fx.push({ type: "votes-changed", votes: d.votes, kept });
}

/** A message came from a host: a service whose quorum is lowered counts it again if it is a voter. */
function heard(d: Draft, fx: HostEffect[], from: HostId): void {
  let changed = false;
  for (const sv of d.config.services) {
    const x = d.services[sv.name]!.expect;
    if (x === null || !sv.voters.includes(from) || x.heard.includes(from)) continue;
    stepQuorum(d, fx, sv.name, { type: "voter-heard", voter: from });
    changed = true;
  }
  if (changed) votesChanged(d, fx); // kept on disk: the count must not fall back at a restart
}

/** A VIP change's outcome: to its quorum machine, then the hooks it calls for, and a reconcile after a takeover. */
function onVipChanged(d: Draft, fx: HostEffect[], e: Extract<HostEvent, { type: "vip-changed" }>): void {
  assert(d.services[e.service] !== undefined, "a VIP outcome names a known service");
  stepQuorum(d, fx, e.service, { type: "vip-changed", op: e.op, epoch: e.epoch, ok: e.ok, error: e.error });
  const state = notifyState(d.services[e.service]!.dropWhy, e.op, e.ok);
  if (state !== null) fx.push({ type: "run-hook", service: e.service, hook: "notify", epoch: e.epoch, state });
  if (!e.ok) return;
  fx.push({ type: "run-hook", service: e.service, hook: e.op === "add" ? "activate" : "demote", epoch: e.epoch });
  // Traffic by redirection (DNS, a load balancer) follows the new holder: it points it here.
  if (e.op === "add") fx.push({ type: "run-hook", service: e.service, hook: "redirect", epoch: e.epoch });
  // Taken over from another holder: bring the state to the intended one.
  const reason = d.services[e.service]!.cert?.reason;
  if (e.op === "add" && reason !== undefined && reason !== "initial") fx.push({ type: "reconcile", service: e.service, epoch: e.epoch });
}

/** A check's result or the VIP's placement, for a service this host is a candidate of: its health, and whom the service excludes. */
function onOwnHealth(d: Draft, fx: HostEffect[], e: Extract<HostEvent, { type: "check-result" | "placement" | "checks-configured" }>): void {
  const h0 = d.health[e.service];
  if (h0 === undefined) return; // not a candidate here: no checks run
  if (e.type === "check-result" && (e.check < 0 || e.check >= h0.checks.length)) return;
  const h1 = e.type === "check-result" ? health.checkResult(h0, e.check, e.ok, e.detail) : e.type === "placement" ? health.withPlacement(h0, e.why) : health.withPlacement(health.initialHealth(e.checks), h0.placement);
  d.health = { ...d.health, [e.service]: h1 };
  if (health.healthy(h0) === health.healthy(h1)) return;
  fx.push({ type: "health-changed", service: e.service, healthy: health.healthy(h1), why: health.unhealthyWhy(h1) });
  syncExcluded(d, fx);
}

/** Whether the service is healthy here: its checks pass and its VIP can answer (safe mode is apart: safeModeOf). */
export function serviceHealthy(s: HostState, service: string): boolean {
  const h = s.health[service];
  return h === undefined || health.healthy(h);
}

export function serviceUnhealthyWhy(s: HostState, service: string): string | null {
  const h = s.health[service];
  return h === undefined ? null : health.unhealthyWhy(h);
}

/** This host's safe mode of a service, for status (null: it is no candidate of it). */
export function safeModeOf(s: HostState, service: string): SafeMode | null {
  return s.safe[service] ?? null;
}

/** A peer's beacon says which services are unhealthy there, and which it is in safe mode for: a change moves who is excluded. */
function onPeerHealth(d: Draft, fx: HostEffect[], peer: HostId, unhealthy: readonly string[], safe: readonly string[]): void {
  if (peer === d.config.self || !d.config.hosts.includes(peer)) return;
  const sick = [...unhealthy].sort();
  const safeSorted = [...safe].sort();
  if ((d.peerUnhealthy[peer] ?? []).join() === sick.join() && (d.peerSafe[peer] ?? []).join() === safeSorted.join()) return;
  d.peerUnhealthy = { ...d.peerUnhealthy, [peer]: sick };
  d.peerSafe = { ...d.peerSafe, [peer]: safeSorted };
  syncExcluded(d, fx);
}

/** The services this host says are unhealthy here (its beacons carry them). */
export function unhealthyServices(s: HostState): string[] {
  return Object.keys(s.health).filter((sv) => !serviceHealthy(s, sv)).sort();
}

/** The services this host is in safe mode for (its beacons carry them). */
export function safeServices(s: HostState): string[] {
  return Object.keys(s.safe).filter((sv) => safemode.inSafeMode(s.safe[sv]!)).sort();
}

const keptOut = (s: Standing | undefined): boolean => s !== undefined && s.mode !== "active";

/** Standings from an order, a peer or the disk: each host's later one wins; a change moves who is excluded and is kept (standings-changed). */
function mergeStandings(d: Draft, fx: HostEffect[], incoming: Standings): void {
  let next: Record<HostId, Standing> | null = null;
  for (const h of d.config.hosts) {
    const s = incoming[h];
    if (s === undefined || !laterStanding(s, d.standby[h])) continue;
    next ??= { ...d.standby };
    next[h] = { mode: s.mode, reason: s.reason, nonce: s.nonce, issuedAtMs: s.issuedAtMs };
  }
  if (next === null) return;
  d.standby = next;
  fx.push({ type: "standings-changed", standings: next });
  syncExcluded(d, fx);
}

/**
 * Each service's excluded hosts, told to its quorum machine when they
 * change: operators' standby and maintenance, hosts where it is unhealthy,
 * and hosts in safe mode for it while a fit candidate is left (alive as
 * this host sees it, and none of those). Safe mode is the last resort, not a
 * veto: with every other candidate gone, a demoted host may hold again.
 * Every input is a fact a beacon states (never another host's exclusion),
 * so hosts that see alike exclude alike, and nothing feeds back.
 */
function syncExcluded(d: Draft, fx: HostEffect[]): void {
  const self = d.config.self;
  const alive = new Set(aliveHosts(d));
  for (const sv of d.config.services) {
    const sick = d.config.hosts.filter((h) => d.peerUnhealthy[h]?.includes(sv.name) === true);
    if (d.health[sv.name] !== undefined && !serviceHealthy(d, sv.name)) sick.push(self);
    const safe = d.config.hosts.filter((h) => d.peerSafe[h]?.includes(sv.name) === true);
    if (d.safe[sv.name] !== undefined && safemode.inSafeMode(d.safe[sv.name]!)) safe.push(self);
    const kept = d.config.hosts.filter((h) => keptOut(d.standby[h]));
    const fit = (h: HostId) => (h === self || alive.has(h)) && !kept.includes(h) && !sick.includes(h) && !safe.includes(h);
    const fitLeft = sv.candidates.some(fit);
    const hosts = health.excluded(kept, fitLeft ? [...sick, ...safe] : sick);
    if (hosts.join() !== d.services[sv.name]!.excluded.join()) stepQuorum(d, fx, sv.name, { type: "excluded", hosts });
    // Cold shadows stand back only while a warm one is fit (a last resort otherwise).
    const coldNow = coldOf(d, sv.name);
    const cold = sv.candidates.some((h) => fit(h) && !coldNow.includes(h)) ? coldNow : [];
    if (cold.join() !== d.services[sv.name]!.cold.join()) stepQuorum(d, fx, sv.name, { type: "cold", hosts: cold });
  }
}

/** The services whose VIP is up here on a lease: the proactive machine may move only those. */
function holdingNow(d: HostState): proactive.ServiceHeld[] {
  const alive = aliveHosts(d);
  return d.config.services.filter((sv) => {
    const q = d.services[sv.name]!;
    return q.vipUp && q.role === quorum.Role.holding;
  }).map((sv) => ({ service: sv.name, candidates: sv.candidates, alive }));
}

function stepForesight(d: Draft, fx: HostEffect[], ev: proactive.ProactiveEvent): void {
  if (d.foresight === null) return;
  const out = proactive.step(d.foresight, ev, d.nowMs);
  d.foresight = out.state;
  for (const f of out.effects) {
    switch (f.type) {
      case "predicted-changed":
        fx.push(f);
        for (const sv of d.config.services) stepQuorum(d, fx, sv.name, { type: "forecast", predicted: f.predicted });
        break;
      case "request-handover":
        fx.push({ type: "move-predicted", service: f.service, to: f.to, cause: f.cause, probability: f.probability, anomaly: f.anomaly, aboveForMs: f.aboveForMs });
        if (d.services[f.service] !== undefined) stepQuorum(d, fx, f.service, { type: "handover-requested", to: f.to, reason: "predicted" });
        break;
      default:
        assertNever(f);
    }
  }
}

/** The notify hook's state after a VIP change (null: a failed removal, retried). */
export function notifyState(dropWhy: DropWhy, op: "add" | "del", ok: boolean): NotifyState | null {
  if (op === "add") return ok ? "MASTER" : "FAULT";
  if (!ok) return null;
  return dropWhy === "lease-expired" || dropWhy === "add-failed" ? "FAULT" : "BACKUP";
}
