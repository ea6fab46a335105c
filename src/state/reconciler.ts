// Reconcile glue of the replicator: waits (bounded) for the target heads to
// arrive, gathers what decide/reconcile.ts needs from the document, makes
// the change it plans, and reports. The target itself (declared, else the
// latest acknowledged heads) is decide/replicasync.ts's reconcileTarget.

import * as A from "@automerge/automerge";
import { UmbraError } from "../shared/errors.ts";
import { planReconcile, type Conflict, type UnackedChange } from "../decide/index.ts";
import { applyEdit, configAt, configConflicts, configNow } from "./doc.ts";
import { wallSeconds, type Replica, type Shell } from "./replica.ts";

/** How often a reconcile looks again for target heads still on their way. */
export const RECONCILE_POLL_MS = 20;
/** Looks at most, whatever the clock says. */
export const RECONCILE_POLLS_MAX = 10_000;
/** Characters of a change hash shown in a reconcile change's message. */
const HASH_SHOWN = 12;
/** A change hash as printed by `umbra state history --json`. */
const CHANGE_HASH = /^[0-9a-f]{64}$/;

export type ReconcileReport = {
  service: string;
  /** Why it ran: a failover to this host, or an operator's request. */
  reason: "failover" | "operator";
  atWallMs: number;
  /** The heads reconciled to: declared by the operator, else the latest acknowledged ones this host knows. */
  target: string[];
  declared: boolean;
  /** How long it waited for missing changes to arrive from the other replicas. */
  waitedMs: number;
  /** The target heads never arrived: nothing was changed. */
  incomplete: boolean;
  /** Keys set back to the target's value (or removed) by a new change. */
  rolledBack: string[];
  /** The change that did it, if any. */
  change: string | null;
  /** Changes after the target that were never acknowledged, kept (no declared target) and listed. */
  kept: UnackedChange[];
  /** Keys with concurrent values: the one in force and the ones set aside. */
  conflicts: Conflict[];
};

export type ReconcileRequest = { reason: ReconcileReport["reason"]; to?: string[] };

/** Brings the configuration to the target heads (`target` picks them, given the declared and current ones) and reports what it did. */
export async function reconcile(x: Shell, r: Replica, req: ReconcileRequest, target: (declared: string[] | undefined, current: string[]) => string[]): Promise<ReconcileReport> {
  const declared = req.to !== undefined;
  if (req.to !== undefined && (req.to.length === 0 || req.to.some((h) => !CHANGE_HASH.test(h)))) throw new UmbraError("request_invalid", "reconcile: --to takes change hashes (64 hex characters), as printed by `umbra state history --json`");
  const to = target(req.to, A.getHeads(r.doc));
  const t0 = x.now();
  await arrival(x, r, to, t0);
  const have = A.hasHeads(r.doc, to);
  const unacked: UnackedChange[] = have ? A.getChangesMetaSince(r.doc, to).map((m) => ({ hash: m.hash, message: m.message ?? null })) : [];
  const plan = planReconcile({
    current: configNow(r.doc), // not the whole document: its audit trail and blob lists only grow
    intended: have ? configAt(r.doc, to) : null,
    declared,
    conflicts: configConflicts(r.doc),
    unacked,
  });
  let change: string | null = null;
  if (plan.edit !== null) {
    r.doc = applyEdit(r.doc, plan.edit, `reconcile: back to ${to.map((h) => h.slice(0, HASH_SHOWN)).join(",")}`, wallSeconds(x));
    r.dirty = true;
    change = A.getHeads(r.doc)[0] ?? null;
    x.flush(r);
  }
  const report: ReconcileReport = { service: r.cfg.name, reason: req.reason, atWallMs: x.wallNow(), target: to, declared, waitedMs: Math.round(x.now() - t0), incomplete: plan.incomplete, rolledBack: plan.rolledBack, change, kept: plan.kept, conflicts: plan.conflicts };
  r.lastReconcile = report;
  x.log(plan.incomplete || plan.conflicts.length > 0 ? "warn" : "info", "state", "reconciled", { ...report, kept: report.kept.length, conflicts: report.conflicts.map((c) => c.key) });
  return report;
}

/** The target's changes may still be on their way from the others: waits for them, at most the write timeout. */
async function arrival(x: Shell, r: Replica, heads: string[], t0: number): Promise<void> {
  for (let i = 0; !A.hasHeads(r.doc, heads) && x.now() - t0 < x.writeTimeoutMs && i < RECONCILE_POLLS_MAX; i++) {
    if (r.dirty) x.flush(r);
    await new Promise((res) => setTimeout(res, RECONCILE_POLL_MS));
  }
}
