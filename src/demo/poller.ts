// The demo's client: polls a URL every N ms with a per-request timeout, on a
// fresh connection each time, and writes one JSON line per result:
// { t: wall-clock ms at send, done: at answer or failure, ok, body?, err? }. Stops on SIGTERM or after --duration-ms.
import { request } from "node:http";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    "interval-ms": { type: "string", default: "5" },
    "timeout-ms": { type: "string", default: "30" },
    "duration-ms": { type: "string", default: "60000" },
  },
});
if (values.url === undefined) {
  process.stderr.write("usage: node src/demo/poller.ts --url URL [--interval-ms 5] [--timeout-ms 30] [--duration-ms 60000]\n");
  process.exit(2);
}
const url = new URL(values.url);
const intervalMs = Number(values["interval-ms"]);
const timeoutMs = Number(values["timeout-ms"]);
const endAt = Date.now() + Number(values["duration-ms"]);
const now = () => performance.timeOrigin + performance.now();

function poll(): void {
  const t = now();
  let done = false;
  const finish = (rec: Record<string, unknown>) => {
    if (done) return;
    done = true;
    process.stdout.write(JSON.stringify({ t, done: now(), ...rec }) + "\n");
  };
  const req = request({ host: url.hostname, port: url.port, path: url.pathname, agent: false, timeout: timeoutMs }, (res) => {
    let body = "";
    res.on("data", (d) => (body += d));
    res.on("end", () => finish({ ok: res.statusCode === 200, body: body.trim() }));
  });
  const timer = setTimeout(() => {
    finish({ ok: false, err: "timeout" });
    req.destroy();
  }, timeoutMs);
  req.on("error", (e) => finish({ ok: false, err: (e as NodeJS.ErrnoException).code ?? e.message }));
  req.on("close", () => clearTimeout(timer));
  req.end();
}

const timer = setInterval(() => {
  if (Date.now() >= endAt) {
    clearInterval(timer);
    return;
  }
  poll();
}, intervalMs);
process.on("SIGTERM", () => {
  clearInterval(timer);
  setTimeout(() => process.exit(0), timeoutMs + 5);
});
