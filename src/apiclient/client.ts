// The API's client, the CLI's way to the agent: its Unix socket (the default: the
// config's [api] socket), or a TCP listener with its token. Which one comes
// from --api (a path, or host:port), --token-file, --config, in that order;
// with none of them, /etc/umbra/umbra.toml if it exists.
import { request, type IncomingMessage } from "node:http";
import { existsSync, readFileSync } from "node:fs";
import type { Readable } from "node:stream";
import { loadConfig, type Config } from "../shared/config.ts";
import { UmbraError } from "../shared/errors.ts";
import { parseHostPort } from "../shared/hostport.ts";

/** Where the CLI looks for a config when given neither --api nor --config. */
export const DEFAULT_CONFIG = "/etc/umbra/umbra.toml";

export type ApiTarget = { socket: string } | { host: string; port: number; token: string | null };

/** --api, --token-file and --config as the commands take them. */
export type TargetOptions = { api?: unknown; tokenFile?: unknown; config?: unknown };

export const TARGET_HELP = `  --api PATH|HOST:PORT  the agent's API: its Unix socket (default: the config's [api] socket),
                        or a TCP listener, which needs --token-file
  --token-file FILE     the TCP listener's token ([api] tokenFile)
  --config FILE         the agent's config (default ${DEFAULT_CONFIG}), for its API`;

/** How to reach the agent; a usage error when nothing says. `load` reads a config (the CLI's exits on a bad one). */
export function resolveTarget(o: TargetOptions, load: (file: string) => Config = loadConfig): ApiTarget {
  if (typeof o.api === "string") {
    if (o.api.includes("/")) return { socket: o.api };
    const { host, port } = parseHostPort(o.api);
    return { host, port, token: typeof o.tokenFile === "string" ? readTokenFile(o.tokenFile) : null };
  }
  const config = typeof o.config === "string" ? o.config : existsSync(DEFAULT_CONFIG) ? DEFAULT_CONFIG : null;
  if (config === null) throw new UmbraError("usage", `no --api and no --config (nor ${DEFAULT_CONFIG}): say where the agent's API is`);
  return { socket: load(config).api.socket };
}

function readTokenFile(file: string): string {
  try {
    return readFileSync(file, "utf8").split("\n")[0]!.trim();
  } catch (err) {
    throw new UmbraError("usage", `--token-file ${file}: cannot read: ${(err as Error).message}`, { file }, err);
  }
}

/** The target as the messages name it. */
export function targetText(t: ApiTarget): string {
  return "socket" in t ? t.socket : t.host.includes(":") ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

export type ApiAnswer = { status: number; body: IncomingMessage };

/** One request; the answer's body as a stream. An agent that cannot be reached is api_unreachable, one that does not answer in time too. */
export function apiRequest(t: ApiTarget, method: string, path: string, o: { body?: string | Readable; contentType?: string; contentLength?: number; timeoutMs: number }): Promise<ApiAnswer> {
  const headers: Record<string, string> = {};
  if (o.contentType !== undefined) headers["content-type"] = o.contentType;
  if (typeof o.body === "string") headers["content-length"] = String(Buffer.byteLength(o.body));
  else if (o.contentLength !== undefined) headers["content-length"] = String(o.contentLength);
  if (!("socket" in t) && t.token !== null) headers.authorization = `Bearer ${t.token}`;
  const where = "socket" in t ? { socketPath: t.socket } : { host: t.host, port: t.port };
  return new Promise((resolve, reject) => {
    const req = request({ ...where, method, path, headers, timeout: o.timeoutMs, agent: false }, (res) => resolve({ status: res.statusCode ?? 0, body: res }));
    req.on("timeout", () => req.destroy(new UmbraError("api_unreachable", `the umbra agent API at ${targetText(t)} did not answer within ${o.timeoutMs} ms (is the agent stuck? its log may say)`, { path })));
    req.on("error", (err) => reject(err instanceof UmbraError ? err : unreachable(t, err)));
    if (o.body === undefined) req.end();
    else if (typeof o.body === "string") req.end(o.body);
    else o.body.pipe(req);
  });
}

function unreachable(t: ApiTarget, err: Error): UmbraError {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === "EACCES"
      ? `permission denied: the API socket is root's and its group's ([api] group); run as root or join that group`
      : code === "ENOENT" || code === "ECONNREFUSED"
        ? "is the agent running? see --api / --config"
        : err.message;
  return new UmbraError("api_unreachable", `cannot reach the umbra agent API at ${targetText(t)}: ${why}`, { errno: code }, err);
}

/** A whole answer as text. */
export async function textOf(a: ApiAnswer): Promise<string> {
  const parts: Buffer[] = [];
  for await (const p of a.body) parts.push(p as Buffer);
  return Buffer.concat(parts).toString("utf8");
}

/** A whole answer as JSON, or null when it is not JSON. */
export async function jsonOf(a: ApiAnswer): Promise<unknown> {
  try {
    return JSON.parse(await textOf(a));
  } catch {
    return null;
  }
}

/** A JSON request and its JSON answer; a non-2xx answer is an error with the agent's own message and code (`fallback` when it gives none). */
export async function apiJson(t: ApiTarget, method: string, path: string, body: unknown, timeoutMs: number, fallback: string = "api_unreachable"): Promise<unknown> {
  const a = await apiRequest(t, method, path, body === undefined ? { timeoutMs } : { body: JSON.stringify(body), contentType: "application/json", timeoutMs });
  const json = await jsonOf(a);
  if (a.status >= 200 && a.status < 300 && json !== null) return json;
  const b = json as { error?: unknown; code?: unknown } | null;
  const message = typeof b?.error === "string" ? b.error : json === null ? `${targetText(t)} answered ${a.status} without JSON: is it an umbra agent API? (see --api)` : `the agent at ${targetText(t)} answered ${a.status}`;
  throw new UmbraError((typeof b?.code === "string" ? b.code : fallback) as never, message, { path, status: a.status, answer: json });
}
