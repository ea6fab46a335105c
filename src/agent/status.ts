// What `GET /status` and `umbra status` show: the host core's view (members,
// leases, epochs, predictions) joined with what only the shell knows
// (connections, beacons, RTTs, the last change and alarm of each service,
// replication and forecasts). A pure function of a snapshot, so it can be
// built and tested without an agent.

import type { HostId } from "../shared/ids.ts";
import type { Config } from "../shared/config.ts";
import { host, type HostState } from "../decide/index.ts";
import type { HostSample } from "../probe/index.ts";
import type { BeaconForecast } from "../mesh/index.ts";
import type { StatusDoc } from "../api/index.ts";
import { windowText } from "../shared/dayslots.ts";
import type { SwapWindowView } from "./swapwindow.ts";

export type ServiceExtras = {
  lastChange: StatusDoc["services"][number]["lastChange"];
  alarm: StatusDoc["services"][number]["alarm"];
  /** The swap window in use here (swapwindow.ts); null without [services.swap]. */
  swapWindow: SwapWindowView | null;
};

export type StatusSnapshot = {
  config: Config;
  version: string;
  core: HostState;
  /** Monotonic now and start, wall now. */
  nowMono: number;
  startedMono: number;
  nowWall: number;
  extras: ReadonlyMap<string, ServiceExtras>;
  connected: ReadonlySet<HostId>;
  /** Connected peers whose connection runs through a relay: peer -> the relay (Mesh.relayedVia). */
  relayedVia: ReadonlyMap<HostId, string>;
  beacons: ReadonlyMap<HostId, { atMono: number; sample: HostSample | null; forecast: BeaconForecast | null }>;
  rtts: ReadonlyMap<HostId, readonly number[]>;
  ownSample: HostSample | null;
  ownForecast: BeaconForecast | null;
  rest: Pick<StatusDoc, "replication" | "reconciliations" | "forecasts" | "forecastModel" | "blobs" | "queues">;
};

/** The swap window for status: as the config writes it, and an auto one's metric and predicted load. */
function swapWindowDoc(v: SwapWindowView | null): StatusDoc["services"][number]["swapWindow"] {
  if (v === null) return null;
  return { window: v.window === null ? null : windowText(v.window), open: v.open, auto: v.auto !== null, metric: v.auto?.metric ?? null, load: v.load, why: v.why };
}

/** Safe mode for status: its times as ago and in, from the core's monotonic clock. */
function safeModeDoc(m: ReturnType<typeof host.safeModeOf>, nowMono: number): StatusDoc["services"][number]["safeMode"] {
  if (m === null) return null;
  const ms = (t: number) => Math.max(0, Math.round(t));
  const last = m.last === null ? null : { ok: m.last.ok, detail: m.last.detail, bundle: m.last.bundle, agoMs: ms(nowMono - m.last.atMs) };
  return { on: m.why !== null, why: m.why, sinceAgoMs: m.sinceMs === null ? null : ms(nowMono - m.sinceMs), running: m.running, retryInMs: m.retryAtMs === null ? null : ms(m.retryAtMs - nowMono), last };
}

export function buildStatus(x: StatusSnapshot): StatusDoc {
  const self = x.config.host;
  const view = host.memberView(x.core);
  const labelsOf = new Map(x.config.hosts.map((h) => [h.id, h.labels ?? {}]));
  const services = x.config.services.map((svc) => {
    const st = x.core.services[svc.name]!;
    const extras = x.extras.get(svc.name);
    const leaseMs = host.leaseRemainingMs(x.core, svc.name, x.nowMono);
    return {
      name: svc.name,
      vip: svc.vip,
      primary: svc.primary,
      shadows: svc.shadows,
      spares: svc.spares,
      voters: svc.voters,
      epoch: st.epoch,
      holder: st.holder,
      holdsVipHere: st.vipUp,
      leaseRemainingMs: leaseMs === null ? null : Math.round(leaseMs),
      state: st.role,
      lastChange: extras?.lastChange ?? null,
      alarm: extras?.alarm ?? null,
      health: healthOf(x.core, svc.name),
      excluded: [...st.excluded],
      quorum: quorumDoc(host.quorumOf(x.core, svc.name, x.nowMono)),
      moveBack: host.moveBackPlan(x.core, svc.name, x.nowMono),
      swap: host.swapPlan(x.core, svc.name, x.nowMono),
      swapWindow: swapWindowDoc(extras?.swapWindow ?? null),
      active: [...host.activeOf(x.core, svc.name)],
      workloads: workloadsDoc(host.workloadsOf(x.core, svc.name)),
      shadowCount: shadowCountDoc(host.warmOf(x.core, svc.name)),
      safeMode: safeModeDoc(host.safeModeOf(x.core, svc.name), x.nowMono),
      placement: host.placementOf(x.core, svc.name),
    };
  });
  const member = (id: HostId, status: StatusDoc["members"][number]["status"], incarnation: number): StatusDoc["members"][number] => {
    const b = x.beacons.get(id);
    const r = x.rtts.get(id);
    return {
      id,
      status,
      incarnation,
      connected: x.connected.has(id),
      ...reachOf(x, id, status),
      rttMs: r === undefined ? null : median(r),
      labels: labelsOf.get(id) ?? {},
      lastBeaconAgoMs: b === undefined ? null : Math.round(x.nowMono - b.atMono),
      metrics: b?.sample ?? null,
      ownForecast: b?.forecast ?? null,
      standing: standingOf(x.core, id),
    };
  };
  return {
    host: self,
    cluster: x.config.cluster,
    version: x.version,
    nowMs: x.nowWall,
    uptimeMs: Math.round(x.nowMono - x.startedMono),
    role: roleOf(x.config, self, services),
    members: [
      { id: self, status: "alive", incarnation: view.find((m) => m.id === self)?.incarnation ?? 0, connected: true, rttMs: null, labels: labelsOf.get(self) ?? {}, lastBeaconAgoMs: 0, metrics: x.ownSample, ownForecast: x.ownForecast, standing: standingOf(x.core, self) },
      ...view.filter((m) => m.id !== self).map((m) => member(m.id, m.status, m.incarnation)),
    ],
    services,
    predicted: [...(x.core.foresight?.predicted ?? [])],
    ...x.rest,
  };
}

/** How this host reaches a peer (MemberDoc.reach): its connection, and the relay under it; without one, whether SWIM still hears of it. */
function reachOf(x: StatusSnapshot, id: HostId, status: StatusDoc["members"][number]["status"]): Pick<StatusDoc["members"][number], "reach" | "via"> {
  if (x.connected.has(id)) {
    const via = x.relayedVia.get(id) ?? null;
    return { reach: via === null ? "direct" : "relayed", via };
  }
  return { reach: status === "alive" ? "through-others" : "none", via: null };
}

function standingOf(core: HostState, id: HostId): StatusDoc["members"][number]["standing"] {
  const s = core.standby[id];
  return s === undefined || s.mode === "active" ? null : { mode: s.mode, reason: s.reason, issuedAtMs: s.issuedAtMs };
}

function healthOf(core: HostState, service: string): StatusDoc["services"][number]["health"] {
  const h = core.health[service];
  if (h === undefined) return null;
  return { healthy: host.serviceHealthy(core, service), why: host.serviceUnhealthyWhy(core, service), checks: h.checks.map((c) => ({ ok: c.ok, detail: c.detail })) };
}

/** The host's role in one word: safe mode anywhere wins, then holding as primary, holding as a shadow, a shadow, a voter only. */
function roleOf(config: Config, self: HostId, services: StatusDoc["services"]): StatusDoc["role"] {
  if (services.some((s) => s.state === "safe-mode")) return "safe-mode";
  const holding = services.filter((s) => s.holdsVipHere);
  if (holding.some((s) => s.primary === self)) return "primary";
  if (holding.length > 0) return "active";
  if (config.services.some((s) => s.shadows.includes(self))) return "shadow";
  return config.services.some((s) => s.spares.includes(self)) ? "spare" : "standby";
}

export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function quorumDoc(q: ReturnType<typeof host.quorumOf>): NonNullable<StatusDoc["services"][number]["quorum"]> {
  const o = q.override;
  return { expectedVotes: q.expectedVotes, needed: q.needed, override: o === null ? null : { votes: o.votes, reason: o.reason, issuedAtMs: o.issuedAtMs, countsInMs: Math.round(o.countsInMs), heard: o.heard } };
}

/** A service's workloads for status, where the core knows them (a service with a migrate hook). */
function workloadsDoc(w: ReturnType<typeof host.workloadsOf>): StatusDoc["services"][number]["workloads"] {
  return w === null ? null : { list: w.workloads.map((x) => ({ id: x.id, host: x.host, weight: x.weight })), moving: w.moving };
}

/** A service's shadow count for status, where it has one. */
function shadowCountDoc(w: ReturnType<typeof host.warmOf>): StatusDoc["services"][number]["shadowCount"] {
  if (w === null) return null;
  // Free capacity in the reserve's metrics only (the beacons carry more): what an operator checks the reserve against.
  const free = Object.fromEntries(Object.entries(w.free).map(([h, f]) => [h, Object.fromEntries(Object.keys(w.reserve).filter((m) => f[m] !== undefined).map((m) => [m, f[m]!]))]));
  return { warm: [...w.warm], cold: w.cold, wanted: w.wanted, why: w.why, reserve: { ...w.reserve }, free };
}
