// Puts the API app where its operators, and no one else, reach it. The only
// place in api/ that listens.
//
// - A Unix socket, always: mode 0660, owner root, group [api] group (default
//   "umbra"), so root and that group's members may use it and no other local
//   user can connect (connect(2) needs write permission on the socket).
//   Without such a group, mode 0600: root only, and a warning says how to let
//   operators in. A stale socket file (no one listening) is replaced; a live
//   one (another agent) is an error.
// - A TCP listener only when [api] listen is set: every request must carry
//   `Authorization: Bearer TOKEN` (tokenFile's first line), compared in
//   constant time; config.ts refuses a TCP API without a token, or beyond
//   loopback without allowRemote.
// - On both, at most RATE_PER_SEC requests a second (bursts of RATE_BURST)
//   per listener: a runaway script gets 429s, the agent's loop keeps its CPU.
import { createAdaptorServer } from "@hono/node-server";
import type { Hono } from "hono";
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { chmodSync, chownSync, existsSync, readFileSync, statSync, unlinkSync, mkdirSync } from "node:fs";
import { connect, type AddressInfo, type Server } from "node:net";
import { dirname } from "node:path";
import { UmbraError } from "../shared/errors.ts";
import { parseHostPort } from "../shared/hostport.ts";
import type { Logger } from "../shared/log.ts";
import type { ApiConfig } from "../shared/config.ts";

/** Requests a second per listener, sustained, and the burst allowed above it. */
export const RATE_PER_SEC = 50;
export const RATE_BURST = 100;
/** A token shorter than this is refused: it would be guessable. */
export const TOKEN_CHARS_MIN = 32;
/** How long a look for a live agent on an existing socket file may take. */
const SOCKET_PROBE_MS = 1_000;

export type Served = {
  /** Where it listens: the socket's path, and host:port ([v6addr]:port) of the TCP listener if any. */
  socket: string;
  tcp: string | null;
  close(): Promise<void>;
};

/** Listens on the socket, and on TCP if configured; rejects (api_listen_failed, config_invalid) with what is wrong. */
export async function serveApi(app: Hono, api: ApiConfig, log: Logger): Promise<Served> {
  const token = api.listen === null ? null : readToken(api);
  const unix = await listenUnix(app, api, log);
  let tcp: { server: Server; address: string } | null = null;
  try {
    if (api.listen !== null) tcp = await listenTcp(app, api.listen, token!);
  } catch (err) {
    await closeServer(unix);
    throw err;
  }
  return {
    socket: api.socket,
    tcp: tcp?.address ?? null,
    close: async () => {
      await Promise.all([closeServer(unix), tcp === null ? Promise.resolve() : closeServer(tcp.server)]);
      try {
        unlinkSync(api.socket);
      } catch {
        // gone already
      }
    },
  };
}

/** The fetch handler a listener serves: rate-limited, and with a token required when given. */
export function guardedFetch(app: Hono, token: string | null, now: () => number = () => performance.now()): (req: Request) => Response | Promise<Response> {
  const bucket = { tokens: RATE_BURST, atMs: now() };
  const want = token === null ? null : digest(token);
  return (req) => {
    const t = now();
    bucket.tokens = Math.min(RATE_BURST, bucket.tokens + ((t - bucket.atMs) / 1000) * RATE_PER_SEC);
    bucket.atMs = t;
    if (bucket.tokens < 1) return Response.json({ error: `more than ${RATE_PER_SEC} requests a second: slow down` }, { status: 429, headers: { "retry-after": "1" } });
    bucket.tokens -= 1;
    if (want !== null) {
      const url = new URL(req.url);
      const cookie = cookieName(url);
      const pass = admitted(req, url, want, cookie);
      if (pass === null) return Response.json({ error: "this API needs the token of [api] tokenFile: Authorization: Bearer TOKEN (a browser: open /ui?token=TOKEN once)" }, { status: 401, headers: { "www-authenticate": "Bearer" } });
      // The dashboard's first visit: a cookie derived from the token (never the token), for this port only, read-only routes only; the token leaves the address bar.
      if (pass === "query") return new Response(null, { status: 303, headers: { location: "/ui", "set-cookie": `${cookie}=${uiCookie(want)}; HttpOnly; SameSite=Strict; Path=/` } });
    }
    return app.fetch(req);
  };
}

/** The dashboard's cookie, one per port (cookies are not scoped by port: two agents tunnelled to one host must not share one). */
const cookieName = (url: URL): string => `umbra_ui_${url.port === "" ? "80" : url.port}`;
/** The cookie's value: derived from the token, so a leaked cookie is not the API's token. */
const uiCookie = (tokenDigest: Buffer): string => createHmac("sha256", tokenDigest).update("umbra-dashboard-cookie-v1").digest("hex");
/** What the dashboard's cookie admits: reading, never changing anything. */
const COOKIE_READS = /^\/(ui(\/.*)?|events|status|metrics|healthz(\/.*)?|services\/[^/]+\/audit)$/;

/** How a request passes: a Bearer header; on GET /ui, ?token= (the first visit, ahead of an old cookie); the dashboard's cookie for reads. */
function admitted(req: Request, url: URL, want: Buffer, cookie: string): "header" | "query" | "cookie" | null {
  const bearer = /^Bearer (.+)$/.exec(req.headers.get("authorization") ?? "");
  if (bearer !== null) return timingSafeEqual(digest(bearer[1]!), want) ? "header" : null;
  const q = url.searchParams.get("token");
  if (q !== null && req.method === "GET" && url.pathname === "/ui") return timingSafeEqual(digest(q), want) ? "query" : null;
  const c = (req.headers.get("cookie") ?? "").split(";").map((x) => x.trim()).find((x) => x.startsWith(`${cookie}=`));
  if (c === undefined || req.method !== "GET" || !COOKIE_READS.test(url.pathname)) return null;
  const expected = Buffer.from(uiCookie(want));
  const given = Buffer.from(c.slice(cookie.length + 1));
  return given.length === expected.length && timingSafeEqual(given, expected) ? "cookie" : null;
}

const digest = (s: string): Buffer => createHash("sha256").update(s).digest();

/** tokenFile's first line: long enough, and not readable by every user. */
function readToken(api: ApiConfig): string {
  const file = api.tokenFile!;
  let text: string;
  try {
    if ((statSync(file).mode & 0o004) !== 0) throw new UmbraError("config_invalid", `api.tokenFile ${file} is readable by every user: chmod 600 it (or 640 root:${api.group})`, { file });
    text = readFileSync(file, "utf8");
  } catch (err) {
    if (err instanceof UmbraError) throw err;
    throw new UmbraError("config_invalid", `api.tokenFile ${file}: cannot read: ${(err as Error).message}`, { file }, err);
  }
  const token = text.split("\n")[0]!.trim();
  if (token.length < TOKEN_CHARS_MIN) throw new UmbraError("config_invalid", `api.tokenFile ${file}: the token is ${token.length} characters; at least ${TOKEN_CHARS_MIN} (e.g. \`openssl rand -hex 32\`)`, { file });
  return token;
}

async function listenUnix(app: Hono, api: ApiConfig, log: Logger): Promise<Server> {
  mkdirSync(dirname(api.socket), { recursive: true });
  if (existsSync(api.socket)) {
    if (await someoneListens(api.socket)) throw new UmbraError("api_listen_failed", `another process (another umbra agent?) listens on ${api.socket}`, { socket: api.socket });
    unlinkSync(api.socket);
  }
  const server = createAdaptorServer({ fetch: guardedFetch(app, null) }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => reject(new UmbraError("api_listen_failed", `cannot listen on ${api.socket} for the API: ${err.message}`, { socket: api.socket, errno: err.code }, err)));
    server.listen(api.socket, () => resolve());
  });
  const gid = groupId(api.group);
  if (gid === null) {
    chmodSync(api.socket, 0o600);
    log("warn", "api", "api-root-only", { socket: api.socket, group: api.group, why: `no group "${api.group}" on this host: the API socket is root's only`, fix: `groupadd ${api.group}, add the operators to it, restart the agent` });
  } else {
    chownSync(api.socket, 0, gid);
    chmodSync(api.socket, 0o660);
  }
  return server;
}

async function listenTcp(app: Hono, listen: string, token: string): Promise<{ server: Server; address: string }> {
  const { host, port } = parseHostPort(listen);
  const server = createAdaptorServer({ fetch: guardedFetch(app, token) }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      const why = err.code === "EADDRINUSE" ? "the port is taken" : err.code === "EADDRNOTAVAIL" ? "no interface has that address" : err.code === "EACCES" ? "permission denied (ports below 1024 need root)" : err.message;
      reject(new UmbraError("api_listen_failed", `cannot listen on ${listen} for the API: ${why}`, { listen, errno: err.code }, err));
    });
    server.listen(port, host, () => resolve());
  });
  const info = server.address() as AddressInfo;
  return { server, address: info.family === "IPv6" ? `[${info.address}]:${info.port}` : `${info.address}:${info.port}` };
}

/** Whether something accepts connections on the socket file. */
function someoneListens(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(path);
    const done = (yes: boolean) => {
      c.destroy();
      resolve(yes);
    };
    c.setTimeout(SOCKET_PROBE_MS, () => done(true)); // a stuck listener is still a listener
    c.once("connect", () => done(true));
    c.once("error", () => done(false));
  });
}

/** A group's id from /etc/group, or null. */
export function groupId(name: string, groupFile = "/etc/group"): number | null {
  let text: string;
  try {
    text = readFileSync(groupFile, "utf8");
  } catch {
    return null;
  }
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f[0] === name && f.length >= 3 && /^\d+$/.test(f[2]!)) return Number(f[2]);
  }
  return null;
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((res, rej) => {
    server.close((err) => (err === undefined ? res() : rej(err)));
    // Idle keep-alive connections would hold close() open, and so would an
    // open /events stream (a dashboard tab): the agent is stopping, cut them.
    if ("closeAllConnections" in server) (server as unknown as { closeAllConnections(): void }).closeAllConnections();
  });
}
