// Pure formatting of a StatusDoc for `umbra status`.
import type { StatusDoc } from "../api/types.ts";

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(head), ...rows.map(line)].join("\n");
}

const pct = (x: number | undefined) => (x === undefined ? "-" : `${Math.round(x * 100)}%`);
const ms = (x: number | null) => (x === null ? "-" : x < 10 ? `${x.toFixed(1)}ms` : `${Math.round(x)}ms`);
const dur = (x: number) => (x < 60_000 ? `${Math.round(x / 1000)}s` : x < 3_600_000 ? `${Math.round(x / 60_000)}m` : `${(x / 3_600_000).toFixed(1)}h`);

export function formatStatus(d: StatusDoc): string {
  const head = `host ${d.host}  cluster ${d.cluster}  role ${d.role}  up ${dur(d.uptimeMs)}  umbra ${d.version}`;
  const members = table(
    ["MEMBER", "STATUS", "INC", "CONN", "RTT", "CPU", "MEM", "BEACON"],
    d.members.map((m) => [
      m.id === d.host ? `${m.id} (self)` : m.id,
      m.status,
      String(m.incarnation),
      m.id === d.host ? "-" : m.connected ? "yes" : "no",
      ms(m.rttMs),
      pct(m.metrics?.cpuLoad),
      pct(m.metrics?.memoryUsage),
      m.lastBeaconAgoMs === null ? "never" : `${dur(m.lastBeaconAgoMs)} ago`,
    ]),
  );
  const services = table(
    ["SERVICE", "VIP", "HOLDER", "EPOCH", "LEASE", "STATE", "LAST CHANGE"],
    d.services.map((s) => [
      s.name,
      s.vip,
      s.holder === null ? "-" : s.holdsVipHere ? `${s.holder} (here)` : s.holder,
      String(s.epoch),
      ms(s.leaseRemainingMs),
      s.state,
      s.lastChange === null ? "-" : `${s.lastChange.fromHolder ?? "-"} -> ${s.lastChange.toHolder} (${s.lastChange.reason}) ${dur(Math.max(0, d.nowMs - s.lastChange.atMs))} ago`,
    ]),
  );
  return `${head}\n\n${members}\n\n${d.services.length === 0 ? "no services configured" : services}\n`;
}
