// The agent's loop: the one place the host core (decide/host.ts) is
// stepped. Network events wait in a bounded inbox, connects and disconnects
// in a bounded queue of their own, and the outcomes of the agent's own
// effects in a list that is never dropped from (the core waits for each).
// A timer ticks the core; messages and outcomes are stepped in at once
// (kick), not on the next tick: a planned handover is a chain of four of
// them, and a tick's wait at each hop would be most of its gap. One turn
// runs at a time, and a failed
// assertion stops the loop and crashes the process rather than act on a
// state nobody understands.

import type { HostId } from "../shared/ids.ts";
import type { Logger } from "../shared/log.ts";
import type { Rng } from "../shared/rng.ts";
import { host, type HostEffect, type HostEvent, type HostState } from "../decide/index.ts";
import type { WireMsg } from "../mesh/index.ts";
import { BoundedQueue, type QueueCount } from "./queue.ts";

/** Events waiting for the next tick; past it the oldest network events are dropped (and counted). */
export const INBOX_MAX = 10_000;
/** Connects and disconnects waiting for the next tick; past it new ones are dropped (and counted). */
export const PEER_EVENTS_MAX = INBOX_MAX;
/** Events handled in one tick at most, so a flood cannot starve timers. */
export const EVENTS_PER_TICK_MAX = 2_000;
/** A gap between ticks this many tick intervals long is logged as a stall. */
export const LOOP_STALL_WARN_TICKS = 4;
/** The exit code of an agent whose loop crashed (EX_SOFTWARE: an internal error). */
export const EXIT_LOOP_CRASHED = 70;

export type Inbound = { from: HostId; msg: WireMsg };
export type BeaconMsg = Extract<WireMsg, { type: "beacon" }>;
export type StatementMsg = Extract<WireMsg, { type: "statement" }>;

export type LoopDeps = {
  core: HostState;
  log: Logger;
  /** Monotonic milliseconds. */
  now(): number;
  random: Rng;
  tickMs: number;
  /** Told of each stall it logs (the /metrics counter). */
  onStall?: () => void;
};

/** What the loop hands its work to once the agent has wired everything up. */
export type LoopWork = {
  /** Carries out the core's effects, in the order emitted. */
  runEffects(effects: HostEffect[]): void;
  /** A beacon: shell data (metrics, forecasts), never for the core. */
  onBeacon(from: HostId, msg: BeaconMsg): void;
  /** An operator's statement a peer passed on: checked by the shell (operators.ts); the order for the core, or null when refused. */
  onStatement(from: HostId, msg: StatementMsg): HostEvent | null;
  /** The tick's work beside the core's (replication, finished forecasts), after its tick event; returns events for the core. */
  sideTick(): HostEvent[];
};

export class AgentLoop {
  private coreState: HostState;
  readonly inbox = new BoundedQueue<Inbound>("inbox", INBOX_MAX, "drop-oldest");
  readonly peerEvents = new BoundedQueue<HostEvent>("peer-events", PEER_EVENTS_MAX, "drop-newest");
  /** Outcomes of this host's own effects: never dropped (the core waits for each), bounded by the effects in flight (one VIP change and a hook or two per service) and by what the replicator reports (one event per write, per peer answer). */
  private readonly outcomes: HostEvent[] = [];
  private work: LoopWork | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopping = false;
  private ticking = false;
  private crashed: unknown = null;
  /** A turn is scheduled to step in the outcomes at once (see kick). */
  private kicked = false;
  private lastTickMono: number;
  private readonly d: LoopDeps;

  constructor(d: LoopDeps) {
    this.d = d;
    this.coreState = d.core;
    this.lastTickMono = d.now();
  }

  get core(): HostState {
    return this.coreState;
  }

  /** The loop's failure, if a turn threw; null while it runs. */
  get error(): unknown {
    return this.crashed;
  }

  /** A signed-and-checked message from a peer (or from this host to itself), stepped in at once. */
  enqueue(from: HostId, msg: WireMsg): void {
    this.inbox.push({ from, msg });
    this.kick();
  }

  /** An outcome of an effect (a VIP change, a write durable, a peer's answer), stepped in at once. */
  feed(ev: HostEvent): void {
    this.outcomes.push(ev);
    this.kick();
  }

  /** A connect or disconnect seen by the transport, a membership hint on the next tick. */
  peerChanged(id: HostId, up: boolean): void {
    this.peerEvents.push({ type: up ? "peer-connected" : "peer-disconnected", id });
  }

  queues(): QueueCount[] {
    return [this.inbox.count(), this.peerEvents.count()];
  }

  /** Starts ticking; the work is wired up by now. */
  start(work: LoopWork): void {
    this.work = work;
    this.lastTickMono = this.d.now();
    this.timer = setInterval(() => this.onTimer(), this.d.tickMs);
  }

  stop(): void {
    this.stopping = true;
    if (this.timer !== null) clearInterval(this.timer);
  }

  /** A stalled event loop eats the lease's safety margin (the kernel keeps answering for the VIP while we are not running): say so loudly. */
  private onTimer(): void {
    const nowTick = this.d.now();
    const gapMs = nowTick - this.lastTickMono;
    this.lastTickMono = nowTick;
    if (gapMs > LOOP_STALL_WARN_TICKS * this.d.tickMs) {
      this.d.log("warn", "agent", "loop-stall", { gapMs: Math.round(gapMs), ticking: this.ticking });
      this.d.onStall?.();
    }
    this.guarded((work) => this.tick(work));
  }

  private tick(work: LoopWork): void {
    // Outcomes first: a removal confirmed releases an in-person handover.
    for (const ev of this.outcomes.splice(0)) this.stepCore(work, ev);
    for (const ev of this.peerEvents.drain()) this.stepCore(work, ev);
    this.stepCore(work, { type: "tick", rand: this.d.random.next() });
    for (const ev of work.sideTick()) this.stepCore(work, ev);
    this.drainInbox(work);
  }

  /** Messages waiting, oldest first, at most EVENTS_PER_TICK_MAX in one turn so a flood cannot starve the timer. */
  private drainInbox(work: LoopWork): void {
    for (let i = 0; i < EVENTS_PER_TICK_MAX && this.inbox.length > 0; i++) this.handle(work, this.inbox.shift()!);
  }

  /** A message from the inbox: beacons are shell data, the rest go to the core. */
  private handle(work: LoopWork, item: Inbound): void {
    const { from, msg } = item;
    if (msg.type === "beacon") {
      work.onBeacon(from, msg);
      return;
    }
    if (msg.type === "statement") {
      const ev = work.onStatement(from, msg);
      if (ev !== null) this.stepCore(work, ev);
      return;
    }
    this.stepCore(work, { type: "received", from, msg });
  }

  /** One event into the core, and its effects carried out in order. */
  private stepCore(work: LoopWork, ev: HostEvent): void {
    const out = host.step(this.coreState, ev, this.d.now());
    this.coreState = out.state;
    work.runEffects(out.effects);
  }

  /**
   * Outcomes and messages waiting are stepped in at once, not on the next
   * tick: a write's acknowledgement waits on them, and every hop of a
   * handover or an election would otherwise wait up to a tick. Arrivals in
   * one turn of the event loop share one turn of ours.
   */
  private kick(): void {
    if (this.kicked) return;
    this.kicked = true;
    setImmediate(() => {
      this.kicked = false;
      this.guarded((work) => {
        for (const ev of this.outcomes.splice(0)) this.stepCore(work, ev);
        this.drainInbox(work);
      });
    });
  }

  /** Runs one turn of the loop, never two at once and not before it starts; a failed assertion is a bug: crash rather than act on a bad state. */
  private guarded(turn: (work: LoopWork) => void): void {
    const work = this.work;
    if (work === null || this.ticking || this.stopping || this.crashed !== null) return;
    this.ticking = true;
    try {
      turn(work);
    } catch (err) {
      this.crashed = err;
      this.d.log("error", "agent", "crash", { error: (err as Error).stack });
      process.exitCode = EXIT_LOOP_CRASHED;
      setImmediate(() => {
        throw err;
      });
    } finally {
      this.ticking = false;
    }
  }
}
