// The demo's service: answers every HTTP request with its host name, on all
// IPv4 and IPv6 addresses, so whoever holds the VIP (of either family)
// answers for it. Every answer closes its connection: each client poll then
// measures a fresh connect to whoever holds the VIP now. GET /health answers
// 503 while the --sick-file exists (what a failing health check sees), 200
// otherwise.
//
//   node src/demo/service.ts --name h1 [--port 8080] [--sick-file PATH]
import { createServer, type RequestListener, type Server } from "node:http";
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { name: { type: "string" }, port: { type: "string", default: "8080" }, "sick-file": { type: "string" } } });
const sickFile = values["sick-file"];
const port = Number(values.port);
if (values.name === undefined || !/^[a-z0-9-]{1,32}$/.test(values.name) || !Number.isInteger(port) || port < 1 || port > 65_535) {
  process.stderr.write("usage: node src/demo/service.ts --name NAME [--port 8080]\n");
  process.exit(2);
}
const body = `${values.name}\n`;
const answer: RequestListener = (req, res) => {
  const sick = req.url === "/health" && sickFile !== undefined && existsSync(sickFile);
  res.writeHead(sick ? 503 : 200, { "content-type": "text/plain", connection: "close" });
  res.end(sick ? "sick\n" : body);
};
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
