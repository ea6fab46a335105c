// The replay probe: instead of sampling this host, play back a recorded
// series (NAB's `timestamp,value` CSV) into one metric, at a chosen speed-up,
// for demos, tests and what-if runs. Samples carry the series' own
// timestamps (so time-of-day features see the recorded day), spaced in real
// time by the series' spacing divided by `speed`. Timestamps may be NAB's
// "YYYY-MM-DD HH:MM:SS" (UTC), ISO 8601, or epoch seconds or milliseconds;
// a row that repeats the one before's timestamp or goes back is skipped and
// counted (the agent logs the counts).

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
  /** Start over at the end instead of holding the last value; each lap's timestamps follow the last lap's (the series' time goes on). */
  loop: boolean;
};

export type ReplayRow = { ts: number; value: number };

/** A plain number this large or larger is epoch milliseconds; smaller, epoch seconds (1e11 s is the year 5138, 1e11 ms 1973). */
const EPOCH_MS_FROM = 1e11;

/** A row's timestamp in epoch ms: "YYYY-MM-DD HH:MM:SS" (NAB's, UTC), an ISO 8601 string, or epoch seconds or milliseconds; NaN when none of these. */
export function parseTimestamp(text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    return n >= EPOCH_MS_FROM ? n : n * 1000;
  }
  return Date.parse(/^\d{4}-\d\d-\d\d \d/.test(text) ? `${text.replace(" ", "T")}Z` : text);
}

/** A parsed series, and the rows left out: a timestamp equal to the row before (NAB repeats one at each DST change) or earlier than it. */
export type ParsedSeries = { rows: ReplayRow[]; repeated: number; backward: number };

/**
 * Parses a `timestamp,value` CSV; every fault names the file and line. A
 * row whose timestamp repeats or goes back is skipped and counted, as a
 * live sampler's clock never steps back.
 */
export function parseSeriesCounted(text: string, file: string): ParsedSeries {
  const lines = text.split(/\r?\n/);
  const rows: ReplayRow[] = [];
  let repeated = 0;
  let backward = 0;
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
    const ts = parseTimestamp(tsText);
    if (!Number.isFinite(ts)) bad(i + 1, `"${tsText}" is not a timestamp (YYYY-MM-DD HH:MM:SS in UTC, ISO 8601, or epoch seconds or milliseconds)`);
    const value = Number(line.slice(comma + 1));
    if (!Number.isFinite(value)) bad(i + 1, `"${line.slice(comma + 1).trim()}" is not a number`);
    const prev = rows[rows.length - 1];
    if (prev !== undefined && ts === prev.ts) repeated++;
    else if (prev !== undefined && ts < prev.ts) backward++;
    else rows.push({ ts, value });
  }
  if (rows.length < 2) bad(lines.length, "a series needs at least two rows with increasing timestamps");
  return { rows, repeated, backward };
}

/** parseSeriesCounted's rows. */
export function parseSeries(text: string, file: string): ReplayRow[] {
  return parseSeriesCounted(text, file).rows;
}

export function loadSeries(file: string): ParsedSeries {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UmbraError("config_unreadable", `probe.replay.file ${file}: cannot read: ${(err as Error).message}`, { file }, err);
  }
  return parseSeriesCounted(text, file);
}

/** The sample a row becomes: the replayed metric set, the others zero. */
export function sampleOf(row: ReplayRow, metric: ReplayMetric, scale: number): HostSample {
  const s: HostSample = { ts: row.ts, cpuLoad: 0, memoryUsage: 0, diskIO: 0, networkLatency: null, storageUsage: 0, storageIOBytesPerSec: 0, networkBandwidthBytesPerSec: 0 };
  s[metric] = row.value * scale;
  return s;
}

export type ReplaySampler = {
  stop(): Promise<void>;
  /** Rows played so far. */
  played(): number;
  /** Rows of the file left out: repeated or backward timestamps. */
  skipped: { repeated: number; backward: number };
};

/** Plays the series: row i at (ts_i - ts_0) / speed real ms after start. */
export function startReplaySampler(o: ReplayOptions, onSample: (s: HostSample) => void, onEnd?: () => void): ReplaySampler {
  const { rows, repeated, backward } = loadSeries(o.file);
  let i = 0;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const start = performance.now();
  // A lap's length in the series' time: its span and one step. Each lap's timestamps follow the last lap's, so the series' time goes on as a live clock does.
  const lapMs = rows[rows.length - 1]!.ts - rows[0]!.ts + (rows[1]!.ts - rows[0]!.ts);
  let laps = 0;
  const due = (k: number) => start + (laps * lapMs + rows[k]!.ts - rows[0]!.ts) / o.speed;
  const next = () => {
    if (stopped) return;
    // Catch up without drift: every row whose time has come, in order.
    for (let guard = 0; guard < rows.length && i < rows.length && due(i) <= performance.now(); guard++) {
      const row = rows[i++]!;
      onSample(sampleOf({ ts: row.ts + laps * lapMs, value: row.value }, o.metric, o.scale));
    }
    if (i >= rows.length) {
      if (!o.loop) {
        onEnd?.();
        return;
      }
      laps += 1;
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
    skipped: { repeated, backward },
  };
}
