// Scale out and in (instant capacity from shadows), for one service on one
// host, as a pure machine. Only the holder acts, under its lease: when its
// own forecast of the service's metric (the p90 at the forecaster's horizon)
// reaches `threshold`, a warm shadow becomes active and serves beside it,
// and traffic follows through the redirect hook, which is given the pool
// (the holder and its active shadows). When the p90 has stayed under
// `lowThreshold` for `cooldownMs`, the last one added goes back to waiting.
// Each change waits `cooldownMs` after the one before (hysteresis: no
// flapping), and at most `maxActive` serve beside the holder. When the
// forecast asks for one more and no warm shadow is fit and free, the
// holder asks for a new host instead (the provision hook), at most once a
// cooldown. An active
// shadow that falls unfit (dead, kept out, predicted to run out, out of
// sync) leaves the pool at once. No VIP moves: an active shadow serves on
// its own address, so the single-holder promise is untouched, and the
// quorum's lease is the authority (a holder that loses it loses its pool).

import { assert } from "../shared/assert.ts";
import type { HostId } from "../shared/ids.ts";

export type ScalingConfig = {
  /** The holder's p90 forecast at or over this asks for one more active shadow. */
  threshold: number;
  /** ...and under this, for cooldownMs, for one fewer. */
  lowThreshold: number;
  /** Between two changes of the pool, and how long calm lasts before a scale in. */
  cooldownMs: number;
  /** Active shadows at most. */
  maxActive: number;
  /** A forecast older than this (by this host's clock) counts as none. */
  staleMs: number;
};

export type ScalingState = {
  readonly config: ScalingConfig;
  /** Active shadows, in the order they were added (as holder; empty otherwise). */
  readonly active: readonly HostId[];
  /** The holder's latest p90 of the metric and when it came (null: none yet). */
  readonly p90: { value: number; atMs: number } | null;
  /** Since when the p90 has stayed under lowThreshold (null: it has not). */
  readonly lowSinceMs: number | null;
  /** When the pool last changed by a scale out or in. */
  readonly changedAtMs: number;
  /** When this holder last asked for a new host (no warm shadow free). */
  readonly askedAtMs: number;
};

export type ScalingEvent =
  | { type: "forecast"; p90: number } // the holder's own forecast of the metric (this host's)
  | { type: "tick"; holding: boolean; fit: readonly HostId[] }; // whether this host holds the service under a lease now, and the shadows fit to serve, best first

export type ScalingEffect =
  | { type: "pool"; hosts: HostId[]; why: string } // the holder and its active shadows now: the redirect hook follows
  | { type: "provision"; why: string }; // one more is wanted and no warm shadow is free: the provision hook asks for a new host

export type ScalingStep = { state: ScalingState; effects: ScalingEffect[] };

export function initialScaling(config: ScalingConfig): ScalingState {
  assert(config.lowThreshold < config.threshold, "lowThreshold below threshold");
  assert(Number.isInteger(config.maxActive) && config.maxActive >= 1, "maxActive at least 1");
  return { config, active: [], p90: null, lowSinceMs: null, changedAtMs: -Infinity, askedAtMs: -Infinity };
}

export function step(s: ScalingState, e: ScalingEvent, nowMs: number, self: HostId): ScalingStep {
  const c = s.config;
  if (e.type === "forecast") {
    const low = e.p90 < c.lowThreshold;
    return { state: { ...s, p90: { value: e.p90, atMs: nowMs }, lowSinceMs: low ? (s.lowSinceMs ?? nowMs) : null }, effects: [] };
  }
  // Not holding: no pool here (the next holder starts its own, with itself alone).
  if (!e.holding) return s.active.length === 0 ? { state: s, effects: [] } : { state: { ...s, active: [] }, effects: [] };
  const p = plan(s, e.fit, self, nowMs);
  if (p === null || p.atMs > nowMs) return { state: s, effects: [] };
  if (p.provision) return { state: { ...s, askedAtMs: nowMs }, effects: [{ type: "provision", why: p.why }] };
  return { state: { ...s, active: p.active, changedAtMs: p.counts ? nowMs : s.changedAtMs }, effects: [{ type: "pool", hosts: [self, ...p.active], why: p.why }] };
}

/** The next change of the pool and when it is due (null: none coming without an event): an unfit shadow out at once, a scale out or in once the cooldown (and the calm) has run; with no warm shadow free for a scale out, a request for a new host, once a cooldown. */
function plan(s: ScalingState, fit: readonly HostId[], self: HostId, nowMs: number): { atMs: number; active: HostId[]; why: string; counts: boolean; provision: boolean } | null {
  const c = s.config;
  const unfit = s.active.filter((h) => !fit.includes(h));
  if (unfit.length > 0) return { atMs: nowMs, active: s.active.filter((h) => fit.includes(h)), why: `${unfit.join(", ")} no longer fit`, counts: false, provision: false };
  if (s.p90 === null || nowMs - s.p90.atMs > c.staleMs) return null; // no forecast, or a stale one: hold
  const settledAt = s.changedAtMs + c.cooldownMs;
  const next = fit.find((h) => h !== self && !s.active.includes(h));
  const high = `forecast p90 ${s.p90.value.toFixed(2)} >= ${c.threshold}`;
  if (s.p90.value >= c.threshold && s.active.length < c.maxActive) {
    if (next !== undefined) return { atMs: settledAt, active: [...s.active, next], why: high, counts: true, provision: false };
    return { atMs: Math.max(settledAt, s.askedAtMs + c.cooldownMs), active: [...s.active], why: `${high}, and no warm shadow is free`, counts: true, provision: true };
  }
  if (s.active.length > 0 && s.lowSinceMs !== null) return { atMs: Math.max(settledAt, s.lowSinceMs + c.cooldownMs), active: s.active.slice(0, -1), why: `calm: forecast p90 under ${c.lowThreshold} for ${c.cooldownMs} ms`, counts: true, provision: false };
  return null;
}

/** When a tick could next act (Infinity: only an event can make one): plan's time, capped by the forecast going stale (then nothing is due). */
export function nextTickMs(s: ScalingState, holding: boolean, fit: readonly HostId[], self: HostId, nowMs: number): number {
  if (!holding) return s.active.length === 0 ? Infinity : nowMs;
  const p = plan(s, fit, self, nowMs);
  if (p === null) return Infinity;
  if (s.p90 !== null && p.atMs > s.p90.atMs + s.config.staleMs && p.counts) return Infinity; // stale by then: a fresh forecast is an event
  return p.atMs;
}
