// Reconciliation after a failover, as a pure function: given what the new
// holder's document says now, the intended configuration (the one at the
// latest acknowledged heads, or a version an operator declared), the
// concurrent values Automerge kept for each key, and the changes that were
// never acknowledged, decide the edit that brings the configuration to the
// intended state and the report that says what changed and why.
//
// Rules:
// - Keys whose current value differs from the intended one are set back (or
//   deleted) to the intended value: a roll back when the operator declared
//   an older version, a no-op when the intended state is the latest.
// - Changes never acknowledged are kept when no target version was declared
//   (they did reach a replica; dropping them silently would lose work), and
//   listed, so an operator can roll them back by declaring a version.
// - A key with concurrent values is never resolved silently: it is listed
//   with the value Automerge chose and the values it set aside.

import type { JsonValue } from "../shared/json.ts";

export type Conflict = { key: string; chosen: JsonValue; others: JsonValue[] };
export type UnackedChange = { hash: string; message: string | null };

export type ReconcileInput = {
  current: Readonly<Record<string, JsonValue>>;
  /** The configuration at the intended heads; null when the intended heads are not (yet) in the document. */
  intended: Readonly<Record<string, JsonValue>> | null;
  /** True when an operator declared the target version: then the intended configuration wins over everything after it. */
  declared: boolean;
  conflicts: readonly Conflict[];
  unacked: readonly UnackedChange[];
};

export type ReconcilePlan = {
  /** The change to make, or null when the configuration is already as intended. */
  edit: { set: Record<string, JsonValue>; delete: string[] } | null;
  rolledBack: string[];
  kept: UnackedChange[];
  conflicts: Conflict[];
  /** The intended state could not be reached: its heads are missing here. */
  incomplete: boolean;
};

const same = (a: JsonValue | undefined, b: JsonValue | undefined): boolean => JSON.stringify(a) === JSON.stringify(b);

export function planReconcile(i: ReconcileInput): ReconcilePlan {
  if (i.intended === null) return { edit: null, rolledBack: [], kept: [...i.unacked], conflicts: [...i.conflicts], incomplete: true };
  const set: Record<string, JsonValue> = {};
  const del: string[] = [];
  if (i.declared) {
    const keys = new Set([...Object.keys(i.current), ...Object.keys(i.intended)]);
    for (const k of [...keys].sort()) {
      if (same(i.current[k], i.intended[k])) continue;
      if (i.intended[k] === undefined) del.push(k);
      else set[k] = i.intended[k]!;
    }
  }
  const rolledBack = [...Object.keys(set), ...del].sort();
  return {
    edit: rolledBack.length === 0 ? null : { set, delete: del },
    rolledBack,
    kept: i.declared ? [] : [...i.unacked],
    conflicts: [...i.conflicts],
    incomplete: false,
  };
}
