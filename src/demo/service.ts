// The demo's service: answers every HTTP request with its host name, on all
// addresses, so whoever holds the VIP answers for it.
import { createServer } from "node:http";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { name: { type: "string" }, port: { type: "string", default: "8080" } } });
if (values.name === undefined) {
  process.stderr.write("usage: node src/demo/service.ts --name NAME [--port 8080]\n");
  process.exit(2);
}
const body = `${values.name}\n`;
const server = createServer((_req, res) => {
  res.writeHead(200, { "content-type": "text/plain", connection: "close" });
  res.end(body);
});
server.listen(Number(values.port), "0.0.0.0", () => process.stdout.write(`service ${values.name} listening on ${values.port}\n`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
