// User hooks (activate, demote): executables run with a timeout, no shell,
// their exit status and the tail of their output captured for the log.

import { spawn } from "node:child_process";

/** Output kept from a hook, per stream (the tail: the end says what went wrong). */
export const HOOK_OUTPUT_BYTES_MAX = 4096;
/** After SIGTERM on timeout, SIGKILL follows this much later. */
export const HOOK_KILL_GRACE_MS = 1_000;

export type HookResult = { exitCode: number | null; signal: string | null; timedOut: boolean; durationMs: number; stdoutTail: string; stderrTail: string };

export function runHook(o: { path: string; args: string[]; env: Record<string, string>; timeoutMs: number }): Promise<HookResult> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const p = spawn(o.path, o.args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...o.env }, detached: true });
    let out = "";
    let err = "";
    const keep = (s: string, d: Buffer) => (s + d.toString()).slice(-HOOK_OUTPUT_BYTES_MAX);
    p.stdout!.on("data", (d: Buffer) => (out = keep(out, d)));
    p.stderr!.on("data", (d: Buffer) => (err = keep(err, d)));
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      const kill = (sig: NodeJS.Signals) => {
        try {
          process.kill(-p.pid!, sig);
        } catch {
          // gone already
        }
      };
      kill("SIGTERM");
      killTimer = setTimeout(() => kill("SIGKILL"), HOOK_KILL_GRACE_MS);
    }, o.timeoutMs);
    p.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on("close", (code, signal) => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      resolve({ exitCode: code, signal, timedOut, durationMs: Math.round(performance.now() - t0), stdoutTail: out, stderrTail: err });
    });
  });
}
