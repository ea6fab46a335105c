// Service health checks, run off the loop: every intervalMs each check of
// each service this host is a candidate of runs once (never two runs of one
// check at a time), bounded by its timeout, and its result goes to the host
// core as a check-result event. The core counts rise and fall and decides
// what follows (decide/health.ts); nothing here does.
//
//   http: a GET on a fresh connection; a 2xx answer passes
//   tcp: a connection passes
//   command: the program (no shell) exits 0; it runs as ordinary work, like
//            hooks, and is killed at its timeout
import { request } from "node:http";
import { connect } from "node:net";
import type { HostEvent } from "../decide/index.ts";
import { runHook } from "../actuate/index.ts";
import { parseHostPort } from "../shared/hostport.ts";
import type { ServiceConfig } from "../shared/config.ts";

type Check = ServiceConfig["checks"][number];
export type CheckOutcome = { ok: boolean; detail: string };

/** Longest detail kept from a failing check (an HTTP body, a command's stderr). */
const DETAIL_CHARS_MAX = 200;

export type ChecksDeps = {
  /** The services to check here (those this host is a candidate of). */
  services: ReadonlyArray<{ name: string; checks: readonly Check[] }>;
  feed(ev: HostEvent): void;
  /** The prefix that starts a command as ordinary work (`chrt --other 0` once the agent is real-time); read at each run. */
  commandPrefix: readonly string[];
};

/** Starts every check on its interval; stop() clears the timers (a run in flight finishes and is dropped). */
export function startChecks(d: ChecksDeps): { stop(): void } {
  const timers: NodeJS.Timeout[] = [];
  let stopped = false;
  for (const sv of d.services) {
    sv.checks.forEach((check, index) => {
      let running = false;
      const runOnce = () => {
        if (running || stopped) return;
        running = true;
        void runCheck(check, d.commandPrefix).then((r) => {
          running = false;
          if (!stopped) d.feed({ type: "check-result", service: sv.name, check: index, ok: r.ok, detail: r.detail });
        });
      };
      timers.push(setInterval(runOnce, check.intervalMs));
      setImmediate(runOnce);
    });
  }
  return {
    stop() {
      stopped = true;
      for (const t of timers) clearInterval(t);
    },
  };
}

/** One run of a check: passes or fails with a short reason; never throws. */
export function runCheck(c: Check, commandPrefix: readonly string[] = []): Promise<CheckOutcome> {
  if (c.http !== undefined) return httpCheck(c.http, c.timeoutMs);
  if (c.tcp !== undefined) return tcpCheck(c.tcp, c.timeoutMs);
  return commandCheck(c.command!, c.timeoutMs, commandPrefix);
}

const clip = (s: string): string => (s.length > DETAIL_CHARS_MAX ? `${s.slice(0, DETAIL_CHARS_MAX)}…` : s);

function httpCheck(url: string, timeoutMs: number): Promise<CheckOutcome> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: CheckOutcome) => {
      if (done) return;
      done = true;
      resolve(r);
    };
    const req = request(url, { method: "GET", agent: false, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
      const status = res.statusCode ?? 0;
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        if (body.length < DETAIL_CHARS_MAX) body += chunk;
      });
      res.on("end", () => finish(status >= 200 && status < 300 ? { ok: true, detail: `HTTP ${status}` } : { ok: false, detail: clip(`HTTP ${status}${body.trim() === "" ? "" : `: ${body.trim()}`}`) }));
      res.on("error", (e) => finish({ ok: false, detail: clip(`HTTP: ${e.message}`) }));
    });
    req.on("error", (e) => finish({ ok: false, detail: e.name === "AbortError" || e.name === "TimeoutError" ? `HTTP: no answer within ${timeoutMs} ms` : clip(`HTTP: ${(e as NodeJS.ErrnoException).code ?? e.message}`) }));
    req.end();
  });
}

function tcpCheck(hostPort: string, timeoutMs: number): Promise<CheckOutcome> {
  const { host, port } = parseHostPort(hostPort);
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ ok: false, detail: `TCP ${hostPort}: no connection within ${timeoutMs} ms` });
    }, timeoutMs);
    sock.once("connect", () => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ ok: true, detail: `TCP ${hostPort}: connected` });
    });
    sock.once("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ ok: false, detail: `TCP ${hostPort}: ${e.code ?? e.message}` });
    });
  });
}

async function commandCheck(argv: readonly string[], timeoutMs: number, prefix: readonly string[]): Promise<CheckOutcome> {
  try {
    const r = await runHook({ path: argv[0]!, args: argv.slice(1), env: {}, timeoutMs, prefix: [...prefix] });
    if (r.exitCode === 0) return { ok: true, detail: "exit 0" };
    const why = r.timedOut ? `no exit within ${timeoutMs} ms` : r.exitCode === null ? `killed by ${r.signal}` : `exit ${r.exitCode}`;
    return { ok: false, detail: clip(`${why}${r.stderrTail.trim() === "" ? "" : `: ${r.stderrTail.trim()}`}`) };
  } catch (err) {
    return { ok: false, detail: clip(`cannot run ${argv[0]}: ${(err as Error).message}`) };
  }
}
