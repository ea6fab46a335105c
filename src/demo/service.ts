// The demo's service: answers every HTTP request with its host name, on all
// IPv4 and IPv6 addresses, so whoever holds the VIP (of either family)
// answers for it. Every answer closes its connection: each client poll then
// measures a fresh connect to whoever holds the VIP now. GET /health answers
// 503 while the --sick-file exists (what a failing health check sees), 200
// otherwise.
//
// HTTP over bare sockets, not node:http: the benches poll it every 1-2 ms
// at real-time priority, and node:http's per-request cost counted against
// the kernel's RT budget with the pollers' (src/demo/poller.ts says more).
// A request is read up to its blank line (REQUEST_BYTES_MAX at most).
//
//   node src/demo/service.ts --name h1 [--port 8080] [--sick-file PATH]
import { createServer, type Server, type Socket } from "node:net";
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { name: { type: "string" }, port: { type: "string", default: "8080" }, "sick-file": { type: "string" } } });
const sickFile = values["sick-file"];
const port = Number(values.port);
if (values.name === undefined || !/^[a-z0-9-]{1,32}$/.test(values.name) || !Number.isInteger(port) || port < 1 || port > 65_535) {
  process.stderr.write("usage: node src/demo/service.ts --name NAME [--port 8080]\n");
  process.exit(2);
}
/** A request's head longer than this is answered 431 and closed. */
const REQUEST_BYTES_MAX = 8 * 1024;
/** A connection that sends no whole request head within this is closed. */
const REQUEST_WAIT_MS = 5_000;
const reply = (status: string, text: string): string => `HTTP/1.1 ${status}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`;
const body = `${values.name}\n`;
function answer(sock: Socket): void {
  let head = "";
  sock.setEncoding("latin1");
  sock.setTimeout(REQUEST_WAIT_MS, () => sock.destroy());
  sock.on("error", () => sock.destroy());
  sock.on("data", (d: string) => {
    head += d;
    if (head.length > REQUEST_BYTES_MAX) return void sock.end(reply("431 Request Header Fields Too Large", "too large\n"));
    if (!head.includes("\r\n\r\n")) return;
    sock.removeAllListeners("data");
    const path = /^[A-Z]+ (\S+) HTTP\/1\.[01]\r\n/.exec(head)?.[1];
    if (path === undefined) return void sock.end(reply("400 Bad Request", "bad request\n"));
    const sick = path === "/health" && sickFile !== undefined && existsSync(sickFile);
    sock.end(sick ? reply("503 Service Unavailable", "sick\n") : reply("200 OK", body));
  });
}
// Two sockets rather than one dual-stack one: the service answers on IPv4
// even where net.ipv6.bindv6only=1 or IPv6 is off.
const listeners: Array<{ host: string; ipv6Only?: boolean }> = [{ host: "0.0.0.0" }, { host: "::", ipv6Only: true }];
const servers: Server[] = [];
let up = 0;
for (const l of listeners) {
  const server = createServer(answer);
  servers.push(server);
  server.on("error", (err: NodeJS.ErrnoException) => {
    // No IPv6 in this namespace: serve IPv4 alone. Anything else is fatal.
    if (l.host === "::" && (err.code === "EAFNOSUPPORT" || err.code === "EADDRNOTAVAIL")) {
      process.stderr.write(`service ${values.name}: no IPv6 (${err.code}), serving IPv4 only\n`);
      return;
    }
    process.stderr.write(`service ${values.name}: cannot listen on [${l.host}]:${port}: ${err.message}\n`);
    process.exit(1);
  });
  server.listen({ port, host: l.host, ipv6Only: l.ipv6Only }, () => {
    up++;
    if (up === 1) process.stdout.write(`service ${values.name} listening on ${port}\n`);
  });
}
const stop = () => {
  let open = servers.length;
  for (const s of servers) s.close(() => --open === 0 && process.exit(0));
  setTimeout(() => process.exit(0), 1_000).unref(); // bounded: a stuck client does not hold the exit
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
