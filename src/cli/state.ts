// `umbra state set|get|history`: the operator's view of, and hand on, a
// service's replicated state, through the local agent's API. A set returns
// only once the write is durable here and on ackShadows shadows.
import { parseArgs } from "node:util";
import { UmbraError } from "../shared/errors.ts";
import type { JsonValue } from "../state/doc.ts";
import { resolve as resolvePath } from "node:path";
import { bytes, table } from "./statusTable.ts";

export const STATE_HELP = `usage: umbra state set SERVICE KEY=VALUE... [--delete KEY]... [--message TEXT]
       umbra state get SERVICE [KEY]
       umbra state history SERVICE
       umbra state reconcile SERVICE [--to HASH,...]
       umbra state workload SERVICE ID --host H [--require RESOURCE=N]... | --remove
       umbra state put-blob SERVICE NAME FILE [--snapshot] [--message TEXT]
       umbra state get-blob SERVICE NAME --out FILE [--snapshot]
       options for all: [--api 127.0.0.1:7070] [--config FILE] [--json]

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
put-blob chunks FILE (an application binary, or with --snapshot a data
snapshot) into this host's chunk store and records its manifest; the
shadows fetch only the chunks they lack. Progress goes to stderr; it returns
once the shadows hold the manifest and every chunk (ackShadows). get-blob
writes a blob back out, verified, atomically.

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
  --api HOST:PORT the agent's API (default 127.0.0.1:7070, or the config's api)
  --config FILE   read the API address from this config
  --json          print the raw JSON answer
examples:
  umbra state set web image=registry.local/web:2.4 replicas=3 --message "roll out 2.4"
  umbra state get web image
  umbra state history web
`;

/** The write must be acknowledged within the agent's writeTimeoutMs; allow for it and the round trip. */
export const STATE_REQUEST_TIMEOUT_MS = 120_000;

export type StateCliOptions = { api: string; write?: (t: string) => void };

export function parseStateArgs(argv: string[]): { sub: "set" | "get" | "history" | "reconcile" | "workload" | "put-blob" | "get-blob"; service: string; rest: string[]; values: Record<string, unknown> } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { delete: { type: "string", multiple: true }, to: { type: "string" }, host: { type: "string" }, require: { type: "string", multiple: true }, remove: { type: "boolean", default: false }, snapshot: { type: "boolean", default: false }, out: { type: "string" }, message: { type: "string" }, api: { type: "string" }, config: { type: "string" }, json: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } },
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

async function call(api: string, path: string, init?: RequestInit): Promise<unknown> {
  const url = `http://${api}${path}`;
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(STATE_REQUEST_TIMEOUT_MS) });
  } catch (err) {
    throw new UmbraError("api_unreachable", `cannot reach the umbra agent API at ${api} (is the agent running? see --api)`, { url }, err);
  }
  const body = (await res.json().catch(() => null)) as { error?: string; code?: string } | null;
  if (!res.ok) {
    const code = body?.code === "usage" ? "usage" : body?.code === "write_not_acknowledged" ? "write_not_acknowledged" : "api_unreachable";
    throw new UmbraError(code, body?.error ?? `the agent at ${api} answered ${res.status}`, { url, status: res.status });
  }
  return body;
}

export async function runState(argv: string[], o: StateCliOptions): Promise<void> {
  const write = o.write ?? ((t: string) => void process.stdout.write(t));
  const { sub, service, rest, values } = parseStateArgs(argv);
  const json = values.json === true;
  const svc = encodeURIComponent(service);
  switch (sub) {
    case "set": {
      const set: Record<string, JsonValue> = {};
      for (const a of rest) {
        const [k, v] = parseAssignment(a);
        set[k] = v;
      }
      const del = (values.delete as string[] | undefined) ?? [];
      if (rest.length === 0 && del.length === 0) throw new UmbraError("usage", "state set: give at least one KEY=VALUE or --delete KEY");
      const body = JSON.stringify({ set, delete: del, message: (values.message as string | undefined) ?? `umbra state set ${rest.concat(del.map((d) => `--delete ${d}`)).join(" ")}` });
      const r = (await call(o.api, `/state/${svc}`, { method: "POST", headers: { "content-type": "application/json" }, body })) as { id: string; durableOn: string[]; ms: number; heads: string[] };
      write(json ? JSON.stringify(r, null, 2) + "\n" : `acknowledged in ${Math.round(r.ms)} ms: durable here and on ${r.durableOn.join(", ") || "no shadow (ackShadows = 0)"}; heads ${r.heads.map((h) => h.slice(0, 12)).join(",")}\n`);
      return;
    }
    case "get": {
      const r = (await call(o.api, `/state/${svc}`)) as { heads: string[]; state: { hostConfiguration: { deploymentConfig: Record<string, JsonValue> } } };
      const key = rest[0];
      if (key !== undefined) {
        const cfg = r.state.hostConfiguration.deploymentConfig;
        if (!(key in cfg)) throw new UmbraError("usage", `state get: "${service}" has no key "${key}" (keys: ${Object.keys(cfg).join(", ") || "none"})`);
        write(json ? JSON.stringify(cfg[key]) + "\n" : (typeof cfg[key] === "string" ? cfg[key] : JSON.stringify(cfg[key])) + "\n");
        return;
      }
      write(json ? JSON.stringify(r, null, 2) + "\n" : JSON.stringify(r.state, null, 2) + "\n");
      return;
    }
    case "workload": {
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
      const body = JSON.stringify({ workloads, message: values.message ?? `umbra state workload ${id}${values.remove ? " --remove" : ""}` });
      const r = (await call(o.api, `/state/${svc}`, { method: "POST", headers: { "content-type": "application/json" }, body })) as { durableOn: string[]; ms: number };
      write(json ? JSON.stringify(r, null, 2) + "\n" : `acknowledged in ${Math.round(r.ms)} ms: durable here and on ${r.durableOn.join(", ") || "no shadow (ackShadows = 0)"}\n`);
      return;
    }
    case "put-blob": {
      const [name, file] = rest;
      if (name === undefined || file === undefined || rest.length > 2) throw new UmbraError("usage", "state put-blob: give SERVICE NAME FILE");
      const kind = values.snapshot ? "snapshot" : "binary";
      const abs = resolvePath(file);
      const url = `http://${o.api}/state/${svc}/blobs/${kind}/${encodeURIComponent(name)}`;
      let res: Response;
      try {
        res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ file: abs, message: values.message }), signal: AbortSignal.timeout(STATE_REQUEST_TIMEOUT_MS * 10) });
      } catch (err) {
        throw new UmbraError("api_unreachable", `cannot reach the umbra agent API at ${o.api} (is the agent running? see --api)`, { url }, err);
      }
      if (!res.ok || res.body === null) {
        const b = (await res.json().catch(() => null)) as { error?: string; code?: string } | null;
        throw new UmbraError(b?.code === "usage" ? "usage" : "api_unreachable", b?.error ?? `the agent at ${o.api} answered ${res.status}`);
      }
      const tty = process.stderr.isTTY === true;
      let lastTenth = -1;
      let result: { done?: { durableOn: string[]; ms: number; manifest: { size: number; chunks: unknown[]; hash: string } }; error?: string; code?: string } | null = null;
      let buf = "";
      const t0 = performance.now();
      for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += Buffer.from(piece).toString("utf8");
        for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
          const line = JSON.parse(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          if (line.phase === "ingest") {
            const pct = Math.floor((line.bytesDone / Math.max(1, line.bytesTotal)) * 100);
            const mbps = line.bytesDone / 1e6 / Math.max(0.001, (performance.now() - t0) / 1000);
            const text = `chunking ${name}: ${pct}% ${bytes(line.bytesDone)} of ${bytes(line.bytesTotal)}, ${line.chunksDone} chunks, ${mbps.toFixed(0)} MB/s`;
            if (tty) process.stderr.write(`\r${text}   `);
            else if (Math.floor(pct / 10) !== lastTenth) {
              lastTenth = Math.floor(pct / 10);
              process.stderr.write(text + "\n");
            }
            if (line.bytesDone >= line.bytesTotal) process.stderr.write(`${tty ? "\n" : ""}waiting for the shadows to hold the manifest and every chunk...\n`);
          } else result = line;
        }
      }
      if (result?.error !== undefined) throw new UmbraError(result.code === "write_not_acknowledged" ? "write_not_acknowledged" : result.code === "usage" ? "usage" : "blob_unavailable", result.error);
      if (result?.done === undefined) throw new UmbraError("api_unreachable", `the agent at ${o.api} closed the answer before the end`);
      const d = result.done;
      write(json ? JSON.stringify(d, null, 2) + "\n" : `acknowledged in ${Math.round(d.ms)} ms after chunking: ${name} (${bytes(d.manifest.size)}, ${d.manifest.chunks.length} chunks, ${d.manifest.hash.slice(0, 12)}) durable here and on ${d.durableOn.join(", ") || "no shadow (ackShadows = 0)"}\n`);
      return;
    }
    case "get-blob": {
      const [name] = rest;
      if (name === undefined || rest.length > 1 || typeof values.out !== "string") throw new UmbraError("usage", "state get-blob: give SERVICE NAME --out FILE");
      const kind = values.snapshot ? "snapshot" : "binary";
      const r = (await call(o.api, `/state/${svc}/blobs/${kind}/${encodeURIComponent(name)}/export`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ out: resolvePath(values.out) }) })) as { out: string; size: number; hash: string };
      write(json ? JSON.stringify(r, null, 2) + "\n" : `wrote ${r.out} (${bytes(r.size)}, ${r.hash.slice(0, 12)}, verified)\n`);
      return;
    }
    case "reconcile": {
      const to = typeof values.to === "string" ? values.to.split(",").map((x) => x.trim()).filter((x) => x !== "") : undefined;
      const r = (await call(o.api, `/state/${svc}/reconcile`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(to === undefined ? {} : { to }) })) as {
        incomplete: boolean; rolledBack: string[]; change: string | null; kept: Array<{ hash: string; message: string | null }>; conflicts: Array<{ key: string; chosen: unknown; others: unknown[] }>; waitedMs: number; target: string[];
      };
      if (json) return void write(JSON.stringify(r, null, 2) + "\n");
      const lines = [
        r.incomplete
          ? `incomplete: the target ${r.target.map((h) => h.slice(0, 12)).join(",")} did not arrive within the write timeout; nothing changed`
          : `reconciled to ${r.target.map((h) => h.slice(0, 12)).join(",")} (waited ${r.waitedMs} ms)`,
        r.rolledBack.length === 0 ? "rolled back: nothing" : `rolled back: ${r.rolledBack.join(", ")} (change ${r.change?.slice(0, 12)})`,
        ...r.kept.map((k) => `kept, never acknowledged: ${k.hash.slice(0, 12)} ${k.message ?? ""}`.trimEnd()),
        ...r.conflicts.map((c) => `conflict on ${c.key}: in force ${JSON.stringify(c.chosen)}, set aside ${c.others.map((x) => JSON.stringify(x)).join(", ")}`),
      ];
      write(lines.join("\n") + "\n");
      if (r.incomplete) process.exitCode = 1;
      return;
    }
    case "history": {
      const r = (await call(o.api, `/state/${svc}/history`)) as { changes: Array<{ hash: string; actor: string; seq: number; timeSec: number; message: string | null }> };
      if (json) return void write(JSON.stringify(r, null, 2) + "\n");
      write(
        table(
          [
            { head: "CHANGE", align: "left", cell: (c) => c.hash.slice(0, 12) },
            { head: "WHEN", align: "left", cell: (c) => (c.timeSec === 0 ? "-" : new Date(c.timeSec * 1000).toISOString().replace(".000Z", "Z")) },
            { head: "ACTOR", align: "left", cell: (c) => `${c.actor.slice(0, 8)}/${c.seq}` },
            { head: "MESSAGE", align: "left", cell: (c) => c.message ?? "-" },
          ],
          r.changes,
        ) + "\n",
      );
      return;
    }
  }
}
