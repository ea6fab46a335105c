// Puts the API app on a socket. The only place in api/ that listens.
import { serve } from "@hono/node-server";
import type { Hono } from "hono";
import type { AddressInfo } from "node:net";
import { UmbraError } from "../shared/errors.ts";
import { parseHostPort } from "../shared/hostport.ts";

export type Served = {
  /** Where it listens, as host:port ([v6addr]:port); the real port when asked for 0. */
  address: string;
  close(): Promise<void>;
};

/** Listens on host:port (IPv6 as [addr]:port); port 0 picks a free one. */
export function serveApi(app: Hono, listen: string): Promise<Served> {
  const { host, port } = parseHostPort(listen);
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port }, (info: AddressInfo) => {
      const address = info.family === "IPv6" ? `[${info.address}]:${info.port}` : `${info.address}:${info.port}`;
      resolve({
        address,
        close: () =>
          new Promise<void>((res, rej) => {
            // Idle keep-alive connections would hold close() open.
            server.close((err) => (err === undefined ? res() : rej(err)));
            if ("closeIdleConnections" in server) server.closeIdleConnections();
          }),
      });
    });
    server.once("error", (err: NodeJS.ErrnoException) => {
      const why =
        err.code === "EADDRINUSE"
          ? "the port is taken (another umbra agent? set api = \"host:port\" in the config)"
          : err.code === "EADDRNOTAVAIL"
            ? "no interface has that address"
            : err.code === "EACCES"
              ? "permission denied (ports below 1024 need root)"
              : err.message;
      reject(new UmbraError("api_listen_failed", `cannot listen on ${listen} for the API: ${why}`, { listen, errno: err.code }, err));
    });
  });
}
