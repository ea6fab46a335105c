// afterIoPoll on a real loopback socket, under Node (the agent's runtime:
// bun's event loop orders timers and I/O otherwise): an answer that arrived
// while the process was stalled is read before the timeout is judged; a
// plain setTimeout judges first, which is why the helper exists.
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");

test("after a stall, the answer that came during it is read before afterIoPoll's timeout; a plain setTimeout fires first", () => {
  const r = spawnSync(join(ROOT, "node_modules/.bin/node"), [join(ROOT, "test/fixtures/io-poll-race.ts")], { encoding: "utf8", timeout: 20_000 });
  expect(r.status).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual({ afterIoPoll: ["answer", "timeout"], setTimeout: ["timeout", "answer"] });
});
