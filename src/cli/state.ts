// `umbra state set|get|history`: the operator's view of, and hand on, a
// service's replicated state, through the local agent's API. A set returns
// only once the write is durable here and on ackShadows shadows.
import { parseArgs } from "node:util";
import { UmbraError, type ErrorCode } from "../shared/errors.ts";
import type { JsonValue } from "../state/index.ts";
import { createReadStream, statSync } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join, resolve as resolvePath } from "node:path";
import { createHasher, fsyncDir, tempName } from "../state/index.ts";
import { apiJson, apiRequest, jsonOf, targetText, TARGET_HELP, type ApiAnswer, type ApiTarget } from "../apiclient/index.ts";
import { bytes, table, type Column } from "./statusTable.ts";
import { EXIT } from "./args.ts";

export const STATE_HELP = `usage: umbra state set SERVICE KEY=VALUE... [--delete KEY]... [--message TEXT]
       umbra state get SERVICE [KEY]
       umbra state history SERVICE
       umbra state reconcile SERVICE [--to HASH,...]
       umbra state workload SERVICE ID --host H [--require RESOURCE=N]... | --remove
       umbra state put-blob SERVICE NAME FILE [--snapshot] [--message TEXT]
       umbra state get-blob SERVICE NAME --out FILE [--snapshot]
       options for all: [--api PATH|HOST:PORT] [--token-file FILE] [--config FILE] [--json]

Reads or changes a service's deployment configuration, replicated to its
shadows. VALUE is JSON when it parses as JSON (3, true, {"a":1}, "quoted"),
a plain string otherwise. A set prints where the write is durable and exits
0 once it is durable on this host and on ackShadows shadows; 1 if it is not
acknowledged in time (it is not rolled back: the shadows get it when they
reconnect).
reconcile brings the configuration to the intended state: by default the
latest acknowledged one this host knows (what a failover does on its own);
with --to, the version at those change hashes (from 'history --json'),
rolling back what came after as a new change. It lists unacknowledged
changes it kept and keys with concurrent values; it never drops one silently.
put-blob sends FILE (an application binary, or with --snapshot a data
snapshot; read as the user who runs the command) to the agent, which chunks
it into its chunk store and records its manifest; the shadows fetch only
the chunks they lack. Progress goes to stderr; it returns once the shadows
hold the manifest and every chunk (ackShadows). get-blob writes a blob back
out (as the user who runs the command), verified, atomically.

workload adds or replaces a workload of the service (WorkloadData:
workload_id, resource_requirements, host_id), or removes it with --remove.
  --delete KEY    remove KEY (repeatable)
  --host H        workload: the host it runs on
  --require R=N   workload: a resource requirement, e.g. cpu=2 memoryMiB=512 (repeatable)
  --remove        workload: remove it
  --snapshot      put-blob/get-blob: a data snapshot, not an application binary
  --out FILE      get-blob: where to write it
  --to HASHES     reconcile: the version to return to, comma-separated change hashes
  --message TEXT  recorded in the history with the change
${TARGET_HELP}
  --json          print the raw JSON answer
examples:
  umbra state set web image=registry.local/web:2.4 replicas=3 --message "roll out 2.4"
  umbra state get web image
  umbra state history web
`;

/** The write must be acknowledged within the agent's writeTimeoutMs; allow for it and the round trip. */
export const STATE_REQUEST_TIMEOUT_MS = 120_000;

export type StateCliOptions = { target: ApiTarget; write?: (t: string) => void };

export function parseStateArgs(argv: string[]): { sub: "set" | "get" | "history" | "reconcile" | "workload" | "put-blob" | "get-blob"; service: string; rest: string[]; values: Record<string, unknown> } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { delete: { type: "string", multiple: true }, to: { type: "string" }, host: { type: "string" }, require: { type: "string", multiple: true }, remove: { type: "boolean", default: false }, snapshot: { type: "boolean", default: false }, out: { type: "string" }, message: { type: "string" }, api: { type: "string" }, "token-file": { type: "string" }, config: { type: "string" }, json: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    throw new UmbraError("usage", `state: ${(err as Error).message}; run 'umbra state --help'`);
  }
  const [sub, service, ...rest] = parsed.positionals;
  if (parsed.values.help) return { sub: "get", service: "", rest: [], values: parsed.values };
  if (sub !== "set" && sub !== "get" && sub !== "history" && sub !== "reconcile" && sub !== "workload" && sub !== "put-blob" && sub !== "get-blob") throw new UmbraError("usage", `state: the first word must be set, get, history, reconcile, workload, put-blob or get-blob${sub === undefined ? "" : `, got "${sub}"`}; run 'umbra state --help'`);
  if (service === undefined) throw new UmbraError("usage", `state ${sub}: name the service`);
  return { sub, service, rest, values: parsed.values };
}

/** KEY=VALUE; VALUE as JSON when it parses, a string otherwise. */
export function parseAssignment(a: string): [string, JsonValue] {
  const eq = a.indexOf("=");
  if (eq <= 0) throw new UmbraError("usage", `state set: "${a}" is not KEY=VALUE`);
  const key = a.slice(0, eq);
  const raw = a.slice(eq + 1);
  try {
    return [key, JSON.parse(raw) as JsonValue];
  } catch {
    return [key, raw];
  }
}

/** Codes an agent's answer may carry that the CLI reports as they are; any other failure is the agent not answering. */
const ANSWER_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(["usage", "request_invalid", "state_unknown_service", "write_not_acknowledged", "blob_unavailable", "chunk_store_absent", "blob_unknown"]);
/** put-blob chunks a whole file before its write is acknowledged: this many times a plain request's time. */
const PUT_BLOB_TIMEOUT_FACTOR = 10;
/** Percent, and the tenths a non-terminal progress line is printed at. */
const PERCENT = 100;
const PROGRESS_STEP_PCT = 10;
/** Bytes in a megabyte, for the MB/s of the progress line. */
const BYTES_PER_MB = 1e6;
/** The shortest elapsed time (s) a rate is computed over. */
const RATE_MIN_SECONDS = 0.001;
/** Hex digits of a hash shown for a change or blob. */
const HASH_SHOWN = 12;
/** Hex digits of an actor id shown in the history. */
const ACTOR_SHOWN = 8;
const MS_PER_SECOND = 1000;

/** The code of an agent's error answer. */
function answerCode(code: string | undefined, otherwise: ErrorCode): ErrorCode {
  return code !== undefined && ANSWER_CODES.has(code as ErrorCode) ? (code as ErrorCode) : otherwise;
}

/** The agent's refusal of a streamed request, with its own message and code if the CLI knows it. */
async function refusal(t: ApiTarget, res: ApiAnswer): Promise<UmbraError> {
  const b = (await jsonOf(res)) as { error?: string; code?: string } | null;
  return new UmbraError(answerCode(b?.code, "api_unreachable"), b?.error ?? `the agent at ${targetText(t)} answered ${res.status}`);
}

/** A JSON request (GET without a body, POST with one); a refusal keeps the agent's code if the CLI knows it. */
async function call(t: ApiTarget, path: string, body?: unknown): Promise<unknown> {
  try {
    return await apiJson(t, body === undefined ? "GET" : "POST", path, body, STATE_REQUEST_TIMEOUT_MS);
  } catch (err) {
    if (err instanceof UmbraError && !ANSWER_CODES.has(err.code)) throw new UmbraError(err.code === "api_unreachable" ? "api_unreachable" : answerCode(err.code, "api_unreachable"), err.message, err.context, err);
    throw err;
  }
}

type Sub = ReturnType<typeof parseStateArgs>["sub"];
/** What every subcommand gets: the API, where to print, the service (and its URL form), its words and options. */
type Ctx = { target: ApiTarget; write(t: string): void; json: boolean; service: string; svc: string; rest: string[]; values: Record<string, unknown> };

export async function runState(argv: string[], o: StateCliOptions): Promise<void> {
  const write = o.write ?? ((t: string) => void process.stdout.write(t));
  const { sub, service, rest, values } = parseStateArgs(argv);
  const x: Ctx = { target: o.target, write, json: values.json === true, service, svc: encodeURIComponent(service), rest, values };
  await SUBCOMMANDS[sub](x);
}

const SUBCOMMANDS: Record<Sub, (x: Ctx) => Promise<void>> = {
  set: stateSet,
  get: stateGet,
  workload: stateWorkload,
  "put-blob": putBlob,
  "get-blob": getBlob,
  reconcile: stateReconcile,
  history: stateHistory,
};

const durableText = (durableOn: string[]): string => durableOn.join(", ") || "no shadow (ackShadows = 0)";

async function stateSet(x: Ctx): Promise<void> {
  const set: Record<string, JsonValue> = {};
  for (const a of x.rest) {
    const [k, v] = parseAssignment(a);
    set[k] = v;
  }
  const del = (x.values.delete as string[] | undefined) ?? [];
  if (x.rest.length === 0 && del.length === 0) throw new UmbraError("usage", "state set: give at least one KEY=VALUE or --delete KEY");
  const message = (x.values.message as string | undefined) ?? `umbra state set ${x.rest.concat(del.map((d) => `--delete ${d}`)).join(" ")}`;
  const r = (await call(x.target, `/state/${x.svc}`, { set, delete: del, message })) as { id: string; durableOn: string[]; ms: number; heads: string[] };
  x.write(x.json ? JSON.stringify(r, null, 2) + "\n" : `acknowledged in ${Math.round(r.ms)} ms: durable here and on ${durableText(r.durableOn)}; heads ${r.heads.map((h) => h.slice(0, HASH_SHOWN)).join(",")}\n`);
}

async function stateGet(x: Ctx): Promise<void> {
  const r = (await call(x.target, `/state/${x.svc}`)) as { heads: string[]; state: { hostConfiguration: { deploymentConfig: Record<string, JsonValue> } } };
  const key = x.rest[0];
  if (key === undefined) return void x.write(x.json ? JSON.stringify(r, null, 2) + "\n" : JSON.stringify(r.state, null, 2) + "\n");
  const cfg = r.state.hostConfiguration.deploymentConfig;
  if (!(key in cfg)) throw new UmbraError("usage", `state get: "${x.service}" has no key "${key}" (keys: ${Object.keys(cfg).join(", ") || "none"})`);
  x.write(x.json ? JSON.stringify(cfg[key]) + "\n" : (typeof cfg[key] === "string" ? cfg[key] : JSON.stringify(cfg[key])) + "\n");
}

async function stateWorkload(x: Ctx): Promise<void> {
  const { rest, values } = x;
  const id = rest[0];
  if (id === undefined || rest.length > 1) throw new UmbraError("usage", "state workload: give exactly one workload id after the service");
  let workloads: { set?: unknown[]; delete?: string[] };
  if (values.remove === true) workloads = { delete: [id] };
  else {
    if (typeof values.host !== "string") throw new UmbraError("usage", "state workload: --host H is required (or --remove)");
    const req: Record<string, number> = {};
    for (const r of (values.require as string[] | undefined) ?? []) {
      const [k, v] = parseAssignment(r);
      if (typeof v !== "number") throw new UmbraError("usage", `state workload: --require ${r}: the amount must be a number`);
      req[k] = v;
    }
    workloads = { set: [{ workload_id: id, resource_requirements: req, host_id: values.host }] };
  }
  const r = (await call(x.target, `/state/${x.svc}`, { workloads, message: values.message ?? `umbra state workload ${id}${values.remove ? " --remove" : ""}` })) as { durableOn: string[]; ms: number };
  x.write(x.json ? JSON.stringify(r, null, 2) + "\n" : `acknowledged in ${Math.round(r.ms)} ms: durable here and on ${durableText(r.durableOn)}\n`);
}

type PutBlobDone = { durableOn: string[]; ms: number; manifest: { size: number; chunks: unknown[]; hash: string } };
type PutBlobLine = { phase?: "ingest"; bytesDone: number; bytesTotal: number; chunksDone: number; done?: PutBlobDone; error?: string; code?: string };

async function putBlob(x: Ctx): Promise<void> {
  const [name, file] = x.rest;
  if (name === undefined || file === undefined || x.rest.length > 2) throw new UmbraError("usage", "state put-blob: give SERVICE NAME FILE");
  const kind = x.values.snapshot ? "snapshot" : "binary";
  let size: number;
  try {
    size = statSync(file).size;
  } catch (err) {
    throw new UmbraError("usage", `state put-blob: cannot read ${file}: ${(err as Error).message}`, { file }, err);
  }
  const message = typeof x.values.message === "string" ? `&message=${encodeURIComponent(x.values.message)}` : "";
  const path = `/state/${x.svc}/blobs/${kind}/${encodeURIComponent(name)}?${message.slice(1)}`;
  // The file is read here, as the user who runs the command, and its bytes are the request.
  const res = await apiRequest(x.target, "POST", path, { body: createReadStream(file), contentType: "application/octet-stream", contentLength: size, timeoutMs: STATE_REQUEST_TIMEOUT_MS * PUT_BLOB_TIMEOUT_FACTOR });
  if (res.status !== 200) throw await refusal(x.target, res);
  const result = await readPutBlobAnswer(res.body, name);
  if (result?.error !== undefined) throw new UmbraError(answerCode(result.code, "blob_unavailable"), result.error);
  if (result?.done === undefined) throw new UmbraError("api_unreachable", `the agent at ${targetText(x.target)} closed the answer before the end`);
  const d = result.done;
  x.write(x.json ? JSON.stringify(d, null, 2) + "\n" : `acknowledged in ${Math.round(d.ms)} ms after chunking: ${name} (${bytes(d.manifest.size)}, ${d.manifest.chunks.length} chunks, ${d.manifest.hash.slice(0, HASH_SHOWN)}) durable here and on ${durableText(d.durableOn)}\n`);
}

/** Reads put-blob's NDJSON answer: progress lines go to stderr (a line per tenth when stderr is no terminal); returns the last other line. */
async function readPutBlobAnswer(body: AsyncIterable<Uint8Array>, name: string): Promise<PutBlobLine | null> {
  const tty = process.stderr.isTTY === true;
  let lastTenth = -1;
  let result: PutBlobLine | null = null;
  let buf = "";
  const t0 = performance.now();
  for await (const piece of body) {
    buf += Buffer.from(piece).toString("utf8");
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      const line = JSON.parse(buf.slice(0, nl)) as PutBlobLine;
      buf = buf.slice(nl + 1);
      if (line.phase !== "ingest") {
        result = line;
        continue;
      }
      const pct = Math.floor((line.bytesDone / Math.max(1, line.bytesTotal)) * PERCENT);
      const mbps = line.bytesDone / BYTES_PER_MB / Math.max(RATE_MIN_SECONDS, (performance.now() - t0) / MS_PER_SECOND);
      const text = `chunking ${name}: ${pct}% ${bytes(line.bytesDone)} of ${bytes(line.bytesTotal)}, ${line.chunksDone} chunks, ${mbps.toFixed(0)} MB/s`;
      if (tty) process.stderr.write(`\r${text}   `);
      else if (Math.floor(pct / PROGRESS_STEP_PCT) !== lastTenth) {
        lastTenth = Math.floor(pct / PROGRESS_STEP_PCT);
        process.stderr.write(text + "\n");
      }
      if (line.bytesDone >= line.bytesTotal) process.stderr.write(`${tty ? "\n" : ""}waiting for the shadows to hold the manifest and every chunk...\n`);
    }
  }
  return result;
}

async function getBlob(x: Ctx): Promise<void> {
  const [name] = x.rest;
  const out = x.values.out;
  if (name === undefined || x.rest.length > 1 || typeof out !== "string") throw new UmbraError("usage", "state get-blob: give SERVICE NAME --out FILE");
  const kind = x.values.snapshot ? "snapshot" : "binary";
  const res = await apiRequest(x.target, "GET", `/state/${x.svc}/blobs/${kind}/${encodeURIComponent(name)}`, { timeoutMs: STATE_REQUEST_TIMEOUT_MS });
  if (res.status !== 200) throw await refusal(x.target, res);
  const want = { size: Number(res.body.headers["content-length"]), hash: String(res.body.headers["x-umbra-blob-hash"] ?? "") };
  const r = await writeVerified(res.body, resolvePath(out), want);
  x.write(x.json ? JSON.stringify({ out: r.out, size: r.size, hash: r.hash }, null, 2) + "\n" : `wrote ${r.out} (${bytes(r.size)}, ${r.hash.slice(0, HASH_SHOWN)}, verified)\n`);
}

/** Writes the answer's bytes to `out` as this user: a temp file beside it, checked against the manifest's size and hash, fsync, rename. A short or altered answer leaves `out` as it was. */
async function writeVerified(body: AsyncIterable<Uint8Array>, out: string, want: { size: number; hash: string }): Promise<{ out: string; size: number; hash: string }> {
  const tmp = join(dirname(out), tempName(basename(out)));
  const whole = createHasher();
  const h = await open(tmp, "wx");
  let size = 0;
  let ok = false;
  try {
    for await (const piece of body) {
      whole.update(piece);
      size += piece.length;
      await h.write(piece);
    }
    const hash = whole.digest();
    if (size !== want.size || hash !== want.hash) throw new UmbraError("state_corrupt", `the agent sent ${size} bytes hashing ${hash.slice(0, HASH_SHOWN)}; the manifest says ${want.size} bytes, ${want.hash.slice(0, HASH_SHOWN)}: ${out} left as it was`, { out });
    await h.sync();
    ok = true;
  } finally {
    await h.close();
    if (!ok) await rm(tmp, { force: true });
  }
  await rename(tmp, out);
  await fsyncDir(dirname(out));
  return { out, size, hash: want.hash };
}

type ReconcileAnswer = {
  incomplete: boolean; rolledBack: string[]; change: string | null; kept: Array<{ hash: string; message: string | null }>; conflicts: Array<{ key: string; chosen: unknown; others: unknown[] }>; waitedMs: number; target: string[];
};

async function stateReconcile(x: Ctx): Promise<void> {
  const to = typeof x.values.to === "string" ? x.values.to.split(",").map((h) => h.trim()).filter((h) => h !== "") : undefined;
  const r = (await call(x.target, `/state/${x.svc}/reconcile`, to === undefined ? {} : { to })) as ReconcileAnswer;
  if (x.json) return void x.write(JSON.stringify(r, null, 2) + "\n");
  const short = (hs: string[]) => hs.map((h) => h.slice(0, HASH_SHOWN)).join(",");
  const lines = [
    r.incomplete ? `incomplete: the target ${short(r.target)} did not arrive within the write timeout; nothing changed` : `reconciled to ${short(r.target)} (waited ${r.waitedMs} ms)`,
    r.rolledBack.length === 0 ? "rolled back: nothing" : `rolled back: ${r.rolledBack.join(", ")} (change ${r.change?.slice(0, HASH_SHOWN)})`,
    ...r.kept.map((k) => `kept, never acknowledged: ${k.hash.slice(0, HASH_SHOWN)} ${k.message ?? ""}`.trimEnd()),
    ...r.conflicts.map((c) => `conflict on ${c.key}: in force ${JSON.stringify(c.chosen)}, set aside ${c.others.map((v) => JSON.stringify(v)).join(", ")}`),
  ];
  x.write(lines.join("\n") + "\n");
  if (r.incomplete) process.exitCode = EXIT.failure;
}

async function stateHistory(x: Ctx): Promise<void> {
  const r = (await call(x.target, `/state/${x.svc}/history`)) as { changes: Array<{ hash: string; actor: string; seq: number; timeSec: number; message: string | null }> };
  if (x.json) return void x.write(JSON.stringify(r, null, 2) + "\n");
  const columns: Array<Column<(typeof r.changes)[number]>> = [
    { head: "CHANGE", align: "left", cell: (c) => c.hash.slice(0, HASH_SHOWN) },
    { head: "WHEN", align: "left", cell: (c) => (c.timeSec === 0 ? "-" : new Date(c.timeSec * MS_PER_SECOND).toISOString().replace(".000Z", "Z")) },
    { head: "ACTOR", align: "left", cell: (c) => `${c.actor.slice(0, ACTOR_SHOWN)}/${c.seq}` },
    { head: "MESSAGE", align: "left", cell: (c) => c.message ?? "-" },
  ];
  x.write(table(columns, r.changes) + "\n");
}
