// The local HTTP API as a Hono app factory: no listen here, so tests call
// app.request() without a server.
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { isUmbraError } from "../shared/errors.ts";
import type { StatusDoc } from "./types.ts";

export type ApiDeps = { status(): StatusDoc; onError?: (err: unknown) => void };

export function createApi(deps: ApiDeps): Hono {
  const app = new Hono();
  app.get("/status", (c) => c.json(deps.status()));
  app.get("/healthz", (c) => c.text("ok"));
  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));
  app.onError((err, c) => {
    if (err instanceof HTTPException) return c.json({ error: err.message }, err.status);
    if (isUmbraError(err)) return c.json({ error: err.message, code: err.code }, 400);
    deps.onError?.(err);
    return c.json({ error: "internal error" }, 500);
  });
  return app;
}
