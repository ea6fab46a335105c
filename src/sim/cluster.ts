// A deterministic cluster of host cores on a virtual clock, a lossy,
// partitionable network (memnet.ts, the in-memory twin of the agent's mesh
// link, its frames waiting here in virtual time) and a virtual kernel whose
// VIP changes take time and may fail. It drives the very same decide/host.ts the agent runs, with no
// routing of its own: every event a host sees goes into host.step (through
// the simulated host's shell, host-shell.ts, which the transcripts share),
// every effect it returns is carried out as the agent's shell would (sends
// go on the wire, persists to the virtual disk, VIP changes to the virtual
// kernel, and their outcomes come back as events). What is the cluster's own
// is here: the random network and kernel, state replication, the fault
// methods and the safety checks, which run after every delivered event.
// Given a seed, a run is the same bit for bit.

import { assert, assertNever } from "../shared/assert.ts";
import { rng, type Rng } from "../shared/rng.ts";
import { hostId, type HostId } from "../shared/ids.ts";
import { LOOP_STALL_WARN_TICKS, PROFILES } from "../shared/profiles.ts";
import { host, type OperatorOrder, type HookName, type HostConfig, type HostEffect, type HostEvent, type HostMsg, type HostState, type HostStep, type HostTiming, type Certificate, type QuorumState } from "../decide/index.ts";
import { carryEffects, diagnosed, hookFinished, kernelLeased, recordLanded, SimHost, simHostConfig, vipChanged, SIM_CHECK, type ShellPorts, type Stepper, type VipOp } from "./host-shell.ts";
import { checkAckedKept, checkCertificate, checkEpochGrows, checkOneHolder, checkTickDue, SimViolation } from "./invariants.ts";
import { MemNet, type Delivery, type NetProfile } from "./memnet.ts";
import type { MeshLink } from "../shared/meshlink.ts";

export type { NetProfile } from "./memnet.ts";

/** Messages and VIP outcomes in flight at once; past it the network drops (a full queue). */
export const IN_FLIGHT_MAX = 10_000;

/**
 * The virtual kernel's `ip addr add/del`: each takes up to `latencyMaxMs`
 * and fails with probability `failRate`. A removal slower than the holder's
 * actuation guard, or failing many times in a row, would leave the VIP up
 * past the lease: that is the kernel-side lease's job (DESIGN.md, "The kernel
 * holds the lease too"), so removals here stay within the guard.
 */
export type ActuationProfile = { addLatencyMaxMs: number; delLatencyMaxMs: number; failRate: number };

/**
 * Deliberately broken cores, to prove the checker can fail. Each bends one
 * rule of the real host core; "correct" is the product's core.
 */
export type Variant =
  | "correct"
  | "double-vote" // a voter forgets its vote when a rival proposal for the same epoch arrives
  | "ignore-lease" // a holder never acts on its lease running out
  | "no-grant-wait" // a voter votes while its grant to the old holder still runs
  | "planned-vote" // the old rule: a voter signs a planned move while its grant from a rival's election still runs
  | "ignore-failed-drop" // the shell takes a failed VIP removal for a done one
  | "no-kernel-lease" // no fence: the kernel answers for a configured VIP whatever its lease (a frozen or killed agent's host keeps answering)
  | "local-ack"; // a writer acknowledges a state write before any other replica holds it

export const VARIANTS: readonly Variant[] = ["correct", "double-vote", "ignore-lease", "no-grant-wait", "planned-vote", "ignore-failed-drop", "local-ack", "no-kernel-lease"];

export type SimOptions = {
  hosts: HostId[];
  /** Services, each with its own quorum machine on every host (default 1). */
  services?: number;
  /** Clock rate spread between hosts, in ppm (each host draws its rate within ±half of it). */
  driftPpm?: number;
  variant?: Variant;
  voters: HostId[];
  candidates: HostId[];
  /** Failure domains and labels: the cores rank the candidates by them (HostConfig.placement). */
  placement?: HostConfig["placement"];
  /** Moves back wait for the swap window too (ServiceSpec.moveBackInWindow). */
  moveBackInWindow?: boolean;
  /** The number of warm shadows follows the load forecasts (ServiceSpec.shadowCount, SIM_SHADOW_COUNT): the others are cold, kept out while a warm one is fit. */
  shadowCount?: boolean;
  timing: HostTiming;
  tickMs: number;
  net: NetProfile;
  /** VIP changes: immediate and always done when absent. */
  actuation?: ActuationProfile;
  seed: number;
};

/**
 * A replica's state document, modelled as the set of write ids it holds (a
 * CRDT merge is a union of changes, as Automerge's is). As in the agent's
 * shell, a change is on disk before the host shares or confirms it, so the
 * set is the disk: a crash keeps it, a wipe (disk lost) empties it.
 */
type Repl = { doc: Set<string>; nextSyncAt: number; waiting: Array<{ id: string; from: HostId }> };

/** Replication messages: a sync carries every id the sender holds; a durability question and its answer. */
type StMsg = { type: "st-sync"; service: string; ids: string[] } | { type: "st-req"; service: string; id: string } | { type: "st-ok"; service: string; id: string };

/** What hosts say to each other: the host cores' messages and the cluster's replication. */
type SimMsg = HostMsg | StMsg;

type Item =
  | ({ kind: "msg"; atMs: number; order: number } & Delivery<SimMsg>)
  | { kind: "vip"; atMs: number; order: number; host: HostId; boot: number; service: string; op: VipOp; epoch: number; ok: boolean }
  | { kind: "lease"; atMs: number; order: number; host: HostId; boot: number; service: string; seq: number; ends: boolean }
  | { kind: "record"; atMs: number; order: number; host: HostId; boot: number; service: string }
  | { kind: "wake"; atMs: number; order: number; host: HostId; boot: number }
  | { kind: "diagnosed"; atMs: number; order: number; host: HostId; boot: number; service: string; seq: number }
  | { kind: "migrated"; atMs: number; order: number; host: HostId; boot: number; service: string; workload: string; from: HostId; to: HostId; epoch: number; ok: boolean };

/** A wake's order among the items due at its time: before all (the agent's loop tells its core of the stall before it reads what waited). */
const WAKE_ORDER = -1;

/**
 * Replication in the simulator (virtual ms, each host's own clock): how often
 * a replica syncs, how many other replicas a write needs, how often a holder
 * takes a write per tick. Its write timeout and staleness are PROFILES.sim's.
 */
const REPL = { syncEveryMs: 250, ackShadows: 1, writeProbabilityPerTick: 0.02 };
/** A holder other than the primary moves the service back once the primary has been fit this many leases (QuorumConfig.moveBackAfterMs): short, so that runs are full of it. */
const MOVE_BACK_LEASES = 10;
/** Durability questions a replica keeps waiting for a write it lacks (as the agent's replicator bounds them). */
const WAITING_MAX = 256;
/** Hook outcomes handled in one drain: each outcome is one event and asks for no new hook, so a real run stays far below. */
const HOOK_DRAIN_MAX = 1_000;
/** Iterations of the event loop: every one advances time or consumes an item. */
const LOOP_STEPS_MAX = 50_000_000;
/** Each host's clock starts somewhere within this much of the others'. */
const SKEW_MAX_MS = 10_000;
/** Replication bytes a lagging change stands for, in the lag the shell reports. */
const BYTES_PER_CHANGE = 100;
/** What a failed VIP change reports. */
const VIP_FAILURE = "RTNETLINK answers: Resource temporarily unavailable (simulated)";

const isSt = (m: SimMsg): m is StMsg => m.type === "st-sync" || m.type === "st-req" || m.type === "st-ok";

/** One line of a run's trace: what a host did, or what the network did to all ("net"). */
export type TraceEntry = { atMs: number; host: HostId | "net"; what: string };

export type Cluster = {
  nowMs(): number;
  run(untilMs: number): void;
  crash(id: HostId): void;
  /** SIGKILL: the agent is gone, its kernel keeps the VIP, fenced once its kernel lease ends; a restart cleans up. */
  kill(id: HostId): void;
  /** A crash that loses the disk (a replaced host): its state document and its vote records are gone. */
  wipe(id: HostId): void;
  restart(id: HostId): void;
  /** Hosts in different groups cannot talk; hosts in no group talk to nobody. */
  partition(groups: HostId[][]): void;
  /** An asymmetric fault: messages from one host to another are lost, the other way still works. */
  cutOneWay(from: HostId, to: HostId): void;
  /** Changes loss, duplication and delay from now on. */
  setNet(net: NetProfile): void;
  /** Changes how VIP changes behave from now on. */
  setActuation(a: ActuationProfile): void;
  /** The host's monotonic clock jumps forward by `ms` (a VM resumed, a clock source switched). */
  jump(id: HostId, ms: number): void;
  /** Freezes a host's agent for `ms`: what reaches it waits, its kernel keeps whatever VIP it has and finishes the change in flight. */
  pause(id: HostId, ms: number): void;
  heal(): void;
  /** Every running host's beacon to every peer the network lets it reach now: what operators said (standings, lowered quorums). */
  beacons(): void;
  /** An operator asks `from` to hand the first service over to `to` in person (nothing happens unless `from` holds it). */
  handover(from: HostId, to: HostId): void;
  /** An operator's order, to every host up and running now (a frozen or crashed one misses it, as one cut off would). */
  order(o: OperatorOrder): void;
  /** A service's health check fails (or passes again) on a host, enough times in a row to flip it; every other host up hears of it as from a beacon. */
  sick(id: HostId, service: string, sick: boolean): void;
  /** Every up host's own forecast of its load (the scaling metric's p90): a holder scales out at 0.8 and in under 0.5. */
  load(p90: number): void;
  /** Every service's swap window opens (or closes) on every host up and running now (frozen ones hear it when they wake: their shells read the clock then). */
  swapWindow(open: boolean): void;
  /** A host's diagnostics fail from now on (or pass again); safe mode retries failed ones, an operator's rejoin ends it. */
  diagnostics(id: HostId, ok: boolean): void;
  /** Every up host's forecast flags `from` (with `split`, all but the first up host see `to` failing too); `from`'s own proactive machine then asks for the move. */
  predict(from: HostId, to: HostId, split?: boolean): void;
  /** An anomaly alarm on `from`'s data, seen by every up host (`confirmed`) or by `from` alone; `from` then asks for a predicted move, which voters sign only if they saw the alarm too. */
  anomalous(from: HostId, confirmed: boolean): void;
  /** Hosts that have the first service's VIP up now. */
  holdersNow(): HostId[];
  holdersOf(service: string): HostId[];
  isUp(id: HostId): boolean;
  /** A host's quorum machine for a service (default: the first). */
  node(id: HostId, service?: string): QuorumState;
  services: string[];
  /** Virtual time each service had a holder, summed. */
  heldMs(service: string): number;
  certificates(): Certificate[];
  /** A service's certificates seen so far, by epoch. */
  certificatesOf(service: string): Certificate[];
  trace: TraceEntry[];
  /** First time each host took the VIP, in order. */
  takes: Array<{ atMs: number; host: HostId; epoch: number }>;
  messagesSent: number;
  /** Writes acknowledged to the (virtual) operator, per service. */
  acked(service: string): Set<string>;
  /** The write ids a host holds for a service. */
  doc(id: HostId, service: string): Set<string>;
  /** Where each workload of a service runs, as the document says. */
  workloadsOf(service: string): ReadonlyMap<string, HostId>;
  /** Workloads moved so far (recorded). */
  migrations(): number;
  /** A host's active shadows of a service, as holder (its core's). */
  activeOf(id: HostId, service: string): readonly HostId[];
};

/** A holder swaps roles after holding this many leases, while the swap window is open: short, so that runs are full of it. */
const SWAP_EVERY_LEASES = 8;
/** Scaling in the simulator: at most two active shadows, changes a few leases apart, a load forecast good for a while (each load fault is one). */
export const SIM_MAX_ACTIVE = 2;
const simScaling = (leaseMs: number) => ({ metric: "cpuLoad", threshold: 0.8, lowThreshold: 0.5, cooldownMs: 3 * leaseMs, maxActive: SIM_MAX_ACTIVE, staleMs: 40 * leaseMs });
/** The shadow count in the simulator: one warm shadow at least, all at most; a high or uncertain load forecast wants more, changes a few leases apart. */
const simShadowCount = (leaseMs: number, candidates: HostId[]) => ({ min: 1, max: candidates.length - 1, load: 0.8, band: 0.3, cooldownMs: 3 * leaseMs, staleMs: 40 * leaseMs, reserve: {}, metric: "cpuLoad", initial: candidates.slice(1) });
/** Workloads per service, all on the primary at first; a move (hook and record) takes at most MIGRATE_MS_MAX and fails as often as a VIP change does. */
export const SIM_WORKLOADS = 4;
const MIGRATE_MS_MAX = 100;
/** Diagnostics take at most this long (virtual ms). */
const DIAGNOSE_MS_MAX = 200;
/** Failed diagnostics run again after this many leases: short, so that runs see the retry. */
const DIAGNOSE_RETRY_LEASES = 5;

/** Whether a host's replica of a service syncs with a peer's, as the agent's does: neither is cold in its view. */
function syncsIn(n: SimHost, service: string, peer: HostId): boolean {
  const cold = host.coldOf(n.core, service);
  return !cold.includes(peer) && !cold.includes(n.id);
}

/** What a host's beacon says of the warm shadows (the agent's beacons relay the latest word it knows of each service). */
const wordsOf = (n: SimHost): HostEvent[] => host.warmWords(n.core).map((w) => ({ type: "warm-word" as const, service: w.service, word: w.word }));

/** What a host's beacon says of its health and safe mode. */
const healthOf = (n: SimHost): HostEvent => ({ type: "peer-health", host: n.id, unhealthy: host.unhealthyServices(n.core), safe: host.safeServices(n.core) });

/** A simulated host with what the cluster adds: its clock, its replicas, and whether its agent is frozen. */
class Node extends SimHost {
  /** Its clock: local = skewMs + real × rate. */
  rate: number;
  skewMs: number;
  /** State replication per service. */
  readonly repl = new Map<string, Repl>();
  /** The process is frozen (SIGSTOP, a VM paused) until then, in virtual time: no ticks, nothing received; its kernel keeps the VIP. */
  pausedUntil = 0;
  /** The swap window as its shell last told its core (it looks at every tick). */
  windowSeen = false;
  /** The workloads' version its shell last told its core (it reads the document at start and at every change, once it runs). */
  workloadsSeen = -1;

  constructor(id: HostId, configFor: (id: HostId, boot: number) => HostConfig, stepper: Stepper, rate: number, skewMs: number) {
    super(id, configFor, stepper, skewMs);
    this.rate = rate;
    this.skewMs = skewMs;
  }

  localNow(now: number): number {
    return this.skewMs + now * this.rate;
  }
}

function freshRepl(doc: Set<string>, at: number): Repl {
  return { doc, nextSyncAt: at, waiting: [] };
}

export function createCluster(o: SimOptions): Cluster {
  return new SimCluster(o);
}

/** The cluster: its virtual network and kernel, the hosts' shells, and the checks. */
class SimCluster implements Cluster {
  readonly trace: TraceEntry[] = [];
  readonly takes: Array<{ atMs: number; host: HostId; epoch: number }> = [];
  readonly services: string[];
  messagesSent = 0;
  /** Handover orders so far: each gets its own nonce. */
  private handovers = 0;
  private readonly o: SimOptions;
  private readonly variant: Variant;
  private readonly r: Rng;
  /** VIP outcomes draw from their own stream, so runs without actuation faults keep their network draws. */
  private readonly ra: Rng;
  /** Replication traffic draws from its own stream, so adding it left the quorum's runs as they were. */
  private readonly rr: Rng;
  /** The kernel lease's apply latency draws from its own stream too. */
  private readonly rk: Rng;
  /** And the vote records' write latency. */
  private readonly rd: Rng;
  /** And how long diagnostics take. */
  private readonly rg: Rng;
  /** And how long workloads' moves take, and whether they fail. */
  private readonly rm: Rng;
  /** Where each workload of each service runs, as the (shared) document says: the truth its moves write. */
  private readonly workloads: Map<string, Map<string, HostId>>;
  private workloadsVersion = 0;
  private migrations_ = 0;
  /** When each host's latest record of each service lands: they land in order. */
  private readonly recordDue = new Map<string, number>();
  /** The mesh: the in-memory twin of the agent's, each host's link open on it; its frames wait in inFlight. */
  private readonly net: MemNet<SimMsg>;
  private readonly links = new Map<HostId, MeshLink<SimMsg>>();
  private actuation: ActuationProfile;
  private now = 0;
  private itemSeq = 0;
  private readonly inFlight: Item[] = [];
  private readonly certs = new Map<string, Certificate>();
  private readonly heldTotals: Map<string, number>;
  private readonly nodes = new Map<HostId, Node>();
  /** Hosts that lost their vote records at some point: they may sign twice in an epoch (invariant 2a). */
  private readonly lostRecord = new Set<HostId>();
  private readonly ackedIds: Map<string, Set<string>>;
  private writeSeq = 0;
  /** When each host ticks next: staggered so hosts do not move in lockstep, each at its own clock's rate. */
  private readonly nextTick: Map<HostId, number>;
  private readonly pendingHooks: Array<{ n: Node; service: string; hook: HookName; epoch: number }> = [];
  /** The hosts whose peers must hear its safe mode changed (as from its beacon), in the next drain. */
  private readonly healthNews = new Set<Node>();
  /** Whether the swap windows are open: a host that restarts or wakes reads its clock then. */
  private windowOpen = false;
  /** Hosts whose diagnostics fail (until told otherwise). */
  private readonly diagFailing = new Set<HostId>();
  private lastAt = 0;
  private readonly ports: ShellPorts<Node> = {
    send: (from, to, msg) => this.send(from.id, to, msg),
    actuate: (n, service, op, epoch) => this.actuate(n, service, op, epoch),
    kernelLease: (n, service, untilMs, seq) => this.kernelLease(n, service, untilMs, seq),
    persist: (n, service) => this.persist(n, service),
    runHook: (n, service, hook, epoch) => this.pendingHooks.push({ n, service, hook, epoch }), // they finish at once: hooks change nothing the checker sees
    // Diagnostics take a while (a bundle written, a hook run): up to DIAGNOSE_MS_MAX of virtual time.
    migrate: (n, service, workload, from, to, epoch) => this.inFlight.push({ kind: "migrated", atMs: this.now + this.rm.next() * MIGRATE_MS_MAX, order: this.itemSeq++, host: n.id, boot: n.boot, service, workload, from, to, epoch, ok: this.rm.next() >= this.actuation.failRate }),
    diagnose: (n, service, seq) => this.inFlight.push({ kind: "diagnosed", atMs: this.now + this.rg.next() * DIAGNOSE_MS_MAX, order: this.itemSeq++, host: n.id, boot: n.boot, service, seq }),
    note: (n, fx) => this.note(n, fx),
  };

  constructor(o: SimOptions) {
    this.o = o;
    this.r = rng(o.seed);
    this.ra = rng((o.seed ^ 0xac7) >>> 0);
    this.actuation = o.actuation ?? { addLatencyMaxMs: 0, delLatencyMaxMs: 0, failRate: 0 };
    this.services = Array.from({ length: o.services ?? 1 }, (_, i) => (i === 0 ? "svc" : `svc${i}`));
    this.variant = o.variant ?? "correct";
    this.heldTotals = new Map(this.services.map((sv) => [sv, 0]));
    const drift = (o.driftPpm ?? 0) / 1_000_000;
    const configFor = (id: HostId, boot: number): HostConfig => this.configFor(id, boot);
    const stepper: Stepper = (s, ev, t) => stepAs(this.variant, s, ev, t);
    for (const id of o.hosts) {
      const rate = 1 + (this.r.next() - 0.5) * drift;
      const skewMs = Math.floor(this.r.next() * SKEW_MAX_MS);
      const n = new Node(id, configFor, stepper, rate, skewMs);
      for (const sv of this.services) n.repl.set(sv, freshRepl(new Set(), skewMs));
      this.nodes.set(id, n);
    }
    this.rr = rng((o.seed ^ 0x7e91) >>> 0);
    this.rk = rng((o.seed ^ 0xfe2ce) >>> 0);
    this.rd = rng((o.seed ^ 0xd15c) >>> 0);
    this.rg = rng((o.seed ^ 0xd1a9) >>> 0);
    this.rm = rng((o.seed ^ 0x319a7e) >>> 0);
    this.workloads = new Map(this.services.map((sv) => [sv, new Map(Array.from({ length: SIM_WORKLOADS }, (_, i) => [`w${i + 1}`, o.candidates[0]!]))]));
    this.net = new MemNet<SimMsg>({
      scheduler: { after: (delayMs, d) => this.inFlight.push({ kind: "msg", atMs: this.now + delayMs, order: this.itemSeq++, ...d }), pending: () => this.inFlight.length },
      profile: o.net,
      rngFor: (m) => (isSt(m) ? this.rr : this.r),
      inFlightMax: IN_FLIGHT_MAX,
    });
    // The simulated mesh keeps every link up (a fault loses frames, as a cut
    // cable does before keepalives notice), so it reports no peer changes.
    for (const n of this.nodes.values()) this.links.set(n.id, this.net.open(n.id, { onMessage: (from, m) => this.receive(n, from, m), onPeer: () => {} }));
    this.ackedIds = new Map(this.services.map((sv) => [sv, new Set<string>()]));
    this.nextTick = new Map(o.hosts.map((id) => [id, this.r.int(o.tickMs)]));
    for (const n of this.nodes.values()) this.linkAll(n);
  }

  private configFor(id: HostId, boot: number): HostConfig {
    const o = this.o;
    // local-ack: the writer acknowledges before any other replica holds the write
    const ackShadows = this.variant === "local-ack" ? 0 : REPL.ackShadows;
    return simHostConfig(id, o.hosts, boot, { names: this.services, candidates: o.candidates, voters: o.voters, ackShadows, moveBackAfterMs: MOVE_BACK_LEASES * o.timing.leaseMs, swapEveryMs: SWAP_EVERY_LEASES * o.timing.leaseMs, moveBackInWindow: o.moveBackInWindow ?? false, scaling: simScaling(o.timing.leaseMs), migrate: { by: null }, ...(o.shadowCount === true ? { shadowCount: simShadowCount(o.timing.leaseMs, o.candidates) } : {}) }, o.timing, PROFILES.sim, { placement: o.placement, diagnoseRetryMs: DIAGNOSE_RETRY_LEASES * o.timing.leaseMs });
  }

  private localNow(n: Node): number {
    return n.localNow(this.now);
  }

  /** The mesh keeps a state link to every peer; an unreachable one simply loses what is sent. */
  private linkAll(n: Node): void {
    for (const p of this.o.hosts) if (p !== n.id) this.apply(n, { type: "state-link", peer: p, up: true });
  }

  // ------------------------------------------------------------ network and kernel

  /** A host's message: to itself straight back (as the agent's shell loops it back), to a peer over its mesh link. */
  private send(from: HostId, to: HostId, msg: SimMsg): void {
    this.messagesSent += 1;
    if (from === to) {
      this.inFlight.push({ kind: "msg", atMs: this.now, order: this.itemSeq++, from, to, msg });
      return;
    }
    this.links.get(from)!.send(to, msg);
  }

  /**
   * The virtual kernel takes a lease as the agent's nft process would: up to
   * an add's latency late, and the shell counts the timeout from when it
   * writes, so a late apply ends the lease that much later (an end, too,
   * comes up to that late). The acknowledgement arrives when it is applied.
   */
  private kernelLease(n: Node, service: string, untilMs: number | null, seq: number): void {
    const lateMs = this.rk.next() * this.actuation.addLatencyMaxMs;
    this.inFlight.push({ kind: "lease", atMs: this.now + lateMs, order: this.itemSeq++, host: n.id, boot: n.boot, service, seq, ends: untilMs === null });
    if (untilMs !== null) {
      n.kernelLease.set(service, untilMs + lateMs);
      return;
    }
    const cur = n.kernelLease.get(service);
    const end = this.localNow(n) + lateMs;
    if (cur !== undefined && cur > end) n.kernelLease.set(service, end);
  }

  /**
   * The virtual disk writes a vote record as the agent's shell does, off the
   * loop: up to an add's latency, after the service's records before it. A
   * crash before it lands loses it and the votes waiting for it.
   */
  private persist(n: Node, service: string): void {
    const key = `${n.id}/${service}`;
    const atMs = Math.max(this.recordDue.get(key) ?? 0, this.now + this.rd.next() * this.actuation.addLatencyMaxMs);
    this.recordDue.set(key, atMs);
    this.inFlight.push({ kind: "record", atMs, order: this.itemSeq++, host: n.id, boot: n.boot, service });
  }

  /** The virtual kernel starts a VIP change; its outcome arrives later as an event. */
  private actuate(n: Node, service: string, op: VipOp, epoch: number): void {
    const maxMs = op === "add" ? this.actuation.addLatencyMaxMs : this.actuation.delLatencyMaxMs;
    const ok = !(this.ra.next() < this.actuation.failRate);
    const latency = this.ra.next() * maxMs;
    this.inFlight.push({ kind: "vip", atMs: this.now + latency, order: this.itemSeq++, host: n.id, boot: n.boot, service, op, epoch, ok });
  }

  // ------------------------------------------------------------ replication

  private syncTo(n: Node, service: string): void {
    const st = n.repl.get(service)!;
    const ids = [...st.doc].sort();
    for (const p of this.o.candidates) if (p !== n.id && syncsIn(n, service, p)) this.send(n.id, p, { type: "st-sync", service, ids });
  }

  private onSt(n: Node, from: HostId, m: StMsg): void {
    const st = n.repl.get(m.service)!;
    // As the agent's replicator: nothing passes between a cold replica (in this host's view) and the others, durability questions included.
    if (m.type !== "st-ok" && !syncsIn(n, m.service, from)) return;
    switch (m.type) {
      case "st-sync":
        this.onSync(n, from, m.service, m.ids);
        return;
      case "st-req":
        if (st.doc.has(m.id)) this.send(n.id, from, { type: "st-ok", service: m.service, id: m.id });
        else if (st.waiting.length < WAITING_MAX) st.waiting.push({ id: m.id, from });
        return;
      case "st-ok":
        this.apply(n, { type: "peer-durable", service: m.service, peer: from, id: m.id });
        return;
      default:
        assertNever(m);
    }
  }

  /** A peer's sync: take what it has, tell the core how far apart the two are, answer the durability questions now answerable. */
  private onSync(n: Node, from: HostId, service: string, theirIds: string[]): void {
    const st = n.repl.get(service)!;
    let grew = false;
    for (const id of theirIds) {
      if (!st.doc.has(id)) {
        st.doc.add(id); // saved before anything below is said about it
        grew = true;
      }
    }
    const theirs = new Set(theirIds);
    let lag = 0;
    for (const id of st.doc) if (!theirs.has(id)) lag += 1;
    this.apply(n, { type: "peer-synced", service, peer: from, lagChanges: lag, lagBytes: lag * BYTES_PER_CHANGE, theyLack: lag > 0, weLack: false });
    if (!grew) return;
    st.waiting = st.waiting.filter((w) => {
      if (!st.doc.has(w.id)) return true;
      this.send(n.id, w.from, { type: "st-ok", service, id: w.id });
      return false;
    });
  }

  /** The holder of a service takes writes (operators write through the VIP); every replica syncs now and then. */
  private replTick(n: Node): void {
    for (const sv of this.services) {
      const st = n.repl.get(sv)!;
      if (n.core.services[sv]!.vipUp && this.rr.next() < REPL.writeProbabilityPerTick) {
        const id = `${sv}:${n.id}:${++this.writeSeq}`;
        st.doc.add(id); // durable here first
        this.trace.push({ atMs: this.now, host: n.id, what: `${sv} write ${id}` });
        this.syncTo(n, sv);
        this.apply(n, { type: "write-durable", service: sv, id });
      }
      if (this.localNow(n) >= st.nextSyncAt) {
        st.nextSyncAt = this.localNow(n) + REPL.syncEveryMs;
        this.syncTo(n, sv);
      }
    }
  }

  // ------------------------------------------------------------ the shell

  /** One event into a host core, and its effects carried out as the agent's shell would. */
  private apply(n: Node, ev: HostEvent): void {
    const { before, effects } = n.step(ev, this.localNow(n));
    for (const sv of this.services) checkEpochGrows(before.services[sv]!, n.core.services[sv]!, n.id);
    if (ev.type === "tick" && this.variant === "correct") checkTickDue(n.id, before, n.core, effects, this.localNow(n));
    carryEffects(n, effects, this.ports);
    this.checkSafety();
  }

  /** What the cluster records and checks of each effect, and the replication effects it carries itself. */
  private note(n: Node, fx: Exclude<HostEffect, { type: "send" }>): void {
    const at = { atMs: this.now, host: n.id };
    switch (fx.type) {
      case "take-vip":
        if (fx.service === this.services[0]) this.takes.push({ ...at, epoch: fx.epoch });
        this.trace.push({ ...at, what: `${fx.service} take-vip epoch=${fx.epoch} reason=${fx.reason}` });
        return;
      case "drop-vip":
        this.trace.push({ ...at, what: `${fx.service} drop-vip epoch=${fx.epoch} why=${fx.why}` });
        return;
      case "certified": {
        const key = `${fx.service}/${fx.cert.epoch}`;
        checkCertificate(this.certs.get(key), fx.cert, this.lostRecord);
        this.certs.set(key, fx.cert);
        return;
      }
      case "alarm":
        this.trace.push({ ...at, what: `${fx.service} alarm ${fx.alarm} epoch=${fx.epoch} attempts=${fx.attempts}` });
        return;
      case "request-durable":
        for (const to of fx.to) this.send(n.id, to, { type: "st-req", service: fx.service, id: fx.id });
        return;
      case "write-acked":
        this.ackedIds.get(fx.service)!.add(fx.id);
        this.trace.push({ ...at, what: `${fx.service} write-acked ${fx.id} on=${fx.durableOn.join(",")}` });
        return;
      case "write-failed":
        this.trace.push({ ...at, what: `${fx.service} write-failed ${fx.id} ${fx.why}` });
        return;
      case "standings-changed":
        return;
      case "votes-changed":
        this.trace.push({ ...at, what: `lowered quorums ${Object.entries(fx.votes).map(([sv, v]) => `${sv}=${v.votes}`).join(" ")}` });
        return;
      case "health-changed":
        this.trace.push({ ...at, what: `${fx.service} ${fx.healthy ? "healthy" : `unhealthy: ${fx.why}`}` });
        return;
      case "safe-mode-changed":
        this.trace.push({ ...at, what: `${fx.service} safe mode ${fx.on ? "on" : "off"}: ${fx.why}` });
        this.healthNews.add(n);
        return;
      case "diagnose":
        this.trace.push({ ...at, what: `${fx.service} diagnose run=${fx.seq}` });
        return;
      case "order-applied":
        if (!fx.repeat) this.trace.push({ ...at, what: `order ${fx.order.action}${fx.order.target === null ? "" : ` ${fx.order.target}`}: ${fx.outcome}` });
        return;
      case "pool":
      case "warm-changed":
      case "migrate":
        return this.noteLifecycle(n, fx);
      case "persist":
      case "run-hook":
      case "reconcile":
      case "move-abandoned":
      case "member-changed":
      case "rtt-measured":
      case "predicted-changed":
      case "move-predicted":
      case "sync-status-changed":
      case "kernel-lease":
        return;
      default:
        assertNever(fx);
    }
  }

  /** The shadows' lifecycle: the pool, the warm set (its beacon says so), a workload's move (only by a holder under its lease). */
  private noteLifecycle(n: Node, fx: Extract<HostEffect, { type: "pool" | "warm-changed" | "migrate" }>): void {
    const at = { atMs: this.now, host: n.id };
    if (fx.type === "pool") return void this.trace.push({ ...at, what: `${fx.service} pool ${fx.hosts.join(",")}: ${fx.why}` });
    if (fx.type === "warm-changed") {
      if (!fx.mine) return;
      this.trace.push({ ...at, what: `${fx.service} warm ${fx.word.warm.join(",")} (e${fx.word.epoch}.${fx.word.seq}): ${fx.why}` });
      this.healthNews.add(n);
      return;
    }
    // One cut off must not pull workloads back after its successor did.
    if (!host.leaseValid(n.core, fx.service, this.localNow(n)) || n.core.services[fx.service]!.holder !== n.id) throw new SimViolation(`migration: ${n.id} moved ${fx.service}'s ${fx.workload} without holding its lease`);
    this.trace.push({ ...at, what: `${fx.service} migrate ${fx.workload} ${fx.from}->${fx.to}: ${fx.why}` });
  }

  private drainHooks(): void {
    for (let i = 0; i < HOOK_DRAIN_MAX && this.pendingHooks.length + this.healthNews.size > 0; i++) {
      const h = this.pendingHooks.shift();
      if (h !== undefined) {
        if (h.n.up) this.apply(h.n, hookFinished(h.service, h.hook, "sim", h.epoch));
        continue;
      }
      const n = [...this.healthNews][0]!;
      this.healthNews.delete(n);
      if (n.up) this.tellHealth(n);
    }
  }

  /** A host's peers hear which services are unhealthy there and which it is in safe mode for, as from its beacon (beacons repeat it at heal and restart). */
  private tellHealth(n: Node): void {
    for (const p of this.nodes.values()) {
      if (p === n || !p.up || this.now < p.pausedUntil) continue;
      this.apply(p, healthOf(n));
      if (this.net.reachable(n.id, p.id)) for (const w of wordsOf(n)) this.apply(p, w);
    }
  }

  /** A workload's move done (its record written, every host's document says so) or failed, for the process that asked (paused: when it runs again); lost with it. */
  private deliverMigrated(it: Extract<Item, { kind: "migrated" }>): void {
    const n = this.nodes.get(it.host)!;
    if (!n.up || n.boot !== it.boot) return;
    if (this.now < n.pausedUntil) {
      this.inFlight.push({ ...it, atMs: n.pausedUntil });
      return;
    }
    // As the agent's shell: recorded only under the lease it was decided under, and only where the workload still is.
    const doc = this.workloads.get(it.service)!;
    const leased = host.holdsUnderLease(n.core, it.service, it.epoch, this.localNow(n));
    const stale = doc.get(it.workload) !== it.from;
    const ok = it.ok && leased && !stale;
    if (ok) {
      doc.set(it.workload, it.to);
      this.workloadsVersion++;
      this.migrations_++;
      this.readDocs(n);
    }
    const why = !it.ok ? "failed" : !leased ? "lease ended: not recorded" : stale ? "moved meanwhile: not recorded" : "done";
    this.trace.push({ atMs: this.now, host: n.id, what: `${it.service} migrated ${it.workload} to ${it.to}: ${why}` });
    this.apply(n, { type: "migrated", service: it.service, workload: it.workload, to: it.to, ok, detail: `sim: ${why}`, ...(it.ok && leased && stale ? { stale: true } : {}) });
  }

  /** The shell's read of the documents' workloads, when they changed since it last told its core (the others' shells read them at their next turn). */
  private readDocs(n: Node): void {
    if (n.workloadsSeen === this.workloadsVersion) return;
    n.workloadsSeen = this.workloadsVersion;
    for (const [service, m] of this.workloads) this.apply(n, { type: "workloads", service, workloads: [...m].map(([id, h]) => ({ id, host: h, requirements: {} })) });
  }

  /** Diagnostics' outcome, for the process that asked (paused: when it runs again). */
  private deliverDiagnosed(it: Extract<Item, { kind: "diagnosed" }>): void {
    const n = this.nodes.get(it.host)!;
    if (!n.up || n.boot !== it.boot) return;
    if (this.now < n.pausedUntil) {
      this.inFlight.push({ ...it, atMs: n.pausedUntil });
      return;
    }
    this.apply(n, diagnosed(it.service, it.seq, !this.diagFailing.has(n.id)));
  }

  private checkSafety(): void {
    const all = [...this.nodes.values()];
    const up = all.filter((n) => n.up);
    for (const n of up) {
      for (const sv of this.services) {
        const active = host.activeOf(n.core, sv);
        if (active.length > SIM_MAX_ACTIVE || active.includes(n.id)) throw new SimViolation(`scaling: ${n.id}'s pool of ${sv} is ${n.id} + ${active.join(",")} (at most ${SIM_MAX_ACTIVE} active, never the holder itself)`);
      }
    }
    for (const sv of this.services) {
      // A killed agent's kernel answers too, until its kernel lease ends.
      const answering = all.filter((n) => n.answering(sv, this.localNow(n))).map((n) => n.id);
      checkOneHolder(sv, this.now, answering, up.filter((n) => host.leaseValid(n.core, sv, this.localNow(n))).map((n) => n.id));
    }
  }

  private account(to: number): void {
    for (const sv of this.services) if ([...this.nodes.values()].some((n) => n.answering(sv, this.localNow(n)))) this.heldTotals.set(sv, this.heldTotals.get(sv)! + (to - this.lastAt));
    this.lastAt = to;
  }

  // ------------------------------------------------------------ the event loop

  private deliver(it: Item): void {
    if (it.kind === "vip") {
      this.deliverVip(it);
      return;
    }
    if (it.kind === "lease") {
      this.deliverLease(it);
      return;
    }
    if (it.kind === "record") {
      this.deliverRecord(it);
      return;
    }
    if (it.kind === "wake") {
      this.deliverWake(it);
      return;
    }
    if (it.kind === "diagnosed") {
      this.deliverDiagnosed(it);
      return;
    }
    if (it.kind === "migrated") {
      this.deliverMigrated(it);
      return;
    }
    const n = this.nodes.get(it.to)!;
    if (!n.up) return;
    if (this.now < n.pausedUntil) {
      this.inFlight.push({ ...it, atMs: n.pausedUntil }); // the socket buffers it; same order among the waiting
      return;
    }
    if (it.from === it.to) this.receive(n, it.from, it.msg);
    else this.net.deliver(it);
  }

  /** A message a host's agent reads: replication for the cluster, the rest for the core. */
  private receive(n: Node, from: HostId, m: SimMsg): void {
    if (isSt(m)) this.onSt(n, from, m);
    else this.apply(n, { type: "received", from, msg: m });
  }

  private deliverVip(it: Extract<Item, { kind: "vip" }>): void {
    const n = this.nodes.get(it.host)!;
    if (!n.up || n.boot !== it.boot) return; // the process that asked is gone; the crash took the VIP with it
    n.kernelDone(it.service, it.op, it.ok); // the kernel's part, paused agent or not
    if (this.now < n.pausedUntil) {
      // The agent learns the outcome when it runs again (no other change can start before: one at a time).
      this.inFlight.push({ ...it, atMs: n.pausedUntil });
      return;
    }
    this.trace.push({ atMs: this.now, host: n.id, what: `${it.service} vip-${it.op} ${it.ok ? "done" : "failed"} epoch=${it.epoch}` });
    this.apply(n, vipChanged(it.service, it.op, it.epoch, it.ok, VIP_FAILURE));
  }

  /** The kernel's acknowledgement of a lease: an end is applied by now (whatever the clocks' drift made of its delay). */
  private deliverLease(it: Extract<Item, { kind: "lease" }>): void {
    const n = this.nodes.get(it.host)!;
    if (!n.up || n.boot !== it.boot) return; // the process that asked is gone: nobody reads nft's answer
    if (it.ends) n.kernelEnded(it.service, this.localNow(n));
    if (this.now < n.pausedUntil) {
      this.inFlight.push({ ...it, atMs: n.pausedUntil });
      return;
    }
    this.apply(n, kernelLeased(it.service, it.seq));
  }

  /** A record on disk; the votes that waited for it go out once the agent runs. */
  private deliverRecord(it: Extract<Item, { kind: "record" }>): void {
    const n = this.nodes.get(it.host)!;
    if (!n.up || n.boot !== it.boot) return; // lost with the process that wrote it
    if (this.now < n.pausedUntil) {
      this.inFlight.push({ ...it, atMs: n.pausedUntil });
      return;
    }
    recordLanded(n, it.service, this.ports);
  }

  /** A paused agent runs again after a pause past the loop's stall threshold: its core is told first, as the agent's loop does after SIGSTOP (agent/loop.ts). */
  private deliverWake(it: Extract<Item, { kind: "wake" }>): void {
    const n = this.nodes.get(it.host)!;
    if (!n.up || n.boot !== it.boot) return;
    if (this.now < n.pausedUntil) {
      this.inFlight.push({ ...it, atMs: n.pausedUntil }); // paused again meanwhile
      return;
    }
    this.apply(n, { type: "loop-stalled" });
  }

  /** The next tick due and the next item in flight (the earliest, first sent among equals). */
  private nextDue(): { tickAt: number; tickHost: HostId | null; itemAt: number; item: number } {
    let tickAt = Infinity;
    let tickHost: HostId | null = null;
    for (const [id, at] of this.nextTick) {
      if (at < tickAt) {
        tickAt = at;
        tickHost = id;
      }
    }
    const fl = this.inFlight;
    let pi = -1;
    for (let i = 0; i < fl.length; i++) {
      const p = fl[i]!;
      if (pi < 0 || p.atMs < fl[pi]!.atMs || (p.atMs === fl[pi]!.atMs && p.order < fl[pi]!.order)) pi = i;
    }
    return { tickAt, tickHost, itemAt: pi >= 0 ? fl[pi]!.atMs : Infinity, item: pi };
  }

  private tick(id: HostId, tickAt: number): void {
    const n = this.nodes.get(id)!;
    this.nextTick.set(id, tickAt + this.o.tickMs / n.rate);
    if (n.up && this.now >= n.pausedUntil) {
      this.readClock(n);
      this.readDocs(n);
      this.apply(n, { type: "tick", rand: this.r.next() });
      this.replTick(n);
    }
  }

  /** The shell's look at the wall clock: a swap window that opened or closed since it last looked. */
  private readClock(n: Node): void {
    if (n.windowSeen === this.windowOpen) return;
    n.windowSeen = this.windowOpen;
    for (const sv of this.services) this.apply(n, { type: "swap-window", service: sv, open: this.windowOpen });
  }

  // ------------------------------------------------------------ Cluster

  nowMs(): number {
    return this.now;
  }

  run(untilMs: number): void {
    // A fault scheduled just past the faulty part (a planned move at t + 1) already took the clock there: time never runs back.
    if (untilMs < this.now) return;
    for (let guard = 0; guard < LOOP_STEPS_MAX; guard++) {
      const d = this.nextDue();
      const at = Math.min(d.tickAt, d.itemAt);
      if (at > untilMs) {
        this.account(untilMs);
        this.now = untilMs;
        return;
      }
      this.account(at);
      this.now = at;
      if (d.itemAt <= d.tickAt) this.deliver(this.inFlight.splice(d.item, 1)[0]!);
      else {
        assert(d.tickHost !== null, "a tick is due");
        this.tick(d.tickHost, d.tickAt);
      }
      this.drainHooks();
    }
    assert(false, "simulation loop bound reached");
  }

  private down(n: Node): void {
    n.crash();
    n.pausedUntil = 0;
  }

  private netTrace(what: string): void {
    this.trace.push({ atMs: this.now, host: "net", what });
  }

  crash(id: HostId): void {
    this.down(this.nodes.get(id)!);
    this.trace.push({ atMs: this.now, host: id, what: "crash" });
  }

  kill(id: HostId): void {
    const n = this.nodes.get(id)!;
    n.kill();
    n.pausedUntil = 0;
    this.trace.push({ atMs: this.now, host: id, what: "kill -9" });
  }

  wipe(id: HostId): void {
    const n = this.nodes.get(id)!;
    this.down(n);
    n.disk.clear(); // the vote records too: the voter comes back knowing nothing
    n.votesKept = { votes: {}, kept: {} };
    n.safeKept.clear();
    this.lostRecord.add(id);
    for (const st of n.repl.values()) st.doc = new Set();
    this.trace.push({ atMs: this.now, host: id, what: "crash, disk lost" });
    // The only fault that destroys data: every acknowledged write must still be somewhere.
    for (const sv of this.services) checkAckedKept(sv, this.ackedIds.get(sv)!, [...this.nodes.values()].map((x) => x.repl.get(sv)!.doc), `after ${id} lost its disk`);
  }

  restart(id: HostId): void {
    const n = this.nodes.get(id)!;
    n.restart(this.localNow(n));
    for (const sv of this.services) n.repl.set(sv, freshRepl(n.repl.get(sv)!.doc, this.localNow(n)));
    this.linkAll(n);
    this.trace.push({ atMs: this.now, host: id, what: "restart" });
    // Its disk, then its peers' beacons, tell it what operators said while it was down.
    if (Object.keys(n.votesKept.votes).length > 0) this.apply(n, { type: "vote-standings", votes: n.votesKept.votes, from: "disk", kept: n.votesKept.kept });
    for (const [service, why] of n.safeKept) this.apply(n, { type: "safe-mode-restored", service, why });
    n.windowSeen = false; // a new process: its shell looks at the clock at start
    this.readClock(n);
    n.workloadsSeen = -1; // and reads the documents
    this.readDocs(n);
    this.drainHooks();
    for (const p of this.nodes.values()) if (p !== n && p.up && this.now >= p.pausedUntil) this.beacon(p, n);
  }

  partition(g: HostId[][]): void {
    this.net.partition(g);
    this.netTrace(`partition ${JSON.stringify(g)}`);
  }

  setNet(x: NetProfile): void {
    this.net.setProfile(x);
    this.netTrace(`net loss=${x.dropRate.toFixed(3)} dup=${x.duplicateRate.toFixed(3)} delay=${x.delayMinMs}-${x.delayMaxMs.toFixed(1)}ms`);
  }

  setActuation(a: ActuationProfile): void {
    this.actuation = a;
    this.netTrace(`actuation add<=${a.addLatencyMaxMs.toFixed(1)}ms del<=${a.delLatencyMaxMs.toFixed(1)}ms fail=${a.failRate.toFixed(3)}`);
  }

  pause(id: HostId, ms: number): void {
    assert(ms >= 0, "a pause lasts a while");
    const n = this.nodes.get(id)!;
    n.pausedUntil = Math.max(n.pausedUntil, this.now + ms);
    // The agent's loop calls a late turn a stall only past LOOP_STALL_WARN_TICKS ticks.
    if (ms > LOOP_STALL_WARN_TICKS * this.o.tickMs) this.inFlight.push({ kind: "wake", atMs: n.pausedUntil, order: WAKE_ORDER, host: id, boot: n.boot });
    this.trace.push({ atMs: this.now, host: id, what: `agent paused ${ms.toFixed(1)} ms` });
  }

  jump(id: HostId, ms: number): void {
    assert(ms >= 0, "monotonic clocks only jump forward");
    this.nodes.get(id)!.skewMs += ms;
    this.trace.push({ atMs: this.now, host: id, what: `clock jumps ${ms.toFixed(1)} ms` });
  }

  cutOneWay(from: HostId, to: HostId): void {
    this.net.cutOneWay(from, to);
    this.netTrace(`cut ${from} -> ${to}`);
  }

  workloadsOf(service: string): ReadonlyMap<string, HostId> {
    return this.workloads.get(service)!;
  }

  migrations(): number {
    return this.migrations_;
  }

  activeOf(id: HostId, service: string): readonly HostId[] {
    return host.activeOf(this.nodes.get(id)!.core, service);
  }

  heal(): void {
    this.net.heal();
    this.netTrace("heal");
    // Beacons flow again: every host hears the others' standings.
    const up = [...this.nodes.values()].filter((n) => n.up && this.now >= n.pausedUntil);
    for (const n of up) for (const p of up) if (p !== n) this.beacon(p, n);
  }

  beacons(): void {
    const up = [...this.nodes.values()].filter((n) => n.up && this.now >= n.pausedUntil);
    for (const n of up) for (const p of up) if (p !== n && this.net.reachable(p.id, n.id)) this.beacon(p, n);
  }

  /**
   * What a beacon from p tells n of operators' statements: the standings
   * (given whatever the network, as before the lowered quorums), and the
   * lowered quorums p took on, only across a working link: a host cut off
   * from the survivors must not hear of a count that only they may use.
   */
  private beacon(p: Node, n: Node): void {
    this.apply(n, { type: "standings", standings: p.core.standby });
    if (this.net.reachable(p.id, n.id)) this.apply(n, healthOf(p));
    if (this.net.reachable(p.id, n.id)) for (const w of wordsOf(p)) if (n.up) this.apply(n, w);
    if (Object.keys(p.core.votes).length > 0 && this.net.reachable(p.id, n.id) && n.up) this.apply(n, { type: "vote-standings", votes: p.core.votes, from: "peer" });
  }

  handover(from: HostId, to: HostId): void {
    const n = this.nodes.get(from)!;
    this.trace.push({ atMs: this.now, host: from, what: `operator asks for a move to ${to}` });
    // The operator's order, taken by `from` from its API; its passing on to the others is lost.
    const order: OperatorOrder = { nonce: `handover${this.handovers++}`, action: "move", service: this.services[0]!, target: to, expectVotes: null, reason: "sim", operator: "sim", issuedAtMs: this.now };
    if (n.up && this.now >= n.pausedUntil) this.apply(n, { type: "order", order });
    this.drainHooks();
  }

  order(o: OperatorOrder): void {
    this.trace.push({ atMs: this.now, host: o.target ?? hostId("-"), what: `operator: ${o.action}${o.service === null ? "" : ` ${o.service}`}${o.target === null ? "" : ` ${o.target}`}` });
    for (const n of this.nodes.values()) if (n.up && this.now >= n.pausedUntil) this.apply(n, { type: "order", order: o });
    this.drainHooks();
  }

  sick(id: HostId, service: string, sick: boolean): void {
    const n = this.nodes.get(id)!;
    if (!n.up || this.now < n.pausedUntil) return;
    this.trace.push({ atMs: this.now, host: id, what: `${service} check ${sick ? "fails" : "passes"}` });
    for (let i = 0; i < Math.max(SIM_CHECK.rise, SIM_CHECK.fall); i++) this.apply(n, { type: "check-result", service, check: 0, ok: !sick, detail: sick ? "sim: failing" : "sim: ok" });
    this.tellHealth(n);
    this.drainHooks();
  }

  load(p90: number): void {
    this.trace.push({ atMs: this.now, host: hostId("-"), what: `load forecast ${p90}` });
    // The band widens with the load (p10 at 0.6 of p90): a high forecast is an uncertain one too, for the shadow count.
    for (const n of this.nodes.values()) if (n.up && this.now >= n.pausedUntil) this.apply(n, { type: "forecast-ready", host: n.id, dataMs: this.localNow(n), p90: { cpuLoad: p90 }, p10: { cpuLoad: 0.6 * p90 } });
    this.drainHooks();
  }

  swapWindow(open: boolean): void {
    this.windowOpen = open;
    this.trace.push({ atMs: this.now, host: hostId("-"), what: `swap window ${open ? "opens" : "closes"}` });
    for (const n of this.nodes.values()) if (n.up && this.now >= n.pausedUntil) this.readClock(n);
    this.drainHooks();
  }

  diagnostics(id: HostId, ok: boolean): void {
    if (ok === !this.diagFailing.has(id)) return;
    if (ok) this.diagFailing.delete(id);
    else this.diagFailing.add(id);
    this.trace.push({ atMs: this.now, host: id, what: `diagnostics ${ok ? "pass" : "fail"} from now on` });
  }

  predict(from: HostId, to: HostId, split?: boolean): void {
    let i = 0;
    for (const n of this.nodes.values()) {
      if (!n.up || this.now < n.pausedUntil) continue;
      // With split, every other host also sees the target running out: those must refuse.
      // The data's clock is the forecasting host's own, as a live sampler's is.
      this.apply(n, { type: "forecast-ready", host: from, probability: 1, dataMs: this.localNow(n) });
      if (split && i++ > 0) this.apply(n, { type: "forecast-ready", host: to, probability: 1, dataMs: this.localNow(n) });
    }
    this.trace.push({ atMs: this.now, host: from, what: `predicted: ${from} runs out${split ? `, and most see ${to} too` : ""}` });
    this.drainHooks();
  }

  /** An anomaly alarm on `from`'s data: seen by every host up (confirmed), or by `from` alone (no voter may sign the move it asks for). */
  anomalous(from: HostId, confirmed: boolean): void {
    for (const n of this.nodes.values()) {
      if (!n.up || this.now < n.pausedUntil || (!confirmed && n.id !== from)) continue;
      this.apply(n, { type: "forecast-ready", host: from, probability: 0, anomaly: 1, dataMs: this.localNow(n) });
    }
    this.trace.push({ atMs: this.now, host: from, what: `anomaly: ${from}'s alarm, seen by ${confirmed ? "every host" : "itself alone"}` });
    this.drainHooks();
  }

  isUp(id: HostId): boolean {
    return this.nodes.get(id)!.up;
  }

  holdersNow(): HostId[] {
    return this.holdersOf(this.services[0]!);
  }

  holdersOf(sv: string): HostId[] {
    return [...this.nodes.values()].filter((n) => n.answering(sv, this.localNow(n))).map((n) => n.id);
  }

  node(id: HostId, sv?: string): QuorumState {
    return this.nodes.get(id)!.core.services[sv ?? this.services[0]!]!;
  }

  heldMs(sv: string): number {
    return this.heldTotals.get(sv)!;
  }

  certificates(): Certificate[] {
    return this.certificatesOf(this.services[0]!);
  }

  certificatesOf(service: string): Certificate[] {
    return [...this.certs.values()].filter((x) => x.service === service).sort((a, b) => a.epoch - b.epoch);
  }

  acked(sv: string): Set<string> {
    return this.ackedIds.get(sv)!;
  }

  doc(id: HostId, sv: string): Set<string> {
    return this.nodes.get(id)!.repl.get(sv)!.doc;
  }
}

/** A host state with one service's quorum machine bent. */
function bend(s: HostState, service: string, patch: Partial<QuorumState>): HostState {
  return { ...s, services: { ...s.services, [service]: { ...s.services[service]!, ...patch } } };
}

/** The real host core, or one bent to break exactly one rule (see Variant); the transcripts use it too. */
export function stepAs(variant: Variant, s: HostState, ev: HostEvent, t: number): HostStep {
  const propose = ev.type === "received" && ev.msg.type === "propose" ? ev.msg : null;
  switch (variant) {
    case "correct":
    case "local-ack": // breaks replication, not the host core (see SimCluster.configFor)
      return host.step(s, ev, t);
    case "double-vote": {
      // Forget the vote of this epoch when a rival proposal for it arrives.
      const q = propose === null ? undefined : s.services[propose.service];
      if (propose !== null && q !== undefined && propose.epoch === q.votedEpoch && q.votedHolder !== propose.holder && q.epoch < propose.epoch) {
        return host.step(bend(s, propose.service, { votedEpoch: q.epoch, votedHolder: null, votedProposal: null }), ev, t);
      }
      return host.step(s, ev, t);
    }
    case "ignore-lease": {
      // Hide the lease's end from every machine that has its VIP up, and drop the removals it asks for.
      let b = s;
      for (const [name, q] of Object.entries(s.services)) if (q.vipUp) b = bend(b, name, { leaseUntilMs: Infinity, answeredSentAtMs: Infinity });
      const out = host.step(b, ev, t);
      return { state: out.state, effects: out.effects.filter((f) => !(f.type === "drop-vip" && f.why === "lease-expired")) };
    }
    case "no-grant-wait":
      // Vote as if no grant were running.
      return host.step(propose === null || s.services[propose.service] === undefined ? s : bend(s, propose.service, { grantUntilMs: 0, holderSeenUntilMs: 0 }), ev, t);
    case "planned-vote": {
      // The old rule: a planned proposal is signed whatever grant still runs.
      const q = propose === null ? undefined : s.services[propose.service];
      if (propose !== null && q !== undefined && (propose.reason === "handover" || propose.reason === "predicted")) return host.step(bend(s, propose.service, { grantEpoch: q.epoch, grantHolder: propose.proposer, grantBoot: propose.boot }), ev, t);
      return host.step(s, ev, t);
    }
    case "no-kernel-lease": {
      // The kernel gets a lease that never ends, and keeps it.
      const out = host.step(s, ev, t);
      const effects: HostEffect[] = [];
      for (const f of out.effects) {
        if (f.type !== "kernel-lease") effects.push(f);
        else if (f.untilMs !== null) effects.push({ ...f, untilMs: Infinity });
      }
      return { state: out.state, effects };
    }
    case "ignore-failed-drop":
      // The shell logs a failed removal and reports it done.
      if (ev.type === "vip-changed" && ev.op === "del" && !ev.ok) return host.step(s, { ...ev, ok: true, error: null }, t);
      return host.step(s, ev, t);
    default:
      return assertNever(variant, "unknown variant");
  }
}
