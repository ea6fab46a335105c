// This host's day, kept for auto swap windows (swapwindow.ts chooses from
// it): each of its own samples, in the metrics an auto window reads, into a
// day profile (forecast/dayprofile.ts) by the local time it was taken.
// Written to the state directory at most every DAY_LOAD_SAVE_MS and at stop,
// read at start: a restart keeps what the week taught. A file that cannot
// be read or parsed is said and ignored: the day is learned again.

import { readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "../shared/config.ts";
import type { HostMetric } from "../shared/metrics.ts";
import type { Logger } from "../shared/log.ts";
import type { HostSample } from "../probe/index.ts";
import { DayProfile, type DayLoad } from "../forecast/index.ts";

export const DAY_LOAD_FILE = "dayload.json";
/** The profile is written at most this often (and at stop): a crash loses at most this much of the day. */
export const DAY_LOAD_SAVE_MS = 5 * 60_000;
/** The file's layout; another is ignored, as a corrupt one. */
const FILE_VERSION = 1;

export type DayLoads = {
  /** One of this host's own samples. */
  sample(s: HostSample): void;
  /** A metric's profile; null before this run's first sample (a file kept over a long stop may hold days since aged out). */
  profile(metric: HostMetric): DayLoad | null;
  /** Writes the profile, and no more after. */
  stop(): Promise<void>;
};

/** The zone's offset at `ts` read here, in the shell: the profile only does arithmetic on local ms. */
export const localMsOf = (ts: number): number => ts - new Date(ts).getTimezoneOffset() * 60_000;

/** Keeps the day of every metric an auto swap window reads; null when no service has one. */
export function startDayLoads(config: Pick<Config, "services" | "stateDir">, log: Logger): DayLoads | null {
  const metrics = [...new Set(config.services.flatMap((s) => (s.swap !== undefined && "auto" in s.swap.window ? [s.swap.window.metric] : [])))];
  if (metrics.length === 0) return null;
  const path = join(config.stateDir, DAY_LOAD_FILE);
  const profiles = loadProfiles(path, metrics, log);
  let sampled = false;
  let dirty = false;
  let stopped = false;
  let writing: Promise<void> = Promise.resolve();
  const save = () => {
    if (!dirty) return writing;
    dirty = false;
    const doc = { version: FILE_VERSION, metrics: Object.fromEntries([...profiles].map(([m, p]) => [m, p.toJSON()])) };
    writing = writing.then(() => writeJson(path, doc, log));
    return writing;
  };
  const timer = setInterval(() => void save(), DAY_LOAD_SAVE_MS);
  timer.unref();
  return {
    sample(s) {
      if (stopped) return;
      const localMs = localMsOf(s.ts);
      let stepped = false;
      for (const [m, p] of profiles) stepped = p.add(localMs, s[m]) || stepped;
      if (stepped) log("warn", "swap", "day-load-clock-stepped", { sampleAt: new Date(s.ts).toISOString(), action: "the days after this sample's were dropped: the clock had been a week or more ahead" });
      sampled = true;
      dirty = true;
    },
    profile: (metric) => (sampled ? (profiles.get(metric)?.profile() ?? null) : null),
    stop() {
      stopped = true;
      clearInterval(timer);
      return save();
    },
  };
}

/** The profiles the file holds for these metrics, a fresh one for each it lacks; nothing of a file that is not whole. */
function loadProfiles(path: string, metrics: readonly HostMetric[], log: Logger): Map<HostMetric, DayProfile> {
  const fresh = () => new Map(metrics.map((m) => [m, new DayProfile()]));
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") log("warn", "swap", "day-load-unreadable", { path, error: (err as Error).message, effect: "ignored: auto swap windows learn the day again" });
    return fresh();
  }
  const doc = raw as { version?: unknown; metrics?: Record<string, unknown> } | null;
  const out = new Map<HostMetric, DayProfile>();
  const bad = (why: string) => {
    log("warn", "swap", "day-load-unreadable", { path, error: why, effect: "ignored: auto swap windows learn the day again" });
    return fresh();
  };
  if (typeof doc !== "object" || doc === null || doc.version !== FILE_VERSION || typeof doc.metrics !== "object" || doc.metrics === null) return bad(`not a version ${FILE_VERSION} day-load file`);
  for (const m of metrics) {
    const kept = doc.metrics[m];
    const p = kept === undefined ? new DayProfile() : DayProfile.fromJSON(kept);
    if (p === null) return bad(`${m}: malformed`);
    out.set(m, p);
  }
  return out;
}

/** Temp file, then rename: a crash mid-write leaves the last whole file. */
async function writeJson(path: string, doc: unknown, log: Logger): Promise<void> {
  try {
    await writeFile(`${path}.tmp`, JSON.stringify(doc), { mode: 0o600 });
    await rename(`${path}.tmp`, path);
  } catch (err) {
    log("error", "swap", "day-load-unwritable", { path, error: (err as Error).message, effect: "a restart of this agent learns the day's load since the last write again" });
  }
}
