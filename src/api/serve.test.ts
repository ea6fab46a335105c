// Proves the API reaches its operators and no one else, on real sockets:
// the Unix socket is root's and its group's (mode 0660; 0600 without the
// group), and a local user outside the group cannot connect (a real
// process under setpriv as nobody); a stale socket file is replaced, a live
// one refused; a TCP listener wants the token (none, a wrong one: 401) and
// limits the rate (429); a token file readable by all, or too short, stops
// the agent from serving.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { createApi } from "./app.ts";
import { groupId, guardedFetch, RATE_BURST, serveApi } from "./serve.ts";
import { SAMPLE_STATUS } from "./testdata.ts";
import { apiJson, apiRequest, textOf } from "../apiclient/index.ts";
import { logger } from "../shared/log.ts";
import { UmbraError } from "../shared/errors.ts";
import type { ApiConfig } from "../shared/config.ts";

const dir = mkdtempSync(join(tmpdir(), "umbra-serve-"));
chmodSync(dir, 0o755); // nobody may walk in: the socket's own mode must be what stops it
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const app = createApi({ status: () => SAMPLE_STATUS });
const warnings: string[] = [];
const log = logger("t", "error");
const logged = ((level, part, event) => void warnings.push(event)) as typeof log;
const api = (o: Partial<ApiConfig>): ApiConfig => ({ socket: join(dir, "api.sock"), group: "umbra", listen: null, tokenFile: null, allowRemote: false, ...o });
const TOKEN = "t".repeat(40);

/** A group this host has (root's), and one it does not. */
const rootGroup = "root";
const noGroup = "umbra-test-no-such-group";

describe("the Unix socket", () => {
  test("is root's and the group's, mode 0660; it answers; closed, it is gone", async () => {
    const socket = join(dir, "a.sock");
    const served = await serveApi(app, api({ socket, group: rootGroup }), logged);
    try {
      const st = statSync(socket);
      expect(st.mode & 0o777).toBe(0o660);
      expect(st.uid).toBe(0);
      expect(st.gid).toBe(groupId(rootGroup)!);
      expect(await apiJson({ socket }, "GET", "/status", undefined, 2_000)).toEqual(SAMPLE_STATUS);
    } finally {
      await served.close();
    }
    expect(() => statSync(socket)).toThrow();
  });

  test("without its group: root's only (0600), and a warning says how to let operators in", async () => {
    const socket = join(dir, "b.sock");
    warnings.length = 0;
    const served = await serveApi(app, api({ socket, group: noGroup }), logged);
    try {
      expect(statSync(socket).mode & 0o777).toBe(0o600);
      expect(warnings).toContain("api-root-only");
    } finally {
      await served.close();
    }
  });

  test.skipIf(process.getuid?.() !== 0)("a local user outside the group cannot connect (nobody, by setpriv)", async () => {
    const socket = join(dir, "c.sock");
    const served = await serveApi(app, api({ socket, group: rootGroup }), logged);
    try {
      const code = `require("net").connect(${JSON.stringify(socket)}).on("connect",()=>{console.log("connected");process.exit(0)}).on("error",(e)=>{console.log(e.code);process.exit(0)})`;
      const r = spawnSync("setpriv", ["--reuid", "65534", "--regid", "65534", "--clear-groups", "node", "-e", code], { encoding: "utf8", timeout: 10_000 });
      expect(r.stderr).toBe("");
      expect(r.stdout.trim()).toBe("EACCES");
    } finally {
      await served.close();
    }
  });

  test("a stale socket file (no one listening) is replaced; a live one is another agent's: refused", async () => {
    const socket = join(dir, "d.sock");
    const stale = createServer().listen(socket);
    await new Promise((r) => stale.once("listening", r));
    const live = await serveApi(app, api({ socket, group: rootGroup }), logged).then(
      () => null,
      (e: unknown) => e,
    );
    expect(live).toBeInstanceOf(UmbraError);
    expect((live as UmbraError).message).toBe(`another process (another umbra agent?) listens on ${socket}`);
    // A listener that died without removing its file (node unlinks on close: put a plain file back in its place).
    await new Promise((r) => stale.close(r));
    writeFileSync(socket, "");
    const served = await serveApi(app, api({ socket, group: rootGroup }), logged);
    try {
      expect(await textOf(await apiRequest({ socket }, "GET", "/healthz", { timeoutMs: 2_000 }))).toBe("ok");
    } finally {
      await served.close();
    }
  });
});

describe("the TCP listener", () => {
  const tokenFile = join(dir, "token");
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });

  test("wants the token: none or a wrong one is 401 and reaches no route; the right one answers", async () => {
    const served = await serveApi(app, api({ socket: join(dir, "e.sock"), group: rootGroup, listen: "127.0.0.1:0", tokenFile }), logged);
    try {
      const [host, port] = [served.tcp!.split(":")[0]!, Number(served.tcp!.split(":")[1])];
      const none = await apiRequest({ host, port, token: null }, "GET", "/status", { timeoutMs: 2_000 });
      expect(none.status).toBe(401);
      expect(JSON.parse(await textOf(none)).error).toBe("this API needs the token of [api] tokenFile: Authorization: Bearer TOKEN (a browser: open /ui?token=TOKEN once)");
      expect((await apiRequest({ host, port, token: "x".repeat(40) }, "GET", "/status", { timeoutMs: 2_000 })).status).toBe(401);
      expect(await apiJson({ host, port, token: TOKEN }, "GET", "/status", undefined, 2_000)).toEqual(SAMPLE_STATUS);
    } finally {
      await served.close();
    }
  });

  test.each([
    ["readable by every user", 0o644, TOKEN, /is readable by every user: chmod 600 it/],
    ["too short", 0o600, "short", /the token is 5 characters; at least 32/],
  ])("a token file %s stops it", async (_what, mode, token, message) => {
    const f = join(dir, `token-${mode}-${token.length}`);
    writeFileSync(f, token, { mode });
    chmodSync(f, mode);
    await expect(serveApi(app, api({ socket: join(dir, "f.sock"), listen: "127.0.0.1:0", tokenFile: f }), logged)).rejects.toThrow(message);
  });
});

test("more than the burst of requests at once: 429, with retry-after; the bucket refills with time", async () => {
  let now = 0;
  const fetch = guardedFetch(app, null, () => now);
  const codes: number[] = [];
  for (let i = 0; i < RATE_BURST + 5; i++) codes.push((await fetch(new Request("http://x/healthz"))).status);
  expect(codes.filter((c) => c === 200)).toHaveLength(RATE_BURST);
  const refused = await fetch(new Request("http://x/healthz"));
  expect(refused.status).toBe(429);
  expect(refused.headers.get("retry-after")).toBe("1");
  now += 1_000;
  expect((await fetch(new Request("http://x/healthz"))).status).toBe(200);
});

test("a browser's token: /ui?token= sets a cookie derived from it, for this port, HttpOnly and SameSite=Strict; the cookie admits reads only; ?token= elsewhere does not", async () => {
  const fetch = guardedFetch(app, TOKEN);
  const first = await fetch(new Request(`http://x:7070/ui?token=${TOKEN}`, { headers: { cookie: "umbra_ui_7070=stale" } }));
  expect(first.status).toBe(303); // the query wins over an old cookie (a rotated token)
  expect(first.headers.get("location")).toBe("/ui");
  const set = first.headers.get("set-cookie")!;
  expect(set).toMatch(/^umbra_ui_7070=[0-9a-f]{64}; HttpOnly; SameSite=Strict; Path=\/$/);
  expect(set).not.toContain(TOKEN);
  const cookie = set.split(";")[0]!;
  expect((await fetch(new Request("http://x:7070/status", { headers: { cookie: `a=b; ${cookie}` } }))).status).toBe(200);
  expect((await fetch(new Request("http://x:7071/status", { headers: { cookie } }))).status).toBe(401); // another port's agent
  expect((await fetch(new Request("http://x:7070/statements", { method: "POST", body: "{}", headers: { cookie } }))).status).toBe(401); // reads only
  expect((await fetch(new Request("http://x:7070/status", { headers: { cookie: "umbra_ui_7070=wrong" } }))).status).toBe(401);
  expect((await fetch(new Request(`http://x:7070/status?token=${TOKEN}`))).status).toBe(401);
  expect((await fetch(new Request("http://x:7070/ui?token=wrong"))).status).toBe(401);
});
