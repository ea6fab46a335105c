// Safe mode with diagnostics, for one service on one host, as a pure machine.
//
// A host that held a service and learns that a majority certified another
// holder in its place without it handing over (it was cut off, frozen,
// crashed, or its lease lapsed for good) is demoted: it enters safe mode.
// It asks its shell for diagnostics (the service's `diagnose` hook, and a
// bundle of what the agent saw: recent decisions and log lines, beacons,
// forecasts, written under the state directory), and stays out of the
// service's candidacy meanwhile: the host core counts it unhealthy there, so
// its beacons say so and no peer hands the service back to it. Diagnostics
// that pass end safe mode; failed ones run again after DIAGNOSE_RETRY_MS; an
// operator's `umbra rejoin` ends it whatever they say. A planned move (a
// handover in person, a predicted move, a move back) demotes nobody.
//
// Safe mode only keeps a host out of candidacy: the single-holder promise
// never rests on it (the quorum holds that alone), so losing it to a restart
// costs diagnostics, not safety; the shell keeps it on disk all the same.

import { assert } from "../shared/assert.ts";

/** Failed diagnostics run again this long after they ended (the agent's; HostConfig.diagnoseRetryMs may say otherwise). */
export const DIAGNOSE_RETRY_MS = 60_000;
/** A diagnostics run's detail kept for status, at most (characters). */
export const DETAIL_MAX = 500;

/** What the latest diagnostics said. */
export type Diagnosis = { readonly seq: number; readonly ok: boolean; readonly detail: string; readonly bundle: string | null; readonly atMs: number };

export type SafeMode = {
  /** Why the host is in safe mode (null: it is not). */
  readonly why: string | null;
  /** Since when (null when not in safe mode). */
  readonly sinceMs: number | null;
  /** Diagnostics run number `seq` is under way (its outcome is awaited). */
  readonly running: boolean;
  /** Failed diagnostics run again at this time (null: none due). */
  readonly retryAtMs: number | null;
  /** Diagnostics started so far: each run's number, so a late outcome of an older run is known as such. */
  readonly seq: number;
  /** The latest diagnostics' outcome, kept after safe mode ends (status shows the bundle). */
  readonly last: Diagnosis | null;
  /** The epoch this host held when its agent last stopped on purpose (null: it did not): a certificate that replaced it there demotes nobody. */
  readonly leftEpoch: number | null;
};

export type SafeEvent =
  | { type: "demoted"; why: string } // a majority certified another holder in this host's place, not handed over by it
  | { type: "diagnosed"; seq: number; ok: boolean; detail: string; bundle: string | null } // run `seq`'s outcome: the hook's verdict and where the bundle went
  | { type: "rejoin"; by: string } // an operator's order ends safe mode
  | { type: "restored"; why: string } // safe mode as the disk kept it across a restart: diagnostics run afresh
  | { type: "left"; epoch: number | null } // the agent last stopped on purpose holding this epoch (a restart, an upgrade): its replacement then is no demotion; null: holding again, that is over
  | { type: "tick" };

export type SafeEffect =
  | { type: "diagnose"; seq: number; why: string } // run diagnostics; answer with diagnosed (seq)
  | { type: "safe-mode-changed"; on: boolean; why: string }; // entered (on) or ended, and why: the shell logs it, keeps it on disk, and beacons carry it

export type SafeStep = { state: SafeMode; effects: SafeEffect[] };

export const initialSafeMode = (): SafeMode => ({ why: null, sinceMs: null, running: false, retryAtMs: null, seq: 0, last: null, leftEpoch: null });

export const inSafeMode = (s: SafeMode): boolean => s.why !== null;

export function step(s: SafeMode, e: SafeEvent, nowMs: number, retryMs = DIAGNOSE_RETRY_MS): SafeStep {
  switch (e.type) {
    case "demoted":
    case "restored": {
      // Demoted again while in safe mode: the diagnostics under way (or due) cover it.
      if (inSafeMode(s)) return { state: s, effects: [] };
      return run({ ...s, why: e.why, sinceMs: nowMs }, [{ type: "safe-mode-changed", on: true, why: e.why }]);
    }
    case "diagnosed": {
      if (e.seq !== s.seq || !s.running) return { state: s, effects: [] }; // an older run's, or one an operator's rejoin overtook
      const last: Diagnosis = { seq: e.seq, ok: e.ok, detail: e.detail.slice(0, DETAIL_MAX), bundle: e.bundle, atMs: nowMs };
      if (!e.ok) return { state: { ...s, last, running: false, retryAtMs: nowMs + retryMs }, effects: [] };
      return { state: { ...s, last, why: null, sinceMs: null, running: false, retryAtMs: null }, effects: [{ type: "safe-mode-changed", on: false, why: "diagnostics passed" }] };
    }
    case "rejoin":
      if (!inSafeMode(s)) return { state: s, effects: [] };
      return { state: { ...s, why: null, sinceMs: null, running: false, retryAtMs: null }, effects: [{ type: "safe-mode-changed", on: false, why: `rejoined by ${e.by}` }] };
    case "left":
      return s.leftEpoch === e.epoch ? { state: s, effects: [] } : { state: { ...s, leftEpoch: e.epoch }, effects: [] };
    case "tick":
      if (!inSafeMode(s) || s.running || s.retryAtMs === null || nowMs < s.retryAtMs) return { state: s, effects: [] };
      return run(s, []);
  }
}

/** Starts the next diagnostics run. */
function run(s: SafeMode, effects: SafeEffect[]): SafeStep {
  assert(s.why !== null, "diagnostics run in safe mode");
  const seq = s.seq + 1;
  return { state: { ...s, seq, running: true, retryAtMs: null }, effects: [...effects, { type: "diagnose", seq, why: s.why }] };
}

/** When a tick could next act: failed diagnostics' retry. */
export const nextTickMs = (s: SafeMode): number => (inSafeMode(s) && !s.running && s.retryAtMs !== null ? s.retryAtMs : Infinity);

/** Why the host is kept out, for the service's health and status (null: not in safe mode). */
export function safeWhy(s: SafeMode): string | null {
  if (s.why === null) return null;
  const state = s.running ? "diagnostics running" : s.last !== null && !s.last.ok ? `diagnostics failed: ${s.last.detail}` : "diagnostics due";
  return `safe mode (${s.why}): ${state}`;
}
