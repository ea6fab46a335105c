// Proves hooks run without a shell, get their arguments and environment,
// report exit codes, keep only the tail of their output, and are killed
// (with everything they started) on timeout.
import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HOOK_KILL_GRACE_MS, HOOK_OUTPUT_BYTES_MAX, runHook } from "./hooks.ts";

const dir = mkdtempSync(join(tmpdir(), "umbra-hooks-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function script(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}
/** Running (a zombie waiting for its new parent to reap it counts as dead). */
const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
};

test("exit status, arguments (no shell) and environment", async () => {
  const p = script("ok.sh", 'echo "svc=$1 vip=$UMBRA_VIP n=$#"; echo oops >&2; exit 3');
  const r = await runHook({ path: p, args: ["web; echo injected", "x"], env: { UMBRA_VIP: "198.51.100.10/24" }, timeoutMs: 5_000 });
  expect(r.exitCode).toBe(3);
  expect(r.signal).toBeNull();
  expect(r.timedOut).toBe(false);
  expect(r.stdoutTail).toBe("svc=web; echo injected vip=198.51.100.10/24 n=2\n");
  expect(r.stderrTail).toBe("oops\n");
});

test("a hook that hangs is killed at the timeout, with what it started", async () => {
  const pidFile = join(dir, "child.pid");
  const p = script("hang.sh", `sleep 30 & echo $! > ${pidFile}; wait`);
  const r = await runHook({ path: p, args: [], env: {}, timeoutMs: 300 });
  expect(r.timedOut).toBe(true);
  expect(r.signal).toBe("SIGTERM");
  expect(r.durationMs).toBeLessThan(300 + HOOK_KILL_GRACE_MS);
  const child = Number(readFileSync(pidFile, "utf8"));
  for (let i = 0; i < 50 && alive(child); i++) await Bun.sleep(10);
  expect(alive(child)).toBe(false);
});

test("a hook that ignores SIGTERM gets SIGKILL after the grace", async () => {
  const p = script("stubborn.sh", "trap '' TERM; echo ready; while :; do sleep 0.05; done");
  const r = await runHook({ path: p, args: [], env: {}, timeoutMs: 200 });
  expect(r.timedOut).toBe(true);
  expect(r.signal).toBe("SIGKILL");
  expect(r.durationMs).toBeGreaterThanOrEqual(200 + HOOK_KILL_GRACE_MS - 50);
  expect(r.stdoutTail).toBe("ready\n");
});

test("output is capped to its last HOOK_OUTPUT_BYTES_MAX bytes", async () => {
  const p = script("loud.sh", "i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done");
  const r = await runHook({ path: p, args: [], env: {}, timeoutMs: 5_000 });
  expect(r.exitCode).toBe(0);
  expect(Buffer.byteLength(r.stdoutTail)).toBe(HOOK_OUTPUT_BYTES_MAX);
  expect(r.stdoutTail.endsWith("line-1999\n")).toBe(true);
});

test("a missing hook rejects with hook_failed and the OS error", async () => {
  await expect(runHook({ path: join(dir, "missing"), args: [], env: {}, timeoutMs: 1_000 })).rejects.toThrow(/hook .*missing could not start: .*ENOENT/);
});

test("a prefix runs first (a real-time agent's hooks go through `chrt --other 0` and run as ordinary work)", async () => {
  const p = script("policy.sh", "chrt -p $$ | head -1");
  const r = await runHook({ path: p, args: [], env: {}, timeoutMs: 5_000, prefix: ["chrt", "--other", "0"] });
  expect(r.exitCode).toBe(0);
  expect(r.stdoutTail).toContain("SCHED_OTHER");
});
