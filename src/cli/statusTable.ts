// Pure formatting of a StatusDoc for `umbra status`: a header line, then the
// members and the services as aligned tables. No I/O, no clock: every age is
// taken against the document's own nowMs.
import type { MemberDoc, QueueDoc, ReplicationDoc, ServiceDoc, StatusDoc } from "../api/index.ts";

/** Blank between columns. */
const COLUMN_GAP = "  ";
/** What a cell shows when there is nothing to show. */
const NONE = "-";

export type Column<T> = { head: string; align: "left" | "right"; cell: (row: T) => string };

/** Columns as wide as their widest cell; numbers right-aligned; no trailing blanks. */
export function table<T>(columns: ReadonlyArray<Column<T>>, rows: ReadonlyArray<T>): string {
  const cells = rows.map((r) => columns.map((c) => c.cell(r)));
  const widths = columns.map((c, i) => Math.max(c.head.length, ...cells.map((r) => r[i]!.length)));
  const line = (texts: string[]) =>
    texts
      .map((t, i) => (columns[i]!.align === "right" ? t.padStart(widths[i]!) : t.padEnd(widths[i]!)))
      .join(COLUMN_GAP)
      .trimEnd();
  return [line(columns.map((c) => c.head)), ...cells.map(line)].join("\n");
}

/** 0..1 as a whole percentage. */
export function percent(x: number | undefined): string {
  return x === undefined ? NONE : `${Math.round(x * 100)}%`;
}

/** Short durations to the tenth of a millisecond or second, long ones in two units: 0.4ms, 231ms, 4.0s, 42s, 2m05s, 3h07m, 2d03h. */
export function duration(ms: number): string {
  const two = (n: number) => String(n).padStart(2, "0");
  if (ms < 10) return `${ms.toFixed(1)}ms`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${two(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86_400)}d${two(Math.floor(s / 3600) % 24)}h`;
}

/** How long ago, in seconds at least: beacons come about once a second, so milliseconds would be noise. */
export function ago(ms: number): string {
  const clamped = Math.max(0, ms); // a clock step can put an event a little in the future: call that now
  return `${clamped < 10_000 ? `${(clamped / 1000).toFixed(1)}s` : duration(clamped)} ago`;
}

/** How this host reaches a member: direct, through a relay, only through others' probes, or not (older agents say only yes or no). */
function connCell(m: MemberDoc): string {
  switch (m.reach) {
    case "direct":
      return "direct";
    case "relayed":
      return `via ${m.via ?? "a relay"}`;
    case "through-others":
      return "others";
    case "none":
      return "no";
    case undefined:
      return m.connected ? "yes" : "no";
  }
}

function memberColumns(self: string): Array<Column<MemberDoc>> {
  return [
    { head: "MEMBER", align: "left", cell: (m) => (m.id === self ? `${m.id} (self)` : m.id) },
    { head: "STATUS", align: "left", cell: (m) => m.status },
    { head: "INC", align: "right", cell: (m) => String(m.incarnation) },
    { head: "CONN", align: "left", cell: (m) => (m.id === self ? NONE : connCell(m)) },
    { head: "RTT", align: "right", cell: (m) => (m.rttMs === null ? NONE : duration(m.rttMs)) },
    { head: "CPU", align: "right", cell: (m) => percent(m.metrics?.cpuLoad) },
    { head: "MEM", align: "right", cell: (m) => percent(m.metrics?.memoryUsage) },
    { head: "BEACON", align: "left", cell: (m) => (m.lastBeaconAgoMs === null ? "never" : ago(m.lastBeaconAgoMs)) },
    { head: "OPERATOR", align: "left", cell: (m) => (m.standing === undefined || m.standing === null ? NONE : `${m.standing.mode}${m.standing.reason === "" ? "" : `: ${m.standing.reason}`}`) },
  ];
}

function serviceColumns(nowMs: number): Array<Column<ServiceDoc>> {
  return [
    { head: "SERVICE", align: "left", cell: (s) => s.name },
    { head: "VIP", align: "left", cell: (s) => s.vip },
    { head: "HOLDER", align: "left", cell: (s) => (s.holder === null ? NONE : `${s.holdsVipHere ? `${s.holder} (here)` : s.holder}${(s.active ?? []).map((h) => ` +${h}`).join("")}`) },
    { head: "EPOCH", align: "right", cell: (s) => String(s.epoch) },
    { head: "LEASE", align: "right", cell: (s) => (s.leaseRemainingMs === null ? NONE : duration(Math.max(0, s.leaseRemainingMs))) },
    { head: "STATE", align: "left", cell: stateCell },
    { head: "HEALTH", align: "left", cell: (s) => (s.health === undefined || s.health === null ? NONE : s.health.healthy ? "ok" : "FAILING") },
    { head: "KEPT OUT", align: "left", cell: (s) => (s.excluded === undefined || s.excluded.length === 0 ? NONE : s.excluded.join(",")) },
    { head: "QUORUM", align: "left", cell: (s) => quorumCell(s.quorum) },
    { head: "LAST CHANGE", align: "left", cell: (s) => lastChange(s.lastChange, nowMs) },
  ];
}

/** "2 of 3": the votes that make a majority, of the votes counted; an operator's override says so (and when it starts to count). */
function quorumCell(q: ServiceDoc["quorum"]): string {
  if (q === undefined) return NONE;
  const o = q.override;
  return `${q.needed} of ${q.expectedVotes}${o === null ? "" : ` (override ${o.votes}${o.countsInMs > 0 ? `, counts in ${duration(o.countsInMs)}` : ""})`}`;
}

function replicationColumns(): Array<Column<ReplicationDoc>> {
  return [
    { head: "STATE OF", align: "left", cell: (r) => r.service },
    { head: "PRIMARY", align: "left", cell: (r) => r.primaryHostID },
    { head: "SHADOW", align: "left", cell: (r) => r.shadowHostID },
    { head: "PEER", align: "left", cell: (r) => r.peer },
    { head: "SYNC", align: "left", cell: (r) => r.syncStatus },
    { head: "LAG", align: "right", cell: (r) => (r.lagChanges === 0 ? "0" : `${r.lagChanges} ch / ${bytes(r.lagBytes)}`) },
    { head: "HEARD", align: "left", cell: (r) => (r.lastHeardAgoMs === null ? "never" : ago(r.lastHeardAgoMs)) },
  ];
}

function blobColumns(): Array<Column<NonNullable<StatusDoc["blobs"]>[number]>> {
  return [
    { head: "BLOB OF", align: "left", cell: (b) => b.service },
    { head: "KIND", align: "left", cell: (b) => b.kind },
    { head: "NAME", align: "left", cell: (b) => b.name },
    { head: "SIZE", align: "right", cell: (b) => bytes(b.size) },
    { head: "HERE", align: "right", cell: (b) => (b.complete ? "complete" : `${Math.floor((b.bytesDone / Math.max(1, b.size)) * 100)}%${b.fetching ? " fetching" : ""}`) },
    { head: "HASH", align: "left", cell: (b) => b.hash.slice(0, 12) },
  ];
}

type ForecastRow = NonNullable<StatusDoc["forecasts"]>[number];

/** A metric's value in three digits, in any unit (a ratio, bytes a second). */
const num = (x: number) => (Math.abs(x) >= 1000 ? x.toExponential(2) : x.toPrecision(3));

function forecastColumns(predicted: ReadonlySet<string>): Array<Column<ForecastRow>> {
  const top = (f: ForecastRow) => f.metrics.find((m) => m.metric === f.metric);
  return [
    { head: "FORECAST OF", align: "left", cell: (f) => f.host + (predicted.has(f.host) ? " (predicted)" : "") },
    { head: "METRIC", align: "left", cell: (f) => f.metric },
    { head: "NOW", align: "right", cell: (f) => { const m = top(f); return m === undefined ? NONE : num(m.last); } },
    { head: "IN", align: "right", cell: (f) => duration(f.horizonMs) },
    { head: "P10..P90", align: "right", cell: (f) => { const m = top(f); return m === undefined ? NONE : `${num(m.p10)}..${num(m.p90)}`; } },
    { head: "LIMIT", align: "right", cell: (f) => { const m = top(f); return m === undefined ? NONE : m.side === "below" ? `floor ${num(m.limit)}` : num(m.limit); } },
    { head: "P(EXHAUST)", align: "right", cell: (f) => percent(f.exhaustionProbability) },
    { head: "ANOMALY", align: "right", cell: (f) => (f.metrics.length === 0 ? NONE : Math.max(...f.metrics.map((m) => m.anomaly)).toFixed(2)) },
  ];
}

/** Bytes in B, KiB, MiB, GiB. */
export function bytes(n: number): string {
  if (n < 1024) return `${n}B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)}KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)}MiB`;
  return `${(n / 1024 ** 3).toFixed(1)}GiB`;
}

function lastChange(c: ServiceDoc["lastChange"], nowMs: number): string {
  if (c === null) return NONE;
  return `${c.fromHolder ?? NONE} -> ${c.toHolder} (${c.reason}) ${ago(nowMs - c.atMs)}`;
}

/** The quorum's role, and what comes next: a move back, or this host's safe mode. */
function stateCell(s: ServiceDoc): string {
  const m = s.safeMode;
  if (m !== undefined && m !== null && m.on) {
    const diag = m.running ? "diagnostics running" : m.last !== null && !m.last.ok ? `diagnostics failed${m.retryInMs === null ? "" : `, again in ${duration(m.retryInMs)}`}` : "diagnostics due";
    return `${s.state}, SAFE MODE (${diag})`;
  }
  if (s.moveBack !== undefined && s.moveBack !== null) return `${s.state}, back to ${s.moveBack.to} in ${duration(s.moveBack.inMs)}${s.moveBack.inWindow === true ? ", in the swap window" : ""}`;
  return s.swap === undefined || s.swap === null ? s.state : `${s.state}, swap with ${s.swap.to} in ${duration(s.swap.inMs)}`;
}

/** A line per service with a shadow count: its warm shadows, how many are wanted and why, the cold ones. */
function shadowCountLines(services: ReadonlyArray<ServiceDoc>): string {
  const lines = services.flatMap((s) => {
    const c = s.shadowCount;
    if (c === undefined || c === null) return [];
    const reserve = Object.entries(c.reserve).map(([m, v]) => `${m} ${Math.round(v * 100)} %`).join(", ");
    // With a reserve, each host's free capacity beside it: "h2 (cpuLoad 62 % free)".
    const withFree = (h: string) => {
      const f = Object.entries(c.free?.[h] ?? {}).map(([m, v]) => `${m} ${Math.round(v * 100)} %`).join(", ");
      return f === "" ? h : `${h} (${f} free)`;
    };
    return [`${s.name} warm shadows: ${c.warm.map(withFree).join(", ") || "none"} (${c.wanted} wanted: ${c.why}); cold: ${c.cold.map(withFree).join(", ") || "none"}${reserve === "" ? "" : `; each reserves ${reserve}`}`];
  });
  return lines.length === 0 ? "" : `\n\n${lines.join("\n")}`;
}

/** A line per service with workload migration: where its workloads run, and the move under way. */
function workloadLines(services: ReadonlyArray<ServiceDoc>): string {
  const lines = services.flatMap((s) => {
    const w = s.workloads;
    if (w === undefined || w === null) return [];
    const by = new Map<string, string[]>();
    for (const x of w.list) by.set(x.host, [...(by.get(x.host) ?? []), x.id]);
    const where = [...by].map(([h, ids]) => `${h}: ${ids.join(", ")}`).join("; ") || "none";
    return [`${s.name} workloads: ${where}${w.moving === null ? "" : ` (moving ${w.moving.id} ${w.moving.from} -> ${w.moving.to})`}`];
  });
  return lines.length === 0 ? "" : `\n\n${lines.join("\n")}`;
}

/** A line per service with placement: its candidates in the order they take over, each with its domain and distance from the primary. */
function placementLines(services: ReadonlyArray<ServiceDoc>): string {
  const lines = services.filter((s) => (s.placement ?? []).length > 0).map((s) => `${s.name} takes over in order: ${s.placement!.map((p, i) => `${p.host} ${p.domain}${i === 0 ? " (primary)" : ` (${p.distance} from it)`}`).join(", ")}`);
  return lines.length === 0 ? "" : `\n\n${lines.join("\n")}`;
}

/** A line per service with a swap window: the window this host swaps in, open or not; an auto one's metric and predicted load, or why it has none yet. */
function swapWindowLines(services: ReadonlyArray<ServiceDoc>): string {
  const lines = services.flatMap((s) => {
    const w = s.swapWindow;
    if (w === undefined || w === null) return [];
    const auto = w.auto ? `auto by ${w.metric ?? NONE}` : "";
    if (w.window === null) return [`${s.name} swap window ${auto}: none yet (${w.why ?? "no window"})`];
    const load = w.load === null ? "" : `, predicted ${num(w.load)}`;
    return [`${s.name} swap window ${w.window} (${auto === "" ? "" : `${auto}${load}; `}${w.open ? "open" : "closed"})`];
  });
  return lines.length === 0 ? "" : `\n\n${lines.join("\n")}`;
}

/** A line per service whose diagnostics ran here: the verdict and where the bundle is. */
function diagnosticsLines(services: ReadonlyArray<ServiceDoc>): string {
  const lines = services.flatMap((s) => {
    const last = s.safeMode?.last;
    if (last === undefined || last === null) return [];
    return [`${s.name}: diagnostics ${last.ok ? "passed" : "FAILED"} ${ago(last.agoMs)} (${last.detail})${last.bundle === null ? "" : `, bundle ${last.bundle}`}${s.safeMode!.on ? `; safe mode since ${ago(s.safeMode!.sinceAgoMs ?? 0)}: ${s.safeMode!.why}` : ""}`];
  });
  return lines.length === 0 ? "" : `\n\n${lines.join("\n")}`;
}

export function formatStatus(d: StatusDoc): string {
  const head = `host ${d.host}  cluster ${d.cluster}  role ${d.role}  up ${duration(d.uptimeMs)}  umbra ${d.version}`;
  const members = table(memberColumns(d.host), d.members);
  const services = d.services.length === 0 ? "no services configured" : table(serviceColumns(d.nowMs), d.services);
  const repl = (d.replication ?? []).length === 0 ? "" : `\n\n${table(replicationColumns(), d.replication)}`;
  const blobs = (d.blobs ?? []).length === 0 ? "" : `\n\n${table(blobColumns(), d.blobs!)}`;
  const fc = (d.forecasts ?? []).length === 0 ? "" : `\n\n${table(forecastColumns(new Set(d.predicted ?? [])), d.forecasts!)}`;
  return `${head}\n\n${members}\n\n${services}${placementLines(d.services)}${swapWindowLines(d.services)}${shadowCountLines(d.services)}${workloadLines(d.services)}${diagnosticsLines(d.services)}${repl}${blobs}${fc}${dropsLine(d.queues ?? [])}\n`;
}

/** One line naming the queues that dropped anything since the agent started; nothing when none did (`--json` has every queue). */
function dropsLine(queues: ReadonlyArray<QueueDoc>): string {
  const dropping = queues.filter((q) => q.dropped > 0);
  if (dropping.length === 0) return "";
  return `\n\ndropped since start: ${dropping.map((q) => `${q.name} ${q.dropped} (bound ${q.max})`).join(", ")}`;
}
