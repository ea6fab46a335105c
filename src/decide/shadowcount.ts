// The shadow count, for one service on one host, as a pure machine. A
// service's warm shadows (mirroring its state, ready to take over) are
// chosen among its shadows and spares, in placement's order; the number
// follows the holder's own forecast of `metric`: `min`, one more when its
// p90 at the horizon reaches `load`, one more when the p10-p90 band is at
// least `band` wide (an uncertain forecast), at most `max`. Only the
// holder decides, under its lease: it adds a host at once when fewer warm
// ones are alive than wanted (a dead one is replaced), the first alive one
// with free capacity for the service's `reserve` (from its beacons); it
// takes one out when more have been warm than wanted for `cooldownMs` (a
// dead one first, else the last added), and changes nothing between two
// changes closer than that but a replacement. Its word (the warm set, with
// its epoch and a count of changes) goes out in its beacons; every other
// host adopts the latest word it hears, so after a failover the new holder
// starts from what the old one said. A cold host is kept out of candidacy
// while a warm one is fit (decide/host.ts), and its replica does not sync.

import { assert } from "../shared/assert.ts";
import type { HostId } from "../shared/ids.ts";

export type ShadowCountConfig = {
  min: number;
  max: number;
  /** The holder's p90 at or over this: one more warm shadow. */
  load: number;
  /** The p10-p90 band at least this wide: one more. */
  band: number;
  cooldownMs: number;
  /** A forecast older than this counts as none: the count holds (at least min). */
  staleMs: number;
  /** The free capacity (1 - utilization, per metric) a host needs to become a warm shadow. */
  reserve: Readonly<Record<string, number>>;
};

/** A holder's word on the warm set: later epochs win, then more changes. */
export type WarmWord = { epoch: number; seq: number; warm: readonly HostId[] };

export type ShadowCountState = {
  readonly config: ShadowCountConfig;
  /** The warm set as this host knows it: its own as holder, else the latest word heard. */
  readonly word: WarmWord;
  /** The holder's own forecast of the metric, and when it came. */
  readonly forecast: { p90: number; p10: number; atMs: number } | null;
  /** Since when more hosts have been warm than wanted (null: not). */
  readonly surplusSinceMs: number | null;
  /** When this host last changed the set as holder. */
  readonly changedAtMs: number;
};

export type ShadowCountEvent =
  | { type: "forecast"; p90: number; p10: number } // this host's own forecast of the metric
  | { type: "word"; word: WarmWord } // a holder's warm set, from its beacon
  | { type: "tick"; holding: boolean; epoch: number; pool: readonly HostId[] /* the shadows and spares, in placement's order, the holder not among them */; alive: readonly HostId[]; inSync: readonly HostId[]; free: Readonly<Record<HostId, Readonly<Record<string, number>>>>; previous: HostId | null /* the holder this one replaced */; drained: readonly HostId[] /* replicas whose every change the holder has */ }; // holding under a lease now, in this epoch; the shadows and spares in placement's order; who could take over (alive, not kept out, unhealthy or in safe mode); whose state is in sync with the holder's; each host's free capacity by its last beacon

export type ShadowCountEffect = { type: "warm"; word: WarmWord; why: string };

export type ShadowCountStep = { state: ShadowCountState; effects: ShadowCountEffect[] };

/** `initial`: the configured shadows, warm from the start on every host alike. */
export function initialShadowCount(config: ShadowCountConfig, initial: readonly HostId[]): ShadowCountState {
  assert(config.min >= 1 && config.min <= config.max, "1 <= min <= max");
  return { config, word: { epoch: 0, seq: 0, warm: initial.slice(0, config.max) }, forecast: null, surplusSinceMs: null, changedAtMs: -Infinity };
}

/** Whether word a says something later than word b. */
export const laterWord = (a: WarmWord, b: WarmWord): boolean => a.epoch > b.epoch || (a.epoch === b.epoch && a.seq > b.seq);

/** How many warm shadows the forecast asks for (min without a fresh one). */
export function wanted(s: ShadowCountState, nowMs: number): { n: number; why: string } {
  const c = s.config;
  const f = s.forecast;
  if (f === null || nowMs - f.atMs >= c.staleMs) return { n: c.min, why: "no fresh forecast" };
  const high = f.p90 >= c.load;
  const wide = f.p90 - f.p10 >= c.band;
  const n = Math.min(c.max, c.min + (high ? 1 : 0) + (wide ? 1 : 0));
  return { n, why: `forecast p90 ${f.p90.toFixed(2)}${high ? ` >= ${c.load}` : ""}, band ${(f.p90 - f.p10).toFixed(2)}${wide ? ` >= ${c.band}` : ""}` };
}

export function step(s: ShadowCountState, e: ShadowCountEvent, nowMs: number): ShadowCountStep {
  switch (e.type) {
    case "forecast":
      return { state: { ...s, forecast: { p90: e.p90, p10: e.p10, atMs: nowMs } }, effects: [] };
    case "word":
      return laterWord(e.word, s.word) ? { state: { ...s, word: { ...e.word, warm: [...e.word.warm] } }, effects: [] } : { state: s, effects: [] };
    case "tick": {
      if (!e.holding) return s.surplusSinceMs === null ? { state: s, effects: [] } : { state: { ...s, surplusSinceMs: null }, effects: [] };
      const p = plan(s, e, nowMs);
      const surplusSinceMs = p.surplus ? (s.surplusSinceMs ?? nowMs) : null;
      if (p.change === null || p.change.atMs(surplusSinceMs) > nowMs) return surplusSinceMs === s.surplusSinceMs ? { state: s, effects: [] } : { state: { ...s, surplusSinceMs }, effects: [] };
      const word = { epoch: Math.max(e.epoch, s.word.epoch), seq: (e.epoch > s.word.epoch ? 0 : s.word.seq) + 1, warm: p.change.warm };
      const still = p.change.warm.length > Math.max(wanted(s, nowMs).n, s.config.min); // a surplus left: its clock runs on from now
      return { state: { ...s, word, surplusSinceMs: still ? nowMs : null, changedAtMs: nowMs }, effects: [{ type: "warm", word, why: p.change.why }] };
    }
  }
}

type Tick = Extract<ShadowCountEvent, { type: "tick" }>;

/** The change the holder would make (and from when, given since when there has been a surplus), and whether there is a surplus now. */
function plan(s: ShadowCountState, e: Tick, nowMs: number): { surplus: boolean; change: { warm: HostId[]; why: string; atMs: (surplusSince: number | null) => number } | null } {
  const c = s.config;
  const warm = s.word.warm.filter((h) => e.pool.includes(h)); // the holder itself (a shadow that took over) is no shadow of its own
  // A new holder's first word keeps the holder it replaced warm (it has the state); the count cools it later like any other.
  if (s.word.epoch < e.epoch && e.previous !== null && e.pool.includes(e.previous) && !warm.includes(e.previous)) {
    return { surplus: false, change: { warm: [...warm, e.previous], why: `${e.previous} held it: it stays warm`, atMs: () => nowMs } };
  }
  const w = wanted(s, nowMs);
  const dead = warm.filter((h) => !e.alive.includes(h)); // (or kept out, unhealthy, in safe mode: no use as a shadow now)
  const aliveWarm = warm.length - dead.length;
  if (aliveWarm < w.n) {
    const next = e.pool.find((h) => !warm.includes(h) && e.alive.includes(h) && fits(c.reserve, e.free[h]));
    if (next !== undefined) {
      // A dead warm host stays warm (it may hold changes no one else has: it syncs them once back), beyond max if need be; only the alive count.
      // Keeping min alive is at once; growing on the forecast waits out the cooldown since the last change.
      const urgent = aliveWarm < c.min;
      const why = urgent && dead.length > 0 ? `${dead.join(", ")} not alive: ${next} warms up in its place` : `${w.why}: ${w.n} wanted, ${aliveWarm} alive and warm`;
      return { surplus: false, change: { warm: [...warm, next], why, atMs: () => (urgent ? nowMs : s.changedAtMs + c.cooldownMs) } };
    }
  }
  // A host cools only once the holder has every change of it (drained), and while the warm ones that stay are in sync: a change it
  // alone holds, or a write it alone acknowledged, must not be left on a replica that syncs no more. A dead one waits to come back.
  const out = [...warm].reverse().find((h) => e.alive.includes(h) && e.drained.includes(h));
  if (aliveWarm > Math.max(w.n, c.min) && out !== undefined && warm.every((h) => h === out || !e.alive.includes(h) || e.inSync.includes(h))) {
    return { surplus: true, change: { warm: warm.filter((h) => h !== out), why: `${w.why}: ${w.n} wanted, ${warm.length} warm; ${out} goes cold`, atMs: (since) => Math.max(s.changedAtMs, since ?? nowMs) + c.cooldownMs } };
  }
  if (warm.length !== s.word.warm.length) return { surplus: false, change: { warm, why: `${s.word.warm.filter((h) => !warm.includes(h)).join(", ")} holds it now`, atMs: () => nowMs } };
  return { surplus: false, change: null };
}

/** Whether a host's free capacity (by its last beacon; none heard: unknown, taken as enough) covers the reserve. */
function fits(reserve: Readonly<Record<string, number>>, free: Readonly<Record<string, number>> | undefined): boolean {
  if (free === undefined) return true;
  return Object.entries(reserve).every(([m, need]) => (free[m] ?? 1) >= need);
}

/** When a tick could next act (Infinity: only an event can make one). */
export function nextTickMs(s: ShadowCountState, e: Omit<Tick, "type">, nowMs: number): number {
  if (!e.holding) return s.surplusSinceMs === null ? Infinity : nowMs;
  const p = plan(s, { type: "tick", ...e }, nowMs);
  if (p.surplus !== (s.surplusSinceMs !== null)) return nowMs; // the surplus clock starts or stops
  // A fresh forecast going stale changes what is wanted (min again): look then.
  const staleAt = s.forecast !== null && nowMs - s.forecast.atMs < s.config.staleMs ? s.forecast.atMs + s.config.staleMs : Infinity;
  return Math.min(staleAt, p.change === null ? Infinity : p.change.atMs(s.surplusSinceMs));
}
