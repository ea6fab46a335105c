// The simulated host's shell, shared by both drivers of the host core: the
// random cluster (cluster.ts) and the transcripts (transcript.ts). A SimHost
// is one host as the agent's process and its machine hold it: the host core
// (decide/host.ts, stepped as the agent's loop steps it), the disk its
// persist effects write, its process incarnation (boot) and its kernel's
// VIPs, and the vote records on their way to the disk with the votes that
// wait for them. carryEffects carries out a step's effects as the agent's shell does:
// what every driver does alike is done here; what is a driver's own (its
// network, how long its kernel takes, what it records, checks or prints)
// goes through its ShellPorts.

import { assertNever } from "../shared/assert.ts";
import type { HostId } from "../shared/ids.ts";
import type { Timing } from "../shared/profiles.ts";
import { host, type HookName, type HostConfig, type HostEffect, type HostEvent, type HostMsg, type HostOut, type HostState, type HostStep, type HostTiming, type Persisted, type VoteStandings, type VotesKept } from "../decide/index.ts";

/** Proactive moves in the simulator and the transcripts: a forecast counts at once, and is news for a second. */
export const SIM_PROACTIVE = { threshold: 0.8, sustainMs: 0, staleMs: 1_000, cooldownMs: 2_000, anomalyThreshold: 0.9, anomalyStandMs: 500 } as const;

/** The host core, or a deliberately broken one (cluster.ts stepAs). */
export type Stepper = (s: HostState, ev: HostEvent, nowMs: number) => HostStep;

/** A VIP change the kernel was asked for. */
export type VipOp = "add" | "del";

/** What the services of a simulated cluster are, the same on every host. */
export type SimServices = { names: string[]; candidates: HostId[]; voters: HostId[]; ackShadows: number; moveBackAfterMs: number; /** 0: no swaps. */ swapEveryMs?: number; moveBackInWindow?: boolean; /** Absent: no scaling. */ scaling?: HostConfig["services"][number]["scaling"]; /** Absent: workloads never move. */ migrate?: HostConfig["services"][number]["migrate"]; /** Absent: every candidate warm. */ shadowCount?: HostConfig["services"][number]["shadowCount"] };

/** A host's config as the agent would build it from its file; replication timing as a profile names it. */
/** Every simulated service has one health check, failing after two failures in a row and passing after two successes. */
export const SIM_CHECK = { rise: 2, fall: 2 } as const;

export function simHostConfig(self: HostId, hosts: HostId[], boot: number, sv: SimServices, timing: HostTiming, replication: Pick<Timing, "writeTimeoutMs" | "syncStaleMs">, extra: Pick<HostConfig, "placement" | "diagnoseRetryMs"> = {}): HostConfig {
  return {
    ...extra,
    self,
    hosts,
    boot,
    services: sv.names.map((name) => ({ name, candidates: sv.candidates, voters: sv.voters, ackShadows: sv.ackShadows, moveBackAfterMs: sv.moveBackAfterMs, swapEveryMs: sv.swapEveryMs ?? 0, moveBackInWindow: sv.moveBackInWindow ?? false, ...(sv.scaling === undefined ? {} : { scaling: sv.scaling }), ...(sv.migrate === undefined ? {} : { migrate: sv.migrate }), ...(sv.shadowCount === undefined ? {} : { shadowCount: sv.shadowCount }), checks: [SIM_CHECK] })),
    timing,
    replication: { writeTimeoutMs: replication.writeTimeoutMs, staleAfterMs: replication.syncStaleMs },
    proactive: SIM_PROACTIVE,
    fenced: true, // the simulated kernel holds the lease too
  };
}

/** One simulated host: its core, what survives a crash, and its kernel. */
export class SimHost {
  up = true;
  /** Process incarnations so far: each restart draws the next, as the agent draws a new one. */
  boot = 1;
  /** The host core, as the agent's loop holds it. */
  core: HostState;
  /** What the host wrote durably, per service: all that survives a crash (a wipe loses it too). */
  readonly disk = new Map<string, Persisted>();
  /** The lowered quorums taken on here, as the disk keeps them (votes.json; written at once, a wipe loses them): a restart takes them back. */
  votesKept: { votes: VoteStandings; kept: VotesKept } = { votes: {}, kept: {} };
  /** The services this host is in safe mode for, and why, as the disk keeps them (safemode.json; a wipe loses them): a restart takes them back. */
  readonly safeKept = new Map<string, string>();
  /** Vote records being written, per service, oldest first: the agent writes them off its loop (agent/records.ts), so a crash or a kill loses them. */
  readonly writing = new Map<string, Persisted[]>();
  /** Votes waiting for the records emitted before them, in the order sent. */
  readonly heldVotes: Array<{ service: string; to: HostId; msg: HostMsg }> = [];
  /** The kernel: services whose VIP is configured here, from the moment an add starts until a removal is done. */
  readonly vip = new Set<string>();
  /** The kernel-side lease per service, until then by this host's clock: past it the kernel answers for the VIP no more, whatever runs. */
  readonly kernelLease = new Map<string, number>();

  readonly id: HostId;
  private readonly configFor: (id: HostId, boot: number) => HostConfig;
  private readonly stepper: Stepper;

  constructor(id: HostId, configFor: (id: HostId, boot: number) => HostConfig, stepper: Stepper, localMs: number) {
    this.id = id;
    this.configFor = configFor;
    this.stepper = stepper;
    this.core = host.initialHost(configFor(id, 1), {}, localMs);
  }

  /** One event into the core, at the host's own clock; returns the state before and the effects to carry. */
  step(ev: HostEvent, localMs: number): { before: HostState; effects: HostEffect[] } {
    const before = this.core;
    const out = this.stepper(before, ev, localMs);
    this.core = out.state;
    return { before, effects: out.effects };
  }

  /** The process dies; its VIPs go with it (the agent removes stale ones at start). */
  crash(): void {
    this.up = false;
    this.vip.clear();
    this.kernelLease.clear();
    this.loseUnwritten();
  }

  /** The process is killed (SIGKILL): the kernel keeps its VIPs, and answers for each until its kernel lease ends. */
  kill(): void {
    this.up = false;
    this.loseUnwritten();
  }

  /** Records not on disk yet, and the votes that waited for them, die with the process. */
  private loseUnwritten(): void {
    this.writing.clear();
    this.heldVotes.length = 0;
  }

  /** Whether the kernel answers for the service's VIP at this host's clock `localMs`: configured and (on a fenced host) under a kernel lease. */
  answering(service: string, localMs: number): boolean {
    return this.vip.has(service) && (!this.core.config.fenced || (this.kernelLease.get(service) ?? 0) > localMs);
  }

  /** A new process (a crash first, if it was up): the next boot, a core from what the disk kept. */
  restart(localMs: number): void {
    this.up = true;
    this.vip.clear(); // the agent removes stale VIPs at start...
    this.kernelLease.clear(); // ...and installs the fence afresh, every VIP fenced
    this.boot += 1;
    this.core = host.initialHost(this.configFor(this.id, this.boot), Object.fromEntries(this.disk), localMs);
  }

  /** The kernel applied a lease's end (`nft` acknowledges after the commit): the host answers no more, by then at the latest. */
  kernelEnded(service: string, localMs: number): void {
    const cur = this.kernelLease.get(service);
    if (cur !== undefined && cur > localMs) this.kernelLease.set(service, localMs);
  }

  /** The kernel finished a change: a done removal takes the VIP down. */
  kernelDone(service: string, op: VipOp, ok: boolean): void {
    if (op === "del" && ok) this.vip.delete(service);
  }
}

/** The outcome of a VIP change, as the agent's shell reports it to the core. */
export function vipChanged(service: string, op: VipOp, epoch: number, ok: boolean, failure: string): HostEvent {
  return { type: "vip-changed", service, op, epoch, ok, error: ok ? null : failure };
}

/** The kernel's acknowledgement of a kernel lease (the simulated nft applies every line it is given). */
export function kernelLeased(service: string, seq: number): HostEvent {
  return { type: "kernel-leased", service, seq, error: null };
}

/** A hook's outcome: simulated hooks always succeed (they change nothing the checks see). */
export function hookFinished(service: string, hook: HookName, detail: string, epoch: number, ok = true): HostEvent {
  return { type: "hook-finished", service, hook, ok, detail, epoch };
}

/** Diagnostics' outcome: simulated ones pass unless the driver made them fail on the host. */
export function diagnosed(service: string, seq: number, ok: boolean): HostEvent {
  return { type: "diagnosed", service, seq, ok, detail: ok ? "sim: passed" : "sim: failing", bundle: null };
}

/** What a driver supplies to carry effects: its network, its kernel and hooks, and what it notes. */
export type ShellPorts<H extends SimHost> = {
  /** Puts a message on the driver's network. */
  send(from: H, to: HostId, msg: HostMsg): void;
  /** A vote record's write started: the driver lands it later (at once, or as late as its disk takes) through recordLanded, the service's records in order. */
  persist(h: H, service: string): void;
  /** The kernel starts a VIP change (an add holds the VIP already); the outcome comes back later through vipChanged. */
  actuate(h: H, service: string, op: VipOp, epoch: number): void;
  /** The kernel takes the lease (until then by the host's clock; null ends it): at once, or as late as the driver's kernel applies it; its acknowledgement comes back later through kernelLeased, once applied. */
  kernelLease(h: H, service: string, untilMs: number | null, seq: number): void;
  /** Starts a hook; the outcome comes back later through hookFinished. */
  runHook(h: H, service: string, hook: HookName, epoch: number): void;
  /** Starts a workload's move (the migrate hook, then its record); the outcome comes back later as migrated. */
  migrate(h: H, service: string, workload: string, from: HostId, to: HostId, epoch: number): void;
  /** Starts safe mode's diagnostics (run `seq`); the outcome comes back later as diagnosed. */
  diagnose(h: H, service: string, seq: number): void;
  /** Every other effect, after the shell carried its common part: the driver records, checks or prints it, and carries what is its own. */
  note(h: H, fx: Exclude<HostEffect, { type: "send" }>): void;
};

/**
 * A message as it leaves a simulated host: its votes "signed" with an empty
 * signature (the agent signs with its key; the simulator's hosts have none,
 * and its network forges nothing). Fields in the order the core once built
 * them, so traces read as before.
 */
export function signedInSim(msg: HostOut): HostMsg {
  if (msg.type !== "vote") return msg;
  const { boot, ...rest } = msg;
  return { ...rest, sig: "", boot };
}

/** Carries out a step's effects in order, as the agent's shell would. */
export function carryEffects<H extends SimHost>(h: H, effects: HostEffect[], ports: ShellPorts<H>): void {
  for (const fx of effects) {
    switch (fx.type) {
      case "send":
        // A vote waits for the records emitted before it, as the agent's does.
        if (fx.msg.type === "vote" && (h.writing.get(fx.msg.service)?.length ?? 0) > 0) h.heldVotes.push({ service: fx.msg.service, to: fx.to, msg: signedInSim(fx.msg) });
        else ports.send(h, fx.to, signedInSim(fx.msg));
        continue;
      case "persist": {
        const queue = h.writing.get(fx.service) ?? [];
        queue.push(fx.record);
        h.writing.set(fx.service, queue);
        ports.persist(h, fx.service);
        break;
      }
      case "kernel-lease":
        ports.kernelLease(h, fx.service, fx.untilMs, fx.seq);
        break;
      case "take-vip":
        h.vip.add(fx.service); // configured from the moment the add starts
        ports.actuate(h, fx.service, "add", fx.epoch);
        break;
      case "drop-vip":
        ports.actuate(h, fx.service, "del", fx.epoch);
        break;
      case "run-hook":
        ports.runHook(h, fx.service, fx.hook, fx.epoch);
        break;
      case "diagnose":
        ports.diagnose(h, fx.service, fx.seq);
        break;
      case "safe-mode-changed":
        if (fx.on) h.safeKept.set(fx.service, fx.why);
        else h.safeKept.delete(fx.service);
        break;
      case "pool": // the shell runs the redirect hook with the pool
        ports.runHook(h, fx.service, "redirect", fx.epoch);
        break;
      case "migrate":
        ports.migrate(h, fx.service, fx.workload, fx.from, fx.to, fx.epoch);
        break;
      case "warm-changed": // the driver's beacons carry the word
        break;
      case "certified":
      case "alarm":
      case "request-durable":
      case "write-acked":
      case "write-failed":
      case "reconcile":
      case "move-abandoned":
      case "member-changed":
      case "rtt-measured":
      case "predicted-changed":
      case "move-predicted":
      case "sync-status-changed":
      case "order-applied":
      case "health-changed":
      case "standings-changed":
        break;
      case "votes-changed":
        h.votesKept = { votes: fx.votes, kept: fx.kept };
        break;
      default:
        assertNever(fx);
    }
    ports.note(h, fx);
  }
}

/** The oldest record of the service being written is on disk; once none is left, the votes that waited for them go out. */
export function recordLanded<H extends SimHost>(h: H, service: string, ports: ShellPorts<H>): void {
  const queue = h.writing.get(service);
  if (queue === undefined || queue.length === 0) return;
  h.disk.set(service, queue.shift()!);
  if (queue.length > 0) return;
  h.writing.delete(service);
  const held = h.heldVotes.filter((v) => v.service === service);
  h.heldVotes.splice(0, h.heldVotes.length, ...h.heldVotes.filter((v) => v.service !== service));
  for (const v of held) ports.send(h, v.to, v.msg);
}
