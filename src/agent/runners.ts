// The effect runners: what the host core asks of the world that takes time
// (a VIP change, a hook, a reconcile after a failover) runs here, off the
// loop, and its outcome goes back to the core as an event through `report`.
// Nothing here decides: the core asks for at most one VIP change per service
// at a time, and these runners assert it.

import { assert } from "../shared/assert.ts";
import type { HostId } from "../shared/ids.ts";
import type { Logger } from "../shared/log.ts";
import type { Config } from "../shared/config.ts";
import type { HostEffect, HostEvent, HookName, NotifyState } from "../decide/index.ts";
import { addVip, removeVip, runHook, type HookResult, type Announcer, type IpBatch, vipAddress, FENCE_TIMEOUT_MAX_MS, type Fence } from "../actuate/index.ts";
import type { Replicator } from "../state/index.ts";
import type { StatusDoc } from "../api/index.ts";
import type { MetricsCounters } from "../api/index.ts";

/** Durations in the actuation logs are rounded to a tenth of a millisecond. */
const MS_LOG_TENTHS = 10;

/** What the shell keeps per service beside the core's state. */
export type ServiceRt = {
  name: string;
  cfg: Config["services"][number];
  /** The VIP change running off the loop, if any: the core asks for at most one at a time. */
  vipBusy: boolean;
  lastChange: StatusDoc["services"][number]["lastChange"];
  /** Whether nft's last answer for this VIP was a lease applied: the kernel lets the VIP answer (an unfenced host: always). */
  fenceOpen: boolean;
  /** Waiting for the fence to open: the VIP's announcement and its vip-answering line. */
  fenceWaiters: Array<() => void>;
  /** The VIP's gratuitous ARP, armed ahead of the take (IPv4 VIPs; null for IPv6, whose NA the kernel sends). */
  announcer: Announcer | null;
  /** The last alarm the core raised for this service, for status and logs. */
  alarm: { alarm: string; epoch: number; error: string | null; attempts: number; atMs: number } | null;
  /** The epoch whose VIP this host added last and has not removed since (null: none up): a reconcile waiting for the fence runs only if its epoch still is. */
  upEpoch?: number | null;
  /** The VIP can answer from this host (its interface holds an address in the VIP's subnet). False only for a service with a redirect hook, which then holds here by its hook alone: the address is never added. */
  vipHere?: boolean;
  /** As holder: this host and its active shadows (scale out), as the redirect hook was last told (UMBRA_POOL). */
  pool?: HostId[];
  /** The redirect hook runs one at a time: whether one runs now, and the latest run asked meanwhile (it replaces any before it: only the newest pool matters). */
  redirecting?: boolean;
  redirectNext?: { epoch: number } | null;
};

export type RunnerDeps = {
  self: HostId;
  services: ReadonlyMap<string, ServiceRt>;
  ip: IpBatch;
  /** The kernel-side lease; null when the config turned it off. */
  fence: Fence | null;
  replicator: Replicator;
  hookTimeoutMs: number;
  /** Runs a hook as ordinary work when the agent runs real-time (`chrt --other 0`); empty otherwise. */
  hookPrefix: string[];
  log: Logger;
  now(): number;
  /** An outcome for the core (never dropped: the core waits for each). */
  report(ev: HostEvent): void;
  /** Whether this host holds the service in that epoch under a valid lease now (the core's view): a workload's move records only then. */
  holds(service: string, epoch: number): boolean;
  /** The /metrics counters; absent in tests that do not look. */
  metrics?: Pick<MetricsCounters, "vipChangeFailed">;
};

export type Runners = {
  changeVip(fx: Extract<HostEffect, { type: "take-vip" | "drop-vip" }>): void;
  kernelLease(fx: Extract<HostEffect, { type: "kernel-lease" }>): void;
  startHook(service: string, hook: HookName, epoch: number, state?: NotifyState, why?: string): void;
  /** As holder: the pool changed (scale out or in): the redirect hook runs with it. */
  pool(service: string, hosts: HostId[], epoch: number): void;
  /** As holder: a workload moves (the migrate hook, then its record in the document, acknowledged); its outcome comes back as migrated. */
  migrate(fx: Extract<HostEffect, { type: "migrate" }>): void;
  reconcileAfterFailover(service: string, epoch: number): void;
};

/**
 * Hands the kernel the lease: its timeout counted from now, so the time the
 * effect waited is not added to it. A lease already over ends it. nft's
 * answer (applied, or its error) goes back to the core as kernel-leased.
 */
function leaseKernel(d: RunnerDeps, s: ServiceRt, fx: Extract<HostEffect, { type: "kernel-lease" }>): void {
  assert(d.fence !== null, "the core asks for kernel leases only on a fenced host");
  const addr = vipAddress(s.cfg.vip);
  const ms = fx.untilMs === null ? 0 : Math.min(Math.floor(fx.untilMs - d.now()), FENCE_TIMEOUT_MAX_MS);
  const applied = ms >= 1 ? d.fence.lease(addr, ms) : d.fence.unlease(addr);
  void applied.then((error) => {
    s.fenceOpen = ms >= 1 && error === null;
    if (s.fenceOpen) for (const f of s.fenceWaiters.splice(0)) f();
    d.report({ type: "kernel-leased", service: s.name, seq: fx.seq, error });
  });
}

/** Resolves once the kernel lets the VIP answer: at once if nft's last answer was a lease applied (or the host runs unfenced), else at the next. */
function fenceOpened(s: ServiceRt): Promise<void> {
  if (s.fenceOpen) return Promise.resolve();
  return new Promise((resolve) => s.fenceWaiters.push(resolve));
}

/**
 * When the new holder's kernel answers for the VIP: its address up and (on a
 * fenced host) a kernel lease applied, whichever is later (the take's lease
 * went out first, and usually ahead of the take: quorum.ts,
 * syncKernelLease).
 */
function logAnswering(d: RunnerDeps, s: ServiceRt, sinceTake: () => number): void {
  const log = () => d.log("info", "actuate", "vip-answering", { service: s.name, vip: s.cfg.vip, ms: sinceTake() });
  // Open already (the early kernel lease): now, not a microtask later, behind
  // whatever the vip-changed event then runs on the loop (a reconcile took
  // 2-3 ms there once the state held audit entries, and the line read late).
  if (s.fenceOpen) log();
  else void fenceOpened(s).then(log);
}

/** Milliseconds since t0, to a tenth, for the log. */
const msSince = (d: RunnerDeps, t0: number): number => Math.round((d.now() - t0) * MS_LOG_TENTHS) / MS_LOG_TENTHS;

/** Runs a VIP change off the loop; its outcome comes back as vip-changed. */
function changeVip(d: RunnerDeps, s: ServiceRt, fx: Extract<HostEffect, { type: "take-vip" | "drop-vip" }>): void {
  const { log } = d;
  assert(!s.vipBusy, "the core asks for one VIP change at a time");
  s.vipBusy = true;
  const op = fx.type === "take-vip" ? "add" : "del";
  const vip = { cidr: s.cfg.vip, iface: s.cfg.interface };
  if (fx.type === "take-vip") log("info", "actuate", "take-vip", { service: s.name, epoch: fx.epoch, reason: fx.reason, vip: s.cfg.vip });
  else log(fx.why === "lease-expired" || fx.why === "add-failed" ? "warn" : "info", "actuate", "drop-vip", { service: s.name, epoch: fx.epoch, why: fx.why, vip: s.cfg.vip, safeMode: fx.why === "lease-expired" });
  const t0 = d.now();
  // Where the VIP cannot answer from here (a redirect service on another site), holding is the redirect hook's alone: no address to add or remove.
  const change = s.vipHere === false ? Promise.resolve() : op === "add" ? addVip(vip, d.ip.run, log, fenceOpened(s), s.announcer === null ? null : s.announcer.announce) : removeVip(vip, d.ip.run);
  change.then(
    () => {
      log("info", "actuate", op === "add" ? "vip-added" : "vip-removed", { service: s.name, vip: s.cfg.vip, ms: msSince(d, t0) });
      s.upEpoch = op === "add" ? fx.epoch : null;
      if (op === "add") logAnswering(d, s, () => msSince(d, t0));
      s.vipBusy = false;
      d.report({ type: "vip-changed", service: s.name, op, epoch: fx.epoch, ok: true, error: null });
    },
    (err: Error) => {
      log("error", "actuate", "vip-change-failed", { service: s.name, op, vip: s.cfg.vip, ms: msSince(d, t0), error: err.message });
      d.metrics?.vipChangeFailed(s.name, op);
      s.vipBusy = false;
      d.report({ type: "vip-changed", service: s.name, op, epoch: fx.epoch, ok: false, error: err.message });
    },
  );
}

export function effectRunners(d: RunnerDeps): Runners {
  const serviceOf = (name: string): ServiceRt => {
    const s = d.services.get(name);
    assert(s !== undefined, "the core names a configured service");
    return s;
  };
  return {
    kernelLease: (fx) => leaseKernel(d, serviceOf(fx.service), fx),
    changeVip: (fx) => changeVip(d, serviceOf(fx.service), fx),

    /** Runs a user hook off the loop (bounded by hookTimeoutMs); its outcome comes back as hook-finished. */
    startHook(service, hook, epoch, state, why) {
      const s = serviceOf(service);
      if (hook !== "redirect") return void userHook(d, s, hook, epoch, state, why);
      s.pool = [d.self]; // a new holder's pool: itself alone
      redirect(d, s, epoch);
    },

    pool(service, hosts, epoch) {
      const s = serviceOf(service);
      s.pool = hosts;
      redirect(d, s, epoch);
    },

    migrate: (fx) => void migrate(d, serviceOf(fx.service), fx),

    /**
     * A new holder brings the state to the intended one, then tells the
     * reconcile hook what it did: once its VIP answers (the fence open, the
     * announcement out) and the loop has turned, so the state's work on the
     * loop never delays the VIP (measured: a reconcile of 2-4 ms, growing
     * with the document, ran between the add and the fence's opening).
     */
    reconcileAfterFailover(service, epoch) {
      const s = serviceOf(service);
      if (!d.replicator.services().includes(s.name)) return;
      // Only while that epoch's VIP is still up here: a lease lost before the fence opened leaves this waiter behind, and it must not run in a later epoch beside that epoch's own.
      void fenceOpened(s).then(() => setImmediate(() => s.upEpoch === epoch && reconcileNow(d, s, epoch)));
    },
  };
}

/** The redirect hook, one run at a time per service: a run asked while one runs waits, and a later ask replaces it (it reads the pool when it starts: the newest). */
function redirect(d: RunnerDeps, s: ServiceRt, epoch: number): void {
  if (s.redirecting === true) {
    s.redirectNext = { epoch };
    return;
  }
  s.redirecting = true;
  void userHook(d, s, "redirect", epoch).finally(() => {
    s.redirecting = false;
    const next = s.redirectNext;
    s.redirectNext = null;
    if (next !== null && next !== undefined) redirect(d, s, next.epoch);
  });
}

/** Runs a user hook off the loop (bounded by hookTimeoutMs); its outcome comes back as hook-finished. None configured: nothing runs. Resolves when it has ended. */
function userHook(d: RunnerDeps, s: ServiceRt, hook: HookName, epoch: number, state?: NotifyState, why?: string): Promise<void> {
  const path = hook === "redirect" ? s.cfg.redirect?.hook : s.cfg.hooks?.[hook];
  if (path === undefined) return Promise.resolve();
  // activate and demote: SERVICE VIP; notify: SERVICE STATE VIP (keepalived's scripts take the state as an argument too); redirect: SERVICE HOST ADDRESS.
  const address = s.cfg.redirect?.addresses[d.self] ?? "";
  const args = hook === "notify" ? [s.name, state ?? "", s.cfg.vip] : hook === "redirect" ? [s.name, d.self, address] : [s.name, s.cfg.vip];
  const env = { UMBRA_SERVICE: s.name, UMBRA_VIP: s.cfg.vip, UMBRA_HOST: d.self, UMBRA_EPOCH: String(epoch), ...(state === undefined ? {} : { UMBRA_STATE: state }), ...(why === undefined ? {} : { UMBRA_WHY: why }), ...(hook === "redirect" ? redirectEnv(s, d.self) : {}) };
  return runHook({ path, args, env, timeoutMs: d.hookTimeoutMs, prefix: d.hookPrefix }).then(
    (r) => {
      logHook(d, hook, s, path, r);
      d.report({ type: "hook-finished", service: s.name, hook, ok: r.exitCode === 0, detail: r.timedOut ? "timed out" : r.exitCode === null ? `killed by ${r.signal}` : `exit ${r.exitCode}`, epoch });
    },
    (err: Error) => {
      d.log("error", "hook", `${hook}-failed`, { service: s.name, path, error: err.message });
      d.report({ type: "hook-finished", service: s.name, hook, ok: false, detail: err.message, epoch });
    },
  );
}

/**
 * A workload's move: the migrate hook (SERVICE WORKLOAD FROM TO) does the
 * work; exit 0, the document records the workload on its new host, and once
 * that write is acknowledged (durable on ackShadows replicas) the core hears
 * `migrated`. A hook that fails or a write not acknowledged in time is a
 * failed move, tried again by the core.
 */
async function migrate(d: RunnerDeps, s: ServiceRt, fx: Extract<HostEffect, { type: "migrate" }>): Promise<void> {
  let told = false;
  const done = (ok: boolean, detail: string, stale = false) => {
    told = true;
    d.report({ type: "migrated", service: s.name, workload: fx.workload, to: fx.to, ok, detail, ...(stale ? { stale } : {}) });
  };
  try {
    await migrateOnce(d, s, fx, done);
  } catch (err) {
    d.log("error", "hook", "migrate-failed", { service: s.name, workload: fx.workload, error: (err as Error).message });
  } finally {
    if (!told) done(false, "the move failed unexpectedly (see the log)"); // the core waits for one outcome per move
  }
}

async function migrateOnce(d: RunnerDeps, s: ServiceRt, fx: Extract<HostEffect, { type: "migrate" }>, done: (ok: boolean, detail: string, stale?: boolean) => void): Promise<void> {
  const path = s.cfg.migrate?.hook;
  assert(path !== undefined, "the core moves workloads only of a service with a migrate hook");
  const w = d.replicator.services().includes(s.name) ? d.replicator.get(s.name).state.workloads[fx.workload] : undefined;
  if (w === undefined || w.host_id !== fx.from) return done(false, "removed or moved meanwhile", true);
  const addresses = s.cfg.redirect?.addresses ?? {};
  const env = { UMBRA_SERVICE: s.name, UMBRA_HOST: d.self, UMBRA_EPOCH: String(fx.epoch), UMBRA_WORKLOAD: fx.workload, UMBRA_FROM: fx.from, UMBRA_TO: fx.to, UMBRA_FROM_ADDRESS: addresses[fx.from] ?? "", UMBRA_TO_ADDRESS: addresses[fx.to] ?? "", UMBRA_REQUIREMENTS: JSON.stringify(w.resource_requirements), UMBRA_WHY: fx.why };
  d.log("info", "scaling", "migrating", { service: s.name, workload: fx.workload, from: fx.from, to: fx.to, why: fx.why });
  let r: HookResult;
  try {
    r = await runHook({ path, args: [s.name, fx.workload, fx.from, fx.to], env, timeoutMs: d.hookTimeoutMs, prefix: d.hookPrefix });
  } catch (err) {
    d.log("error", "hook", "migrate-failed", { service: s.name, path, error: (err as Error).message });
    return done(false, (err as Error).message);
  }
  logHook(d, "migrate", s, path, r);
  if (r.exitCode !== 0) return done(false, r.timedOut ? "timed out" : r.exitCode === null ? `killed by ${r.signal}` : `exit ${r.exitCode}`);
  // Recorded only under the lease it was decided under: a holder cut off during the hook must not write over its successor's moves.
  if (!d.holds(s.name, fx.epoch)) return done(false, "the lease ended while the hook ran: not recorded");
  const now = d.replicator.get(s.name).state.workloads[fx.workload];
  if (now === undefined || now.host_id !== fx.from) return done(false, "removed or moved meanwhile: not recorded", true);
  try {
    const rec = await d.replicator.write(s.name, { workloads: { move: [{ id: fx.workload, from: fx.from, to: fx.to }] } }, `migrate ${fx.workload} ${fx.from} -> ${fx.to}: ${fx.why}`);
    d.log("info", "scaling", "migrated", { service: s.name, workload: fx.workload, from: fx.from, to: fx.to, hookMs: r.durationMs, durableOn: rec.durableOn });
    done(true, `recorded, durable on ${[d.self, ...rec.durableOn.filter((h) => h !== d.self)].join(",")}`);
  } catch (err) {
    d.log("warn", "scaling", "migrate-unrecorded", { service: s.name, workload: fx.workload, to: fx.to, error: (err as Error).message, action: "the move is tried again: the hook runs again (it must be idempotent)" });
    done(false, `not recorded: ${(err as Error).message}`);
  }
}

/** What the redirect hook is told besides its arguments: the holder's address, whether its VIP is up too, and the pool (the holder and its active shadows, each id=address). */
function redirectEnv(s: ServiceRt, self: HostId): Record<string, string> {
  const addresses = s.cfg.redirect?.addresses ?? {};
  const pool = s.pool ?? [self];
  return { UMBRA_ADDRESS: addresses[self] ?? "", UMBRA_VIP_HERE: s.vipHere === false ? "0" : "1", UMBRA_POOL: pool.map((h) => `${h}=${addresses[h] ?? ""}`).join(",") };
}

/** A hook's outcome, one line: info when it exited 0, else a warning. */
function logHook(d: RunnerDeps, hook: string, s: ServiceRt, path: string, r: HookResult): void {
  d.log(r.exitCode === 0 ? "info" : "warn", "hook", hook, { service: s.name, path, exitCode: r.exitCode, signal: r.signal, timedOut: r.timedOut, ms: r.durationMs, stderr: r.stderrTail });
}

function reconcileNow(d: RunnerDeps, s: ServiceRt, epoch: number): void {
  const { log } = d;
  d.replicator
    .reconcile(s.name, { reason: "failover" })
    .then((report) => {
      const path = s.cfg.hooks?.reconcile;
      if (path === undefined) return;
      return runHook({ path, args: [s.name], env: { UMBRA_SERVICE: s.name, UMBRA_HOST: d.self, UMBRA_EPOCH: String(epoch), UMBRA_RECONCILE_REPORT: JSON.stringify(report) }, timeoutMs: d.hookTimeoutMs, prefix: d.hookPrefix }).then((r) => logHook(d, "reconcile", s, path, r));
    })
    .catch((err: Error) => log("error", "state", "reconcile-failed", { service: s.name, error: err.message }));
}
