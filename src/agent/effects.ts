// Carries out the host core's effects in the order emitted: vote records are
// written off the loop, and a vote goes out once the records emitted before
// it are on disk (not at all if the latest could not be written: records.ts,
// RecordWriter); every other message goes at once; VIP changes, hooks and
// reconciles go to the runners; the rest is logs, status and the replicator.
// Nothing here decides.

import { assertNever } from "../shared/assert.ts";
import type { HostId } from "../shared/ids.ts";
import type { Logger } from "../shared/log.ts";
import type { HostEffect, HostOut } from "../decide/index.ts";
import type { WireMsg } from "../mesh/index.ts";
import type { Replicator } from "../state/index.ts";
import type { Forecasting } from "./forecasting.ts";
import { strongestAnomaly } from "../forecast/index.ts";
import type { Observed } from "./observed.ts";
import type { RecordWriter } from "./records.ts";
import type { Runners, ServiceRt } from "./runners.ts";
import type { Signatures } from "./signatures.ts";
import type { MetricsCounters } from "../api/index.ts";

/** Probabilities in the predicted-move log line are rounded to this many parts. */
const PROBABILITY_LOG_PARTS = 1000;

export type EffectDeps = {
  self: HostId;
  /** The vote records, written off the loop. */
  records: Pick<RecordWriter, "write" | "afterWrites">;
  log: Logger;
  sigs: Signatures;
  /** A message onto the mesh (to this host itself: into its own inbox). */
  send(to: HostId, msg: WireMsg): void;
  runners: Runners;
  services: ReadonlyMap<string, ServiceRt>;
  observed: Observed;
  replicator: Pick<Replicator, "onEffect" | "setCold">;
  forecasting: Forecasting | null;
  /** The /metrics counters this shell feeds; absent in tests that do not look. */
  metrics?: Pick<MetricsCounters, "certified">;
  /** Monotonic milliseconds. */
  now(): number;
  /** An operator's order the core acted on: logged and audited (operators.ts). */
  orderApplied(fx: Extract<HostEffect, { type: "order-applied" }>): void;
  /** The standings changed: kept on disk (standings.ts); beacons read them from the core. */
  standingsChanged(s: Extract<HostEffect, { type: "standings-changed" }>["standings"]): void;
  /** Runs safe mode's diagnostics off the loop (diagnostics.ts); the outcome comes back as diagnosed. */
  diagnose(fx: Extract<HostEffect, { type: "diagnose" }>): void;
  /** Safe mode entered or ended: kept on disk (diagnostics.ts); beacons read it from the core. */
  safeModeChanged(fx: Extract<HostEffect, { type: "safe-mode-changed" }>): void;
  /** The lowered quorums taken on here changed: kept on disk (standings.ts); beacons read them from the core. */
  votesChanged(v: Extract<HostEffect, { type: "votes-changed" }>["votes"], kept: Extract<HostEffect, { type: "votes-changed" }>["kept"]): void;
};

type SendFx = Extract<HostEffect, { type: "send" }>;
type PersistFx = Extract<HostEffect, { type: "persist" }>;
type OtherFx = Exclude<HostEffect, SendFx | PersistFx>;

/** The function that carries out one step's effects. */
export function effectApplier(d: EffectDeps): (effects: HostEffect[]) => void {
  return (effects) => {
    for (const fx of effects) {
      if (fx.type === "persist") d.records.write(fx.service, fx.record);
      else if (fx.type === "send" && fx.msg.type === "vote") sendVote(d, fx, fx.msg.service);
      else if (fx.type === "send") send(d, fx);
      else applyOther(d, fx);
    }
  };
}

/** A vote waits for its record. One whose record could not be written is not sent: the core believes it voted, which only makes it more careful. */
function sendVote(d: EffectDeps, fx: SendFx, service: string): void {
  d.records.afterWrites(service, (onDisk) => {
    if (onDisk) send(d, fx);
    else d.log("warn", "quorum", "vote-not-sent", { service, to: fx.to, why: "the vote record could not be written" });
  });
}

/** A message out; votes are signed, membership probes go as they are. */
function send(d: EffectDeps, fx: SendFx): void {
  const msg = fx.msg.type === "ping" || fx.msg.type === "ack" || fx.msg.type === "ping-req" ? fx.msg : d.sigs.sign(fx.msg);
  d.send(fx.to, msg);
}

function applyOther(d: EffectDeps, fx: OtherFx): void {
  switch (fx.type) {
    case "kernel-lease":
      d.runners.kernelLease(fx);
      break;
    case "take-vip":
    case "drop-vip":
      d.runners.changeVip(fx);
      break;
    case "run-hook":
      runHookFx(d, fx);
      break;
    case "pool":
    case "migrate":
    case "warm-changed":
      scaled(d, fx);
      break;
    case "reconcile":
      d.runners.reconcileAfterFailover(fx.service, fx.epoch);
      break;
    case "certified":
      certified(d, fx);
      break;
    case "move-abandoned":
      d.log("warn", "quorum", "move-abandoned", { service: fx.service, epoch: fx.epoch, why: "no majority signed the planned move in time; staying holder" });
      break;
    case "alarm":
      alarm(d, fx);
      break;
    case "member-changed":
      d.log(fx.status === "alive" ? "info" : "warn", "membership", "member-changed", { member: fx.id, status: fx.status, incarnation: fx.incarnation });
      break;
    case "rtt-measured":
      d.observed.rtt(fx.id, fx.rttMs);
      break;
    case "predicted-changed":
      d.log(fx.predicted.length > 0 ? "warn" : "info", "forecast", "predicted", { hosts: fx.predicted });
      break;
    case "request-durable":
    case "write-acked":
    case "write-failed":
    case "sync-status-changed":
      d.replicator.onEffect(fx);
      break;
    case "move-predicted":
      movePredicted(d, fx);
      break;
    case "order-applied":
      d.orderApplied(fx);
      break;
    case "standings-changed":
      d.standingsChanged(fx.standings);
      break;
    case "votes-changed":
      d.votesChanged(fx.votes, fx.kept);
      break;
    case "diagnose":
      return diagnose(d, fx);
    case "safe-mode-changed":
      d.log(fx.on ? "warn" : "info", "health", fx.on ? "safe-mode" : "safe-mode-ended", { service: fx.service, why: fx.why, effect: fx.on ? "no candidate for it until diagnostics pass or an operator runs `umbra rejoin`" : "a candidate again" });
      d.safeModeChanged(fx);
      break;
    case "health-changed":
      d.log(fx.healthy ? "info" : "warn", "health", fx.healthy ? "service-healthy" : "service-unhealthy", { service: fx.service, why: fx.why, effect: fx.healthy ? "a candidate again" : "no candidate for it; holding it, this host hands it over in person to a healthy shadow" });
      break;
    default:
      assertNever(fx);
  }
}

/** Safe mode's diagnostics: said, then run off the loop. */
function diagnose(d: EffectDeps, fx: Extract<HostEffect, { type: "diagnose" }>): void {
  d.log("info", "health", "diagnosing", { service: fx.service, run: fx.seq, why: fx.why });
  d.diagnose(fx);
}

/** A hook to run off the loop; a request for capacity (no warm shadow free) said loudly, hook or not. */
function runHookFx(d: EffectDeps, fx: Extract<HostEffect, { type: "run-hook" }>): void {
  if (fx.hook === "provision") d.log("warn", "scaling", "capacity-wanted", { service: fx.service, why: fx.why, action: d.services.get(fx.service)?.cfg.hooks?.provision === undefined ? "no provision hook configured: add a shadow host by hand" : "running the provision hook" });
  d.runners.startHook(fx.service, fx.hook, fx.epoch, fx.state, fx.why);
}

/** As holder: the pool changed (the redirect hook runs with it), or a workload moves; the warm shadows changed (cold replicas stop syncing). */
function scaled(d: EffectDeps, fx: Extract<HostEffect, { type: "pool" | "migrate" | "warm-changed" }>): void {
  if (fx.type === "migrate") return d.runners.migrate(fx);
  if (fx.type === "warm-changed") {
    d.log(fx.mine ? "info" : "debug", "scaling", "shadows-warm", { service: fx.service, warm: fx.word.warm, cold: fx.cold, word: `${fx.word.epoch}.${fx.word.seq}`, why: fx.why });
    return d.replicator.setCold(fx.service, fx.cold);
  }
  d.log("info", "scaling", "pool", { service: fx.service, hosts: fx.hosts, why: fx.why });
  d.runners.pool(fx.service, fx.hosts, fx.epoch);
}

function certified(d: EffectDeps, fx: Extract<HostEffect, { type: "certified" }>): void {
  d.metrics?.certified(fx.service, fx.cert.reason);
  d.log("info", "quorum", "certified", { service: fx.service, epoch: fx.cert.epoch, holder: fx.cert.holder, from: fx.cert.from, reason: fx.cert.reason, voters: fx.cert.votes.map((v) => v.voter) });
  const s = d.services.get(fx.service);
  if (s !== undefined) s.lastChange = { atMs: Date.now(), reason: fx.cert.reason, fromHolder: fx.cert.from, toHolder: fx.cert.holder };
}

function alarm(d: EffectDeps, fx: Extract<HostEffect, { type: "alarm" }>): void {
  const recovered = fx.alarm.endsWith("-recovered");
  const s = d.services.get(fx.service);
  if (s !== undefined) s.alarm = recovered ? null : { alarm: fx.alarm, epoch: fx.epoch, error: fx.error, attempts: fx.attempts, atMs: Date.now() };
  d.log(recovered ? "warn" : "error", "actuate", fx.alarm, { service: fx.service, epoch: fx.epoch, attempts: fx.attempts, error: fx.error, vip: s?.cfg.vip });
}

function movePredicted(d: EffectDeps, fx: Extract<HostEffect, { type: "move-predicted" }>): void {
  const f = d.forecasting?.latest().find((x) => x.host === d.self);
  const round = (p: number) => Math.round(p * PROBABILITY_LOG_PARTS) / PROBABILITY_LOG_PARTS;
  if (fx.cause === "anomaly") {
    // The metric scoring highest now, if any still does (the score rests after an alarm).
    const alarmed = f === undefined ? null : strongestAnomaly(f);
    d.log("warn", "forecast", "predicted-move", { service: fx.service, to: fx.to, cause: fx.cause, anomaly: round(fx.anomaly), metric: alarmed?.metric, sinceAlarmMs: Math.round(fx.aboveForMs) });
    return;
  }
  d.log("warn", "forecast", "predicted-move", { service: fx.service, to: fx.to, cause: fx.cause, probability: round(fx.probability), metric: f?.metric, aboveForMs: Math.round(fx.aboveForMs) });
}
