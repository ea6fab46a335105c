// The dashboard: one event stream (/events) brings the status document every
// second and the agent's notable log lines as they happen; the tables are
// redrawn from each status, the charts (uPlot) append to a 5-minute window,
// and the audit trail is fetched again when an operator's order is logged.
"use strict";
const WINDOW_S = 300;
const EVENTS_SHOWN = 100;
const charts = new Map(); // host -> { plot, data }
let services = [];

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, text = "") => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.textContent = text;
  return e;
};
const pct = (x) => (x === null || x === undefined ? "-" : `${Math.round(x * 100)}%`);
const ms = (x) => (x === null || x === undefined ? "-" : x >= 1000 ? `${(x / 1000).toFixed(1)}s` : `${Math.round(x)}ms`);
const row = (cells) => {
  const tr = document.createElement("tr");
  for (const c of cells) tr.append(c instanceof Node ? wrapTd(c) : el("td", {}, String(c)));
  return tr;
};
const wrapTd = (node) => {
  const td = document.createElement("td");
  td.append(node);
  return td;
};

function renderServices(doc) {
  const body = $("#services tbody");
  body.replaceChildren(
    ...doc.services.map((s) => {
      const holder = el("span", { "data-testid": `holder-${s.name}`, class: s.holder === null ? "bad" : "" }, s.holder === null ? "none" : s.holdsVipHere ? `${s.holder} (here)` : s.holder);
      const h = s.health;
      const health = h === null || h === undefined ? el("span", {}, "-") : el("span", { class: h.healthy ? "ok" : "bad", title: h.why ?? "" }, h.healthy ? "ok" : `failing: ${h.why}`);
      const change = s.lastChange === null ? "-" : `${s.lastChange.fromHolder ?? "-"} → ${s.lastChange.toHolder} (${s.lastChange.reason})`;
      const q = s.quorum;
      const quorum = q === undefined ? "-" : el("span", { class: q.override === null ? "" : "warn", title: q.override === null ? "" : `override: ${q.override.reason}` }, `${q.needed} of ${q.expectedVotes}${q.override === null ? "" : " (override)"}`);
      const safe = s.safeMode !== undefined && s.safeMode !== null && s.safeMode.on ? s.safeMode : null;
      const state = safe !== null ? el("span", { class: "bad", title: `${safe.why}${safe.last === null || safe.last.bundle === null ? "" : `; bundle ${safe.last.bundle}`}` }, `${s.state}, safe mode (${safe.running ? "diagnosing" : "diagnostics failed"})`) : s.moveBack !== undefined && s.moveBack !== null ? `${s.state}, back to ${s.moveBack.to} in ${ms(s.moveBack.inMs)}` : s.swap !== undefined && s.swap !== null ? `${s.state}, swap with ${s.swap.to} in ${ms(s.swap.inMs)}` : s.state;
      return row([s.name, s.vip, holder, s.epoch, ms(s.leaseRemainingMs), state, health, (s.excluded ?? []).join(", ") || "-", quorum, change]);
    }),
  );
}

/** How this host reaches a member (MemberDoc.reach); older agents say only connected or not. */
function reachText(m) {
  if (m.reach === "relayed") return `via ${m.via ?? "a relay"}`;
  if (m.reach === "through-others") return "others";
  if (m.reach === "direct") return "direct";
  if (m.reach === "none") return "no";
  return m.connected ? "yes" : "no";
}

function renderMembers(doc) {
  const forecast = new Map((doc.forecasts ?? []).map((f) => [f.host, f]));
  $("#members tbody").replaceChildren(
    ...doc.members.map((m) => {
      const status = el("span", { class: m.status === "alive" ? "ok" : m.status === "dead" ? "bad" : "warn" }, m.status);
      const f = forecast.get(m.id);
      return row([m.id === doc.host ? `${m.id} (this host)` : m.id, status, reachText(m), ms(m.rttMs), pct(m.metrics?.cpuLoad), pct(m.metrics?.memoryUsage), pct(m.metrics?.storageUsage), f ? f.exhaustionProbability.toFixed(2) : "-", m.standing ? `${m.standing.mode}${m.standing.reason ? `: ${m.standing.reason}` : ""}` : "-"]);
    }),
  );
}

function chartFor(host) {
  let c = charts.get(host);
  if (c !== undefined) return c;
  const box = el("div", { class: "chart", "data-testid": `chart-${host}` });
  box.append(el("h3", {}, host));
  $("#charts").append(box);
  const data = [[], [], [], [], [], []];
  const opts = {
    width: 420,
    height: 180,
    scales: { y: { range: [0, 1] } },
    series: [
      {},
      { label: "cpu", stroke: "#1565c0" },
      { label: "memory", stroke: "#6a1b9a" },
      { label: "storage", stroke: "#00838f" },
      { label: "forecast p10", stroke: "rgba(239,108,0,.6)", dash: [4, 4] },
      { label: "forecast p90", stroke: "rgba(239,108,0,.6)", dash: [4, 4] },
    ],
    bands: [{ series: [5, 4], fill: "rgba(239,108,0,.15)" }],
    axes: [{}, { values: (_u, ticks) => ticks.map((t) => `${Math.round(t * 100)}%`) }],
  };
  c = { plot: new uPlot(opts, data, box), data };
  charts.set(host, c);
  return c;
}

function renderCharts(doc) {
  const now = doc.nowMs / 1000;
  const forecast = new Map((doc.forecasts ?? []).map((f) => [f.host, f]));
  for (const m of doc.members) {
    if (m.metrics === null || m.metrics === undefined) continue;
    const c = chartFor(m.id);
    const f = forecast.get(m.id);
    const fm = f?.metrics.find((x) => x.metric === f.metric) ?? null;
    const ratio = fm !== null && ["cpuLoad", "memoryUsage", "storageUsage"].includes(fm.metric);
    const point = [now, m.metrics.cpuLoad, m.metrics.memoryUsage, m.metrics.storageUsage, ratio ? fm.p10 : null, ratio ? fm.p90 : null];
    point.forEach((v, i) => c.data[i].push(v));
    while (c.data[0].length > 0 && c.data[0][0] < now - WINDOW_S) for (const s of c.data) s.shift();
    c.plot.setData(c.data);
  }
}

function addEvent(line) {
  const fields = Object.entries(line).filter(([k]) => !["ts", "level", "host", "part", "event"].includes(k)).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ");
  const div = el("div", { class: line.level === "error" ? "bad" : line.level === "warn" ? "warn" : "" }, `${line.ts.slice(11, 23)} ${line.host} ${line.part}/${line.event} ${fields}`);
  const box = $("#events");
  box.prepend(div);
  while (box.childElementCount > EVENTS_SHOWN) box.lastElementChild.remove();
}

async function refreshAudit() {
  const out = [];
  for (const s of services) {
    const r = await fetch(`services/${encodeURIComponent(s)}/audit`);
    if (!r.ok) continue;
    const { entries } = await r.json();
    out.push(`${s}:`);
    if (entries.length === 0) out.push("  no operator orders on record");
    let last = null;
    for (const e of entries) {
      if (e.nonce !== last) out.push(`  ${new Date(e.issuedAtMs).toISOString()}  ${e.action}${e.service ? ` ${e.service}` : ""}${e.target ? ` ${e.target}` : ""}  by ${e.operator}${e.reason ? `: ${e.reason}` : ""}`);
      last = e.nonce;
      out.push(`      ${e.host}: ${e.outcome}`);
    }
  }
  $("#audit").replaceChildren(el("div", { class: "audit" }, out.join("\n")));
}

function connect() {
  const es = new EventSource("events");
  es.addEventListener("open", () => ($("#conn").textContent = "live"));
  es.addEventListener("error", () => ($("#conn").textContent = "disconnected: retrying…"));
  es.addEventListener("status", (m) => {
    const doc = JSON.parse(m.data);
    $("#who").textContent = `· ${doc.host} · cluster ${doc.cluster} · ${doc.role} · ${doc.version}`;
    const names = doc.services.map((s) => s.name);
    const first = services.length === 0 && names.length > 0;
    services = names;
    renderServices(doc);
    renderMembers(doc);
    renderCharts(doc);
    if (first) void refreshAudit();
  });
  es.addEventListener("log", (m) => {
    const line = JSON.parse(m.data);
    addEvent(line);
    if (line.part === "operators" && line.event === "order-applied") setTimeout(() => void refreshAudit(), 1500);
  });
}

connect();
