// Transcripts: protocol stories as text, after etcd raft's testdata/*.txt
// interaction tests. A file is a list of blocks; each block is one or more
// command lines, a `----` line, and the output the commands printed, ended by
// a blank line. `#` lines between blocks are the story's prose. The driver
// runs the commands against N host cores (decide/host.ts, the very function
// the agent runs) and rewrites the output sections, so a change in behaviour
// shows as a diff anyone can read (transcript.test.ts compares, or rewrites
// with UMBRA_REWRITE=1).
//
// Everything is deterministic and explicit: no randomness but the fixed
// `rand` each tick carries, no real time, a network that delivers every
// message at once and in order unless a rule drops or holds it, a disk per
// host (the persist effects), and a kernel per host that has the VIP from the
// moment an add starts until a removal is done.
//
// The language (hosts are n1..nK; A->B names a one-way link, `*` any host):
//   hosts 3 [timing=lan] [voters=n1,n2,n3] [candidates=n1,n3,n2] [variant=planned-vote] [fence=off] [moveback=2s [moveback-window=on]] [swap=2s] [scale=2] [workloads=4] [count=1]
//                                  variant: a deliberately broken core (sim/cluster.ts), to show a rule's worth
//                                  one service "web"; default: all vote, n1 first
//   tick 50ms                      every host's clock moves on in steps of tickMs;
//                                  each step every up host gets a tick, then
//                                  everything sent is delivered
//   drop A->B[,C] [k=v..] [off]    lose matching messages (k=v: type=certificate, seq=3, e=2 ...)
//   partition n1 | n2 n3           hosts in different groups cannot talk; `heal` undoes it and every drop
//   hold A->B [k=v..] [off]        keep matching messages in flight (`hold on`/`hold off`: all links)
//   held                           list the messages held
//   deliver A->B [k=v..]           deliver the matching held messages now, in order
//   drop-held A->B [k=v..]         lose them
//   crash n2 | wipe n2 | restart n2  a crash keeps the disk, a wipe loses it; restart draws a new boot
//   kill n2                        SIGKILL: the agent is gone, its kernel keeps the VIP until its kernel lease ends
//   auto-vip on|off                VIP changes complete at once (default) or wait for:
//   vip-done n1 | vip-fail n1      the oldest pending VIP change of n1 succeeds / fails
//   fail-vip n2 del|add [count]    the next count (1) changes of that kind on n2 fail
//   move n1 -> n2                  an operator's order to move the service to n2, reaching only n1
//   order ACTION [HOST]            an operator's signed order, to every host up: move HOST, failover,
//                                  standby|maintenance|unstandby|rejoin HOST, override VOTES (of web)
//   forecast n3 n1 1.0             n3's forecast of n1's exhaustion probability
//   anomaly n3 n1 1.0              n3's forecast of n1: probability 0, this anomaly score (an alarm at 0.9
//                                  or more stands 500ms of n3's data)
//   load n1 0.9                    n1's own forecast of its load (cpuLoad's p90; scale=N: a holder scales out
//                                  at 0.8 up to N active shadows, 500ms apart, and in under 0.5 after 500ms)
//   fail-hook n1 redirect [count]  the next count (1) runs of that hook on n1 fail (a failed redirect is tried
//                                  again, the back-off doubling from 1 s, an alarm at the third in a row;
//                                  `migrate`: the next moves of workloads fail, tried again the same way)
//   (count=N: the shadow count, N warm shadows at least, all at most; one more each for a load forecast at
//    0.8 or more and a p10-p90 band 0.3 wide or more, 500ms apart; cold ones are kept out while a warm one
//    is fit; the holder's word reaches the others as from its beacon; `load n1 0.9 0.5` gives the p10)
//   workloads                      where each workload runs, as the document says (workloads=N: N of them,
//                                  w1..wN, on the primary at first; each host's shell reads the document
//                                  at start and at each change; a holder moves them onto its pool)
//   window open|close              every host's swap window opens or closes (swap=: a holder that has held
//                                  that long with its window open hands over in person to the primary, or
//                                  the best shadow, fit and in sync)
//   diagnostics n1 fail|pass       n1's safe-mode diagnostics fail (or pass, the default) from now on
//                                  (a holder demoted by a certificate it did not hand over to runs them,
//                                  no candidate meanwhile; its peers hear it as from its beacon)
//   synced n2 n1                   n2's replication hears n1's copy of the state in sync
//                                  (moveback=: a holder other than the primary, the primary alive, kept in,
//                                  unpredicted and in sync that long hands the service back)
//   connect n1 n2                  the transport reached the peer (peer-connected on both)
//   rand n2 0.3                    the rand n2's ticks carry (default 0.5)
//   jump n2 100ms                  n2's clock jumps forward
//   pause n1 | resume n1           n1's agent freezes (no ticks; what reaches it, VIP outcomes too,
//                                  waits; its kernel keeps the VIP) / runs again and takes it all in
//   show|hide renew grant swim members persist ...   what the output lists
//   status | members               every host's service state / membership view
//
// Output lines read `<virtual ms>ms <host>: <what>`: the effects of each event
// a core handled (sends to several hosts with the same content as one line,
// marked `(lost: n2)`, `(held: n2)` or `(down: n2)` where they did not go
// out), the kernel's answers, and what the story turns on but no effect
// says: role changes, a holder standing aside or giving up its epoch, a
// voter keeping a proposal pending and why. Renewals, grants, SWIM traffic
// and membership changes are hidden unless shown.
// After every event a host core handles, the driver checks that at most one
// up host has the VIP in its kernel, and prints `!! TWO HOLDERS: ...` if not
// (it does not throw: a transcript may show a broken rule).

import { assert, assertNever } from "../shared/assert.ts";
import { LOOP_STALL_WARN_TICKS, PROFILES, type ProfileName } from "../shared/profiles.ts";
import { hostId, type HostId } from "../shared/ids.ts";
import { host, type WarmWord, type OperatorOrder, type OrderAction, type HookName, type HostConfig, type HostEffect, type HostEvent, type HostMsg, type HostState, type Certificate, type Persisted, type QuorumState } from "../decide/index.ts";
import { stepAs, VARIANTS, type Variant } from "./cluster.ts";
import { carryEffects, diagnosed, hookFinished, kernelLeased, recordLanded, SimHost, simHostConfig, vipChanged, type ShellPorts, type Stepper, type VipOp } from "./host-shell.ts";

/** The one service every transcript runs. */
export const SERVICE = "web";
/** Events handled in one drain before the driver calls it a livelock: every message is a reaction, so a real run ends far below. */
const DRAIN_EVENTS_MAX = 100_000;
/** Most hosts a transcript may start. */
const HOSTS_MAX = 9;
/** The rand a host's ticks carry until a `rand` command sets another. */
const DEFAULT_RAND = 0.5;
/** What a failed VIP change reports. */
const VIP_ERROR = "RTNETLINK answers: Operation not permitted (transcript)";

/** Output categories; `show`/`hide` toggle them. Message categories are the message types. */
const CATEGORIES = ["propose", "vote", "reject", "certificate", "cert-request", "renew", "grant", "lapsed", "lapsed-ack", "ping", "ack", "ping-req", "persist", "members", "rtt", "hooks", "kernel"] as const;
type Category = (typeof CATEGORIES)[number];
const SHOWN_BY_DEFAULT: readonly Category[] = ["propose", "vote", "reject", "certificate", "cert-request", "persist"];

type Filter = Record<string, string>;
/** A one-way link rule; `*` matches any host but never a host's loopback to itself. */
type Rule = { from: string; to: string; filter: Filter };

/** A simulated host with what the transcripts add: an explicit clock, a kernel driven by hand, a frozen agent. */
class Node extends SimHost {
  /** Its own clock; runs on while the host is down. */
  clockMs: number;
  /** VIP changes asked for and not yet answered (auto-vip off), oldest first. */
  pendingVip: Array<{ op: VipOp; epoch: number; service: string }> = [];
  /** The next changes of each kind that fail. */
  failNext = { add: 0, del: 0 };
  /** The rand every tick of this host carries. */
  rand = DEFAULT_RAND;
  /** The agent is frozen: no ticks; what reaches it (messages, VIP outcomes) waits in `parked`, its kernel keeps the VIP. */
  paused = false;
  /** When it was paused (virtual ms): a pause past LOOP_STALL_WARN_TICKS ticks is a stall its loop reports on waking. */
  pausedAtMs = 0;
  parked: Item[] = [];
  /** Its safe-mode diagnostics fail. */
  diagFail = false;
  /** The next runs of these hooks fail, this many each. */
  readonly failHooks = new Map<string, number>();

  constructor(id: HostId, configFor: (id: HostId, boot: number) => HostConfig, stepper: Stepper, clockMs: number) {
    super(id, configFor, stepper, clockMs);
    this.clockMs = clockMs;
  }

  /** The kernel has the VIP configured. */
  get hasVip(): boolean {
    return this.vip.size > 0;
  }
}

type Item =
  | { kind: "msg"; from: HostId; to: HostId; msg: HostMsg }
  | { kind: "vip"; host: HostId; boot: number; service: string; op: VipOp; epoch: number; ok: boolean }
  | { kind: "hook"; host: HostId; boot: number; service: string; hook: HookName; epoch: number }
  | { kind: "lease"; host: HostId; boot: number; service: string; seq: number }
  | { kind: "diagnose"; host: HostId; boot: number; service: string; seq: number }
  | { kind: "migrate"; host: HostId; boot: number; service: string; workload: string; to: HostId }
  | { kind: "docs"; host: HostId } // the document's workloads changed: this host's shell reads them
  | { kind: "word"; host: HostId; service: string; word: WarmWord } // a holder's warm shadows, as its beacon says
  | { kind: "health"; from: HostId; host: HostId; unhealthy: string[]; safe: string[] }; // a peer's beacon, as far as health and safe mode go

/** What one event's effects print, gathered while they are carried: sends to several hosts with the same content as one line. */
type Printing = { sends: Map<string, { to: string[]; notes: Map<string, string[]> }>; lines: Array<string | { key: string }> };

/** Runs every command block of a transcript; returns the text with each block's output replaced by what the commands printed now. */
export function runTranscript(text: string, file = "<transcript>"): string {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const out: string[] = [];
  const world = new World();
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === "" || line.startsWith("#")) {
      out.push(line);
      i++;
      continue;
    }
    // A block: command lines up to `----`, then the old output up to a blank line.
    const commands: Array<{ text: string; lineNo: number }> = [];
    while (i < lines.length && lines[i] !== "----" && lines[i]!.trim() !== "") {
      assert(!lines[i]!.startsWith("#"), `${file}:${i + 1}: a comment inside a block`);
      commands.push({ text: lines[i]!, lineNo: i + 1 });
      i++;
    }
    if (i < lines.length && lines[i] === "----") {
      i++;
      while (i < lines.length && lines[i]!.trim() !== "") i++;
    }
    out.push(...commands.map((c) => c.text), "----", ...runBlock(world, commands, file));
  }
  return out.join("\n") + "\n";
}

/** A block's commands against the world: what they printed ("ok" when nothing). */
function runBlock(world: World, commands: Array<{ text: string; lineNo: number }>, file: string): string[] {
  const printed: string[] = [];
  for (const c of commands) {
    try {
      printed.push(...world.exec(c.text));
    } catch (e) {
      const err = e as Error;
      throw new Error(`${file}:${c.lineNo}: ${c.text}: ${err.message}`, { cause: err });
    }
  }
  return printed.length > 0 ? printed : ["ok"];
}

/** The commands of the language, each a method of the world. */
const COMMANDS: Record<string, (w: World, args: string[]) => void> = {
  hosts: (w, a) => w.hosts(a),
  tick: (w, a) => w.tick(a),
  drop: (w, a) => w.drop(a),
  hold: (w, a) => w.hold(a),
  held: (w) => w.held(),
  deliver: (w, a) => w.deliver(a),
  "drop-held": (w, a) => w.dropHeld(a),
  partition: (w, a) => w.partition(a),
  heal: (w) => w.heal(),
  crash: (w, a) => w.crash(a),
  kill: (w, a) => w.kill(a),
  wipe: (w, a) => w.wipe(a),
  restart: (w, a) => w.restart(a),
  "auto-vip": (w, a) => w.autoVipCmd(a),
  "vip-done": (w, a) => w.finishVip(w.node(a[0]!), true),
  "vip-fail": (w, a) => w.finishVip(w.node(a[0]!), false),
  "fail-vip": (w, a) => w.failVip(a),
  move: (w, a) => w.move(a),
  order: (w, a) => w.order(a),
  forecast: (w, a) => w.forecast(a),
  anomaly: (w, a) => w.anomaly(a),
  synced: (w, a) => w.synced(a),
  diagnostics: (w, a) => w.diagnostics(a),
  window: (w, a) => w.window(a),
  "fail-hook": (w, a) => w.failHook(a),
  workloads: (w) => w.listWorkloads(),
  load: (w, a) => w.load(a),
  connect: (w, a) => w.connect(a),
  rand: (w, a) => w.rand(a),
  jump: (w, a) => w.jump(a),
  pause: (w, a) => w.pause(a),
  resume: (w, a) => w.resume(a),
  show: (w, a) => w.show(a, true),
  hide: (w, a) => w.show(a, false),
  status: (w) => w.status(),
  members: (w) => w.members(),
};

/** The hosts, their network and kernels, and what the commands print. */
class World {
  private nodes: Node[] = [];
  private tickMs = 0;
  private variant: Variant = "correct";
  private configFor: (id: HostId, boot: number) => HostConfig = () => {
    throw new Error("no hosts yet: start with `hosts N`");
  };
  /** Virtual time: every host's clock moves on with it. */
  private nowMs = 0;
  private orders = 0;
  private autoVip = true;
  private groups: HostId[][] | null = null;
  private drops: Rule[] = [];
  private holds: Rule[] = [];
  private heldMsgs: Array<{ from: HostId; to: HostId; msg: HostMsg }> = [];
  private readonly queue: Item[] = [];
  /** Where each workload runs, as the (shared) document says; empty without workloads=. */
  private readonly workloads = new Map<string, HostId>();
  private readonly shown = new Set<Category>(SHOWN_BY_DEFAULT);
  /** The hosts with the VIP when it was last checked, and since when two or more have had it. */
  private holdersSeen: HostId[] = [];
  private twoSinceMs: number | null = null;
  private out: string[] = [];
  /** What the event being handled prints, while its effects are carried. */
  private printing: Printing = { sends: new Map(), lines: [] };
  private readonly ports: ShellPorts<Node> = {
    send: (from, to, msg) => this.sendPrinted(from, to, msg),
    actuate: (n, service, op, epoch) => this.actuate(n, service, op, epoch),
    kernelLease: (n, service, untilMs, seq) => {
      if (untilMs === null) n.kernelLease.delete(service);
      else n.kernelLease.set(service, untilMs);
      this.queue.push({ kind: "lease", host: n.id, boot: n.boot, service, seq }); // applied at once, acknowledged in turn
    },
    persist: (n, service) => recordLanded(n, service, this.ports), // the disk writes at once: a vote goes out in its step
    runHook: (n, service, hook, epoch) => this.queue.push({ kind: "hook", host: n.id, boot: n.boot, service, hook, epoch }),
    diagnose: (n, service, seq) => this.queue.push({ kind: "diagnose", host: n.id, boot: n.boot, service, seq }),
    migrate: (n, service, workload, _from, to) => this.queue.push({ kind: "migrate", host: n.id, boot: n.boot, service, workload, to }),
    note: (n, fx) => {
      if (fx.type === "safe-mode-changed") for (const p of this.nodes) if (p !== n) this.queue.push({ kind: "health", from: n.id, host: p.id, unhealthy: host.unhealthyServices(n.core), safe: host.safeServices(n.core) });
      if (fx.type === "warm-changed" && fx.mine) for (const p of this.nodes) if (p !== n && !this.partitioned(n.id, p.id)) this.queue.push({ kind: "word", host: p.id, service: fx.service, word: fx.word });
      const line = this.effectLine(fx);
      if (line !== null) this.printing.lines.push(line);
    },
  };

  exec(line: string): string[] {
    this.out = [];
    const [cmd, ...args] = line.trim().split(/\s+/);
    const f = COMMANDS[cmd!];
    if (f === undefined) throw new Error(`unknown command ${cmd}`);
    if (cmd !== "hosts") assert(this.nodes.length > 0, "start with `hosts N`");
    f(this, args);
    return this.out;
  }

  private emit(who: string, what: string): void {
    this.out.push(`${this.nowMs}ms ${who}: ${what}`);
  }

  node(name: string): Node {
    const n = this.nodes.find((x) => x.id === name);
    if (n === undefined) throw new Error(`no host ${name}`);
    return n;
  }

  // ------------------------------------------------------------ network

  private partitioned(a: HostId, b: HostId): boolean {
    return a !== b && this.groups !== null && !this.groups.some((g) => g.includes(a) && g.includes(b));
  }

  /** Where a message goes: on the wire (delivered in this drain), held, or lost. */
  private route(from: HostId, to: HostId, msg: HostMsg): "sent" | "lost" | "held" | "down" {
    if (!this.node(to).up) return "down";
    if (this.partitioned(from, to) || this.drops.some((r) => matchRule(r, from, to, msg))) return "lost";
    if (this.holds.some((r) => matchRule(r, from, to, msg))) {
      this.heldMsgs.push({ from, to, msg });
      return "held";
    }
    this.queue.push({ kind: "msg", from, to, msg });
    return "sent";
  }

  /** A send effect: routed, and gathered for printing with the same content's other sends. */
  private sendPrinted(n: Node, to: HostId, msg: HostMsg): void {
    const status = this.route(n.id, to, msg);
    if (!this.shown.has(msg.type as Category)) return;
    const key = describeMsg(msg);
    let g = this.printing.sends.get(key);
    if (g === undefined) {
      g = { to: [], notes: new Map() };
      this.printing.sends.set(key, g);
      this.printing.lines.push({ key });
    }
    g.to.push(to);
    if (status !== "sent") g.notes.set(status, [...(g.notes.get(status) ?? []), to]);
  }

  // ------------------------------------------------------------ the shell

  /** One event into a host core; its effects carried out as the agent's shell would, and printed. */
  private apply(n: Node, ev: HostEvent): void {
    assert(n.up, "only an up host handles events");
    let before: HostState;
    let effects: HostEffect[];
    try {
      ({ before, effects } = n.step(ev, n.clockMs));
    } catch (e) {
      throw new Error(`${n.id}'s core failed at ${this.nowMs}ms on ${ev.type}: ${(e as Error).message}`, { cause: e });
    }
    this.printing = { sends: new Map(), lines: [] };
    carryEffects(n, effects, this.ports);
    this.printEffects(n, this.printing);
    this.printDecisions(n, before);
    this.checkHolders();
  }

  private printEffects(n: Node, p: Printing): void {
    for (const line of p.lines) {
      if (typeof line === "string") {
        this.emit(n.id, line);
        continue;
      }
      const g = p.sends.get(line.key)!;
      const notes = [...g.notes].map(([k, v]) => `${k}: ${v.join(",")}`);
      this.emit(n.id, `-> ${g.to.join(",")} ${line.key}${notes.length > 0 ? ` (${notes.join("; ")})` : ""}`);
    }
  }

  /** Role changes, and decisions that change no effect but the story turns on. */
  private printDecisions(n: Node, before: HostState): void {
    for (const [name, q] of Object.entries(n.core.services)) {
      const was = before.services[name]!;
      if (was.role !== q.role) this.emit(n.id, `role ${was.role} -> ${q.role}`);
      if ((was.kernelLeaseUntilMs > 0) !== (q.kernelLeaseUntilMs > 0)) this.emit(n.id, q.kernelLeaseUntilMs > 0 ? "kernel lease on" : "kernel lease off");
      if (q.standAsideUntilMs > was.standAsideUntilMs) this.emit(n.id, `stands aside: no renewals for ${q.standAsideUntilMs - n.clockMs}ms`);
      if (q.gaveUpEpoch !== was.gaveUpEpoch) this.emit(n.id, `gives up epoch ${q.gaveUpEpoch}: no renewals in it`);
      if (q.pendingProposal !== null && q.pendingProposal !== was.pendingProposal) this.emit(n.id, `keeps e=${q.pendingProposal.epoch} holder=${q.pendingProposal.holder} pending: ${pendingWhy(q, n.clockMs)}`);
    }
  }

  /** What a non-send effect prints (the shell carried it already), or null. */
  private effectLine(fx: Exclude<HostEffect, { type: "send" }>): string | null {
    const shown = this.shown;
    switch (fx.type) {
      case "persist":
        return shown.has("persist") ? `persist ${describeRecord(fx.record)}` : null;
      case "kernel-lease":
        return shown.has("kernel") ? `kernel-lease ${fx.untilMs === null ? "off" : `until ${fx.untilMs}ms`}` : null;
      case "take-vip":
        return `take-vip e=${fx.epoch} reason=${fx.reason}`;
      case "drop-vip":
        return `drop-vip e=${fx.epoch} why=${fx.why}`;
      case "run-hook":
        return shown.has("hooks") ? `run-hook ${fx.hook} e=${fx.epoch}` : null;
      case "reconcile":
        return shown.has("hooks") ? `reconcile e=${fx.epoch}` : null;
      case "certified":
        return `certified ${describeCert(fx.cert)}`;
      case "move-abandoned":
        return `move-abandoned e=${fx.epoch}`;
      case "alarm":
        return `ALARM ${fx.alarm} e=${fx.epoch} attempts=${fx.attempts}${fx.error === null ? "" : ` error="${fx.error}"`}`;
      case "member-changed":
        return shown.has("members") ? `sees ${fx.id} ${fx.status}/${fx.incarnation}` : null;
      case "rtt-measured":
        return shown.has("rtt") ? `rtt ${fx.id} ${fx.rttMs}ms` : null;
      case "predicted-changed":
        return `predicted [${fx.predicted.join(",")}]`;
      case "move-predicted":
        return `move-predicted to=${fx.to} ${fx.cause === "anomaly" ? "anomaly" : `p=${fx.probability}`}`;
      case "health-changed":
        return fx.healthy ? "healthy" : `unhealthy: ${fx.why}`;
      case "diagnose":
        return `diagnose run=${fx.seq}`;
      case "safe-mode-changed":
        return `safe mode ${fx.on ? "on" : "off"}: ${fx.why}`;
      case "pool":
        return `pool [${fx.hosts.join(",")}]: ${fx.why}`;
      case "migrate":
        return `migrate ${fx.workload} ${fx.from}->${fx.to} e=${fx.epoch}: ${fx.why}`;
      case "warm-changed":
        return fx.mine ? `warm [${fx.word.warm.join(",")}] e${fx.word.epoch}.${fx.word.seq}: ${fx.why}` : null;
      case "standings-changed":
      case "votes-changed":
        return null; // the order's own line says it
      case "order-applied":
        return fx.repeat ? null : `order ${fx.order.action}${fx.order.target === null ? "" : ` ${fx.order.target}`}: ${fx.outcome}`;
      // Transcripts make no state writes; a replica's sync status is shown with the replication stories, not here.
      case "request-durable":
      case "write-acked":
      case "write-failed":
      case "sync-status-changed":
        return null;
      default:
        return assertNever(fx);
    }
  }

  /** The kernel starts a VIP change; its outcome comes back now (auto-vip) or on vip-done/vip-fail. */
  private actuate(n: Node, service: string, op: VipOp, epoch: number): void {
    if (!this.autoVip) {
      n.pendingVip.push({ op, epoch, service });
      return;
    }
    const ok = n.failNext[op] === 0;
    if (!ok) n.failNext[op] -= 1;
    this.queue.push({ kind: "vip", host: n.id, boot: n.boot, service, op, epoch, ok });
  }

  private vipOutcome(n: Node, service: string, op: VipOp, epoch: number, ok: boolean): void {
    n.kernelDone(service, op, ok);
    this.emit(n.id, `kernel ${op} e=${epoch} ${ok ? "done" : "FAILED"}, VIP ${n.hasVip ? "present" : "absent"}`);
    this.apply(n, vipChanged(service, op, epoch, ok, VIP_ERROR));
  }

  /** Delivers everything in flight, and everything that sends, in order. */
  private drain(): void {
    for (let k = 0; this.queue.length > 0; k++) {
      assert(k < DRAIN_EVENTS_MAX, "the network quiets down (DRAIN_EVENTS_MAX)");
      const it = this.queue.shift()!;
      const n = this.node(it.kind === "msg" ? it.to : it.host);
      if (n.up && n.paused) {
        n.parked.push(it);
        continue;
      }
      switch (it.kind) {
        case "msg":
          if (n.up) this.apply(n, { type: "received", from: it.from, msg: it.msg });
          break;
        case "vip":
          if (n.up && n.boot === it.boot) this.vipOutcome(n, it.service, it.op, it.epoch, it.ok);
          break;
        case "hook":
          if (!n.up || n.boot !== it.boot) break;
          {
            const fail = (n.failHooks.get(it.hook) ?? 0) > 0;
            if (fail) {
              n.failHooks.set(it.hook, n.failHooks.get(it.hook)! - 1);
              this.emit(n.id, `hook ${it.hook} e=${it.epoch} FAILED`);
            }
            this.apply(n, hookFinished(it.service, it.hook, fail ? "transcript: failing" : "transcript", it.epoch, !fail));
          }
          break;
        case "lease":
          if (n.up && n.boot === it.boot) this.apply(n, kernelLeased(it.service, it.seq));
          break;
        case "diagnose":
          if (!n.up || n.boot !== it.boot) break;
          this.emit(n.id, `diagnostics run=${it.seq} ${n.diagFail ? "FAILED" : "passed"}`);
          this.apply(n, diagnosed(it.service, it.seq, !n.diagFail));
          break;
        case "health":
          if (n.up) this.apply(n, { type: "peer-health", host: it.from, unhealthy: it.unhealthy, safe: it.safe });
          break;
        case "migrate":
          if (n.up && n.boot === it.boot) this.migrated(n, it.workload, it.to);
          break;
        case "docs":
          if (n.up) this.readDoc(n);
          break;
        case "word":
          if (n.up) this.apply(n, { type: "warm-word", service: it.service, word: it.word });
          break;
        default:
          assertNever(it);
      }
    }
  }

  /** The rule the whole driver exists to watch: at most one host answers for the VIP (configured in its kernel and under its kernel lease), its agent running or not. */
  private checkHolders(): void {
    const holders = this.nodes.filter((n) => n.answering(SERVICE, n.clockMs)).map((n) => n.id);
    const same = holders.length === this.holdersSeen.length && holders.every((h, j) => h === this.holdersSeen[j]);
    if (!same && holders.length >= 2) {
      this.out.push(`!! TWO HOLDERS: ${holders.join(" ")}`);
      if (this.twoSinceMs === null) this.twoSinceMs = this.nowMs;
    }
    if (holders.length < 2 && this.twoSinceMs !== null) {
      this.out.push(`!! two holders for ${this.nowMs - this.twoSinceMs}ms`);
      this.twoSinceMs = null;
    }
    this.holdersSeen = holders;
  }

  /** The agent goes down: crashed (its VIP goes with it, as the restarted agent or `umbra release` would see to) or killed (the kernel keeps the VIP, fenced once its kernel lease ends). */
  private down(n: Node, why: string, killed = false): void {
    assert(n.up, `${n.id} is up`);
    const hadVip = n.hasVip;
    if (killed) n.kill();
    else n.crash();
    n.pendingVip = [];
    n.paused = false;
    n.parked = [];
    this.emit(n.id, `${why}${!hadVip ? "" : killed ? " (its kernel keeps the VIP; the kernel lease fences it)" : " (its VIP goes with it)"}`);
    this.checkHolders();
  }

  // ------------------------------------------------------------ commands

  hosts(args: string[]): void {
    assert(this.nodes.length === 0, "hosts once, first");
    const count = Number(args[0]);
    assert(Number.isInteger(count) && count >= 1 && count <= HOSTS_MAX, `1..${HOSTS_MAX} hosts`);
    const kv = keyValues(args.slice(1));
    const profileName = kv.timing ?? "lan";
    this.variant = (kv.variant ?? "correct") as Variant;
    assert(VARIANTS.includes(this.variant), `variant is one of ${VARIANTS.join(", ")}`);
    assert(profileName in PROFILES, `timing is one of ${Object.keys(PROFILES).join(", ")}`);
    const p = PROFILES[profileName as ProfileName];
    this.tickMs = p.tickMs;
    const ids = Array.from({ length: count }, (_, j) => hostId(`n${j + 1}`));
    const list = (s: string | undefined): HostId[] => (s === undefined ? ids : s.split(",").map(hostId));
    const voters = list(kv.voters);
    const candidates = list(kv.candidates);
    const moveBackAfterMs = kv.moveback === undefined ? 0 : duration(kv.moveback);
    const swapEveryMs = kv.swap === undefined ? 0 : duration(kv.swap);
    const maxActive = kv.scale === undefined ? 0 : Number(kv.scale);
    const scaling = maxActive === 0 ? undefined : { metric: "cpuLoad", threshold: 0.8, lowThreshold: 0.5, cooldownMs: 500, maxActive, staleMs: 60_000 };
    const workloads = kv.workloads === undefined ? 0 : Number(kv.workloads);
    assert(Number.isInteger(workloads) && workloads >= 0 && workloads <= 64, "workloads is 0..64");
    for (let j = 1; j <= workloads; j++) this.workloads.set(`w${j}`, candidates[0]!);
    assert(kv["moveback-window"] === undefined || kv["moveback-window"] === "on", "moveback-window=on or nothing");
    const minWarm = kv.count === undefined ? 0 : Number(kv.count);
    assert(Number.isInteger(minWarm) && minWarm >= 0 && minWarm < count, "count is 0 (off) .. hosts - 1");
    const shadowCount = minWarm === 0 ? undefined : { min: minWarm, max: count - 1, load: 0.8, band: 0.3, cooldownMs: 500, staleMs: 60_000, reserve: {}, metric: "cpuLoad", initial: candidates.slice(1) };
    const services = { names: [SERVICE], candidates, voters, ackShadows: 1, moveBackAfterMs, swapEveryMs, moveBackInWindow: kv["moveback-window"] === "on", scaling, shadowCount, ...(workloads > 0 ? { migrate: { by: null } } : {}) };
    assert(kv.fence === undefined || kv.fence === "on" || kv.fence === "off", "fence is on or off");
    const fenced = kv.fence !== "off";
    this.configFor = (id, boot) => ({ ...simHostConfig(id, ids, boot, services, p, p), fenced });
    const configFor = (id: HostId, boot: number): HostConfig => this.configFor(id, boot);
    const stepper: Stepper = (s, ev, t) => stepAs(this.variant, s, ev, t);
    this.nodes = ids.map((id) => new Node(id, configFor, stepper, this.nowMs));
    const broken = this.variant === "correct" ? "" : `, BROKEN core: ${this.variant}`;
    this.out.push(`${count} hosts, timing ${profileName} (tick ${this.tickMs}ms, lease ${p.leaseMs}ms)${fenced ? "" : ", no fence"}, service ${SERVICE}: candidates ${candidates.join(",")}, voters ${voters.join(",")}${broken}`);
    for (const n of this.nodes) this.readDoc(n);
  }

  /** A host's shell reads the document's workloads (at start, and when they changed). */
  private readDoc(n: Node): void {
    if (this.workloads.size === 0) return;
    this.apply(n, { type: "workloads", service: SERVICE, workloads: [...this.workloads].map(([id, h]) => ({ id, host: h, requirements: {} })) });
  }

  /** A workload's move: the hook runs (failing as fail-hook says), the document records it and every host's shell reads it, then the mover hears the outcome. */
  private migrated(n: Node, workload: string, to: HostId): void {
    const fail = (n.failHooks.get("migrate") ?? 0) > 0;
    if (fail) {
      n.failHooks.set("migrate", n.failHooks.get("migrate")! - 1);
      this.emit(n.id, `hook migrate ${workload} FAILED`);
    } else {
      this.workloads.set(workload, to);
      this.emit(n.id, `document: ${workload} on ${to}`);
      for (const p of this.nodes) if (p !== n) this.queue.push({ kind: "docs", host: p.id });
      this.readDoc(n);
    }
    this.apply(n, { type: "migrated", service: SERVICE, workload, to, ok: !fail, detail: fail ? "transcript: failing" : "transcript" });
  }

  /** `workloads`: where each runs. */
  listWorkloads(): void {
    const by = new Map<HostId, string[]>();
    for (const [w, h] of this.workloads) by.set(h, [...(by.get(h) ?? []), w]);
    this.out.push(`workloads: ${[...by].sort(([a], [b]) => (a < b ? -1 : 1)).map(([h, ws]) => `${h} ${ws.join(",")}`).join("; ") || "none"}`);
  }

  tick(args: string[]): void {
    const ms = duration(args[0]);
    assert(ms % this.tickMs === 0, `a multiple of the tick (${this.tickMs}ms)`);
    for (let k = 0; k < ms / this.tickMs; k++) {
      this.nowMs += this.tickMs;
      for (const n of this.nodes) n.clockMs += this.tickMs;
      for (const n of this.nodes) {
        if (!n.up || n.paused) continue;
        this.apply(n, { type: "tick", rand: n.rand });
        this.drain();
      }
    }
    if (this.twoSinceMs !== null) this.out.push(`!! TWO HOLDERS still: ${this.holdersSeen.join(" ")} (for ${this.nowMs - this.twoSinceMs}ms)`);
  }

  drop(args: string[]): void {
    const r = linkRule(args);
    this.drops = this.drops.filter((x) => !sameRule(x, r.rule));
    if (!r.off) this.drops.push(r.rule);
  }

  hold(args: string[]): void {
    if (args[0] === "on" || args[0] === "off") {
      this.holds = args[0] === "on" ? [{ from: "*", to: "*", filter: {} }] : [];
      return;
    }
    const r = linkRule(args);
    this.holds = this.holds.filter((x) => !sameRule(x, r.rule));
    if (!r.off) this.holds.push(r.rule);
  }

  held(): void {
    if (this.heldMsgs.length === 0) this.out.push("nothing held");
    for (const h of this.heldMsgs) this.out.push(`${h.from} -> ${h.to} ${describeMsg(h.msg)}`);
  }

  deliver(args: string[]): void {
    const r = linkRule(args).rule;
    const picked = this.heldMsgs.filter((h) => matchRule(r, h.from, h.to, h.msg));
    this.heldMsgs = this.heldMsgs.filter((h) => !picked.includes(h));
    for (const h of picked) {
      const n = this.node(h.to);
      this.emit(h.from, `-> ${h.to} ${describeMsg(h.msg)} (delivered${n.up ? "" : `, lost: ${h.to} down`})`);
      if (n.up) this.queue.push({ kind: "msg", from: h.from, to: h.to, msg: h.msg });
      this.drain();
    }
    if (picked.length === 0) this.out.push("nothing held matches");
  }

  dropHeld(args: string[]): void {
    const r = linkRule(args).rule;
    const before = this.heldMsgs.length;
    this.heldMsgs = this.heldMsgs.filter((h) => !matchRule(r, h.from, h.to, h.msg));
    this.out.push(`${before - this.heldMsgs.length} held message(s) lost`);
  }

  partition(args: string[]): void {
    const groups = args.join(" ").split("|").map((g) => g.trim().split(/\s+/).filter((x) => x !== "").map((x) => this.node(x).id));
    this.groups = groups;
    this.out.push(`partition ${groups.map((g) => g.join(" ")).join(" | ")}`);
  }

  heal(): void {
    this.groups = null;
    this.drops = [];
    this.out.push("network healed (partition and drops gone; holds stay)");
  }

  crash(args: string[]): void {
    this.down(this.node(args[0]!), "crashed");
  }

  kill(args: string[]): void {
    this.down(this.node(args[0]!), "killed", true);
  }

  wipe(args: string[]): void {
    const n = this.node(args[0]!);
    if (n.up) this.down(n, "crashed");
    n.disk.clear();
    n.safeKept.clear();
    this.emit(n.id, "disk lost");
  }

  restart(args: string[]): void {
    const n = this.node(args[0]!);
    if (n.up) this.down(n, "crashed");
    n.restart(n.clockMs);
    const rec = n.disk.get(SERVICE);
    this.emit(n.id, `restarted, boot ${n.boot}, disk: ${rec === undefined ? "empty" : describeRecord(rec)}${n.safeKept.size === 0 ? "" : `, safe mode (${[...n.safeKept.keys()].join(", ")})`}`);
    for (const [service, why] of n.safeKept) this.apply(n, { type: "safe-mode-restored", service, why });
    this.readDoc(n);
    this.drain();
  }

  /** `load n1 0.9`: n1's own forecast of its load (the scaling metric's p90). */
  load(args: string[]): void {
    const n = this.node(args[0]!);
    const p90 = Number(args[1]);
    const p10 = args[2] === undefined ? p90 : Number(args[2]);
    assert(Number.isFinite(p90) && Number.isFinite(p10), "load HOST P90 [P10]");
    this.apply(n, { type: "forecast-ready", host: n.id, dataMs: n.clockMs, p90: { cpuLoad: p90 }, p10: { cpuLoad: p10 } });
    this.drain();
  }

  /** `fail-hook n1 redirect [count]`: the next count (1) runs of that hook on n1 fail. */
  failHook(args: string[]): void {
    const n = this.node(args[0]!);
    const count = args[2] === undefined ? 1 : Number(args[2]);
    assert(args[1] !== undefined && Number.isInteger(count) && count >= 1, "fail-hook HOST HOOK [count]");
    n.failHooks.set(args[1], count);
  }

  /** `window open|close`: every up host's swap window opens or closes (the shells read their clocks alike). */
  window(args: string[]): void {
    assert(args[0] === "open" || args[0] === "close", "window open|close");
    for (const n of this.nodes) if (n.up && !n.paused) this.apply(n, { type: "swap-window", service: SERVICE, open: args[0] === "open" });
    this.drain();
  }

  /** `diagnostics n1 fail|pass`: n1's diagnostics fail (or pass) from now on. */
  diagnostics(args: string[]): void {
    assert(args[1] === "fail" || args[1] === "pass", "diagnostics HOST fail|pass");
    this.node(args[0]!).diagFail = args[1] === "fail";
  }

  autoVipCmd(args: string[]): void {
    assert(args[0] === "on" || args[0] === "off", "auto-vip on|off");
    this.autoVip = args[0] === "on";
  }

  finishVip(n: Node, ok: boolean): void {
    assert(n.up, `${n.id} is up`);
    const p = n.pendingVip.shift();
    if (p === undefined) {
      this.out.push(`${n.id}: no VIP change pending`);
      return;
    }
    this.vipOutcome(n, p.service, p.op, p.epoch, ok);
    this.drain();
  }

  failVip(args: string[]): void {
    const n = this.node(args[0]!);
    const op = args[1];
    assert(op === "add" || op === "del", "fail-vip HOST add|del [count]");
    n.failNext[op] += args[2] === undefined ? 1 : Number(args[2]);
  }

  move(args: string[]): void {
    const [from, to] = args.filter((a) => a !== "->");
    const n = this.node(from!);
    // An operator's move order that reached only `from` (its passing on to the others is lost).
    const order: OperatorOrder = { nonce: `t${this.orders++}`, action: "move", service: SERVICE, target: this.node(to!).id, expectVotes: null, reason: "transcript", operator: "op", issuedAtMs: this.nowMs };
    this.apply(n, { type: "order", order });
    this.drain();
  }

  order(args: string[]): void {
    const action = args[0] as OrderAction;
    assert(["move", "failover", "standby", "maintenance", "unstandby", "rejoin", "override"].includes(action), "order move HOST | failover | standby|maintenance|unstandby|rejoin HOST | override VOTES");
    const expectVotes = action === "override" ? Number(args[1]) : null;
    const target = args[1] === undefined || action === "override" ? null : this.node(args[1]).id;
    const service = action === "move" || action === "failover" || action === "override" ? SERVICE : null;
    const order: OperatorOrder = { nonce: `t${this.orders++}`, action, service, target, expectVotes, reason: "transcript", operator: "op", issuedAtMs: this.nowMs };
    for (const n of this.nodes) if (n.up && !n.paused) this.apply(n, { type: "order", order });
    this.drain();
  }

  /** `synced A B`: A's replication hears B's copy of the state in sync with its own (what the state channel's exchange reports). */
  synced(args: string[]): void {
    const n = this.node(args[0]!);
    const peer = this.node(args[1]!).id;
    this.apply(n, { type: "peer-synced", service: SERVICE, peer, lagChanges: 0, lagBytes: 0, theyLack: false, weLack: false });
    this.drain();
  }

  forecast(args: string[]): void {
    const n = this.node(args[0]!);
    const about = this.node(args[1]!).id;
    const probability = Number(args[2]);
    assert(probability >= 0 && probability <= 1, "a probability");
    this.apply(n, { type: "forecast-ready", host: about, probability, dataMs: n.clockMs });
    this.drain();
  }

  anomaly(args: string[]): void {
    const n = this.node(args[0]!);
    const about = this.node(args[1]!).id;
    const anomaly = Number(args[2]);
    assert(anomaly >= 0 && anomaly <= 1, "an anomaly score");
    this.apply(n, { type: "forecast-ready", host: about, probability: 0, anomaly, dataMs: n.clockMs });
    this.drain();
  }

  connect(args: string[]): void {
    const [a, b] = [this.node(args[0]!), this.node(args[1]!)];
    if (a.up) this.apply(a, { type: "peer-connected", id: b.id });
    if (b.up) this.apply(b, { type: "peer-connected", id: a.id });
    this.drain();
  }

  rand(args: string[]): void {
    const r = Number(args[1]);
    assert(r >= 0 && r < 1, "rand in [0,1)");
    this.node(args[0]!).rand = r;
  }

  jump(args: string[]): void {
    this.node(args[0]!).clockMs += duration(args[1]);
  }

  pause(args: string[]): void {
    const n = this.node(args[0]!);
    assert(n.up && !n.paused, `${n.id} is up and running`);
    n.paused = true;
    n.pausedAtMs = this.nowMs;
    this.emit(n.id, `agent paused${n.hasVip ? " (its kernel keeps the VIP)" : ""}`);
  }

  resume(args: string[]): void {
    const n = this.node(args[0]!);
    assert(n.up && n.paused, `${n.id} is paused`);
    n.paused = false;
    this.emit(n.id, `agent resumes, ${n.parked.length} message(s) and outcome(s) waiting`);
    // Its loop's turn came late: past the agent's threshold it says so first (agent/loop.ts).
    if (this.nowMs - n.pausedAtMs > LOOP_STALL_WARN_TICKS * this.tickMs) this.apply(n, { type: "loop-stalled" });
    this.queue.unshift(...n.parked);
    n.parked = [];
    this.drain();
  }

  show(args: string[], on: boolean): void {
    for (const c of categories(args)) {
      if (on) this.shown.add(c);
      else this.shown.delete(c);
    }
  }

  status(): void {
    for (const n of this.nodes) this.out.push(statusLine(n, this.nowMs));
  }

  members(): void {
    for (const n of this.nodes) {
      if (!n.up) {
        this.out.push(`${n.id}: down`);
        continue;
      }
      const view = host.aliveHosts(n.core);
      const ms = Object.entries(n.core.members.view).map(([id, m]) => `${id} ${m.status}/${m.incarnation}`);
      this.out.push(`${n.id} (inc ${n.core.members.incarnation}): ${ms.join(", ")}; ranks ${view.join(",")}`);
    }
  }
}

// ------------------------------------------------------------ printing

function statusLine(n: Node, nowMs: number): string {
  const head = `${n.id} ${n.up ? (n.paused ? "PAUSED" : "up") : "DOWN"} boot=${n.boot} kernel=${!n.hasVip ? "-" : n.answering(SERVICE, n.clockMs) ? "VIP" : "VIP fenced"}`;
  if (!n.up) return head;
  const q = n.core.services[SERVICE]!;
  const t = n.clockMs;
  const parts = [head, `${q.role} e=${q.epoch} holder=${q.holder ?? "-"} voted=${q.votedEpoch}/${q.votedHolder ?? "-"} vipUp=${q.vipUp ? "yes" : "no"}`];
  if (host.leaseValid(n.core, SERVICE, t)) parts.push(`lease=+${q.leaseUntilMs - t}ms`);
  if (q.grantUntilMs > t) parts.push(`grant=e${q.grantEpoch}:${q.grantHolder ?? "-"}+${q.grantUntilMs - t}ms`);
  if (q.noVoteBeforeMs > t) parts.push(`novote=+${q.noVoteBeforeMs - t}ms`);
  if (q.stalledUntilMs > t) parts.push(`stalled=+${q.stalledUntilMs - t}ms`);
  if (q.proposal !== null) parts.push(`proposing=e${q.proposal.epoch}:${q.proposal.holder}/${q.proposal.reason}`);
  if (q.pendingProposal !== null) parts.push(`pending=e${q.pendingProposal.epoch}:${q.pendingProposal.holder}/${q.pendingProposal.reason}`);
  if (q.holder === q.config.self && q.standAsideUntilMs > t) parts.push(`aside=+${q.standAsideUntilMs - t}ms`);
  const safe = host.safeModeOf(n.core, SERVICE);
  if (safe !== null && safe.why !== null) parts.push(`SAFE(${safe.running ? "diagnosing" : safe.retryAtMs === null ? "due" : `again in ${safe.retryAtMs - t}ms`})`);
  if (q.excluded.length > 0) parts.push(`excluded=${q.excluded.join(",")}`);
  if (q.cold.length > 0) parts.push(`cold=${q.cold.join(",")}`);
  if (n.clockMs !== nowMs) parts.push(`clock=${n.clockMs}`);
  return parts.join(" ");
}

/** Why a voter holds a proposal back instead of voting (mayVoteNow's conditions, as the status reads them). */
function pendingWhy(q: QuorumState, t: number): string {
  if (t < q.noVoteBeforeMs) return `restart wait, ${q.noVoteBeforeMs - t}ms left`;
  if (t < q.grantUntilMs) return `its grant in e${q.grantEpoch} runs ${q.grantUntilMs - t}ms more`;
  if (t < q.stalledUntilMs) return `it just woke from a stall, ${q.stalledUntilMs - t}ms left`;
  return "the holder is still seen";
}

function describeCert(c: Certificate): string {
  return `e=${c.epoch} holder=${c.holder} from=${c.from ?? "-"} reason=${c.reason} votes=${c.votes.map((v) => v.voter).join(",")}`;
}

function describeRecord(r: Persisted): string {
  return `e=${r.epoch} holder=${r.holder ?? "-"} voted=${r.votedEpoch}/${r.votedHolder ?? "-"}`;
}

/** One message in a line; what identifies the message, not every field. */
export function describeMsg(m: HostMsg): string {
  const boot = (b: number): string => (b === 1 ? "" : ` boot=${b}`);
  switch (m.type) {
    case "propose":
      return `propose e=${m.epoch} holder=${m.holder} from=${m.from ?? "-"} reason=${m.reason}${boot(m.boot)}`;
    case "vote":
      return `vote e=${m.epoch} holder=${m.holder}${boot(m.boot)}`;
    case "reject":
      return `reject e=${m.epoch} voted=${m.votedEpoch}`;
    case "certificate":
      return `certificate e=${m.cert.epoch} holder=${m.cert.holder} reason=${m.cert.reason}${m.inPerson ? " IN-PERSON" : ""}`;
    case "renew":
      return `renew e=${m.epoch} seq=${m.seq} boot=${m.boot}`;
    case "grant":
      return `grant e=${m.epoch} seq=${m.seq} boot=${m.boot}`;
    case "lapsed":
      return `lapsed e=${m.epoch} seq=${m.seq} boot=${m.boot}`;
    case "lapsed-ack":
      return `lapsed-ack e=${m.epoch} seq=${m.seq} boot=${m.boot}`;
    case "cert-request":
      return `cert-request e=${m.epoch}`;
    case "ping":
    case "ack":
    case "ping-req": {
      const target = m.type === "ping-req" ? ` target=${m.target}` : "";
      const updates = m.updates.map((u) => `${u.id} ${u.status}/${u.incarnation}`).join(", ");
      return `${m.type} seq=${m.seq}${target}${updates === "" ? "" : ` [${updates}]`}`;
    }
    default:
      return assertNever(m);
  }
}

// ------------------------------------------------------------ parsing

function matchHost(pattern: string, id: HostId): boolean {
  return pattern === "*" || pattern.split(",").includes(id);
}

/** Whether a rule covers a message on a link; wildcards leave a host's loopback to itself alone. */
function matchRule(r: Rule, from: HostId, to: HostId, msg: HostMsg): boolean {
  if (from === to && (r.from === "*" || r.to === "*")) return false;
  return matchHost(r.from, from) && matchHost(r.to, to) && matchFilter(msg, r.filter);
}

/** A message matches when every key=value does: `type` (a comma list), `e`/`epoch` (a certificate's too), or any top-level field. */
function matchFilter(m: HostMsg, f: Filter): boolean {
  for (const [k, v] of Object.entries(f)) {
    if (k === "type") {
      if (!v.split(",").includes(m.type)) return false;
      continue;
    }
    const rec = m as unknown as Record<string, unknown>;
    const field = k === "e" || k === "epoch" ? (m.type === "certificate" ? m.cert.epoch : rec.epoch) : rec[k];
    if (String(field) !== v) return false;
  }
  return true;
}

/** `A->B [k=v ...] [off]`, also written `A -> B`. */
function linkRule(args: string[]): { rule: Rule; off: boolean } {
  const joined = args.join(" ").replace(/\s*->\s*/, "->");
  const parts = joined.split(/\s+/);
  const link = parts[0] ?? "";
  const m = /^([\w,*]+)->([\w,*]+)$/.exec(link);
  if (m === null) throw new Error(`expected A->B, got "${link}"`);
  const rest = parts.slice(1);
  const off = rest[rest.length - 1] === "off";
  return { rule: { from: m[1]!, to: m[2]!, filter: keyValues(off ? rest.slice(0, -1) : rest) }, off };
}

function sameRule(a: Rule, b: Rule): boolean {
  return a.from === b.from && a.to === b.to && JSON.stringify(a.filter) === JSON.stringify(b.filter);
}

function keyValues(args: string[]): Record<string, string> {
  const kv: Record<string, string> = {};
  for (const a of args) {
    const j = a.indexOf("=");
    if (j <= 0) throw new Error(`expected key=value, got "${a}"`);
    kv[a.slice(0, j)] = a.slice(j + 1);
  }
  return kv;
}

function duration(s: string | undefined): number {
  const m = /^(\d+)(ms|s)$/.exec(s ?? "");
  if (m === null) throw new Error(`expected a duration like 50ms or 2s, got "${s}"`);
  return Number(m[1]) * (m[2] === "s" ? 1000 : 1);
}

function categories(args: string[]): Category[] {
  const cs: Category[] = [];
  for (const a of args) {
    if (a === "all") cs.push(...CATEGORIES);
    else if (a === "swim") cs.push("ping", "ack", "ping-req");
    else if ((CATEGORIES as readonly string[]).includes(a)) cs.push(a as Category);
    else throw new Error(`unknown output category ${a} (one of ${CATEGORIES.join(", ")}, swim, all)`);
  }
  return cs;
}


