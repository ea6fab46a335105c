// The replay probe: instead of sampling this host, play back a recorded
// series (NAB's `timestamp,value` CSV) into one metric, at a chosen speed-up,
// for demos, tests and what-if runs. Samples carry the series' own
// timestamps (so time-of-day features see the recorded day), spaced in real
// time by the series' spacing divided by `speed`.

import { readFileSync } from "node:fs";
import { UmbraError } from "../shared/errors.ts";
import { HOST_METRICS, type HostMetric } from "../shared/metrics.ts";
import type { HostSample } from "./types.ts";

/** Any host metric can be replayed. */
export const REPLAY_METRICS = HOST_METRICS;
export type ReplayMetric = HostMetric;

/** Rows read from one file at most: NAB's longest series has 22,695. */
export const REPLAY_ROWS_MAX = 1_000_000;

export type ReplayOptions = {
  file: string;
  metric: ReplayMetric;
  /** Series seconds per real second (e.g. 300: a 5-minute step every second). */
  speed: number;
  /** Multiplies every value (e.g. 0.01 for a percentage into a ratio). */
  scale: number;
  /** Start over at the end instead of holding the last value. */
  loop: boolean;
};

export type ReplayRow = { ts: number; value: number };

/** Parses a `timestamp,value` CSV; every fault names the file and line. */
export function parseSeries(text: string, file: string): ReplayRow[] {
  const lines = text.split(/\r?\n/);
  const rows: ReplayRow[] = [];
  const bad = (n: number, why: string): never => {
    throw new UmbraError("config_invalid", `${file}:${n}: ${why}`, { file, line: n });
  };
  if (!/^\s*timestamp\s*,\s*value\s*$/i.test(lines[0] ?? "")) bad(1, `expected the header "timestamp,value", got "${(lines[0] ?? "").slice(0, 60)}"`);
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    if (rows.length >= REPLAY_ROWS_MAX) bad(i + 1, `more than ${REPLAY_ROWS_MAX} rows`);
    const comma = line.indexOf(",");
    if (comma < 0) bad(i + 1, `expected "timestamp,value", got "${line.slice(0, 60)}"`);
    const tsText = line.slice(0, comma).trim();
    const ts = Date.parse(/^\d{4}-\d\d-\d\d \d/.test(tsText) ? `${tsText.replace(" ", "T")}Z` : tsText);
    if (!Number.isFinite(ts)) bad(i + 1, `"${tsText}" is not a timestamp (YYYY-MM-DD HH:MM:SS, UTC)`);
    const value = Number(line.slice(comma + 1));
    if (!Number.isFinite(value)) bad(i + 1, `"${line.slice(comma + 1).trim()}" is not a number`);
    if (rows.length > 0 && ts <= rows[rows.length - 1]!.ts) bad(i + 1, "timestamps must increase");
    rows.push({ ts, value });
  }
  if (rows.length < 2) bad(lines.length, "a series needs at least two rows");
  return rows;
}

export function loadSeries(file: string): ReplayRow[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UmbraError("config_unreadable", `probe.replay.file ${file}: cannot read: ${(err as Error).message}`, { file }, err);
  }
  return parseSeries(text, file);
}

/** The sample a row becomes: the replayed metric set, the others zero. */
export function sampleOf(row: ReplayRow, metric: ReplayMetric, scale: number): HostSample {
  const s: HostSample = { ts: row.ts, cpuLoad: 0, memoryUsage: 0, diskIO: 0, networkLatency: null, storageUsage: 0, storageIOBytesPerSec: 0, networkBandwidthBytesPerSec: 0 };
  s[metric] = row.value * scale;
  return s;
}

export type ReplaySampler = { stop(): Promise<void>; /** Rows played so far. */ played(): number };

/** Plays the series: row i at (ts_i - ts_0) / speed real ms after start. */
export function startReplaySampler(o: ReplayOptions, onSample: (s: HostSample) => void, onEnd?: () => void): ReplaySampler {
  const rows = loadSeries(o.file);
  let i = 0;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const start = performance.now();
  let lapOffsetMs = 0;
  const due = (k: number) => start + lapOffsetMs + (rows[k]!.ts - rows[0]!.ts) / o.speed;
  const next = () => {
    if (stopped) return;
    // Catch up without drift: every row whose time has come, in order.
    for (let guard = 0; guard < rows.length && i < rows.length && due(i) <= performance.now(); guard++) onSample(sampleOf(rows[i++]!, o.metric, o.scale));
    if (i >= rows.length) {
      if (!o.loop) {
        onEnd?.();
        return;
      }
      lapOffsetMs += (rows[rows.length - 1]!.ts - rows[0]!.ts) / o.speed + (rows[1]!.ts - rows[0]!.ts) / o.speed;
      i = 0;
    }
    timer = setTimeout(next, Math.max(0, due(i) - performance.now()));
  };
  next();
  return {
    stop: async () => {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
    },
    played: () => i,
  };
}
