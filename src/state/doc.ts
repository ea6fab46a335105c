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
import type { BlobManifest } from "./manifest.ts";

import type { JsonValue } from "../shared/json.ts";
export type { JsonValue };

/**
 * A blob (binary, snapshot) as the document stores it: its manifest (name,
 * size, content hash, chunk list), never its bytes. The chunk list is packed
 * (36 bytes a chunk: BLAKE2b-256, then the size as uint32 BE) into one
 * Automerge bytes value: as a tree of objects, a 256 MiB blob's 3,500
 * chunks cost 7,000 CRDT ops to write and ~50 ms to read back, on the
 * agent's loop.
 */
export type BlobRef = { name: string; size: number; hash: string; chunks: Uint8Array };

/** A packed chunk entry: the sha-256 hash, then the size as a big-endian uint32. */
const PACKED_HASH_BYTES = 32;
const PACKED_CHUNK_BYTES = PACKED_HASH_BYTES + 4;

export function packChunks(chunks: ReadonlyArray<{ hash: string; size: number }>): Uint8Array {
  const out = new Uint8Array(chunks.length * PACKED_CHUNK_BYTES);
  const view = new DataView(out.buffer);
  chunks.forEach((c, i) => {
    out.set(Buffer.from(c.hash, "hex"), i * PACKED_CHUNK_BYTES);
    view.setUint32(i * PACKED_CHUNK_BYTES + PACKED_HASH_BYTES, c.size);
  });
  return out;
}

export function unpackChunks(bytes: Uint8Array): Array<{ hash: string; size: number }> {
  if (bytes.byteLength % PACKED_CHUNK_BYTES !== 0) throw new UmbraError("state_corrupt", `a packed chunk list of ${bytes.byteLength} bytes is not a whole number of ${PACKED_CHUNK_BYTES}-byte entries`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Array<{ hash: string; size: number }> = [];
  for (let off = 0; off < bytes.byteLength; off += PACKED_CHUNK_BYTES) {
    out.push({ hash: Buffer.from(bytes.subarray(off, off + PACKED_HASH_BYTES)).toString("hex"), size: view.getUint32(off + PACKED_HASH_BYTES) });
  }
  return out;
}

/** Where a blob lives in the document. */
export const BLOB_KINDS = { binary: "applicationBinaries", snapshot: "dataSnapshots" } as const;
export type BlobKind = keyof typeof BLOB_KINDS;

/** A workload of the service (DESIGN's WorkloadData): what it needs and where it runs. */
export type WorkloadData = { workload_id: string; resource_requirements: { [resource: string]: number }; host_id: string };

export type HostConfiguration = {
  applicationBinaries: { [name: string]: BlobRef };
  deploymentConfig: { [key: string]: JsonValue };
  dataSnapshots: { [name: string]: BlobRef };
};

/**
 * One host's record of an operator's order (umbra audit): what was asked, by
 * whom, and what it did on that host. Keyed `NONCE@HOST`, so hosts that
 * record the same order at once never write the same key.
 */
export type AuditEntry = {
  nonce: string;
  action: string;
  service: string | null;
  target: string | null;
  reason: string;
  /** The operator's name in this host's [[operators]], and the key's first 16 hex characters. */
  operator: string;
  operatorKey: string;
  issuedAtMs: number;
  host: string;
  /** When this host acted on it (wall clock) and what it did. */
  atMs: number;
  outcome: string;
};

export type ServiceState = {
  service: string;
  hostConfiguration: HostConfiguration;
  workloads: { [id: string]: WorkloadData };
  audit: { [key: string]: AuditEntry };
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

/** The audit trail's root, added after the first genesis (documents written before it get it when loaded): its own fixed actor. */
function auditRootActor(service: string): string {
  return createHash("sha256").update(`umbra/state/genesis/audit/${service}`).digest("hex").slice(0, 32);
}

/**
 * The document every replica of `service` starts from, identical everywhere:
 * the first genesis change, then the audit trail's root, each from a fixed
 * actor at time 0 on the one before, so every host builds both bit for bit
 * alike, and a document saved before the audit root existed merges it in on
 * load (docstore loads onto the genesis).
 */
export function genesis(service: string): StateDoc {
  const base = A.init<ServiceState>({ actor: genesisActor(service) });
  const first = A.change(base, { time: 0, message: "genesis" }, (d) => {
    d.service = service;
    d.hostConfiguration = { applicationBinaries: {}, deploymentConfig: {}, dataSnapshots: {} };
    d.workloads = {};
  });
  const doc = A.change(A.clone(first, { actor: auditRootActor(service) }), { time: 0, message: "genesis" }, (d) => {
    d.audit = {};
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
  workloads?: { set?: WorkloadData[]; delete?: string[]; move?: Array<{ id: string; from: string; to: string }> };
  /** Audit entries to record (keyed NONCE@HOST). */
  audit?: AuditEntry[];
  /** Blob manifests to add or replace (their chunks are in the local chunk store already), and blobs to forget. */
  blobs?: { set?: Array<{ kind: BlobKind; manifest: BlobManifest }>; delete?: Array<{ kind: BlobKind; name: string }> };
};

/** Checks an edit before it touches the document: says which key is wrong and why. */
export function validateEdit(edit: ConfigEdit): void {
  const set = edit.set ?? {};
  const del = edit.delete ?? [];
  const wset = edit.workloads?.set ?? [];
  const wdel = [...(edit.workloads?.delete ?? []), ...(edit.workloads?.move ?? []).map((m) => m.id)];
  const bn = (edit.blobs?.set?.length ?? 0) + (edit.blobs?.delete?.length ?? 0);
  if (Object.keys(set).length === 0 && del.length === 0 && wset.length === 0 && wdel.length === 0 && bn === 0 && (edit.audit?.length ?? 0) === 0) throw new UmbraError("request_invalid", "the write changes nothing: give at least one key or workload to set or delete");
  for (const w of wset) {
    if (typeof w.workload_id !== "string" || w.workload_id.length === 0 || w.workload_id.length > KEY_CHARS_MAX) throw new UmbraError("request_invalid", `workload: workload_id must be 1-${KEY_CHARS_MAX} characters`);
    if (typeof w.host_id !== "string" || w.host_id.length === 0) throw new UmbraError("request_invalid", `workload "${w.workload_id}": host_id must name a host`);
    if (typeof w.resource_requirements !== "object" || w.resource_requirements === null) throw new UmbraError("request_invalid", `workload "${w.workload_id}": resource_requirements must be an object of resource: number`);
    for (const [r, n] of Object.entries(w.resource_requirements)) {
      if (typeof n !== "number" || !Number.isFinite(n) || n < 0) throw new UmbraError("request_invalid", `workload "${w.workload_id}": resource_requirements.${r} must be a non-negative number`);
    }
  }
  for (const m of edit.workloads?.move ?? []) {
    if ([m.id, m.from, m.to].some((x) => typeof x !== "string" || x.length === 0 || x.length > KEY_CHARS_MAX)) throw new UmbraError("request_invalid", `workload move: id, from and to must be 1-${KEY_CHARS_MAX} characters`);
  }
  for (const k of [...Object.keys(set), ...del]) {
    if (k.length === 0 || k.length > KEY_CHARS_MAX) throw new UmbraError("request_invalid", `key "${k.slice(0, 40)}": must be 1-${KEY_CHARS_MAX} characters`);
    if (/[\u0000-\u001f]/.test(k)) throw new UmbraError("request_invalid", `key ${JSON.stringify(k)}: control characters are not allowed`);
  }
  for (const [k, v] of Object.entries(set)) {
    const bytes = Buffer.byteLength(JSON.stringify(v) ?? "");
    if (v === undefined || bytes > VALUE_BYTES_MAX) throw new UmbraError("request_invalid", `key "${k}": the value must be JSON of at most ${VALUE_BYTES_MAX} bytes (got ${bytes})`);
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
    // A move sets host_id alone, and only where the workload still is: a removal or another move meanwhile wins, and its other fields stay as they are.
    for (const m of edit.workloads?.move ?? []) if (d.workloads[m.id]?.host_id === m.from) d.workloads[m.id]!.host_id = m.to;
    for (const b of edit.blobs?.set ?? []) d.hostConfiguration[BLOB_KINDS[b.kind]][b.manifest.name] = { name: b.manifest.name, size: b.manifest.size, hash: b.manifest.hash, chunks: packChunks(b.manifest.chunks) };
    for (const b of edit.blobs?.delete ?? []) delete d.hostConfiguration[BLOB_KINDS[b.kind]][b.name];
    for (const a of edit.audit ?? []) d.audit[`${a.nonce}@${a.host}`] = { ...a };
  });
}

export type HistoryEntry = { hash: string; actor: string; seq: number; timeSec: number; message: string | null; deps: string[] };

/** Every change, oldest first (causal order), with what the operator wrote as its message. */
export function history(doc: StateDoc): HistoryEntry[] {
  const auditRoot = auditRootActor(doc.service);
  // One "genesis" entry: the audit root is part of it.
  return A.getChangesMetaSince(doc, []).filter((m) => m.actor !== auditRoot).map((m) => ({ hash: m.hash, actor: m.actor, seq: m.seq, timeSec: m.time, message: m.message ?? null, deps: [...m.deps] }));
}

/** The document as plain data (packed chunk lists stay bytes). */
export function toJson(doc: StateDoc): ServiceState {
  return A.toJS(doc);
}

/** The document for people and JSON (what `umbra state get` prints): a blob shows its chunk count, not its chunk list. */
export type ReadableBlob = { name: string; size: number; hash: string; chunks: number };
export type ReadableState = Omit<ServiceState, "hostConfiguration"> & {
  hostConfiguration: Omit<HostConfiguration, "applicationBinaries" | "dataSnapshots"> & { applicationBinaries: { [name: string]: ReadableBlob }; dataSnapshots: { [name: string]: ReadableBlob } };
};

export function toReadable(doc: StateDoc): ReadableState {
  const st = A.toJS(doc);
  const blobs = (m: { [name: string]: BlobRef }) =>
    Object.fromEntries(Object.entries(m).map(([k, b]) => [k, { name: b.name, size: b.size, hash: b.hash, chunks: b.chunks.byteLength / PACKED_CHUNK_BYTES }]));
  return { ...st, hostConfiguration: { ...st.hostConfiguration, applicationBinaries: blobs(st.hostConfiguration.applicationBinaries), dataSnapshots: blobs(st.hostConfiguration.dataSnapshots) } };
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

/** deploymentConfig as it is. */
export function configNow(doc: StateDoc): Record<string, JsonValue> {
  return plain(doc.hostConfiguration.deploymentConfig) as Record<string, JsonValue>;
}

/** deploymentConfig as it was at `heads`. */
export function configAt(doc: StateDoc, heads: A.Heads): Record<string, JsonValue> {
  return plain(A.view(doc, heads).hostConfiguration.deploymentConfig) as Record<string, JsonValue>;
}

/** Every blob the document names: where, name, size and content hash (cheap: reads the document in place, unpacks nothing). */
export function blobRefsIn(doc: StateDoc): Array<{ kind: BlobKind; name: string; size: number; hash: string }> {
  const out: Array<{ kind: BlobKind; name: string; size: number; hash: string }> = [];
  for (const kind of Object.keys(BLOB_KINDS) as BlobKind[]) {
    const m = doc.hostConfiguration[BLOB_KINDS[kind]];
    for (const name of Object.keys(m)) out.push({ kind, name, size: m[name]!.size, hash: m[name]!.hash });
  }
  return out;
}

/** The full manifest of one blob the document names, chunk list unpacked; null when it names none. */
export function manifestIn(doc: StateDoc, kind: BlobKind, name: string): BlobManifest | null {
  const b = doc.hostConfiguration[BLOB_KINDS[kind]][name];
  if (b === undefined) return null;
  return { name: b.name, size: b.size, hash: b.hash, chunks: unpackChunks(b.chunks) };
}
