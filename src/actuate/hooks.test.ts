// Proves hooks run without a shell, get their environment, report exit
// codes, and are killed on timeout.
import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runHook } from "./hooks.ts";

const dir = mkdtempSync(join(tmpdir(), "umbra-hooks-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function script(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

test("exit status, arguments and environment", async () => {
  const p = script("ok.sh", 'echo "svc=$1 vip=$UMBRA_VIP"; echo oops >&2; exit 3');
  const r = await runHook({ path: p, args: ["web"], env: { UMBRA_VIP: "198.51.100.10/24" }, timeoutMs: 5_000 });
  expect(r.exitCode).toBe(3);
  expect(r.timedOut).toBe(false);
  expect(r.stdoutTail).toBe("svc=web vip=198.51.100.10/24\n");
  expect(r.stderrTail).toBe("oops\n");
});

test("a hook that hangs is killed at the timeout", async () => {
  const p = script("hang.sh", "sleep 30");
  const r = await runHook({ path: p, args: [], env: {}, timeoutMs: 200 });
  expect(r.timedOut).toBe(true);
  expect(r.signal).toBe("SIGTERM");
  expect(r.durationMs).toBeLessThan(5_000);
});

test("a missing hook rejects with the OS error", async () => {
  await expect(runHook({ path: join(dir, "missing"), args: [], env: {}, timeoutMs: 1_000 })).rejects.toThrow(/ENOENT/);
});
