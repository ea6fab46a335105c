// The local HTTP API as a Hono app factory: no listen here, so tests call
// app.request() without a server. Errors go to one place, onError: an
// UmbraError is an expected failure and answers with its message and code;
// anything else is a bug, logged in full and answered as a bare 500.
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { isUmbraError, type ErrorCode } from "../shared/errors.ts";
import { logger, type Logger } from "../shared/log.ts";
import type { StatusDoc } from "./types.ts";

export type ApiDeps = {
  /** The status document, built fresh for each request. */
  status(): StatusDoc;
  /** Where bugs (500s) are logged; defaults to JSON lines on stderr. */
  log?: Logger;
};

/**
 * HTTP status for an expected failure. The request's fault is a 4xx; any
 * other code is the agent unable to answer right now, a 503.
 */
const STATUS_BY_CODE: Partial<Record<ErrorCode, ContentfulStatusCode>> = {
  usage: 400,
  config_invalid: 400,
  frame_malformed: 400,
  peer_unknown: 404,
};
const STATUS_UNAVAILABLE = 503;

export function httpStatusOf(code: ErrorCode): ContentfulStatusCode {
  return STATUS_BY_CODE[code] ?? STATUS_UNAVAILABLE;
}

export function createApi(deps: ApiDeps): Hono {
  const log = deps.log ?? logger("-");
  const app = new Hono();
  app.get("/status", (c) => c.json(deps.status()));
  app.get("/healthz", (c) => c.text("ok"));
  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));
  app.onError((err, c) => {
    if (err instanceof HTTPException) return c.json({ error: err.message }, err.status);
    if (isUmbraError(err)) return c.json({ error: err.message, code: err.code }, httpStatusOf(err.code));
    log("error", "api", "request-failed", { method: c.req.method, path: c.req.path, error: err instanceof Error ? err.stack : String(err) });
    return c.json({ error: "internal error" }, 500);
  });
  return app;
}
