// Safe mode's diagnostics (decide/safemode.ts decides; this carries out): a
// bundle of what the agent saw, written under the state directory, then the
// service's `diagnose` hook, whose exit status is the verdict (no hook: the
// bundle is the diagnostics, and they pass). The outcome goes back to the
// core as `diagnosed`. Which services this host is in safe mode for is kept
// on disk (safemode.json), so a restart does not wave a failed host back in;
// which it held when its agent stopped on purpose too (left.json, read once
// at the next start), so a restart or an upgrade of the holder demotes
// nobody.

import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { mkdir, readdir, rename, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { HostId } from "../shared/ids.ts";
import type { Logger } from "../shared/log.ts";
import type { HostEffect, HostEvent } from "../decide/index.ts";
import { runHook, type HookResult } from "../actuate/index.ts";
import type { EventLine, StatusDoc } from "../api/index.ts";
import type { ServiceRt } from "./runners.ts";

/** Where the bundles go, under the state directory: a folder per service. */
export const DIAGNOSTICS_DIR = "diagnostics";
/** The services this host held when its agent stopped on purpose, and their epochs. */
export const LEFT_FILE = "left.json";
/** Bundles kept per service: the oldest go. */
export const BUNDLES_KEPT = 20;
/** Which services this host is in safe mode for, and why (read at start). */
export const SAFE_MODE_FILE = "safemode.json";
/** The hook's output kept in the verdict's detail (the bundle has the tails in full). */
const DETAIL_OUTPUT_CHARS = 200;

export type DiagnoseDeps = {
  self: HostId;
  stateDir: string;
  services: ReadonlyMap<string, ServiceRt>;
  hookTimeoutMs: number;
  hookPrefix: string[];
  log: Logger;
  /** What the bundle records: the status document (beacons, forecasts, quorums, replicas) and the recent notable log lines (the decisions). */
  snapshot(): { status: StatusDoc; events: EventLine[] };
  report(ev: HostEvent): void;
};

/** The bundle as written. */
export type Bundle = {
  host: HostId;
  service: string;
  seq: number;
  why: string;
  writtenAt: string;
  status: StatusDoc;
  events: EventLine[];
  hook: { path: string; exitCode: number | null; signal: string | null; timedOut: boolean; ms: number; stdout: string; stderr: string } | null;
};

/** A file name safe for any filesystem, in the order written: the time, the run. */
const bundleName = (seq: number, at: Date): string => `${at.toISOString().replace(/[:.]/g, "-")}-${seq}.json`;

/** Carries out diagnose effects: each writes its bundle, runs the hook, and reports. Never throws: a failure is a verdict. */
export function diagnoser(d: DiagnoseDeps): (fx: Extract<HostEffect, { type: "diagnose" }>) => void {
  return (fx) => {
    void diagnose(d, fx).then(
      (ev) => d.report(ev),
      (err: Error) => d.report({ type: "diagnosed", service: fx.service, seq: fx.seq, ok: false, detail: `diagnostics could not run: ${err.message}`, bundle: null }),
    );
  };
}

async function diagnose(d: DiagnoseDeps, fx: Extract<HostEffect, { type: "diagnose" }>): Promise<HostEvent> {
  const dir = join(d.stateDir, DIAGNOSTICS_DIR, fx.service); // service names are file names (config: letters, digits, _ . -)
  const path = join(dir, bundleName(fx.seq, new Date()));
  const snap = d.snapshot();
  const bundle: Bundle = { host: d.self, service: fx.service, seq: fx.seq, why: fx.why, writtenAt: new Date().toISOString(), status: snap.status, events: snap.events, hook: null };
  const written = await writeBundle(dir, path, bundle, d.log);
  const hookPath = d.services.get(fx.service)?.cfg.hooks?.diagnose;
  if (hookPath === undefined) {
    d.log("info", "health", "diagnosed", { service: fx.service, ok: true, bundle: written ? path : null, hook: null });
    return { type: "diagnosed", service: fx.service, seq: fx.seq, ok: true, detail: written ? "no diagnose hook: the bundle was written" : "no diagnose hook (the bundle could not be written)", bundle: written ? path : null };
  }
  const r = await runHook({
    path: hookPath,
    args: [fx.service, written ? path : ""],
    env: { UMBRA_SERVICE: fx.service, UMBRA_HOST: d.self, UMBRA_REASON: fx.why, UMBRA_BUNDLE: written ? path : "" },
    timeoutMs: d.hookTimeoutMs,
    prefix: d.hookPrefix,
  }).catch((err: Error): HookResult => ({ exitCode: null, signal: null, timedOut: false, durationMs: 0, stdoutTail: "", stderrTail: err.message }));
  const ok = r.exitCode === 0;
  bundle.hook = { path: hookPath, exitCode: r.exitCode, signal: r.signal, timedOut: r.timedOut, ms: r.durationMs, stdout: r.stdoutTail, stderr: r.stderrTail };
  const rewritten = written && (await writeBundle(dir, path, bundle, d.log));
  const said = (r.stdoutTail.trim() || r.stderrTail.trim()).slice(-DETAIL_OUTPUT_CHARS);
  const detail = `${r.timedOut ? "timed out" : r.exitCode === null ? `killed by ${r.signal ?? "an error"}` : `exit ${r.exitCode}`}${said === "" ? "" : `: ${said}`}`;
  d.log(ok ? "info" : "warn", "health", "diagnosed", { service: fx.service, ok, detail, bundle: rewritten ? path : null, hook: hookPath, effect: ok ? "safe mode ends: a candidate again" : "stays in safe mode: diagnostics run again later, or an operator's `umbra rejoin` ends it" });
  return { type: "diagnosed", service: fx.service, seq: fx.seq, ok, detail, bundle: rewritten ? path : null };
}

/** Writes the bundle (temp file, then rename) and prunes the service's oldest; false (logged) when the disk refused. */
async function writeBundle(dir: string, path: string, b: Bundle, log: Logger): Promise<boolean> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o750 });
    await writeFile(`${path}.tmp`, JSON.stringify(b, null, 1) + "\n", { mode: 0o640 });
    await rename(`${path}.tmp`, path);
  } catch (err) {
    log("error", "health", "diagnostics-bundle-failed", { service: b.service, path, error: (err as Error).message, effect: "the diagnose hook runs without it" });
    return false;
  }
  await prune(dir, path, log);
  return true;
}

/** Keeps the BUNDLES_KEPT newest bundles of a service's folder (never the one just written); a failure is said, and costs nothing else. */
async function prune(dir: string, written: string, log: Logger): Promise<void> {
  try {
    const all = (await readdir(dir)).filter((f) => f.endsWith(".json")).sort();
    for (const f of all.slice(0, Math.max(0, all.length - BUNDLES_KEPT))) if (join(dir, f) !== written) await unlink(join(dir, f));
  } catch (err) {
    log("warn", "health", "diagnostics-prune-failed", { dir, error: (err as Error).message });
  }
}

/** A JSON object of the state directory, its values of one kind (`keep` says which): nothing, or unreadable, is none (said in the log). */
function loadMap<T>(path: string, keep: (v: unknown) => v is T, log: Logger, effect: string): Record<string, T> {
  try {
    const raw = JSON.parse(readFileSync(path, "utf8")) as unknown;
    const out: Record<string, T> = {};
    if (typeof raw === "object" && raw !== null) for (const [k, v] of Object.entries(raw)) if (keep(v)) out[k] = v;
    return out;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") log("warn", "health", "state-file-unreadable", { path, error: (err as Error).message, effect });
    return {};
  }
}

/** Safe mode as the disk kept it: service -> why, for the services given. */
export function loadSafeModes(stateDir: string, services: ReadonlySet<string>, log: Logger): Record<string, string> {
  const kept = loadMap(join(stateDir, SAFE_MODE_FILE), (v): v is string => typeof v === "string", log, "ignored: no service starts in safe mode");
  return Object.fromEntries(Object.entries(kept).filter(([sv]) => services.has(sv)));
}

/** What this host held when its agent last stopped on purpose (service -> epoch), read once: the file goes. */
export function takeLeft(stateDir: string, log: Logger): Record<string, number> {
  const path = join(stateDir, LEFT_FILE);
  const left = loadMap(path, (v): v is number => Number.isSafeInteger(v), log, "ignored: a replacement while this host was down counts as a demotion");
  rmSync(path, { force: true });
  return left;
}

/** At a stop on purpose: what this host holds (service -> epoch), for the next start. Synchronous: the stop waits for it. */
export function writeLeft(stateDir: string, held: Record<string, number>, log: Logger): void {
  const path = join(stateDir, LEFT_FILE);
  try {
    writeFileSync(`${path}.tmp`, JSON.stringify(held) + "\n", { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
  } catch (err) {
    log("warn", "health", "left-unwritable", { path, error: (err as Error).message, effect: "the next start counts a replacement meanwhile as a demotion (diagnostics run)" });
  }
}

/** Keeps safemode.json current: each change rewrites it whole (temp file, then rename), in order. */
export function safeModeWriter(stateDir: string, initial: Record<string, string>, log: Logger): (fx: Extract<HostEffect, { type: "safe-mode-changed" }>) => void {
  const now: Record<string, string> = { ...initial };
  let chain: Promise<void> = Promise.resolve();
  const path = join(stateDir, SAFE_MODE_FILE);
  return (fx) => {
    if (fx.on) now[fx.service] = fx.why;
    else delete now[fx.service];
    const text = JSON.stringify(now) + "\n";
    chain = chain.then(() => writeFile(`${path}.tmp`, text, { mode: 0o600 }).then(() => rename(`${path}.tmp`, path))).catch((err: Error) => log("error", "health", "safe-mode-unwritable", { path, error: err.message, effect: "a restart would forget this host's safe mode" }));
  };
}
