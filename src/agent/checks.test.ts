// Proves the three kinds of health check against real endpoints on loopback:
// an HTTP GET passes on 2xx and fails on another status (with it and the
// body's start in the detail), on no answer in time, and on a refused
// connection; a TCP connect passes when something listens and fails when
// nothing does; a command passes on exit 0 and fails on another exit (with
// its stderr) or on its timeout.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { runCheck } from "./checks.ts";

let server: Server;
let port = 0;
beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === "/slow") return void setTimeout(() => res.end("late"), 500);
    res.writeHead(req.url === "/ok" ? 200 : 503);
    res.end(req.url === "/ok" ? "fine" : "database down");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => server.close());

const base = { intervalMs: 1000, timeoutMs: 200, rise: 2, fall: 3 };

describe("health checks", () => {
  test("http: 2xx passes; another status, silence or a refusal fails, saying which", async () => {
    expect(await runCheck({ ...base, http: `http://127.0.0.1:${port}/ok` })).toEqual({ ok: true, detail: "HTTP 200" });
    expect(await runCheck({ ...base, http: `http://127.0.0.1:${port}/bad` })).toEqual({ ok: false, detail: "HTTP 503: database down" });
    expect(await runCheck({ ...base, http: `http://127.0.0.1:${port}/slow` })).toEqual({ ok: false, detail: "HTTP: no answer within 200 ms" });
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const gone = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    expect(await runCheck({ ...base, http: `http://127.0.0.1:${gone}/` })).toEqual({ ok: false, detail: "HTTP: ECONNREFUSED" });
    expect(await runCheck({ ...base, tcp: `127.0.0.1:${gone}` })).toEqual({ ok: false, detail: `TCP 127.0.0.1:${gone}: ECONNREFUSED` });
  });

  test("tcp: a listener passes", async () => {
    expect(await runCheck({ ...base, tcp: `127.0.0.1:${port}` })).toEqual({ ok: true, detail: `TCP 127.0.0.1:${port}: connected` });
  });

  test("command: exit 0 passes; another exit fails with its stderr; a hang fails at the timeout", async () => {
    expect(await runCheck({ ...base, command: ["/bin/sh", "-c", "exit 0"] })).toEqual({ ok: true, detail: "exit 0" });
    expect(await runCheck({ ...base, command: ["/bin/sh", "-c", "echo replica lag 40s >&2; exit 2"] })).toEqual({ ok: false, detail: "exit 2: replica lag 40s" });
    expect(await runCheck({ ...base, command: ["/bin/sh", "-c", "sleep 5"] })).toEqual({ ok: false, detail: "no exit within 200 ms" });
  });
});
