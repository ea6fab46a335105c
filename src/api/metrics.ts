// GET /metrics: the agent in Prometheus's text format (prom-client), names
// after Prometheus's conventions: an `umbra_` prefix, base units (seconds,
// bytes, ratios), `_total` on counters. Gauges are read from the status
// document at each scrape; counters count what the shell saw happen
// (MetricsCounters, called from the effect applier and the loop). The
// process's own figures (CPU, memory, event-loop lag) come from prom-client's
// defaults, prefixed too.
import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import type { StatusDoc } from "./types.ts";
import { VERSION } from "../shared/version.ts";

const MS_PER_S = 1000;

/** What the agent's shell counts, for the counters. */
export type MetricsCounters = {
  /** A certificate of a new epoch this host learned or formed, by reason (initial, holder-lost, handover, predicted). */
  certified(service: string, reason: string): void;
  /** The agent's loop stalled (a timer late by more than LOOP_STALL_WARN_TICKS ticks). */
  loopStall(): void;
  /** A VIP change failed. */
  vipChangeFailed(service: string, op: "add" | "del"): void;
  /** An operator's statement accepted (by action) or refused (by reason). */
  statement(outcome: "accepted" | "refused", actionOrReason: string): void;
};

export type AgentMetrics = MetricsCounters & {
  registry: Registry;
};

/** The event-loop lag metrics' sampling period (ms): the agent's own loop-stall warning watches its ticks closely. */
const EVENT_LOOP_SAMPLE_MS = 1_000;

/** The registry of one agent: its gauges read `status()` at each scrape. */
export function agentMetrics(status: () => StatusDoc): AgentMetrics {
  const registry = new Registry();
  // The event-loop lag histogram samples on a timer of this period: prom-client's 10 ms default woke the
  // idle agent 100 times a second for it alone (a native timer, out of sight of a JS profile).
  collectDefaultMetrics({ register: registry, prefix: "umbra_", eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  // prom-client's gauges named _total break Prometheus's naming rules (promtool says so); their per-type siblings stay.
  for (const name of ["umbra_nodejs_active_handles_total", "umbra_nodejs_active_requests_total", "umbra_nodejs_active_resources_total"]) registry.removeSingleMetric(name);
  const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => void) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset(); // a service or peer gone is gone from the scrape too
        collect(this);
      },
    });
  new Gauge({ name: "umbra_build_info", help: "umbra's version (always 1)", labelNames: ["version"], registers: [registry] }).set({ version: VERSION }, 1);
  serviceGauges(gauge, status);
  memberGauges(gauge, status);
  const failovers = new Counter({ name: "umbra_certificates_total", help: "Certificates of a new epoch (each names the holder from then on) this host learned or formed, by service and reason: initial, holder-lost (an unplanned failover), handover, predicted", labelNames: ["service", "reason"], registers: [registry] });
  const stalls = new Counter({ name: "umbra_loop_stalls_total", help: "Times the agent's loop ran late by more than a few ticks (a stalled loop eats the lease's margin)", registers: [registry] });
  const vipFailed = new Counter({ name: "umbra_vip_change_failures_total", help: "VIP adds and removals that failed, by service and op", labelNames: ["service", "op"], registers: [registry] });
  const accepted = new Counter({ name: "umbra_operator_statements_accepted_total", help: "Operators' signed statements this host accepted, by action", labelNames: ["action"], registers: [registry] });
  const refused = new Counter({ name: "umbra_operator_statements_refused_total", help: "Operators' statements this host refused, by reason (forged, replayed, expired, unknown-operator, wrong-cluster, ...)", labelNames: ["reason"], registers: [registry] });
  return {
    registry,
    certified: (service, reason) => failovers.inc({ service, reason }),
    loopStall: () => stalls.inc(),
    vipChangeFailed: (service, op) => vipFailed.inc({ service, op }),
    statement: (outcome, x) => (outcome === "accepted" ? accepted.inc({ action: x }) : refused.inc({ reason: x })),
  };
}

type GaugeMaker = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => void) => Gauge;

function serviceGauges(gauge: GaugeMaker, status: () => StatusDoc): void {
  gauge("umbra_service_holder", "The certified holder of each service as this host knows it (1 per service; no series before a first election)", ["service", "holder"], (g) => {
    for (const s of status().services) if (s.holder !== null) g.set({ service: s.name, holder: s.holder }, 1);
  });
  gauge("umbra_service_holding", "1 where this host answers for the service's VIP, else 0", ["service"], (g) => {
    for (const s of status().services) g.set({ service: s.name }, s.holdsVipHere ? 1 : 0);
  });
  gauge("umbra_service_epoch", "The holder's epoch of each service, raised by every change of holder", ["service"], (g) => {
    for (const s of status().services) g.set({ service: s.name }, s.epoch);
  });
  gauge("umbra_service_lease_remaining_seconds", "This host's lease on the service's VIP, where it holds it", ["service"], (g) => {
    for (const s of status().services) if (s.leaseRemainingMs !== null) g.set({ service: s.name }, s.leaseRemainingMs / MS_PER_S);
  });
  gauge("umbra_service_alarm", "1 while a VIP change of the service failed and matters (see umbra status)", ["service"], (g) => {
    for (const s of status().services) g.set({ service: s.name }, s.alarm === null ? 0 : 1);
  });
  gauge("umbra_service_healthy", "1 where the service's health checks pass on this host (and its VIP could answer here), 0 where they fail; no series where this host is no candidate", ["service"], (g) => {
    for (const s of status().services) if (s.health !== undefined && s.health !== null) g.set({ service: s.name }, s.health.healthy ? 1 : 0);
  });
  gauge("umbra_service_check_passing", "Each health check of the service on this host: 1 passing, 0 failing (rise and fall applied)", ["service", "check"], (g) => {
    for (const s of status().services) s.health?.checks.forEach((c, i) => g.set({ service: s.name, check: String(i + 1) }, c.ok ? 1 : 0));
  });
  gauge("umbra_service_excluded", "Hosts kept out of the service's candidacy as this host sees it (an operator's standby or maintenance, or unhealthy there)", ["service", "host"], (g) => {
    for (const s of status().services) for (const h of s.excluded ?? []) g.set({ service: s.name, host: h }, 1);
  });
  gauge("umbra_service_expected_votes", "The votes the service's majority is counted over now: its voters, unless an operator's override lowered it (umbra override --expect-votes)", ["service"], (g) => {
    for (const s of status().services) if (s.quorum !== undefined) g.set({ service: s.name }, s.quorum.expectedVotes);
  });
  gauge("umbra_replication_lag_changes", "Changes of this host's service document the peer lacks", ["service", "peer"], (g) => {
    for (const r of status().replication) g.set({ service: r.service, peer: r.peer }, r.lagChanges);
  });
  gauge("umbra_replication_lag_bytes", "Bytes of this host's service document the peer lacks", ["service", "peer"], (g) => {
    for (const r of status().replication) g.set({ service: r.service, peer: r.peer }, r.lagBytes);
  });
}

function memberGauges(gauge: GaugeMaker, status: () => StatusDoc): void {
  gauge("umbra_member_up", "1 for a member alive in this host's membership view, 0 suspect or dead", ["member"], (g) => {
    for (const m of status().members) g.set({ member: m.id }, m.status === "alive" ? 1 : 0);
  });
  gauge("umbra_peer_rtt_seconds", "Median round trip to each peer", ["peer"], (g) => {
    for (const m of status().members) if (m.rttMs !== null) g.set({ peer: m.id }, m.rttMs / MS_PER_S);
  });
  gauge("umbra_forecast_exhaustion_probability", "Each host's probability of running out of a resource within the horizon (the highest over its metrics)", ["host"], (g) => {
    for (const f of status().forecasts ?? []) g.set({ host: f.host }, f.exhaustionProbability);
  });
  gauge("umbra_forecast_value", "Each host's forecast of each metric at the horizon, by quantile (0.1, 0.5, 0.9), in the metric's units", ["host", "metric", "quantile"], (g) => {
    for (const f of status().forecasts ?? []) {
      for (const m of f.metrics) {
        g.set({ host: f.host, metric: m.metric, quantile: "0.1" }, m.p10);
        g.set({ host: f.host, metric: m.metric, quantile: "0.5" }, m.p50);
        g.set({ host: f.host, metric: m.metric, quantile: "0.9" }, m.p90);
      }
    }
  });
}
