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
//   hosts 3 [timing=lan] [voters=n1,n2,n3] [candidates=n1,n3,n2] [variant=planned-vote]
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
//   auto-vip on|off                VIP changes complete at once (default) or wait for:
//   vip-done n1 | vip-fail n1      the oldest pending VIP change of n1 succeeds / fails
//   fail-vip n2 del|add [count]    the next count (1) changes of that kind on n2 fail
//   move n1 -> n2                  an operator asks n1 to hand the service to n2 in person
//   forecast n3 n1 1.0             n3's forecast of n1's exhaustion probability
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
import { PROFILES } from "../shared/config.ts";
import type { HostId } from "../shared/ids.ts";
import * as host from "../decide/host.ts";
import { stepAs, VARIANTS, type Variant } from "./cluster.ts";
import type { HostConfig, HostEffect, HostEvent, HostMsg, HostState, HostTiming } from "../decide/host.ts";
import type { Certificate, Persisted, QuorumState } from "../decide/quorum.ts";

/** The one service every transcript runs. */
export const SERVICE = "web";
/** Events handled in one drain before the driver calls it a livelock: every message is a reaction, so a real run ends far below. */
const DRAIN_EVENTS_MAX = 100_000;
/** Most hosts a transcript may start. */
const HOSTS_MAX = 9;
/** Proactive moves: a forecast counts at once, and is news for a second (as in the simulator). */
const PROACTIVE = { threshold: 0.8, sustainMs: 0, staleMs: 1_000, cooldownMs: 2_000 };
const VIP_ERROR = "RTNETLINK answers: Operation not permitted (transcript)";

/** Output categories; `show`/`hide` toggle them. Message categories are the message types. */
const CATEGORIES = ["propose", "vote", "reject", "certificate", "cert-request", "renew", "grant", "ping", "ack", "ping-req", "persist", "members", "rtt", "hooks"] as const;
type Category = (typeof CATEGORIES)[number];
const SHOWN_BY_DEFAULT: readonly Category[] = ["propose", "vote", "reject", "certificate", "cert-request", "persist"];

type Filter = Record<string, string>;
/** A one-way link rule; `*` matches any host but never a host's loopback to itself. */
type Rule = { from: string; to: string; filter: Filter };

type Node = {
  id: HostId;
  up: boolean;
  /** The host core as the agent's loop holds it. */
  core: HostState;
  /** Process incarnation: each restart takes the next. */
  boot: number;
  /** What the host wrote durably: all a crash leaves (a wipe loses it too). */
  disk: Record<string, Persisted>;
  /** Its own clock; runs on while the host is down. */
  clockMs: number;
  /** The kernel: the VIP is configured here (from the start of an add to a done removal). */
  vip: boolean;
  /** VIP changes asked for and not yet answered (auto-vip off), oldest first. */
  pendingVip: Array<{ op: "add" | "del"; epoch: number; service: string }>;
  /** The next changes of each kind that fail. */
  failNext: { add: number; del: number };
  /** The rand every tick of this host carries. */
  rand: number;
  /** The agent is frozen: no ticks; what reaches it (messages, VIP outcomes) waits in `parked`, its kernel keeps the VIP. */
  paused: boolean;
  parked: Item[];
};

type Item =
  | { kind: "msg"; from: HostId; to: HostId; msg: HostMsg }
  | { kind: "vip"; host: HostId; boot: number; service: string; op: "add" | "del"; epoch: number; ok: boolean }
  | { kind: "hook"; host: HostId; boot: number; service: string; hook: host.HookName };

type World = { exec(line: string): string[] };

/** Runs every command block of a transcript; returns the text with each block's output replaced by what the commands printed now. */
export function runTranscript(text: string, file = "<transcript>"): string {
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const out: string[] = [];
  const world = createWorld();
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
    const printed: string[] = [];
    for (const c of commands) {
      try {
        printed.push(...world.exec(c.text));
      } catch (e) {
        const err = e as Error;
        throw new Error(`${file}:${c.lineNo}: ${c.text}: ${err.message}`, { cause: err });
      }
    }
    out.push(...commands.map((c) => c.text), "----", ...(printed.length > 0 ? printed : ["ok"]));
  }
  return out.join("\n") + "\n";
}

function createWorld(): World {
  let nodes: Node[] = [];
  let tickMs = 0;
  let configFor: (id: HostId, boot: number) => HostConfig = () => {
    throw new Error("no hosts yet: start with `hosts N`");
  };
  /** Virtual time: every host's clock moves on with it. */
  let nowMs = 0;
  let autoVip = true;
  let groups: HostId[][] | null = null;
  let drops: Rule[] = [];
  let holds: Rule[] = [];
  let held: Array<{ from: HostId; to: HostId; msg: HostMsg }> = [];
  const queue: Item[] = [];
  const shown = new Set<Category>(SHOWN_BY_DEFAULT);
  /** The hosts with the VIP when it was last checked, and since when two or more have had it. */
  let holdersSeen: HostId[] = [];
  let twoSinceMs: number | null = null;
  let out: string[] = [];

  const emit = (who: string, what: string): void => {
    out.push(`${nowMs}ms ${who}: ${what}`);
  };
  const node = (name: string): Node => {
    const n = nodes.find((x) => x.id === name);
    if (n === undefined) throw new Error(`no host ${name}`);
    return n;
  };

  // ------------------------------------------------------------ network

  const matchHost = (pattern: string, id: HostId): boolean => pattern === "*" || pattern.split(",").includes(id);
  const matchRule = (r: Rule, from: HostId, to: HostId, msg: HostMsg): boolean => {
    if (from === to && (r.from === "*" || r.to === "*")) return false; // wildcards leave the loopback alone
    return matchHost(r.from, from) && matchHost(r.to, to) && matchFilter(msg, r.filter);
  };
  const partitioned = (a: HostId, b: HostId): boolean => a !== b && groups !== null && !groups.some((g) => g.includes(a) && g.includes(b));

  /** Where a message goes: on the wire (delivered in this drain), held, or lost. */
  const route = (from: HostId, to: HostId, msg: HostMsg): "sent" | "lost" | "held" | "down" => {
    if (!node(to).up) return "down";
    if (partitioned(from, to) || drops.some((r) => matchRule(r, from, to, msg))) return "lost";
    if (holds.some((r) => matchRule(r, from, to, msg))) {
      held.push({ from, to, msg });
      return "held";
    }
    queue.push({ kind: "msg", from, to, msg });
    return "sent";
  };

  // ------------------------------------------------------------ the shell

  /** One event into a host core; its effects carried out as the agent's shell would, and printed. */
  const apply = (n: Node, ev: HostEvent): void => {
    assert(n.up, "only an up host handles events");
    const before = n.core;
    let next: host.HostStep;
    try {
      next = stepAs(variant, before, ev, n.clockMs);
    } catch (e) {
      throw new Error(`${n.id}'s core failed at ${nowMs}ms on ${ev.type}: ${(e as Error).message}`, { cause: e });
    }
    n.core = next.state;
    // Sends to several hosts with the same content print as one line.
    const sends = new Map<string, { to: string[]; notes: Map<string, string[]> }>();
    const printed: Array<string | { key: string }> = [];
    for (const fx of next.effects) {
      if (fx.type === "send") {
        const status = route(n.id, fx.to, fx.msg);
        const category = fx.msg.type as Category;
        if (!shown.has(category)) continue;
        const key = describeMsg(fx.msg);
        let g = sends.get(key);
        if (g === undefined) {
          g = { to: [], notes: new Map() };
          sends.set(key, g);
          printed.push({ key });
        }
        g.to.push(fx.to);
        if (status !== "sent") g.notes.set(status, [...(g.notes.get(status) ?? []), fx.to]);
        continue;
      }
      const line = effect(n, fx);
      if (line !== null) printed.push(line);
    }
    for (const p of printed) {
      if (typeof p === "string") {
        emit(n.id, p);
        continue;
      }
      const g = sends.get(p.key)!;
      const notes = [...g.notes].map(([k, v]) => `${k}: ${v.join(",")}`);
      emit(n.id, `-> ${g.to.join(",")} ${p.key}${notes.length > 0 ? ` (${notes.join("; ")})` : ""}`);
    }
    for (const [name, q] of Object.entries(n.core.services)) {
      const was = before.services[name]!;
      if (was.role !== q.role) emit(n.id, `role ${was.role} -> ${q.role}`);
      // Decisions that change no effect but the story turns on.
      if (q.standAsideUntilMs > was.standAsideUntilMs) emit(n.id, `stands aside: no renewals for ${q.standAsideUntilMs - n.clockMs}ms`);
      if (q.gaveUpEpoch !== was.gaveUpEpoch) emit(n.id, `gives up epoch ${q.gaveUpEpoch}: no renewals in it`);
      if (q.pendingProposal !== null && q.pendingProposal !== was.pendingProposal) emit(n.id, `keeps e=${q.pendingProposal.epoch} holder=${q.pendingProposal.holder} pending: ${pendingWhy(q, n.clockMs)}`);
    }
    checkHolders();
  };

  /** Carries out one non-send effect; returns what to print, or null. */
  const effect = (n: Node, fx: Exclude<HostEffect, { type: "send" }>): string | null => {
    switch (fx.type) {
      case "persist":
        n.disk[fx.service] = fx.record;
        return shown.has("persist") ? `persist ${describeRecord(fx.record)}` : null;
      case "take-vip":
        n.vip = true; // configured from the moment the add starts
        actuate(n, fx.service, "add", fx.epoch);
        return `take-vip e=${fx.epoch} reason=${fx.reason}`;
      case "drop-vip":
        actuate(n, fx.service, "del", fx.epoch);
        return `drop-vip e=${fx.epoch} why=${fx.why}`;
      case "run-hook":
        queue.push({ kind: "hook", host: n.id, boot: n.boot, service: fx.service, hook: fx.hook });
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
        return `move-predicted to=${fx.to} p=${fx.probability}`;
      // Transcripts make no state writes; a replica's sync status is shown with the replication stories, not here.
      case "request-durable":
      case "write-acked":
      case "write-failed":
      case "sync-status-changed":
        return null;
      default:
        return assertNever(fx);
    }
  };

  /** The kernel starts a VIP change; its outcome comes back now (auto-vip) or on vip-done/vip-fail. */
  const actuate = (n: Node, service: string, op: "add" | "del", epoch: number): void => {
    if (!autoVip) {
      n.pendingVip.push({ op, epoch, service });
      return;
    }
    const ok = n.failNext[op] === 0;
    if (!ok) n.failNext[op] -= 1;
    queue.push({ kind: "vip", host: n.id, boot: n.boot, service, op, epoch, ok });
  };

  const vipOutcome = (n: Node, service: string, op: "add" | "del", epoch: number, ok: boolean): void => {
    if (op === "del" && ok) n.vip = false;
    emit(n.id, `kernel ${op} e=${epoch} ${ok ? "done" : "FAILED"}, VIP ${n.vip ? "present" : "absent"}`);
    apply(n, { type: "vip-changed", service, op, epoch, ok, error: ok ? null : VIP_ERROR });
  };

  /** Delivers everything in flight, and everything that sends, in order. */
  const drain = (): void => {
    for (let k = 0; queue.length > 0; k++) {
      assert(k < DRAIN_EVENTS_MAX, "the network quiets down (DRAIN_EVENTS_MAX)");
      const it = queue.shift()!;
      const to = node(it.kind === "msg" ? it.to : it.host);
      if (to.up && to.paused) {
        to.parked.push(it);
        continue;
      }
      switch (it.kind) {
        case "msg": {
          const n = node(it.to);
          if (n.up) apply(n, { type: "received", from: it.from, msg: it.msg });
          break;
        }
        case "vip": {
          const n = node(it.host);
          if (n.up && n.boot === it.boot) vipOutcome(n, it.service, it.op, it.epoch, it.ok);
          break;
        }
        case "hook": {
          const n = node(it.host);
          if (n.up && n.boot === it.boot) apply(n, { type: "hook-finished", service: it.service, hook: it.hook, ok: true, detail: "transcript" });
          break;
        }
        default:
          assertNever(it);
      }
    }
  };

  /** The rule the whole driver exists to watch: at most one up host has the VIP in its kernel. */
  const checkHolders = (): void => {
    const holders = nodes.filter((n) => n.up && n.vip).map((n) => n.id);
    const same = holders.length === holdersSeen.length && holders.every((h, j) => h === holdersSeen[j]);
    if (!same && holders.length >= 2) {
      out.push(`!! TWO HOLDERS: ${holders.join(" ")}`);
      if (twoSinceMs === null) twoSinceMs = nowMs;
    }
    if (holders.length < 2 && twoSinceMs !== null) {
      out.push(`!! two holders for ${nowMs - twoSinceMs}ms`);
      twoSinceMs = null;
    }
    holdersSeen = holders;
  };

  const down = (n: Node, why: string): void => {
    assert(n.up, `${n.id} is up`);
    n.up = false;
    const hadVip = n.vip;
    n.vip = false; // a crashed host's VIP goes with it (the agent removes stale ones at start)
    n.pendingVip = [];
    n.paused = false;
    n.parked = [];
    emit(n.id, `${why}${hadVip ? " (its VIP goes with it)" : ""}`);
    checkHolders();
  };

  // ------------------------------------------------------------ commands

  let variant: Variant = "correct";
  const commands: Record<string, (args: string[]) => void> = {
    hosts(args) {
      assert(nodes.length === 0, "hosts once, first");
      const count = Number(args[0]);
      assert(Number.isInteger(count) && count >= 1 && count <= HOSTS_MAX, `1..${HOSTS_MAX} hosts`);
      const kv = keyValues(args.slice(1));
      const profileName = kv.timing ?? "lan";
      variant = (kv.variant ?? "correct") as Variant;
      assert(VARIANTS.includes(variant), `variant is one of ${VARIANTS.join(", ")}`);
      assert(profileName in PROFILES, `timing is one of ${Object.keys(PROFILES).join(", ")}`);
      const p = PROFILES[profileName as keyof typeof PROFILES];
      tickMs = p.tickMs;
      const timing: HostTiming = {
        probeIntervalMs: p.probeIntervalMs,
        probeTimeoutMs: p.probeTimeoutMs,
        suspicionTimeoutMs: p.suspicionTimeoutMs,
        leaseMs: p.leaseMs,
        renewIntervalMs: p.renewIntervalMs,
        driftMaxPpm: p.driftMaxPpm,
        actuationGuardMs: p.actuationGuardMs,
        proposalTimeoutMs: p.proposalTimeoutMs,
        initialGraceMs: p.initialGraceMs,
      };
      const ids = Array.from({ length: count }, (_, j) => `n${j + 1}` as HostId);
      const list = (s: string | undefined): HostId[] => (s === undefined ? ids : (s.split(",") as HostId[]));
      const voters = list(kv.voters);
      const candidates = list(kv.candidates);
      configFor = (id, boot) => ({ self: id, hosts: ids, boot, services: [{ name: SERVICE, candidates, voters, ackShadows: 1 }], timing, replication: { writeTimeoutMs: p.writeTimeoutMs, staleAfterMs: p.syncStaleMs }, proactive: PROACTIVE });
      nodes = ids.map((id) => ({ id, up: true, core: host.initialHost(configFor(id, 1), {}, nowMs), boot: 1, disk: {}, clockMs: nowMs, vip: false, pendingVip: [], failNext: { add: 0, del: 0 }, rand: 0.5, paused: false, parked: [] }));
      out.push(`${count} hosts, timing ${profileName} (tick ${tickMs}ms, lease ${timing.leaseMs}ms), service ${SERVICE}: candidates ${candidates.join(",")}, voters ${voters.join(",")}${variant === "correct" ? "" : `, BROKEN core: ${variant}`}`);
    },
    tick(args) {
      const ms = duration(args[0]);
      assert(ms % tickMs === 0, `a multiple of the tick (${tickMs}ms)`);
      for (let k = 0; k < ms / tickMs; k++) {
        nowMs += tickMs;
        for (const n of nodes) n.clockMs += tickMs;
        for (const n of nodes) {
          if (!n.up || n.paused) continue;
          apply(n, { type: "tick", rand: n.rand });
          drain();
        }
      }
      if (twoSinceMs !== null) out.push(`!! TWO HOLDERS still: ${holdersSeen.join(" ")} (for ${nowMs - twoSinceMs}ms)`);
    },
    drop(args) {
      const r = linkRule(args);
      drops = drops.filter((x) => !sameRule(x, r.rule));
      if (!r.off) drops.push(r.rule);
    },
    hold(args) {
      if (args[0] === "on" || args[0] === "off") {
        holds = args[0] === "on" ? [{ from: "*", to: "*", filter: {} }] : [];
        return;
      }
      const r = linkRule(args);
      holds = holds.filter((x) => !sameRule(x, r.rule));
      if (!r.off) holds.push(r.rule);
    },
    held() {
      if (held.length === 0) out.push("nothing held");
      for (const h of held) out.push(`${h.from} -> ${h.to} ${describeMsg(h.msg)}`);
    },
    deliver(args) {
      const r = linkRule(args).rule;
      const picked = held.filter((h) => matchRule(r, h.from, h.to, h.msg));
      held = held.filter((h) => !picked.includes(h));
      for (const h of picked) {
        const n = node(h.to);
        emit(h.from, `-> ${h.to} ${describeMsg(h.msg)} (delivered${n.up ? "" : `, lost: ${h.to} down`})`);
        if (n.up) queue.push({ kind: "msg", from: h.from, to: h.to, msg: h.msg });
        drain();
      }
      if (picked.length === 0) out.push("nothing held matches");
    },
    "drop-held"(args) {
      const r = linkRule(args).rule;
      const before = held.length;
      held = held.filter((h) => !matchRule(r, h.from, h.to, h.msg));
      out.push(`${before - held.length} held message(s) lost`);
    },
    partition(args) {
      groups = args.join(" ").split("|").map((g) => g.trim().split(/\s+/).filter((x) => x !== "").map((x) => node(x).id));
      out.push(`partition ${groups.map((g) => g.join(" ")).join(" | ")}`);
    },
    heal() {
      groups = null;
      drops = [];
      out.push("network healed (partition and drops gone; holds stay)");
    },
    crash(args) {
      down(node(args[0]!), "crashed");
    },
    wipe(args) {
      const n = node(args[0]!);
      if (n.up) down(n, "crashed");
      n.disk = {};
      emit(n.id, "disk lost");
    },
    restart(args) {
      const n = node(args[0]!);
      if (n.up) down(n, "crashed");
      n.boot += 1;
      n.up = true;
      n.core = host.initialHost(configFor(n.id, n.boot), n.disk, n.clockMs);
      const rec = n.disk[SERVICE];
      emit(n.id, `restarted, boot ${n.boot}, disk: ${rec === undefined ? "empty" : describeRecord(rec)}`);
    },
    "auto-vip"(args) {
      assert(args[0] === "on" || args[0] === "off", "auto-vip on|off");
      autoVip = args[0] === "on";
    },
    "vip-done"(args) {
      finishVip(node(args[0]!), true);
    },
    "vip-fail"(args) {
      finishVip(node(args[0]!), false);
    },
    "fail-vip"(args) {
      const n = node(args[0]!);
      const op = args[1];
      assert(op === "add" || op === "del", "fail-vip HOST add|del [count]");
      n.failNext[op] += args[2] === undefined ? 1 : Number(args[2]);
    },
    move(args) {
      const [from, to] = args.filter((a) => a !== "->");
      const n = node(from!);
      emit(n.id, `operator asks to move ${SERVICE} to ${node(to!).id}`);
      apply(n, { type: "move-requested", service: SERVICE, to: node(to!).id });
      drain();
    },
    forecast(args) {
      const n = node(args[0]!);
      const about = node(args[1]!).id;
      const probability = Number(args[2]);
      assert(probability >= 0 && probability <= 1, "a probability");
      apply(n, { type: "forecast-ready", host: about, probability });
      drain();
    },
    connect(args) {
      const [a, b] = [node(args[0]!), node(args[1]!)];
      if (a.up) apply(a, { type: "peer-connected", id: b.id });
      if (b.up) apply(b, { type: "peer-connected", id: a.id });
      drain();
    },
    rand(args) {
      const r = Number(args[1]);
      assert(r >= 0 && r < 1, "rand in [0,1)");
      node(args[0]!).rand = r;
    },
    jump(args) {
      node(args[0]!).clockMs += duration(args[1]);
    },
    pause(args) {
      const n = node(args[0]!);
      assert(n.up && !n.paused, `${n.id} is up and running`);
      n.paused = true;
      emit(n.id, `agent paused${n.vip ? " (its kernel keeps the VIP)" : ""}`);
    },
    resume(args) {
      const n = node(args[0]!);
      assert(n.up && n.paused, `${n.id} is paused`);
      n.paused = false;
      emit(n.id, `agent resumes, ${n.parked.length} message(s) and outcome(s) waiting`);
      queue.unshift(...n.parked);
      n.parked = [];
      drain();
    },
    show(args) {
      for (const c of categories(args)) shown.add(c);
    },
    hide(args) {
      for (const c of categories(args)) shown.delete(c);
    },
    status() {
      for (const n of nodes) out.push(statusLine(n, nowMs));
    },
    members() {
      for (const n of nodes) {
        if (!n.up) {
          out.push(`${n.id}: down`);
          continue;
        }
        const view = host.aliveHosts(n.core);
        const ms = Object.entries(n.core.members.view).map(([id, m]) => `${id} ${m.status}/${m.incarnation}`);
        out.push(`${n.id} (inc ${n.core.members.incarnation}): ${ms.join(", ")}; ranks ${view.join(",")}`);
      }
    },
  };

  const finishVip = (n: Node, ok: boolean): void => {
    assert(n.up, `${n.id} is up`);
    const p = n.pendingVip.shift();
    if (p === undefined) {
      out.push(`${n.id}: no VIP change pending`);
      return;
    }
    vipOutcome(n, p.service, p.op, p.epoch, ok);
    drain();
  };

  return {
    exec(line) {
      out = [];
      const [cmd, ...args] = line.trim().split(/\s+/);
      const f = commands[cmd!];
      if (f === undefined) throw new Error(`unknown command ${cmd}`);
      if (cmd !== "hosts") assert(nodes.length > 0, "start with `hosts N`");
      f(args);
      return out;
    },
  };
}

// ------------------------------------------------------------ printing

function statusLine(n: Node, nowMs: number): string {
  const head = `${n.id} ${n.up ? (n.paused ? "PAUSED" : "up") : "DOWN"} boot=${n.boot} kernel=${n.vip ? "VIP" : "-"}`;
  if (!n.up) return head;
  const q = n.core.services[SERVICE]!;
  const t = n.clockMs;
  const parts = [head, `${q.role} e=${q.epoch} holder=${q.holder ?? "-"} voted=${q.votedEpoch}/${q.votedHolder ?? "-"} vipUp=${q.vipUp ? "yes" : "no"}`];
  if (host.leaseValid(n.core, SERVICE, t)) parts.push(`lease=+${q.leaseUntilMs - t}ms`);
  if (q.grantUntilMs > t) parts.push(`grant=e${q.grantEpoch}:${q.grantHolder ?? "-"}+${q.grantUntilMs - t}ms`);
  if (q.noVoteBeforeMs > t) parts.push(`novote=+${q.noVoteBeforeMs - t}ms`);
  if (q.proposal !== null) parts.push(`proposing=e${q.proposal.epoch}:${q.proposal.holder}/${q.proposal.reason}`);
  if (q.pendingProposal !== null) parts.push(`pending=e${q.pendingProposal.epoch}:${q.pendingProposal.holder}/${q.pendingProposal.reason}`);
  if (q.holder === q.config.self && q.standAsideUntilMs > t) parts.push(`aside=+${q.standAsideUntilMs - t}ms`);
  if (n.clockMs !== nowMs) parts.push(`clock=${n.clockMs}`);
  return parts.join(" ");
}

/** Why a voter holds a proposal back instead of voting (mayVoteNow's conditions, as the status reads them). */
function pendingWhy(q: QuorumState, t: number): string {
  if (t < q.noVoteBeforeMs) return `restart wait, ${q.noVoteBeforeMs - t}ms left`;
  if (t < q.grantUntilMs) return `its grant in e${q.grantEpoch} runs ${q.grantUntilMs - t}ms more`;
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


