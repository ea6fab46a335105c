// A deterministic cluster of host cores on a virtual clock, a lossy,
// partitionable network and a virtual kernel whose VIP changes take time and
// may fail. It drives the very same decide/host.ts the agent runs, with no
// routing of its own: every event a host sees goes into host.step, every
// effect it returns is carried out here as the agent's shell would (sends go
// on the wire, persists to the virtual disk, VIP changes to the virtual
// kernel, and their outcomes come back as events). Given a seed, a run is
// the same bit for bit. The safety checks run after every delivered event.

import { assert } from "../shared/assert.ts";
import { rng, type Rng } from "../shared/rng.ts";
import type { HostId } from "../shared/ids.ts";
import * as host from "../decide/host.ts";
import type { HostConfig, HostEffect, HostEvent, HostMsg, HostState, HostStep, HostTiming } from "../decide/host.ts";
import type { Certificate, Persisted, QuorumState } from "../decide/quorum.ts";
import { checkAckedKept, checkCertificate, checkEpochGrows, checkOneHolder, SimViolation } from "./invariants.ts";

/** Messages and VIP outcomes in flight at once; past it the network drops (a full queue). */
export const IN_FLIGHT_MAX = 10_000;

export type NetProfile = {
  delayMinMs: number;
  delayMaxMs: number;
  /** Probability a message is lost. */
  dropRate: number;
  /** Probability a message is delivered twice. */
  duplicateRate: number;
};

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
  | "local-ack"; // a writer acknowledges a state write before any other replica holds it

export const VARIANTS: readonly Variant[] = ["correct", "double-vote", "ignore-lease", "no-grant-wait", "planned-vote", "ignore-failed-drop", "local-ack"];

export type SimOptions = {
  hosts: HostId[];
  /** Services, each with its own quorum machine on every host (default 1). */
  services?: number;
  /** Clock rate spread between hosts, in ppm (each host draws its rate within ±half of it). */
  driftPpm?: number;
  variant?: Variant;
  voters: HostId[];
  candidates: HostId[];
  timing: HostTiming;
  tickMs: number;
  net: NetProfile;
  /** VIP changes: immediate and always done when absent. */
  actuation?: ActuationProfile;
  seed: number;
};

type Node = {
  id: HostId;
  up: boolean;
  /** The host core, as the agent's loop holds it. */
  core: HostState;
  /** Process incarnations so far: each restart draws the next, as the agent draws a new one. */
  boot: number;
  /** What the node wrote durably, per service: all that survives a crash. */
  disk: Map<string, Persisted>;
  /** Its clock: local = skewMs + real × rate. */
  rate: number;
  skewMs: number;
  /** The virtual kernel: services whose VIP may be up here, from the moment an add starts until a removal completes. */
  vip: Set<string>;
  /** State replication per service. */
  repl: Map<string, Repl>;
  /** The process is frozen (SIGSTOP, a VM paused) until then, in virtual time: no ticks, nothing received; its kernel keeps the VIP. */
  pausedUntil: number;
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

type Item =
  | { kind: "msg"; atMs: number; order: number; from: HostId; to: HostId; msg: HostMsg | StMsg }
  | { kind: "vip"; atMs: number; order: number; host: HostId; boot: number; service: string; op: "add" | "del"; epoch: number; ok: boolean };

/** Replication timing in the simulator (virtual ms, each host's own clock). */
const REPL = { syncEveryMs: 250, writeTimeoutMs: 2_000, staleAfterMs: 1_000, ackShadows: 1, writeProbabilityPerTick: 0.02 };

const isSt = (m: HostMsg | StMsg): m is StMsg => m.type === "st-sync" || m.type === "st-req" || m.type === "st-ok";

/** Proactive moves in the simulator: a forecast counts at once, and is news for a second. */
const PROACTIVE = { threshold: 0.8, sustainMs: 0, staleMs: 1_000, cooldownMs: 2_000 };

export type TraceEntry = { atMs: number; host: HostId; what: string };

export type Cluster = {
  nowMs(): number;
  run(untilMs: number): void;
  crash(id: HostId): void;
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
  /** An operator asks `from` to hand the first service over to `to` in person (nothing happens unless `from` holds it). */
  handover(from: HostId, to: HostId): void;
  /** Every up host's forecast flags `from` (with `split`, all but the first up host see `to` failing too); `from`'s own proactive machine then asks for the move. */
  predict(from: HostId, to: HostId, split?: boolean): void;
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
  trace: TraceEntry[];
  /** First time each host took the VIP, in order. */
  takes: Array<{ atMs: number; host: HostId; epoch: number }>;
  messagesSent: number;
  /** Writes acknowledged to the (virtual) operator, per service. */
  acked(service: string): Set<string>;
  /** The write ids a host holds for a service. */
  doc(id: HostId, service: string): Set<string>;
};

export function createCluster(o: SimOptions): Cluster {
  const r: Rng = rng(o.seed);
  /** VIP outcomes draw from their own stream, so runs without actuation faults keep their network draws. */
  const ra: Rng = rng((o.seed ^ 0xac7) >>> 0);
  let net = o.net;
  let actuation: ActuationProfile = o.actuation ?? { addLatencyMaxMs: 0, delLatencyMaxMs: 0, failRate: 0 };
  let now = 0;
  let order = 0;
  let messagesSent = 0;
  let groups: HostId[][] | null = null;
  /** One-way cuts, as "from>to". */
  const oneWay = new Set<string>();
  const inFlight: Item[] = [];
  const trace: TraceEntry[] = [];
  const takes: Array<{ atMs: number; host: HostId; epoch: number }> = [];
  const services = Array.from({ length: o.services ?? 1 }, (_, i) => (i === 0 ? "svc" : `svc${i}`));
  const certs = new Map<string, Certificate>();
  const variant = o.variant ?? "correct";
  const drift = (o.driftPpm ?? 0) / 1_000_000;
  const heldMs = new Map<string, number>(services.map((sv) => [sv, 0]));
  const configFor = (id: HostId, boot: number): HostConfig => ({
    self: id,
    hosts: o.hosts,
    boot,
    // local-ack: the writer acknowledges before any other replica holds the write
    services: services.map((name) => ({ name, candidates: o.candidates, voters: o.voters, ackShadows: variant === "local-ack" ? 0 : REPL.ackShadows })),
    timing: o.timing,
    replication: { writeTimeoutMs: REPL.writeTimeoutMs, staleAfterMs: REPL.staleAfterMs },
    proactive: PROACTIVE,
  });
  const nodes = new Map<HostId, Node>();
  /** Hosts that lost their vote records at some point: they may sign twice in an epoch (invariant 2a). */
  const lostRecord = new Set<HostId>();
  for (const id of o.hosts) {
    const rate = 1 + (r.next() - 0.5) * drift;
    const skewMs = Math.floor(r.next() * 10_000);
    const n: Node = { id, up: true, core: host.initialHost(configFor(id, 1), {}, skewMs), boot: 1, disk: new Map(), rate, skewMs, vip: new Set(), repl: new Map(), pausedUntil: 0 };
    for (const sv of services) n.repl.set(sv, freshRepl(new Set(), skewMs));
    nodes.set(id, n);
  }
  const localNow = (n: Node): number => n.skewMs + now * n.rate;
  function freshRepl(doc: Set<string>, at: number): Repl {
    return { doc, nextSyncAt: at, waiting: [] };
  }
  /** The mesh keeps a state link to every peer; an unreachable one simply loses what is sent. */
  const linkAll = (n: Node): void => {
    for (const p of o.hosts) if (p !== n.id) apply(n, { type: "state-link", peer: p, up: true });
  };
  /** Replication traffic draws from its own stream, so adding it left the quorum's runs as they were. */
  const rr: Rng = rng((o.seed ^ 0x7e91) >>> 0);
  const acked = new Map<string, Set<string>>(services.map((sv) => [sv, new Set<string>()]));
  let writeSeq = 0;
  // Ticks are staggered so hosts do not move in lockstep; each ticks at its own clock's rate.
  const nextTick = new Map<HostId, number>(o.hosts.map((id) => [id, r.int(o.tickMs)]));

  const reachable = (a: HostId, b: HostId): boolean => {
    if (a === b) return true;
    if (oneWay.has(`${a}>${b}`)) return false;
    if (groups === null) return true;
    return groups.some((g) => g.includes(a) && g.includes(b));
  };

  const send = (from: HostId, to: HostId, msg: HostMsg | StMsg): void => {
    messagesSent += 1;
    if (from === to) {
      inFlight.push({ kind: "msg", atMs: now, order: order++, from, to, msg });
      return;
    }
    const g = isSt(msg) ? rr : r;
    if (!reachable(from, to) || g.next() < net.dropRate || inFlight.length >= IN_FLIGHT_MAX) return;
    const copies = g.next() < net.duplicateRate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = net.delayMinMs + g.next() * (net.delayMaxMs - net.delayMinMs);
      inFlight.push({ kind: "msg", atMs: now + delay, order: order++, from, to, msg });
    }
  };

  /** The virtual kernel starts a VIP change; its outcome arrives later as an event. */
  const actuate = (n: Node, service: string, op: "add" | "del", epoch: number): void => {
    const maxMs = op === "add" ? actuation.addLatencyMaxMs : actuation.delLatencyMaxMs;
    const ok = !(ra.next() < actuation.failRate);
    const latency = ra.next() * maxMs;
    if (op === "add") n.vip.add(service); // held from the moment the add starts
    inFlight.push({ kind: "vip", atMs: now + latency, order: order++, host: n.id, boot: n.boot, service, op, epoch, ok });
  };


  const syncTo = (n: Node, service: string): void => {
    const st = n.repl.get(service)!;
    const ids = [...st.doc].sort();
    for (const p of o.candidates) if (p !== n.id) send(n.id, p, { type: "st-sync", service, ids });
  };

  const onSt = (n: Node, from: HostId, m: StMsg): void => {
    const st = n.repl.get(m.service)!;
    switch (m.type) {
      case "st-sync": {
        let grew = false;
        for (const id of m.ids) {
          if (!st.doc.has(id)) {
            st.doc.add(id); // saved before anything below is said about it
            grew = true;
          }
        }
        const theirs = new Set(m.ids);
        let lag = 0;
        for (const id of st.doc) if (!theirs.has(id)) lag += 1;
        apply(n, { type: "peer-synced", service: m.service, peer: from, lagChanges: lag, lagBytes: lag * 100, theyLack: lag > 0, weLack: false });
        if (grew) {
          st.waiting = st.waiting.filter((w) => {
            if (!st.doc.has(w.id)) return true;
            send(n.id, w.from, { type: "st-ok", service: m.service, id: w.id });
            return false;
          });
        }
        return;
      }
      case "st-req":
        if (st.doc.has(m.id)) send(n.id, from, { type: "st-ok", service: m.service, id: m.id });
        else if (st.waiting.length < 256) st.waiting.push({ id: m.id, from });
        return;
      case "st-ok":
        apply(n, { type: "peer-durable", service: m.service, peer: from, id: m.id });
        return;
    }
  };

  /** The holder of a service takes writes (operators write through the VIP); every replica syncs now and then. */
  const replTick = (n: Node): void => {
    for (const sv of services) {
      const st = n.repl.get(sv)!;
      if (n.core.services[sv]!.vipUp && rr.next() < REPL.writeProbabilityPerTick) {
        const id = `${sv}:${n.id}:${++writeSeq}`;
        st.doc.add(id); // durable here first
        trace.push({ atMs: now, host: n.id, what: `${sv} write ${id}` });
        syncTo(n, sv);
        apply(n, { type: "write-durable", service: sv, id });
      }
      if (localNow(n) >= st.nextSyncAt) {
        st.nextSyncAt = localNow(n) + REPL.syncEveryMs;
        syncTo(n, sv);
      }
    }
  };

  /** One event into a host core, and its effects carried out as the agent's shell would. */
  const apply = (n: Node, ev: HostEvent): void => {
    const before = n.core;
    const out = stepAs(variant, before, ev, localNow(n));
    n.core = out.state;
    for (const sv of services) checkEpochGrows(before.services[sv]!, out.state.services[sv]!, n.id);
    for (const fx of out.effects) {
      switch (fx.type) {
        case "persist":
          n.disk.set(fx.service, fx.record);
          break;
        case "send":
          send(n.id, fx.to, fx.msg);
          break;
        case "take-vip":
          if (fx.service === services[0]) takes.push({ atMs: now, host: n.id, epoch: fx.epoch });
          trace.push({ atMs: now, host: n.id, what: `${fx.service} take-vip epoch=${fx.epoch} reason=${fx.reason}` });
          actuate(n, fx.service, "add", fx.epoch);
          break;
        case "drop-vip":
          trace.push({ atMs: now, host: n.id, what: `${fx.service} drop-vip epoch=${fx.epoch} why=${fx.why}` });
          actuate(n, fx.service, "del", fx.epoch);
          break;
        case "certified": {
          const key = `${fx.service}/${fx.cert.epoch}`;
          checkCertificate(certs.get(key), fx.cert, lostRecord);
          certs.set(key, fx.cert);
          break;
        }
        case "alarm":
          trace.push({ atMs: now, host: n.id, what: `${fx.service} alarm ${fx.alarm} epoch=${fx.epoch} attempts=${fx.attempts}` });
          break;
        case "run-hook":
          // Hooks change nothing the checker sees; they finish at once, fine.
          inFlightHook(n, fx.service, fx.hook);
          break;
        case "request-durable":
          for (const to of fx.to) send(n.id, to, { type: "st-req", service: fx.service, id: fx.id });
          break;
        case "write-acked":
          acked.get(fx.service)!.add(fx.id);
          trace.push({ atMs: now, host: n.id, what: `${fx.service} write-acked ${fx.id} on=${fx.durableOn.join(",")}` });
          break;
        case "write-failed":
          trace.push({ atMs: now, host: n.id, what: `${fx.service} write-failed ${fx.id} ${fx.why}` });
          break;
        case "reconcile":
        case "move-abandoned":
        case "member-changed":
        case "rtt-measured":
        case "predicted-changed":
        case "move-predicted":
        case "sync-status-changed":
          break;
        default:
          assertNeverEffect(fx);
      }
    }
    checkSafety();
  };

  const pendingHooks: Array<{ n: Node; service: string; hook: host.HookName }> = [];
  const inFlightHook = (n: Node, service: string, hook: host.HookName): void => {
    pendingHooks.push({ n, service, hook });
  };
  const drainHooks = (): void => {
    // Bounded: each hook outcome is one event, and an outcome asks for no new hook.
    for (let i = 0; i < 1_000 && pendingHooks.length > 0; i++) {
      const h = pendingHooks.shift()!;
      if (h.n.up) apply(h.n, { type: "hook-finished", service: h.service, hook: h.hook, ok: true, detail: "sim" });
    }
  };

  const checkSafety = (): void => {
    const up = [...nodes.values()].filter((n) => n.up);
    for (const sv of services) {
      checkOneHolder(sv, now, up.filter((n) => n.vip.has(sv)).map((n) => n.id), up.filter((n) => host.leaseValid(n.core, sv, localNow(n))).map((n) => n.id));
    }
  };

  let lastAt = 0;
  const account = (to: number): void => {
    for (const sv of services) if ([...nodes.values()].some((n) => n.up && n.vip.has(sv))) heldMs.set(sv, heldMs.get(sv)! + (to - lastAt));
    lastAt = to;
  };

  const deliver = (it: Item): void => {
    if (it.kind === "vip") {
      const n = nodes.get(it.host)!;
      if (!n.up || n.boot !== it.boot) return; // the process that asked is gone; the crash took the VIP with it
      if (it.op === "del" && it.ok) n.vip.delete(it.service); // the kernel's part, paused agent or not
      if (now < n.pausedUntil) {
        // The agent learns the outcome when it runs again (no other change can start before: one at a time).
        inFlight.push({ ...it, atMs: n.pausedUntil });
        return;
      }
      trace.push({ atMs: now, host: n.id, what: `${it.service} vip-${it.op} ${it.ok ? "done" : "failed"} epoch=${it.epoch}` });
      apply(n, { type: "vip-changed", service: it.service, op: it.op, epoch: it.epoch, ok: it.ok, error: it.ok ? null : "RTNETLINK answers: Resource temporarily unavailable (simulated)" });
      return;
    }
    const n = nodes.get(it.to)!;
    if (!n.up) return;
    if (now < n.pausedUntil) {
      inFlight.push({ ...it, atMs: n.pausedUntil }); // the socket buffers it; same order among the waiting
      return;
    }
    const m = it.msg;
    if (isSt(m)) onSt(n, it.from, m);
    else apply(n, { type: "received", from: it.from, msg: m });
  };

  const runUntil = (untilMs: number): void => {
    // Bounded: every iteration advances time or consumes an item.
    for (let guard = 0; guard < 50_000_000; guard++) {
      let tickAt = Infinity;
      let tickHost: HostId | null = null;
      for (const [id, at] of nextTick) {
        if (at < tickAt) {
          tickAt = at;
          tickHost = id;
        }
      }
      let pi = -1;
      for (let i = 0; i < inFlight.length; i++) {
        const p = inFlight[i]!;
        if (pi < 0 || p.atMs < inFlight[pi]!.atMs || (p.atMs === inFlight[pi]!.atMs && p.order < inFlight[pi]!.order)) pi = i;
      }
      const itemAt = pi >= 0 ? inFlight[pi]!.atMs : Infinity;
      const at = Math.min(tickAt, itemAt);
      if (at > untilMs) {
        account(untilMs);
        now = untilMs;
        return;
      }
      account(at);
      now = at;
      if (itemAt <= tickAt) deliver(inFlight.splice(pi, 1)[0]!);
      else {
        assert(tickHost !== null, "a tick is due");
        const n = nodes.get(tickHost)!;
        nextTick.set(tickHost, tickAt + o.tickMs / n.rate);
        if (n.up && now >= n.pausedUntil) {
          apply(n, { type: "tick", rand: r.next() });
          replTick(n);
        }
      }
      drainHooks();
    }
    assert(false, "simulation loop bound reached");
  };

  const down = (n: Node): void => {
    n.up = false;
    n.pausedUntil = 0;
    n.vip.clear(); // a crashed host's VIPs go with it (the agent removes stale ones at start)
  };

  for (const n of nodes.values()) linkAll(n);

  return {
    nowMs: () => now,
    run: runUntil,
    crash(id) {
      down(nodes.get(id)!);
      trace.push({ atMs: now, host: id, what: "crash" });
    },
    wipe(id) {
      const n = nodes.get(id)!;
      down(n);
      n.disk.clear(); // the vote records too: the voter comes back knowing nothing
      lostRecord.add(id);
      for (const st of n.repl.values()) st.doc = new Set();
      trace.push({ atMs: now, host: id, what: "crash, disk lost" });
      // The only fault that destroys data: every acknowledged write must still be somewhere.
      for (const sv of services) checkAckedKept(sv, acked.get(sv)!, [...nodes.values()].map((x) => x.repl.get(sv)!.doc), `after ${id} lost its disk`);
    },
    restart(id) {
      const n = nodes.get(id)!;
      n.up = true;
      n.vip.clear(); // a restart is a crash first; the agent removes stale VIPs at start
      n.boot += 1;
      n.core = host.initialHost(configFor(id, n.boot), Object.fromEntries(n.disk), localNow(n));
      for (const sv of services) n.repl.set(sv, freshRepl(n.repl.get(sv)!.doc, localNow(n)));
      linkAll(n);
      trace.push({ atMs: now, host: id, what: "restart" });
    },
    partition(g) {
      groups = g;
      trace.push({ atMs: now, host: "net" as HostId, what: `partition ${JSON.stringify(g)}` });
    },
    setNet(x) {
      net = x;
      trace.push({ atMs: now, host: "net" as HostId, what: `net loss=${x.dropRate.toFixed(3)} dup=${x.duplicateRate.toFixed(3)} delay=${x.delayMinMs}-${x.delayMaxMs.toFixed(1)}ms` });
    },
    setActuation(a) {
      actuation = a;
      trace.push({ atMs: now, host: "net" as HostId, what: `actuation add<=${a.addLatencyMaxMs.toFixed(1)}ms del<=${a.delLatencyMaxMs.toFixed(1)}ms fail=${a.failRate.toFixed(3)}` });
    },
    pause(id, ms) {
      assert(ms >= 0, "a pause lasts a while");
      const n = nodes.get(id)!;
      n.pausedUntil = Math.max(n.pausedUntil, now + ms);
      trace.push({ atMs: now, host: id, what: `agent paused ${ms.toFixed(1)} ms` });
    },
    jump(id, ms) {
      assert(ms >= 0, "monotonic clocks only jump forward");
      nodes.get(id)!.skewMs += ms;
      trace.push({ atMs: now, host: id, what: `clock jumps ${ms.toFixed(1)} ms` });
    },
    cutOneWay(from, to) {
      oneWay.add(`${from}>${to}`);
      trace.push({ atMs: now, host: "net" as HostId, what: `cut ${from} -> ${to}` });
    },
    heal() {
      groups = null;
      oneWay.clear();
      trace.push({ atMs: now, host: "net" as HostId, what: "heal" });
    },
    handover(from, to) {
      const n = nodes.get(from)!;
      trace.push({ atMs: now, host: from, what: `operator asks for a move to ${to}` });
      if (n.up && now >= n.pausedUntil) apply(n, { type: "move-requested", service: services[0]!, to });
      drainHooks();
    },
    predict(from, to, split) {
      let i = 0;
      for (const n of nodes.values()) {
        if (!n.up || now < n.pausedUntil) continue;
        // With split, every other host also sees the target running out: those must refuse.
        apply(n, { type: "forecast-ready", host: from, probability: 1 });
        if (split && i++ > 0) apply(n, { type: "forecast-ready", host: to, probability: 1 });
      }
      trace.push({ atMs: now, host: from, what: `predicted: ${from} runs out${split ? `, and most see ${to} too` : ""}` });
      drainHooks();
    },
    isUp: (id) => nodes.get(id)!.up,
    holdersNow: () => [...nodes.values()].filter((n) => n.up && n.vip.has(services[0]!)).map((n) => n.id),
    holdersOf: (sv) => [...nodes.values()].filter((n) => n.up && n.vip.has(sv)).map((n) => n.id),
    node: (id, sv) => nodes.get(id)!.core.services[sv ?? services[0]!]!,
    services,
    heldMs: (sv) => heldMs.get(sv)!,
    certificates: () => [...certs.values()].filter((x) => x.service === services[0]).sort((a, b) => a.epoch - b.epoch),
    trace,
    takes,
    get messagesSent() {
      return messagesSent;
    },
    acked: (sv) => acked.get(sv)!,
    doc: (id, sv) => nodes.get(id)!.repl.get(sv)!.doc,
  };
}

function assertNeverEffect(x: never): never {
  throw new SimViolation(`unhandled effect ${JSON.stringify(x)}`);
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
    case "local-ack": // breaks replication, not the host core (see freshRepl)
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
      for (const [name, q] of Object.entries(s.services)) if (q.vipUp) b = bend(b, name, { leaseUntilMs: Infinity });
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
    case "ignore-failed-drop":
      // The shell logs a failed removal and reports it done.
      if (ev.type === "vip-changed" && ev.op === "del" && !ev.ok) return host.step(s, { ...ev, ok: true, error: null }, t);
      return host.step(s, ev, t);
    default:
      throw new SimViolation(`unknown variant ${String(variant)}`);
  }
}
