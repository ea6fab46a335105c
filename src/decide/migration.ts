// Workload migration, for one service on one host, as a pure machine. The
// service's workloads (DESIGN's WorkloadData, in its replicated document)
// live on the hosts that serve it: its holder and its active shadows (the
// pool, decide/scaling.ts). Only the holder acts, under its lease, one move
// at a time: a workload on a host outside the pool (an active shadow sent
// back, a holder that lost the service) goes to the least loaded host of
// the pool; otherwise one goes from the most loaded host to the least
// loaded, when that narrows the gap (a move of weight w between loads a > b
// only when w < a - b, so the gap shrinks every time and two hosts never
// trade a workload back and forth). So a scale out draws workloads off the
// hot holder onto the new active shadow, and a scale in brings them back.
// The shell runs the `migrate` hook, then records the move in the document
// (acknowledged by its replicas) and answers `migrated`; a failed move is
// tried again after a back-off, with an alarm from the third failure in a
// row. The document is the truth: each change of it comes in as
// `workloads`, and the plan is made afresh from it.

import { assert } from "../shared/assert.ts";
import type { HostId } from "../shared/ids.ts";

/** A workload as the plan sees it: where the document says it runs, and what it weighs. */
export type Workload = { id: string; host: HostId; weight: number };

export type MigrationState = {
  /** The service's workloads, as this host's replica of the document has them, by id. */
  readonly workloads: readonly Workload[];
  /** The move under way (its hook running, or its record being written); null: none. */
  readonly running: { id: string; from: HostId; to: HostId } | null;
  /** Moves failed in a row, and when the next may start. */
  readonly failures: number;
  readonly retryAtMs: number;
};

export type MigrationEvent =
  | { type: "workloads"; list: readonly Workload[] } // the document's workloads changed (or were read at start)
  | { type: "migrated"; id: string; to: HostId; ok: boolean; detail: string; stale?: boolean } // the outcome of a migrate: the hook ran and the move is recorded (ok), or either failed; stale: the document had it removed or moved meanwhile (no failure: the plan goes on from the document)
  | { type: "tick"; holding: boolean; pool: readonly HostId[] }; // whether this host holds the service under a lease now (its VIP in), and its pool, itself first

export type MigrationEffect =
  | { type: "migrate"; id: string; from: HostId; to: HostId; why: string }
  | { type: "alarm"; failing: boolean; detail: string | null; attempts: number }; // migrate-failing (from the third failure in a row), or migrate-recovered

export type MigrationStep = { state: MigrationState; effects: MigrationEffect[] };

/** Moves failed in a row before the alarm; the retries' back-off, from its first to its longest. */
export const MIGRATE_ALARM_AFTER = 3;
const RETRY_MS_MIN = 1_000;
const RETRY_MS_MAX = 30_000;
/** Workloads of one service, at most: the plan is quadratic in them at worst. */
export const WORKLOADS_MAX = 1_024;

export function initialMigration(): MigrationState {
  return { workloads: [], running: null, failures: 0, retryAtMs: -Infinity };
}

export function step(s: MigrationState, e: MigrationEvent, nowMs: number): MigrationStep {
  switch (e.type) {
    case "workloads":
      assert(e.list.length <= WORKLOADS_MAX, "at most WORKLOADS_MAX workloads");
      return { state: { ...s, workloads: [...e.list].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) }, effects: [] };
    case "migrated": {
      if (s.running === null || s.running.id !== e.id || s.running.to !== e.to) return { state: s, effects: [] }; // not the move under way (a restart's)
      if (e.stale === true) return { state: { ...s, running: null }, effects: [] };
      if (e.ok) {
        // The record is written: the document will say so too; the plan goes on from it now.
        const workloads = s.workloads.map((w) => (w.id === e.id ? { ...w, host: e.to } : w));
        const effects: MigrationEffect[] = s.failures >= MIGRATE_ALARM_AFTER ? [{ type: "alarm", failing: false, detail: null, attempts: s.failures }] : [];
        return { state: { ...s, workloads, running: null, failures: 0, retryAtMs: -Infinity }, effects };
      }
      const failures = s.failures + 1;
      const retryAtMs = nowMs + Math.min(RETRY_MS_MIN * 2 ** (failures - 1), RETRY_MS_MAX);
      const effects: MigrationEffect[] = failures === MIGRATE_ALARM_AFTER ? [{ type: "alarm", failing: true, detail: `${e.id} to ${e.to}: ${e.detail}`, attempts: failures }] : [];
      return { state: { ...s, running: null, failures, retryAtMs }, effects };
    }
    case "tick": {
      if (!e.holding) return s.failures === 0 ? { state: s, effects: [] } : { state: { ...s, failures: 0, retryAtMs: -Infinity }, effects: [] };
      if (s.running !== null) return { state: s, effects: [] };
      const m = plan(s.workloads, e.pool);
      if (m === null) {
        // Nothing left to move (a record that landed late, a workload removed): the failures are over.
        if (s.failures === 0) return { state: s, effects: [] };
        return { state: { ...s, failures: 0, retryAtMs: -Infinity }, effects: s.failures >= MIGRATE_ALARM_AFTER ? [{ type: "alarm", failing: false, detail: null, attempts: s.failures }] : [] };
      }
      if (nowMs < s.retryAtMs) return { state: s, effects: [] };
      return { state: { ...s, running: { id: m.id, from: m.from, to: m.to } }, effects: [{ type: "migrate", ...m }] };
    }
  }
}

/** When a tick could next act (Infinity: only an event can make one). */
export function nextTickMs(s: MigrationState, holding: boolean, pool: readonly HostId[], nowMs: number): number {
  if (!holding) return s.failures === 0 ? Infinity : nowMs;
  if (s.running !== null) return Infinity;
  if (plan(s.workloads, pool) === null) return s.failures === 0 ? Infinity : nowMs;
  return Math.max(nowMs, s.retryAtMs);
}

/** Each pool host's load: the weights of the workloads on it. */
export function loads(workloads: readonly Workload[], pool: readonly HostId[]): Map<HostId, number> {
  const load = new Map<HostId, number>(pool.map((h) => [h, 0]));
  for (const w of workloads) if (load.has(w.host)) load.set(w.host, load.get(w.host)! + w.weight);
  return load;
}

/** The next move (null: the workloads sit where they should): one off a host outside the pool first, else one that narrows the widest gap. */
export function plan(workloads: readonly Workload[], pool: readonly HostId[]): { id: string; from: HostId; to: HostId; why: string } | null {
  if (pool.length === 0) return null;
  const load = loads(workloads, pool);
  // Ties go to the earlier host of the pool: the holder first.
  const least = pool.reduce((a, h) => (load.get(h)! < load.get(a)! ? h : a));
  const stray = workloads.find((w) => !load.has(w.host));
  if (stray !== undefined) return { id: stray.id, from: stray.host, to: least, why: `${stray.host} does not serve the service` };
  const most = pool.reduce((a, h) => (load.get(h)! > load.get(a)! ? h : a));
  const gap = load.get(most)! - load.get(least)!;
  let best: Workload | null = null;
  for (const w of workloads) if (w.host === most && w.weight > 0 && w.weight < gap && (best === null || w.weight > best.weight)) best = w;
  if (best === null) return null;
  return { id: best.id, from: most, to: least, why: `balance: ${most} carries ${fmt(load.get(most)!)}, ${least} ${fmt(load.get(least)!)}` };
}

const fmt = (x: number): string => String(Math.round(x * 1000) / 1000);
