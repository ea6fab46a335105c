// The demo's client: polls a URL every N ms with a per-request timeout, on a
// fresh connection each time (no keep-alive: each request finds whoever
// answers for the address now), and writes one JSON line per result to
// stdout:
//   { t, done, ok, body?, err? }
// t: wall-clock ms (fractional) when the request left; done: when it was
// answered or failed. Stops on SIGTERM or after --duration-ms.
// With --retries N, a failed attempt (an error or its timeout) is sent again
// at once, up to N more times, as a client with a retry does; the line then
// also says how many attempts the request took: { ..., attempts }.
//
// The request is HTTP/1.0 over a bare socket, not node:http: the benches run
// two or three of these every 1-2 ms at real-time priority, and node:http's
// request cost (35-46 % of a core each at 1 ms) pushed the machine's
// real-time tasks past the kernel's RT budget (sched_rt_runtime_us): every
// real-time task, the agents among them, was then stopped for up to 100 ms.
// Lines go out in batches every FLUSH_MS (and at exit), not a write each.
// The service closes first and the poller ends each connection with a
// reset once its answer is read: a poller that closed first kept every
// connection in TIME_WAIT, and at 500 a second some 40 s in the ephemeral
// ports ran out: connect() then searched the whole range each time (the
// client at 95 % of a core, at real-time priority) and requests timed out.
//
//   node src/demo/poller.ts --url http://198.51.100.10:8080/ [--interval-ms 5] [--timeout-ms 30] [--duration-ms 60000] [--retries 0]
import { connect } from "node:net";
import { parseArgs } from "node:util";
import { afterIoPoll } from "../shared/timers.ts";

/** Polls in flight at most: a black-holed VIP must not pile up sockets. */
const IN_FLIGHT_MAX = 64;
/** Retries of one request at most. */
const RETRIES_MAX = 10;
/** Result lines are written out this often (and at exit). */
const FLUSH_MS = 50;
/** An answer longer than this is cut off and counted as a failure (the demo's services answer their host's name). */
const ANSWER_BYTES_MAX = 64 * 1024;
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
const head = Buffer.from(`GET ${url.pathname}${url.search} HTTP/1.0\r\nHost: ${url.host}\r\n\r\n`);
const now = () => performance.timeOrigin + performance.now();
const endAt = now() + durationMs;
let inFlight = 0;
let pending: string[] = [];
const flush = () => {
  if (pending.length > 0) process.stdout.write(pending.join(""));
  pending = [];
};
const flusher = setInterval(flush, FLUSH_MS);

type Outcome = { ok: boolean; body?: string; err?: string };

/** One request, retried at once on failure while retries last; one line when it is settled. */
function poll(): void {
  const t = now();
  inFlight++;
  const settle = (rec: Outcome, attempts: number) => {
    inFlight--;
    pending.push(JSON.stringify({ t, done: now(), ...rec, ...(retries > 0 ? { attempts } : {}) }) + "\n");
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
  const chunks: Buffer[] = [];
  let bytes = 0;
  const sock = connect({ host, port });
  // Judged after an I/O poll: the client's own stall is not the service's silence.
  const timer = afterIoPoll(timeoutMs, () => once({ ok: false, err: "timeout" }));
  function once(rec: Outcome): void {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    sock.resetAndDestroy();
    finish(rec);
  }
  // write, not end: a client that half-closes first is the side that keeps TIME_WAIT.
  sock.on("connect", () => sock.write(head));
  sock.on("data", (d: Buffer) => {
    chunks.push(d);
    bytes += d.length;
    if (bytes > ANSWER_BYTES_MAX) once({ ok: false, err: "answer-too-long" });
  });
  sock.on("end", () => once(parseAnswer(Buffer.concat(chunks).toString("utf8"))));
  sock.on("error", (e) => once({ ok: false, err: errName(e) }));
}

/** An HTTP answer read to its end: ok for status 200, with its body. */
function parseAnswer(text: string): Outcome {
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  const split = text.indexOf("\r\n\r\n");
  if (status === null || split < 0) return { ok: false, err: "bad-answer" };
  return { ok: status[1] === "200", body: text.slice(split + 4).trim() };
}

const errName = (e: Error): string => (e.name === "AbortError" || e.name === "TimeoutError" ? "timeout" : ((e as NodeJS.ErrnoException).code ?? e.message));

const timer = setInterval(() => {
  if (now() >= endAt) return stop();
  if (inFlight < IN_FLIGHT_MAX) poll();
  else pending.push(JSON.stringify({ t: now(), done: now(), ok: false, err: "in-flight-cap" }) + "\n");
}, intervalMs);

function stop(): void {
  clearInterval(timer);
  // Polls still in flight end within their timeouts (each retry one more),
  // judged after an I/O poll: so the last lines are written after one too.
  afterIoPoll(timeoutMs * (retries + 1) + 5, () => {
    clearInterval(flusher);
    flush();
    process.exitCode = 0;
    process.stdout.end(() => process.exit(0));
  });
}
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
