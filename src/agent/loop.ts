// The agent's loop: the one place the host core (decide/host.ts) is
// stepped. Network events wait in a bounded inbox, connects and disconnects
// in a bounded queue of their own, and the outcomes of the agent's own
// effects in a list that is never dropped from (the core waits for each).
// Everything that arrives is stepped in at once (kick), not on a later
// tick: a planned handover is a chain of four hops, and a wait at each
// would be most of its gap. The core is ticked when it says a tick is due
// (host.nextTickMs): a timer is set for that moment, and a turn that makes
// it due at once ticks before it ends. An idle host so wakes when its
// machines have something to do (a renewal, a probe, a timeout), not every
// tickMs: at lan's timings a fixed 5 ms tick was 200 of an idle holder's
// ~430 wakeups a second (though little of its CPU, which goes on the
// messages: bench/RESULTS.md, session 14). One turn runs at a time, and a failed assertion
// stops the loop and crashes the process rather than act on a state nobody
// understands.

import type { HostId } from "../shared/ids.ts";
import type { Logger } from "../shared/log.ts";
import type { Rng } from "../shared/rng.ts";
import { host, type HostEffect, type HostEvent, type HostState } from "../decide/index.ts";
import type { WireMsg } from "../mesh/index.ts";
import { BoundedQueue, type QueueCount } from "./queue.ts";
import type { StealMeter } from "./steal.ts";
import { LOOP_STALL_WARN_TICKS } from "../shared/profiles.ts";

/** Events waiting for a turn; past it the oldest network events are dropped (and counted). */
export const INBOX_MAX = 10_000;
/** Connects and disconnects waiting for a turn; past it new ones are dropped (and counted). */
export const PEER_EVENTS_MAX = INBOX_MAX;
/** Events handled in one turn at most, so a flood cannot starve timers (the rest wait for the next turn, queued at once). */
export const EVENTS_PER_TICK_MAX = 2_000;
export { LOOP_STALL_WARN_TICKS };
/** Ticks in one turn at most while the core says one is due at once (one tick's work can make another's due: a move given up makes its holder's renewal due); past it the timer takes over. */
export const TICKS_PER_TURN_MAX = 4;
/** The longest the loop's timer waits in one go (Node's timers take at most 2^31-1 ms, and fire at once past it): a due time further off is waited for in steps. */
export const TIMER_WAIT_MAX_MS = 3_600_000;
/** The shell's own periodic work (replication's heads rounds, finished forecasts: LoopWork.sideTick) runs this often; none of it is timing-critical. */
export const SIDE_TICK_MS = 100;
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
  /** The machine's steal (steal.ts): read by the side turn, and at a stall for its warning. */
  steal?: StealMeter;
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
  /** The timer for the core's next due tick, and the time it is set for (Infinity: none). */
  private timer: NodeJS.Timeout | null = null;
  private timerDueMs = Infinity;
  private sideTimer: NodeJS.Timeout | null = null;
  /** dueMs's last answer, and the state it was computed for. */
  private dueOf: HostState | null = null;
  private due = Infinity;
  private stopping = false;
  private ticking = false;
  private crashed: unknown = null;
  /** When start ran: a tick due before the loop ran is not a stall. */
  private startedMs = Infinity;
  /** When the last turn ended: the loop ran until then. */
  private turnEndedMs = -Infinity;
  /** A turn is scheduled to step in what arrived at once (see kick). */
  private kicked = false;
  private readonly d: LoopDeps;

  constructor(d: LoopDeps) {
    this.d = d;
    this.coreState = d.core;
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

  /** A connect or disconnect seen by the transport, a membership hint stepped in at once. */
  peerChanged(id: HostId, up: boolean): void {
    this.peerEvents.push({ type: up ? "peer-connected" : "peer-disconnected", id });
    this.kick();
  }

  queues(): QueueCount[] {
    return [this.inbox.count(), this.peerEvents.count()];
  }

  /** Starts the loop; the work is wired up by now. */
  start(work: LoopWork): void {
    this.work = work;
    this.startedMs = this.d.now();
    this.sideTimer = setInterval(() => this.guarded((w) => this.sideTurn(w)), SIDE_TICK_MS);
    this.kick();
  }

  stop(): void {
    this.stopping = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.sideTimer !== null) clearInterval(this.sideTimer);
  }

  /** The core's due time came: a turn (see turn for a timer that fired late). */
  private onTimer(): void {
    this.timer = null;
    this.timerDueMs = Infinity;
    this.kick();
  }

  /**
   * One turn: what arrived, oldest kind first (a removal confirmed releases
   * an in-person handover), then a tick if one is due. A stall is noticed
   * before it (noticeStall, in guarded).
   */
  private turn(work: LoopWork): void {
    for (const ev of this.outcomes.splice(0)) this.stepCore(work, ev);
    for (const ev of this.peerEvents.drain()) this.stepCore(work, ev);
    this.drainInbox(work);
    for (let i = 0; i < TICKS_PER_TURN_MAX && this.dueMs() <= this.d.now(); i++) this.stepCore(work, { type: "tick", rand: this.d.random.next() });
  }

  /**
   * A tick overdue by far means the event loop stalled (the process was
   * frozen or starved), which eats the lease's safety margin: the kernel
   * lease is what then stops the VIP answering. It is logged loudly, and
   * the core is told first (loop-stalled), before what peers sent
   * meanwhile: a holder's renewals, its lapsed renewal, the grants for this
   * host's own. Judged on that backlog alone, the silence of a peer whose
   * words were waiting to be read, a voter frozen past a lease would call a
   * live holder lost and vote it out; told, the core gives such a holder a
   * moment to renew. Seen at the start of any turn, not in the timer's
   * callback: a process stopped in the poll phase reads its sockets before
   * it runs its timers. Only time the loop did not run counts: since the
   * tick came due, and since the last turn ended (a tick left due by a busy
   * turn is not a stall of the next).
   */
  private noticeStall(work: LoopWork): void {
    const lateMs = this.d.now() - Math.max(this.dueMs(), this.startedMs, this.turnEndedMs);
    if (lateMs <= LOOP_STALL_WARN_TICKS * this.d.tickMs) return;
    const stolen = this.d.steal?.since(this.d.now()) ?? null;
    this.d.log("warn", "agent", "loop-stall", { gapMs: Math.round(lateMs), ...(stolen === null ? {} : { stolenMs: stolen.stolenMs, stolenOverMs: stolen.overMs }) });
    this.d.onStall?.();
    this.stepCore(work, { type: "loop-stalled" });
  }

  /** The shell's periodic work, whose events go into the core like any others. */
  private sideTurn(work: LoopWork): void {
    this.d.steal?.mark(this.d.now());
    for (const ev of work.sideTick()) this.stepCore(work, ev);
    this.turn(work);
  }

  /** Messages waiting, oldest first, at most EVENTS_PER_TICK_MAX in one turn so a flood cannot starve the timers. */
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

  /** The core's next due tick, computed once per state (a turn asks twice, and most turns step nothing after their tick). */
  private dueMs(): number {
    if (this.dueOf !== this.coreState) {
      this.dueOf = this.coreState;
      this.due = host.nextTickMs(this.coreState);
    }
    return this.due;
  }

  /** One event into the core, and its effects carried out in order. */
  private stepCore(work: LoopWork, ev: HostEvent): void {
    const out = host.step(this.coreState, ev, this.d.now());
    this.coreState = out.state;
    work.runEffects(out.effects);
  }

  /**
   * Whatever arrives is stepped in at once, not at the next due tick: a
   * write's acknowledgement waits on it, and every hop of a handover or an
   * election would otherwise wait. Arrivals in one turn of the event loop
   * share one turn of ours.
   */
  private kick(): void {
    if (this.kicked) return;
    this.kicked = true;
    setImmediate(() => {
      this.kicked = false;
      this.guarded((work) => this.turn(work));
    });
  }

  /**
   * Sets the timer for the core's next due tick, after every turn (a turn
   * moves it). Node's timers count from the event loop's cached clock, so
   * one may fire a little early: its turn then ticks nothing and sets the
   * timer again. Work left over (a flood past EVENTS_PER_TICK_MAX, or ticks
   * still due after TICKS_PER_TURN_MAX) gets a turn of its own at once.
   */
  private arm(): void {
    if (this.inbox.length > 0 || this.outcomes.length > 0 || this.peerEvents.length > 0) this.kick();
    const due = this.dueMs();
    if (due === this.timerDueMs) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerDueMs = due;
    if (due === Infinity) return;
    this.timer = setTimeout(() => this.onTimer(), Math.min(TIMER_WAIT_MAX_MS, Math.max(0, Math.ceil(due - this.d.now()))));
  }

  /** Runs one turn of the loop, never two at once and not before it starts, then sets the timer; a failed assertion is a bug: crash rather than act on a bad state. */
  private guarded(turn: (work: LoopWork) => void): void {
    const work = this.work;
    if (work === null || this.ticking || this.stopping || this.crashed !== null) return;
    this.ticking = true;
    try {
      this.noticeStall(work);
      turn(work);
      this.turnEndedMs = this.d.now();
      this.arm();
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
