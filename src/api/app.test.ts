// Proves the API routes with no server (app.request) and on a real socket.
import { describe, expect, test } from "bun:test";
import { createApi } from "./app.ts";
import { serveApi } from "./serve.ts";
import { SAMPLE_STATUS } from "./testdata.ts";
import { UmbraError } from "../shared/errors.ts";

describe("api", () => {
  const app = createApi({ status: () => SAMPLE_STATUS });
  test("GET /status returns the status document", async () => {
    const res = await app.request("/status");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(SAMPLE_STATUS);
  });
  test("GET /healthz", async () => {
    expect(await (await app.request("/healthz")).text()).toBe("ok");
  });
  test("an unknown route is a JSON 404", async () => {
    const res = await app.request("/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "no route GET /nope" });
  });
  test("a known failure is a 400 with its code; a bug is a 500 that says nothing inside", async () => {
    const seen: unknown[] = [];
    const known = createApi({ status: () => { throw new UmbraError("peer_unknown", "no such peer"); } });
    expect((await known.request("/status")).status).toBe(400);
    const buggy = createApi({ status: () => { throw new TypeError("x is undefined"); }, onError: (e) => seen.push(e) });
    const res = await buggy.request("/status");
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: "internal error" });
    expect(seen).toHaveLength(1);
  });
  test("serves on a real loopback socket, and a taken port is a clear error", async () => {
    const served = await serveApi(app, "127.0.0.1:0");
    try {
      const res = await fetch(`http://${served.address}/status`);
      expect((await res.json()).host).toBe("h2");
      await expect(serveApi(app, served.address)).rejects.toThrow(/the port is taken/);
    } finally {
      await served.close();
    }
  });
});
