// bench/nab/data: readers for a NAB v1.1 folder (the shell around scorer.ts).
// The folder is read in place, never copied into the project:
//   data/<category>/<file>.csv                 timestamp,value
//   labels/combined_windows.json               { "<category>/<file>.csv": [[start, end], ...] }
//   config/profiles.json                       { profile: { CostMatrix: {...} } }
//   config/thresholds.json                     { detector: { profile: { threshold, score } } }
//   results/final_results.json                 { detector: { profile: normalized } }
//   results/<detector>/<category>/<detector>_<file>.csv   timestamp,value,anomaly_score,...
// A missing or malformed file is an UmbraError("config_unreadable") naming the path.

import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { assert } from "../../src/shared/assert.ts";
import { UmbraError } from "../../src/shared/errors.ts";
import type { CostMatrix, DetectorFile, NabWindow } from "./scorer.ts";

/** Where the published NAB v1.1 folder is by default: ../shared/data/nab beside the project (override with NAB_DIR or --nab-dir). */
export const NAB_DIR_DEFAULT = join(import.meta.dirname, "..", "..", "..", "shared", "data", "nab");

/** A series' name in NAB's labels: "<category>/<file>.csv". */
export type SeriesName = string;

/** A detector's chosen threshold and raw score for one profile (config/thresholds.json). */
export type ThresholdEntry = { readonly threshold: number; readonly score: number };

/** detector → profile → entry. */
export type Thresholds = Readonly<Record<string, Readonly<Record<string, ThresholdEntry>>>>;

/** detector → profile → published normalized score. */
export type PublishedResults = Readonly<Record<string, Readonly<Record<string, number>>>>;

/** Fail early, with the path, when the folder is not a NAB folder. */
export function checkNabDir(nabDir: string): void {
  const needed = ["data", "labels/combined_windows.json", "config/profiles.json", "config/thresholds.json", "results/final_results.json"];
  if (!existsSync(nabDir) || !statSync(nabDir).isDirectory()) {
    throw new UmbraError("config_unreadable", `NAB folder not found: ${nabDir} (set NAB_DIR or --nab-dir)`, { nabDir });
  }
  const missing = needed.filter((p) => !existsSync(join(nabDir, p)));
  if (missing.length > 0) {
    throw new UmbraError("config_unreadable", `${nabDir} is not a NAB v1.1 folder: missing ${missing.join(", ")}`, { nabDir, missing });
  }
}

/**
 * NAB's timestamps ("2014-04-10 07:15:00", windows add ".000000") as epoch ms,
 * read as UTC: NAB compares them naive, so any fixed zone gives the same rows.
 */
export function parseNabTimestamp(text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/.exec(text.trim());
  if (m === null) throw new UmbraError("config_unreadable", `not a NAB timestamp: ${JSON.stringify(text)}`, { text });
  const [, y, mo, d, h, mi, s, frac] = m;
  const ms = frac === undefined ? 0 : Math.floor(Number(frac.padEnd(6, "0")) / 1000);
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (cause) {
    throw new UmbraError("config_unreadable", `cannot read ${path}`, { path }, cause);
  }
}

function readJson(path: string): unknown {
  const text = readText(path);
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new UmbraError("config_unreadable", `not JSON: ${path}`, { path }, cause);
  }
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function malformed(path: string, what: string): UmbraError {
  return new UmbraError("config_unreadable", `${path}: ${what}`, { path });
}

/** A CSV with a header row, as columns by name (NAB's files have no quoting). */
export function parseCsv(text: string, path: string): Record<string, string[]> {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const header = lines[0]?.split(",");
  if (header === undefined) throw malformed(path, "empty CSV");
  const cols: Record<string, string[]> = {};
  for (const h of header) cols[h] = [];
  for (let i = 1; i < lines.length; i++) {
    const cells = lines[i]!.split(",");
    if (cells.length !== header.length) throw malformed(path, `line ${i + 1} has ${cells.length} cells, header has ${header.length}`);
    header.forEach((h, j) => cols[h]!.push(cells[j]!));
  }
  return cols;
}

function column(cols: Record<string, string[]>, name: string, path: string): string[] {
  const c = cols[name];
  if (c === undefined) throw malformed(path, `no "${name}" column`);
  return c;
}

function numbers(cells: readonly string[], path: string, name: string): number[] {
  return cells.map((c, i) => {
    const x = Number(c);
    if (c.trim() === "" || !Number.isFinite(x)) throw malformed(path, `${name} row ${i + 1} is not a number: ${JSON.stringify(c)}`);
    return x;
  });
}

/** labels/combined_windows.json: every series' windows (empty list: no anomaly). */
export function readWindows(nabDir: string): Record<SeriesName, NabWindow[]> {
  const path = join(nabDir, "labels/combined_windows.json");
  const raw = readJson(path);
  if (!isRecord(raw)) throw malformed(path, "expected an object");
  const out: Record<SeriesName, NabWindow[]> = {};
  for (const [name, list] of Object.entries(raw)) {
    if (!Array.isArray(list)) throw malformed(path, `${name}: expected a list of windows`);
    out[name] = list.map((w: unknown) => {
      if (!Array.isArray(w) || w.length !== 2 || typeof w[0] !== "string" || typeof w[1] !== "string") {
        throw malformed(path, `${name}: a window is [start, end]`);
      }
      return { startMs: parseNabTimestamp(w[0]), endMs: parseNabTimestamp(w[1]) };
    });
  }
  return out;
}

/** config/profiles.json: profile name → cost matrix. */
export function readProfiles(nabDir: string): Record<string, CostMatrix> {
  const path = join(nabDir, "config/profiles.json");
  const raw = readJson(path);
  if (!isRecord(raw)) throw malformed(path, "expected an object");
  const out: Record<string, CostMatrix> = {};
  for (const [name, p] of Object.entries(raw)) {
    const m = isRecord(p) ? p["CostMatrix"] : undefined;
    if (!isRecord(m)) throw malformed(path, `${name}: no CostMatrix`);
    const { tpWeight, fpWeight, fnWeight } = m;
    if (typeof tpWeight !== "number" || typeof fpWeight !== "number" || typeof fnWeight !== "number") {
      throw malformed(path, `${name}: tpWeight, fpWeight, fnWeight are numbers`);
    }
    out[name] = { tpWeight, fpWeight, fnWeight };
  }
  return out;
}

/** config/thresholds.json: the thresholds NAB's optimizer chose per detector and profile. */
export function readThresholds(nabDir: string): Thresholds {
  const path = join(nabDir, "config/thresholds.json");
  const raw = readJson(path);
  if (!isRecord(raw)) throw malformed(path, "expected an object");
  const out: Record<string, Record<string, ThresholdEntry>> = {};
  for (const [detector, byProfile] of Object.entries(raw)) {
    if (!isRecord(byProfile)) throw malformed(path, `${detector}: expected an object`);
    out[detector] = {};
    for (const [profile, e] of Object.entries(byProfile)) {
      if (!isRecord(e) || typeof e["threshold"] !== "number" || typeof e["score"] !== "number") {
        throw malformed(path, `${detector}.${profile}: expected { threshold, score }`);
      }
      out[detector][profile] = { threshold: e["threshold"], score: e["score"] };
    }
  }
  return out;
}

/** results/final_results.json: the published scoreboard. */
export function readPublished(nabDir: string): PublishedResults {
  const path = join(nabDir, "results/final_results.json");
  const raw = readJson(path);
  if (!isRecord(raw)) throw malformed(path, "expected an object");
  const out: Record<string, Record<string, number>> = {};
  for (const [detector, byProfile] of Object.entries(raw)) {
    if (!isRecord(byProfile)) throw malformed(path, `${detector}: expected an object`);
    out[detector] = {};
    for (const [profile, v] of Object.entries(byProfile)) {
      if (typeof v !== "number") throw malformed(path, `${detector}.${profile}: expected a number`);
      out[detector][profile] = v;
    }
  }
  return out;
}

/** data/<name>: a series' row timestamps (epoch ms) and values. */
export function readSeries(nabDir: string, name: SeriesName): { timestamps: number[]; values: number[] } {
  const path = join(nabDir, "data", name);
  const cols = parseCsv(readText(path), path);
  return {
    timestamps: column(cols, "timestamp", path).map(parseNabTimestamp),
    values: numbers(column(cols, "value", path), path, "value"),
  };
}

/** Every series under data/, as "<category>/<file>.csv", sorted. */
export function listSeries(nabDir: string): SeriesName[] {
  const dataDir = join(nabDir, "data");
  const out: SeriesName[] = [];
  for (const category of readdirSync(dataDir).sort()) {
    if (!statSync(join(dataDir, category)).isDirectory()) continue;
    for (const f of readdirSync(join(dataDir, category)).sort()) if (f.endsWith(".csv")) out.push(`${category}/${f}`);
  }
  return out;
}

/**
 * A detector's results folder (NAB layout: <dir>/<category>/<detector>_<file>.csv
 * with an anomaly_score column), one DetectorFile per series. The timestamps
 * are the data file's, as NAB scores against its labels; the results rows
 * must match them one for one.
 */
export function readDetectorResults(nabDir: string, detector: string, resultsDir = join(nabDir, "results", detector)): DetectorFile[] {
  if (!existsSync(resultsDir) || !statSync(resultsDir).isDirectory()) {
    throw new UmbraError("config_unreadable", `results folder not found: ${resultsDir}`, { resultsDir, detector });
  }
  const prefix = `${detector}_`;
  const files: DetectorFile[] = [];
  for (const category of readdirSync(resultsDir).sort()) {
    const catDir = join(resultsDir, category);
    if (!statSync(catDir).isDirectory()) continue; // skips <detector>_<profile>_scores.csv
    for (const f of readdirSync(catDir).sort()) {
      if (!f.endsWith(".csv")) continue;
      if (!f.startsWith(prefix)) throw malformed(join(catDir, f), `expected the name to start with "${prefix}"`);
      const name = `${category}/${f.slice(prefix.length)}`;
      const path = join(catDir, f);
      const cols = parseCsv(readText(path), path);
      const scores = numbers(column(cols, "anomaly_score", path), path, "anomaly_score");
      const series = readSeries(nabDir, name);
      const resultMs = column(cols, "timestamp", path).map(parseNabTimestamp);
      if (resultMs.length !== series.timestamps.length) {
        throw malformed(path, `${resultMs.length} rows, but data/${name} has ${series.timestamps.length}`);
      }
      const mismatch = resultMs.findIndex((t, i) => t !== series.timestamps[i]);
      if (mismatch !== -1) throw malformed(path, `row ${mismatch + 1}: timestamp differs from data/${name}`);
      files.push({ name, timestamps: series.timestamps, scores });
    }
  }
  if (files.length === 0) throw new UmbraError("config_unreadable", `no results CSVs under ${resultsDir}`, { resultsDir, detector });
  assert(new Set(files.map((f) => f.name)).size === files.length, "one results file per series");
  return files;
}
