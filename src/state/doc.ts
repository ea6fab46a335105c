// The per-service state document: one Automerge document per service, held
// by its primary and every shadow.
//
// Every replica must start from the same root objects, or two hosts that
// create `hostConfiguration` independently would conflict and one side's
// map would hide the other's. So the document begins with a genesis change
// that every host builds bit for bit the same (a fixed actor derived from
// the service name, time 0); each process then writes with its own fresh
// actor id (a restarted agent never reuses an actor's sequence numbers).

import * as A from "@automerge/automerge";
import { createHash, randomBytes } from "node:crypto";
import { UmbraError } from "../shared/errors.ts";

import type { JsonValue } from "../shared/json.ts";
export type { JsonValue };

/** A blob (binary, snapshot) as the document knows it: a manifest, never the bytes. */
export type BlobRef = {
  size: number;
  /** BLAKE2b-256 of the whole content, hex. */
  hash: string;
  chunks: Array<{ hash: string; size: number }>;
};

/** A workload of the service (DESIGN's WorkloadData): what it needs and where it runs. */
export type WorkloadData = { workload_id: string; resource_requirements: { [resource: string]: number }; host_id: string };

export type HostConfiguration = {
  applicationBinaries: { [name: string]: BlobRef };
  deploymentConfig: { [key: string]: JsonValue };
  dataSnapshots: { [name: string]: BlobRef };
};

export type ServiceState = {
  service: string;
  hostConfiguration: HostConfiguration;
  workloads: { [id: string]: WorkloadData };
};

export type StateDoc = A.Doc<ServiceState>;

/** Longest deployment-config key; keys are path-like names, not documents. */
export const KEY_CHARS_MAX = 256;
/** Largest JSON value one key may hold. */
export const VALUE_BYTES_MAX = 64 * 1024;

/** The genesis actor of a service: the same on every host. */
function genesisActor(service: string): string {
  return createHash("sha256").update(`umbra/state/genesis/${service}`).digest("hex").slice(0, 32);
}

/** The document every replica of `service` starts from, identical everywhere. */
export function genesis(service: string): StateDoc {
  const base = A.init<ServiceState>({ actor: genesisActor(service) });
  const doc = A.change(base, { time: 0, message: "genesis" }, (d) => {
    d.service = service;
    d.hostConfiguration = { applicationBinaries: {}, deploymentConfig: {}, dataSnapshots: {} };
    d.workloads = {};
  });
  return withFreshActor(doc);
}

/** The same document, written from now on under a new random actor id. */
export function withFreshActor(doc: StateDoc): StateDoc {
  return A.clone(doc, { actor: randomBytes(16).toString("hex") });
}

export type ConfigEdit = {
  set?: Record<string, JsonValue>;
  delete?: string[];
  /** Workloads to add or replace (by workload_id), and ids to remove. */
  workloads?: { set?: WorkloadData[]; delete?: string[] };
};

/** Checks an edit before it touches the document: says which key is wrong and why. */
export function validateEdit(edit: ConfigEdit): void {
  const set = edit.set ?? {};
  const del = edit.delete ?? [];
  const wset = edit.workloads?.set ?? [];
  const wdel = edit.workloads?.delete ?? [];
  if (Object.keys(set).length === 0 && del.length === 0 && wset.length === 0 && wdel.length === 0) throw new UmbraError("usage", "the write changes nothing: give at least one key or workload to set or delete");
  for (const w of wset) {
    if (typeof w.workload_id !== "string" || w.workload_id.length === 0 || w.workload_id.length > KEY_CHARS_MAX) throw new UmbraError("usage", `workload: workload_id must be 1-${KEY_CHARS_MAX} characters`);
    if (typeof w.host_id !== "string" || w.host_id.length === 0) throw new UmbraError("usage", `workload "${w.workload_id}": host_id must name a host`);
    if (typeof w.resource_requirements !== "object" || w.resource_requirements === null) throw new UmbraError("usage", `workload "${w.workload_id}": resource_requirements must be an object of resource: number`);
    for (const [r, n] of Object.entries(w.resource_requirements)) {
      if (typeof n !== "number" || !Number.isFinite(n) || n < 0) throw new UmbraError("usage", `workload "${w.workload_id}": resource_requirements.${r} must be a non-negative number`);
    }
  }
  for (const k of [...Object.keys(set), ...del]) {
    if (k.length === 0 || k.length > KEY_CHARS_MAX) throw new UmbraError("usage", `key "${k.slice(0, 40)}": must be 1-${KEY_CHARS_MAX} characters`);
    if (/[\u0000-\u001f]/.test(k)) throw new UmbraError("usage", `key ${JSON.stringify(k)}: control characters are not allowed`);
  }
  for (const [k, v] of Object.entries(set)) {
    const bytes = Buffer.byteLength(JSON.stringify(v) ?? "");
    if (v === undefined || bytes > VALUE_BYTES_MAX) throw new UmbraError("usage", `key "${k}": the value must be JSON of at most ${VALUE_BYTES_MAX} bytes (got ${bytes})`);
  }
}

/** Applies an operator's edit of deploymentConfig as one change. */
export function applyEdit(doc: StateDoc, edit: ConfigEdit, message: string, timeSec: number): StateDoc {
  validateEdit(edit);
  return A.change(doc, { message, time: timeSec }, (d) => {
    const cfg = d.hostConfiguration.deploymentConfig;
    for (const [k, v] of Object.entries(edit.set ?? {})) cfg[k] = v;
    for (const k of edit.delete ?? []) delete cfg[k];
    for (const w of edit.workloads?.set ?? []) d.workloads[w.workload_id] = { workload_id: w.workload_id, resource_requirements: { ...w.resource_requirements }, host_id: w.host_id };
    for (const id of edit.workloads?.delete ?? []) delete d.workloads[id];
  });
}

export type HistoryEntry = { hash: string; actor: string; seq: number; timeSec: number; message: string | null; deps: string[] };

/** Every change, oldest first (causal order), with what the operator wrote as its message. */
export function history(doc: StateDoc): HistoryEntry[] {
  return A.getChangesMetaSince(doc, []).map((m) => ({ hash: m.hash, actor: m.actor, seq: m.seq, timeSec: m.time, message: m.message ?? null, deps: [...m.deps] }));
}

/** The document as plain JSON (what `umbra state get` prints). */
export function toJson(doc: StateDoc): ServiceState {
  return A.toJS(doc);
}

/** Changes `doc` has that a peer at `theirHeads` lacks, and their size; null when we lack some of their heads (the lag is unknown to us). */
export function lagBehind(doc: StateDoc, theirHeads: A.Heads): { changes: number; bytes: number } | null {
  if (!A.hasHeads(doc, theirHeads)) return null;
  const missing = A.getChangesSince(doc, theirHeads);
  let bytes = 0;
  for (const ch of missing) bytes += ch.byteLength;
  return { changes: missing.length, bytes };
}

/** Keys of deploymentConfig that hold concurrent values: the one Automerge shows, and the ones it set aside. */
export function configConflicts(doc: StateDoc): Array<{ key: string; chosen: JsonValue; others: JsonValue[] }> {
  const cfg = doc.hostConfiguration.deploymentConfig;
  const out: Array<{ key: string; chosen: JsonValue; others: JsonValue[] }> = [];
  for (const key of Object.keys(cfg).sort()) {
    const all = A.getConflicts(cfg, key);
    if (all === undefined || Object.keys(all).length < 2) continue;
    const chosen = plain(cfg[key]);
    const values = Object.values(all).map(plain);
    const i = values.findIndex((v) => JSON.stringify(v) === JSON.stringify(chosen));
    out.push({ key, chosen, others: values.filter((_, j) => j !== i) });
  }
  return out;
}

function plain(v: unknown): JsonValue {
  return JSON.parse(JSON.stringify(v ?? null)) as JsonValue;
}

/** deploymentConfig as it was at `heads`. */
export function configAt(doc: StateDoc, heads: A.Heads): Record<string, JsonValue> {
  return plain(A.view(doc, heads).hostConfiguration.deploymentConfig) as Record<string, JsonValue>;
}
