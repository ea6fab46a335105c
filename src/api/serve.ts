import { serve } from "@hono/node-server";
import type { Hono } from "hono";
import { UmbraError } from "../shared/errors.ts";
import { parseHostPort } from "../shared/hostport.ts";

export type Served = { address: string; close(): Promise<void> };

/** Listens on host:port (IPv6 as [addr]:port); port 0 picks a free one. */
export function serveApi(app: Hono, listen: string): Promise<Served> {
  const { host, port } = parseHostPort(listen);
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port }, (info) => {
      const address = info.family === "IPv6" ? `[${info.address}]:${info.port}` : `${info.address}:${info.port}`;
      resolve({ address, close: () => new Promise<void>((res) => server.close(() => res())) });
    });
    server.once("error", (err: NodeJS.ErrnoException) => {
      reject(new UmbraError("config_invalid", err.code === "EADDRINUSE" ? `cannot listen on ${listen} for the API: the port is taken (set api = "host:port" in the config)` : `cannot listen on ${listen} for the API: ${err.message}`, { listen }, err));
    });
  });
}
