// The demo's client: polls a URL every N ms with a per-request timeout, on a
// fresh connection each time (agent: false, so no keep-alive), and writes
// one JSON line per result to stdout:
//   { t, done, ok, body?, err? }
// t: wall-clock ms (fractional) when the request left; done: when it was
// answered or failed. Stops on SIGTERM or after --duration-ms.
// With --retries N, a failed attempt (an error or its timeout) is sent again
// at once, up to N more times, as a client with a retry does; the line then
// also says how many attempts the request took: { ..., attempts }.
//
//   node src/demo/poller.ts --url http://198.51.100.10:8080/ [--interval-ms 5] [--timeout-ms 30] [--duration-ms 60000] [--retries 0]
import { request } from "node:http";
import { parseArgs } from "node:util";

/** Polls in flight at most: a black-holed VIP must not pile up sockets. */
const IN_FLIGHT_MAX = 64;
/** Retries of one request at most. */
const RETRIES_MAX = 10;
/** A poll run lasts at most this long, whatever --duration-ms says. */
const DURATION_MS_MAX = 3_600_000;

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    "interval-ms": { type: "string", default: "5" },
    "timeout-ms": { type: "string", default: "30" },
    "duration-ms": { type: "string", default: "60000" },
    retries: { type: "string", default: "0" },
  },
});
const intervalMs = Number(values["interval-ms"]);
const timeoutMs = Number(values["timeout-ms"]);
const durationMs = Number(values["duration-ms"]);
const retries = Number(values.retries);
const validUrl = values.url !== undefined && URL.canParse(values.url) && new URL(values.url).protocol === "http:";
if (!validUrl || !(intervalMs >= 1) || !(timeoutMs >= 1) || !(durationMs >= 1 && durationMs <= DURATION_MS_MAX) || !(Number.isInteger(retries) && retries >= 0 && retries <= RETRIES_MAX)) {
  process.stderr.write(`usage: node src/demo/poller.ts --url http://HOST:PORT/ [--interval-ms 5] [--timeout-ms 30] [--duration-ms 60000] [--retries 0..${RETRIES_MAX}]\n`);
  process.exit(2);
}
const url = new URL(values.url!);
// URL keeps IPv6 literals bracketed ("[2001:db8::10]"); http.request wants them bare.
const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
const port = url.port === "" ? 80 : Number(url.port);
const path = `${url.pathname}${url.search}`;
const now = () => performance.timeOrigin + performance.now();
const endAt = now() + durationMs;
let inFlight = 0;

type Outcome = { ok: boolean; body?: string; err?: string };

/** One request, retried at once on failure while retries last; one line when it is settled. */
function poll(): void {
  const t = now();
  inFlight++;
  const settle = (rec: Outcome, attempts: number) => {
    inFlight--;
    process.stdout.write(JSON.stringify({ t, done: now(), ...rec, ...(retries > 0 ? { attempts } : {}) }) + "\n");
  };
  const tryOnce = (attempt: number) =>
    attemptRequest((rec) => {
      if (!rec.ok && attempt <= retries) tryOnce(attempt + 1);
      else settle(rec, attempt);
    });
  tryOnce(1);
}

/** One HTTP GET on a fresh connection; `finish` is called exactly once. */
function attemptRequest(finish: (rec: Outcome) => void): void {
  let settled = false;
  const once = (rec: Outcome) => {
    if (settled) return;
    settled = true;
    finish(rec);
  };
  const req = request({ host, port, path, agent: false, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
    let body = "";
    res.setEncoding("utf8");
    res.on("data", (d: string) => (body += d));
    res.on("end", () => once({ ok: res.statusCode === 200, body: body.trim() }));
    res.on("error", (e) => once({ ok: false, err: errName(e) }));
  });
  req.on("error", (e) => once({ ok: false, err: errName(e) }));
  req.end();
}

const errName = (e: Error): string => (e.name === "AbortError" || e.name === "TimeoutError" ? "timeout" : ((e as NodeJS.ErrnoException).code ?? e.message));

const timer = setInterval(() => {
  if (now() >= endAt) return stop();
  if (inFlight < IN_FLIGHT_MAX) poll();
  else process.stdout.write(JSON.stringify({ t: now(), done: now(), ok: false, err: "in-flight-cap" }) + "\n");
}, intervalMs);

function stop(): void {
  clearInterval(timer);
  // Polls still in flight end within their timeouts (each retry one more); then exit.
  setTimeout(() => process.exit(0), timeoutMs * (retries + 1) + 5);
}
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
