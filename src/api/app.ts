// The local HTTP API as a Hono app factory: no listen here, so tests call
// app.request() without a server. Errors go to one place, onError: an
// UmbraError is an expected failure and answers with its message and code;
// anything else is a bug, logged in full and answered as a bare 500.
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { isUmbraError, type ErrorCode } from "../shared/errors.ts";
import { logger, type Logger } from "../shared/log.ts";
import { UmbraError } from "../shared/errors.ts";
import { BLOB_KINDS, type BlobKind, type ConfigEdit, type JsonValue, type WorkloadData, type Replicator } from "../state/index.ts";
import { stream } from "hono/streaming";
import { bodyLimit } from "hono/body-limit";
import type { Registry } from "prom-client";
import type { StatusDoc } from "./types.ts";
import { orderRoutes, type OrderDeps } from "./orders.ts";
import { eventRoutes, type EventHub } from "./events.ts";
import { uiRoutes } from "./ui.ts";

/** Largest body of every route but put-blob's: a few keys of JSON, not a blob (blobs go through manifests). */
export const WRITE_BODY_BYTES_MAX = 1024 * 1024;
/** Largest blob put-blob takes (an application binary or a data snapshot; the disk is the other limit). */
export const BLOB_BYTES_MAX = 64 * 1024 ** 3;

export type ApiDeps = {
  /** The status document, built fresh for each request. */
  status(): StatusDoc;
  /** The service state routes (/state/...); absent: they answer 404. */
  state?: Pick<Replicator, "write" | "get" | "history" | "reconcile"> & Partial<Pick<Replicator, "putBlob" | "openBlob" | "blobStatus">>;
  /** Operators' signed statements and the audit trail (POST /statements, GET /services/SERVICE/audit); absent: those routes answer 404. */
  orders?: OrderDeps;
  /** The Prometheus registry GET /metrics serves; absent: that route answers 404. */
  metrics?: Registry;
  /** The agent's notable log lines: GET /events streams them with the status, and GET /ui is the dashboard on it; absent: both answer 404. */
  events?: EventHub;
  /** Where bugs (500s) are logged; defaults to JSON lines on stderr. */
  log?: Logger;
};

/**
 * HTTP status for an expected failure. The request's fault is a 4xx; any
 * other code is the agent unable to answer right now, a 503.
 */
const STATUS_BY_CODE: Partial<Record<ErrorCode, ContentfulStatusCode>> = {
  usage: 400,
  request_invalid: 400,
  config_invalid: 400,
  frame_malformed: 400,
  peer_unknown: 404,
  state_unknown_service: 404,
  state_cold: 409,
  service_unknown: 404,
  not_holder: 409,
  move_in_progress: 409,
  blob_unknown: 404,
  blob_unavailable: 409,
  write_not_acknowledged: 504,
};
const STATUS_UNAVAILABLE = 503;
/** put-blob's progress lines go out at most this often (ms), and always the last. */
const PROGRESS_EVERY_MS = 200;

export function httpStatusOf(code: ErrorCode): ContentfulStatusCode {
  return STATUS_BY_CODE[code] ?? STATUS_UNAVAILABLE;
}

/** Fields an error adds to its answer, beside error and code (not_holder: the holder): its context's `answer`, if any; the rest of the context stays in the agent. */
function answerFields(err: UmbraError): Record<string, unknown> {
  const a = err.context.answer;
  return typeof a === "object" && a !== null && !Array.isArray(a) ? (a as Record<string, unknown>) : {};
}

type StateDeps = NonNullable<ApiDeps["state"]>;

export function createApi(deps: ApiDeps): Hono {
  const log = deps.log ?? logger("-");
  const app = new Hono();
  // Every body is bounded before it is read: put-blob's by BLOB_BYTES_MAX, the rest (JSON) by WRITE_BODY_BYTES_MAX.
  const tooLarge = (max: number) => bodyLimit({ maxSize: max, onError: (c) => c.json({ error: `the body is larger than ${max} bytes`, code: "request_invalid" }, 413) });
  app.use("*", async (c, next) => (isPutBlob(c.req.method, c.req.path) ? tooLarge(BLOB_BYTES_MAX)(c, next) : tooLarge(WRITE_BODY_BYTES_MAX)(c, next)));
  app.get("/status", (c) => c.json(deps.status()));
  app.get("/healthz", (c) => c.text("ok"));
  // For a load balancer's check: 200 on the host that holds the service's VIP, 503 elsewhere.
  app.get("/healthz/:service", (c) => {
    const name = c.req.param("service");
    const doc = deps.status();
    const sv = doc.services.find((s) => s.name === name);
    if (sv === undefined) throw new UmbraError("service_unknown", `no service "${name}" (services: ${doc.services.map((s) => s.name).join(", ")})`);
    return sv.holdsVipHere && sv.leaseRemainingMs !== null ? c.text(`holder of ${name}`, 200) : c.text(`not the holder of ${name} (holder: ${sv.holder ?? "none"})`, 503);
  });
  if (deps.state !== undefined) {
    stateRoutes(app, deps.state);
    blobRoutes(app, deps.state);
  }
  if (deps.orders !== undefined) orderRoutes(app, deps.orders);
  if (deps.events !== undefined) {
    eventRoutes(app, deps.events, deps.status);
    uiRoutes(app);
  }
  const metrics = deps.metrics;
  if (metrics !== undefined) app.get("/metrics", async (c) => c.body(await metrics.metrics(), 200, { "content-type": metrics.contentType }));
  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));
  app.onError((err, c) => {
    if (err instanceof HTTPException) return c.json({ error: err.message }, err.status);
    if (isUmbraError(err)) return c.json({ ...answerFields(err), error: err.message, code: err.code }, httpStatusOf(err.code));
    log("error", "api", "request-failed", { method: c.req.method, path: c.req.path, error: err instanceof Error ? err.stack : String(err) });
    return c.json({ error: "internal error" }, 500);
  });
  return app;
}

/** /state/SERVICE: read, history, reconcile, write. */
function stateRoutes(app: Hono, state: StateDeps): void {
  app.get("/state/:service", (c) => {
    const service = c.req.param("service");
    const { state: doc, heads } = state.get(service);
    return c.json({ service, heads, state: doc });
  });
  app.get("/state/:service/history", (c) => {
    const service = c.req.param("service");
    return c.json({ service, changes: state.history(service) });
  });
  app.post("/state/:service/reconcile", async (c) => {
    const service = c.req.param("service");
    const to = parseReconcile(await c.req.text());
    return c.json(await state.reconcile(service, to === undefined ? { reason: "operator" } : { reason: "operator", to }));
  });
  app.post("/state/:service", async (c) => {
    const service = c.req.param("service");
    const text = await c.req.text();
    if (text.length > WRITE_BODY_BYTES_MAX) throw new UmbraError("request_invalid", `the write is ${text.length} bytes; at most ${WRITE_BODY_BYTES_MAX}`);
    const { edit, message } = parseWrite(text);
    const r = await state.write(service, edit, message);
    return c.json(r);
  });
}

/** A reconcile's body: empty, or `{"to": [change hashes]}`. */
function parseReconcile(text: string): string[] | undefined {
  if (text.trim() === "") return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new UmbraError("request_invalid", `the body is not JSON: ${(err as Error).message}`);
  }
  const b = body as { to?: unknown };
  if (b.to !== undefined && (!Array.isArray(b.to) || b.to.some((h) => typeof h !== "string"))) throw new UmbraError("request_invalid", '"to" must be an array of change hashes');
  return b.to as string[] | undefined;
}

function blobKind(kind: string): BlobKind {
  if (!(kind in BLOB_KINDS)) throw new UmbraError("request_invalid", `the kind must be ${Object.keys(BLOB_KINDS).join(" or ")}, got "${kind}"`);
  return kind as BlobKind;
}

function noChunkStore(): UmbraError {
  return new UmbraError("chunk_store_absent", "this agent has no chunk store");
}

/** put-blob's route: its body is a blob, not JSON. */
function isPutBlob(method: string, path: string): boolean {
  return method === "POST" && /^\/state\/[^/]+\/blobs\/[^/]+\/[^/]+$/.test(path);
}

/**
 * /state/SERVICE/blobs: list, put, get. The bytes travel in the request and
 * in the answer: no route reads or writes a path on the agent's host (a
 * caller could otherwise have root's agent read /etc/shadow into the state,
 * or write a file where it likes); the CLI reads and writes files as the
 * user who runs it.
 */
function blobRoutes(app: Hono, state: StateDeps): void {
  app.get("/state/:service/blobs", (c) => {
    const service = c.req.param("service");
    state.get(service); // 404 for an unknown service
    return c.json({ service, blobs: (state.blobStatus?.() ?? []).filter((b) => b.service === service) });
  });
  // The body is the blob (application/octet-stream, its length in content-length); ?message= goes into the history.
  // The answer streams NDJSON: progress lines, then {"done": ...} or {"error": ...}.
  app.post("/state/:service/blobs/:kind/:name", async (c) => {
    const { service, kind, name } = c.req.param();
    const putBlob = state.putBlob;
    if (putBlob === undefined) throw noChunkStore();
    const k = blobKind(kind);
    if ((c.req.header("content-type") ?? "").startsWith("application/json")) throw new UmbraError("request_invalid", "put-blob takes the blob's bytes as the body (application/octet-stream), not a path: no route reads a file on the agent's host");
    const length = c.req.header("content-length");
    const total = length === undefined ? null : Number(length);
    if (total !== null && !(Number.isSafeInteger(total) && total >= 0)) throw new UmbraError("request_invalid", `content-length "${length}" is not a byte count`);
    const body = c.req.raw.body;
    if (body === null) throw new UmbraError("request_invalid", "put-blob needs the blob as the body");
    state.get(service);
    const message = c.req.query("message") ?? `umbra state put-blob ${name}`;
    return stream(c, async (out) => {
      c.header("content-type", "application/x-ndjson");
      let last = 0;
      try {
        const r = await putBlob(service, k, body as unknown as AsyncIterable<Uint8Array>, total, name, message, (p) => {
          const now = performance.now();
          if (now - last < PROGRESS_EVERY_MS && p.bytesDone < p.bytesTotal) return;
          last = now;
          void out.write(JSON.stringify({ phase: "ingest", ...p }) + "\n");
        });
        await out.write(JSON.stringify({ done: r }) + "\n");
      } catch (err) {
        await out.write(JSON.stringify({ error: (err as Error).message, code: (err as { code?: string }).code ?? null }) + "\n");
      }
    });
  });
  // The blob's bytes; its manifest's size and hash in headers, for the caller to check what it wrote.
  app.get("/state/:service/blobs/:kind/:name", (c) => {
    const { service, kind, name } = c.req.param();
    const openBlob = state.openBlob;
    if (openBlob === undefined) throw noChunkStore();
    const { manifest, bytes } = openBlob(service, blobKind(kind), name);
    const it = bytes[Symbol.asyncIterator]();
    const body = new ReadableStream<Uint8Array>({
      async pull(ctl) {
        try {
          const r = await it.next();
          if (r.done) ctl.close();
          else ctl.enqueue(r.value);
        } catch (err) {
          ctl.error(err); // a chunk gone bad: the answer ends short, and the caller's size and hash checks fail
        }
      },
      cancel: () => void it.return?.(),
    });
    return new Response(body, { headers: { "content-type": "application/octet-stream", "content-length": String(manifest.size), "x-umbra-blob-hash": manifest.hash, "x-umbra-blob-chunks": String(manifest.chunks.length) } });
  });
}

/** `{ "set": {key: json}, "delete": [key], "message": "why" }`, checked field by field. */
export function parseWrite(text: string): { edit: ConfigEdit; message: string } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new UmbraError("request_invalid", `the body is not JSON: ${(err as Error).message}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new UmbraError("request_invalid", 'the body must be a JSON object: {"set": {...}, "delete": [...], "message": "..."}');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!["set", "delete", "message", "workloads"].includes(k)) throw new UmbraError("request_invalid", `unknown field "${k}" (expected set, delete, workloads, message)`);
  if (b.set !== undefined && (typeof b.set !== "object" || b.set === null || Array.isArray(b.set))) throw new UmbraError("request_invalid", '"set" must be an object of key: JSON value');
  if (b.delete !== undefined && (!Array.isArray(b.delete) || b.delete.some((k) => typeof k !== "string"))) throw new UmbraError("request_invalid", '"delete" must be an array of key names');
  if (b.message !== undefined && typeof b.message !== "string") throw new UmbraError("request_invalid", '"message" must be a string');
  const edit: ConfigEdit = {};
  if (b.set !== undefined) edit.set = b.set as Record<string, JsonValue>;
  if (b.delete !== undefined) edit.delete = b.delete as string[];
  if (b.workloads !== undefined) {
    const w = b.workloads as { set?: unknown; delete?: unknown } | null;
    if (typeof w !== "object" || w === null || Array.isArray(w)) throw new UmbraError("request_invalid", '"workloads" must be {"set": [WorkloadData...], "delete": [ids]}');
    if (w.set !== undefined && !Array.isArray(w.set)) throw new UmbraError("request_invalid", '"workloads.set" must be an array of {workload_id, resource_requirements, host_id}');
    if (w.delete !== undefined && (!Array.isArray(w.delete) || w.delete.some((x) => typeof x !== "string"))) throw new UmbraError("request_invalid", '"workloads.delete" must be an array of workload ids');
    edit.workloads = {};
    if (w.set !== undefined) edit.workloads.set = w.set as WorkloadData[]; // each checked by validateEdit
    if (w.delete !== undefined) edit.workloads.delete = w.delete as string[];
  }
  return { edit, message: (b.message as string | undefined) ?? "umbra state set" };
}
