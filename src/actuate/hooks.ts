// User hooks (activate, demote): executables run with a timeout, no shell,
// their exit status and the tail of their output captured for the log. A hook
// runs in its own process group, so a timeout kills whatever it started too.

import { spawn } from "node:child_process";
import { assert } from "../shared/assert.ts";
import { UmbraError } from "../shared/errors.ts";

/** Output kept from a hook, per stream (the tail: the end says what went wrong). */
export const HOOK_OUTPUT_BYTES_MAX = 4096;
/** After SIGTERM on timeout, SIGKILL follows this much later. */
export const HOOK_KILL_GRACE_MS = 1_000;
/** After the hook exits, how long its output pipes may stay open (a child it detached holds them). */
export const HOOK_PIPE_DRAIN_MS = 200;
/** A hook may run at most this long; longer is a config bug. */
export const HOOK_TIMEOUT_MS_MAX = 10 * 60_000;

export type HookResult = {
  /** null when a signal ended it. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** True when umbra killed it at timeoutMs. */
  timedOut: boolean;
  durationMs: number;
  /** The last HOOK_OUTPUT_BYTES_MAX bytes of each stream (a cut may split a UTF-8 character). */
  stdoutTail: string;
  stderrTail: string;
};

export type HookRun = {
  path: string;
  args: string[];
  env: Record<string, string>;
  timeoutMs: number;
  /** Runs the hook through this command first (`chrt --other 0`: a real-time agent's hook runs as ordinary work). */
  prefix?: string[];
};

/** Keeps the last `max` bytes of a stream, in bounded memory. */
function tail(max: number): { push(b: Buffer): void; text(): string } {
  let chunks: Buffer[] = [];
  let bytes = 0;
  return {
    push(b) {
      chunks.push(b);
      bytes += b.length;
      if (bytes > 2 * max) {
        const joined = Buffer.concat(chunks).subarray(-max);
        chunks = [joined];
        bytes = joined.length;
      }
    },
    text: () => Buffer.concat(chunks).subarray(-max).toString("utf8"),
  };
}

/** Resolves when the hook has ended; rejects (hook_failed) only when it could not start. */
export function runHook(o: HookRun): Promise<HookResult> {
  assert(Number.isInteger(o.timeoutMs) && o.timeoutMs > 0 && o.timeoutMs <= HOOK_TIMEOUT_MS_MAX, `hook timeoutMs ${o.timeoutMs} in (0, ${HOOK_TIMEOUT_MS_MAX}]`);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const argv = [...(o.prefix ?? []), o.path, ...o.args];
    const p = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...o.env }, detached: true });
    const out = tail(HOOK_OUTPUT_BYTES_MAX);
    const err = tail(HOOK_OUTPUT_BYTES_MAX);
    p.stdout.on("data", (d: Buffer) => out.push(d));
    p.stderr.on("data", (d: Buffer) => err.push(d));
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        process.kill(-p.pid!, sig);
      } catch (e) {
        // ESRCH: the group is gone already, which is what we want.
        if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup("SIGTERM");
      killTimer = setTimeout(() => killGroup("SIGKILL"), HOOK_KILL_GRACE_MS);
    }, o.timeoutMs);
    let settled = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      clearTimeout(drainTimer);
      p.stdout.destroy();
      p.stderr.destroy();
      resolve({ exitCode: code, signal, timedOut, durationMs: Math.round(performance.now() - t0), stdoutTail: out.text(), stderrTail: err.text() });
    };
    p.once("error", (e) => {
      clearTimeout(timer);
      settled = true;
      reject(new UmbraError("hook_failed", `hook ${o.path} could not start: ${e.message}`, { path: o.path }, e));
    });
    // "close" waits for the pipes too; bounded, since a child the hook left behind may hold them.
    p.once("exit", (code, signal) => {
      drainTimer = setTimeout(() => finish(code, signal), HOOK_PIPE_DRAIN_MS);
    });
    p.once("close", (code, signal) => finish(code, signal));
  });
}
