// Proactive failover, as a pure machine: turns exhaustion probabilities
// (this host's own forecast of itself and of its peers, from their beacons)
// into (1) the set of hosts this host believes will run out of a resource,
// which the quorum machines use to judge a "predicted" proposal, and (2) on
// the holder of a service, a request to hand the service over in person
// before the failure, once its own probability stayed high long enough.
//
// A single high reading is noise; the probability must stay at or above the
// threshold for `sustainMs`. A host whose forecast has not been refreshed
// within `staleMs` is not predicted (no news is not bad news here: the
// reactive path covers a host that goes silent).
//
// An optional second reason (`anomalyThreshold`): a host whose anomaly
// score (forecast/anomaly.ts, the strongest of its limited metrics) reached
// the threshold counts as running out for `anomalyStandMs` of its data after
// it. A holder moves on its own alarm; each voter signs only if it holds the
// holder predicted itself, by either cause (its own forecasting of the
// holder's beacons, the same detector on the same data): that catches an
// alarm of the holder's own making, not a disagreement about the data. The
// anomaly score rests after an alarm, so the alarm stands for a while
// instead of being sustained.
//
// Two clocks. Sustain and cooldown run on the data's: each forecast carries
// the time of the newest step it read (`dataMs`: the sampler's wall clock
// live, the series' own timestamps in a replay), so "high for 60 s" means 60
// s of the series whatever the replay's speed-up, as it means 60 s live.
// Staleness runs on this host's clock: it asks whether the feed is alive. A
// data clock that goes back starts the host's reading afresh (a looped
// replay no longer does: its time goes on, src/probe/replay.ts).

import { assert, assertNever } from "../shared/assert.ts";
import type { HostId } from "../shared/ids.ts";

export type ProactiveConfig = {
  self: HostId;
  /** Exhaustion probability at or above which a host counts as running out. */
  threshold: number;
  /** ...for at least this long. */
  sustainMs: number;
  /** A forecast older than this says nothing. */
  staleMs: number;
  /** After asking to move a service, wait this long before asking again (the move may have failed). */
  cooldownMs: number;
  /** An anomaly score at or above this counts as running out too (null: anomalies move nothing)... */
  anomalyThreshold: number | null;
  /** ...for this long of the host's data after it. */
  anomalyStandMs: number;
};

export type Cause = "exhaustion" | "anomaly";

/** A host's latest forecast: received at atMs (this host's clock), made from data up to dataMs (the data's clock), at or above the threshold since aboveSinceMs (the data's clock; null: below it); its last anomaly alarm at alarmAtMs (the data's clock; null: none since its data last started afresh), of score alarmScore (0: none). */
type HostView = { readonly host: HostId; readonly probability: number; readonly atMs: number; readonly dataMs: number; readonly aboveSinceMs: number | null; readonly alarmAtMs: number | null; readonly alarmScore: number };

/** A forecast of a host is news for this many steps of its data... */
export const FORECAST_STALE_STEPS = 3;
/** ...and never for less than this. */
export const FORECAST_STALE_MIN_MS = 30_000;

/** How long a forecast made from data stepped every `stepMs` says anything (ProactiveConfig.staleMs). */
export const forecastStaleMs = (stepMs: number): number => Math.max(FORECAST_STALE_MIN_MS, FORECAST_STALE_STEPS * stepMs);

export type ProactiveState = {
  readonly config: ProactiveConfig;
  readonly hosts: Readonly<Record<string, HostView>>;
  readonly predicted: readonly HostId[];
  /** When this host last asked to move each service, on its own data's clock. */
  /** ...per cause: a move asked on an alarm that no voter confirmed does not hold back one on exhaustion. */
  readonly requestedAtMs: Readonly<Record<Cause, Readonly<Record<string, number>>>>;
  readonly nowMs: number;
};

export type ServiceHeld = {
  service: string;
  /** Who may take it, best first (primary, then shadows), self included or not. */
  candidates: HostId[];
  /** Hosts the membership view holds alive. */
  alive: HostId[];
};

export type ProactiveEvent =
  | { type: "forecast"; host: HostId; probability: number; anomaly?: number; dataMs: number } // a fresh exhaustion probability and anomaly score (absent: none known) for a host, from its data up to dataMs
  | { type: "tick"; holding: ServiceHeld[] }; // the services this host holds now

export type ProactiveEffect =
  | { type: "predicted-changed"; predicted: HostId[] }
  | { type: "request-handover"; service: string; to: HostId; cause: Cause; probability: number; anomaly: number; aboveForMs: number }; // anomaly: the last alarm's score (0: none); aboveForMs: how long of the data the probability stood high, or since the alarm

export type ProactiveStep = { state: ProactiveState; effects: ProactiveEffect[] };

export function initialProactive(config: ProactiveConfig, nowMs: number): ProactiveState {
  assert(config.threshold > 0 && config.threshold <= 1, "threshold is a probability in (0, 1]");
  assert(config.sustainMs >= 0 && config.staleMs > 0 && config.cooldownMs >= 0 && config.anomalyStandMs >= 0, "durations are sane");
  assert(config.anomalyThreshold === null || (config.anomalyThreshold > 0 && config.anomalyThreshold <= 1), "an anomaly threshold is a score in (0, 1]");
  return { config, hosts: {}, predicted: [], requestedAtMs: { exhaustion: {}, anomaly: {} }, nowMs };
}

export function step(s: ProactiveState, e: ProactiveEvent, nowMs: number): ProactiveStep {
  assert(nowMs >= s.nowMs, "time does not move backwards");
  const c = s.config;
  const fx: ProactiveEffect[] = [];
  let hosts = s.hosts;
  let requestedAtMs = s.requestedAtMs;
  switch (e.type) {
    case "forecast": {
      const anomaly = e.anomaly ?? 0;
      assert(e.probability >= 0 && e.probability <= 1 && anomaly >= 0 && anomaly <= 1, "a probability and a score are in [0, 1]");
      const prev = hosts[e.host];
      const afresh = prev === undefined || e.dataMs < prev.dataMs;
      const above = e.probability >= c.threshold;
      const aboveSinceMs = above ? ((afresh ? null : prev.aboveSinceMs) ?? e.dataMs) : null;
      const alarm = c.anomalyThreshold !== null && anomaly >= c.anomalyThreshold;
      const alarmAtMs = alarm ? e.dataMs : afresh ? null : prev.alarmAtMs;
      const alarmScore = alarm ? anomaly : afresh ? 0 : prev.alarmScore;
      hosts = { ...hosts, [e.host]: { host: e.host, probability: e.probability, atMs: nowMs, dataMs: e.dataMs, aboveSinceMs, alarmAtMs, alarmScore } };
      break;
    }
    case "tick": {
      const self = hosts[c.self];
      const selfPredicted = isPredicted(self, c, nowMs);
      if (!selfPredicted) break;
      const cause = causeOf(self!, c)!;
      for (const h of e.holding) {
        if (coolingDown(requestedAtMs[cause][h.service], self!, c)) continue;
        const to = h.candidates.find((x) => x !== c.self && h.alive.includes(x) && !isPredicted(hosts[x], c, nowMs));
        if (to === undefined) continue; // nowhere better to go: stay, the reactive path remains
        requestedAtMs = { ...requestedAtMs, [cause]: { ...requestedAtMs[cause], [h.service]: self!.dataMs } };
        const since = cause === "exhaustion" ? self!.aboveSinceMs! : self!.alarmAtMs!;
        fx.push({ type: "request-handover", service: h.service, to, cause, probability: self!.probability, anomaly: self!.alarmScore, aboveForMs: self!.dataMs - since });
      }
      break;
    }
    default:
      assertNever(e);
  }
  const predicted = Object.values(hosts)
    .filter((v) => isPredicted(v, c, nowMs))
    .map((v) => v.host)
    .sort();
  if (predicted.join(",") !== s.predicted.join(",")) fx.unshift({ type: "predicted-changed", predicted });
  return { state: { config: c, hosts, predicted, requestedAtMs, nowMs }, effects: fx };
}

/**
 * The earliest time at which a tick could act (a predicted host's forecast
 * goes stale, or this host asks to move a service it holds), with no other
 * event in between: the shell's timer wakes the core then. Sustain and
 * cooldown run on the data's clock, which only a forecast moves: they make
 * nothing due on this host's. Mirrors step's tick; the simulator checks it
 * both ways.
 */
export function nextTickMs(s: ProactiveState, holding: () => readonly ServiceHeld[]): number {
  const c = s.config;
  const nowMs = s.nowMs;
  let due = Infinity;
  for (const v of Object.values(s.hosts)) {
    if (isPredicted(v, c, nowMs)) due = Math.min(due, v.atMs + c.staleMs); // stale from then on
  }
  const self = s.hosts[c.self];
  if (!isPredicted(self, c, nowMs)) return due;
  for (const h of holding()) {
    if (coolingDown(s.requestedAtMs[causeOf(self!, c)!][h.service], self!, c)) continue;
    if (h.candidates.some((x) => x !== c.self && h.alive.includes(x) && !isPredicted(s.hosts[x], c, nowMs))) due = Math.min(due, nowMs);
  }
  return due;
}

/** Fresh (on this host's clock), and running out by either cause. */
function isPredicted(v: HostView | undefined, c: ProactiveConfig, nowMs: number): boolean {
  return v !== undefined && nowMs - v.atMs < c.staleMs && causeOf(v, c) !== null;
}

/** Why a host counts as running out, by its data: high for sustainMs, or an anomaly alarm within anomalyStandMs; null when neither. */
function causeOf(v: HostView, c: ProactiveConfig): Cause | null {
  if (v.aboveSinceMs !== null && v.dataMs - v.aboveSinceMs >= c.sustainMs) return "exhaustion";
  if (c.anomalyThreshold !== null && v.alarmAtMs !== null && v.dataMs - v.alarmAtMs <= c.anomalyStandMs) return "anomaly";
  return null;
}

/** Asked to move the service less than cooldownMs ago on this host's data clock (one that went back since is no longer in it); at most once per forecast whatever the cooldown, so a request the quorum refuses does not repeat every tick. */
function coolingDown(requestedAtMs: number | undefined, self: HostView, c: ProactiveConfig): boolean {
  if (requestedAtMs === undefined) return false;
  const since = self.dataMs - requestedAtMs;
  return since >= 0 && (since === 0 || since < c.cooldownMs);
}
