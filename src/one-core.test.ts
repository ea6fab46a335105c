// Proves the agent and the simulator drive one and the same host core
// (src/decide/host.ts) and route nothing themselves: neither steps a
// decision machine directly (replication's included: it runs in the host
// core), and neither imports a machine but the host core. A routing rule
// written in either driver is one the other would not run.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const SRC = import.meta.dir;
const sources = (dir: string): string[] =>
  readdirSync(join(SRC, dir))
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
    .map((f) => join(dir, f));

/** Code without comments, so a comment that names a machine does not count. */
const code = (file: string): string =>
  readFileSync(join(SRC, file), "utf8")
    .split("\n")
    .filter((l) => !l.trim().startsWith("//") && !l.trim().startsWith("*") && !l.trim().startsWith("/*"))
    .join("\n");

const MACHINE_STEP = /\b(quorum|membership|proactive|replication|q|m)\.step\(|\bonTick\(|\bonReceived\(/;

test.each([...sources("sim"), ...sources("agent")])("%s steps no decision machine itself", (file) => {
  expect(code(file)).not.toMatch(MACHINE_STEP);
});

test.each([...sources("sim"), ...sources("agent")])("%s imports no decision machine but the host core", (file) => {
  const allowed = ["host.ts"];
  for (const m of code(file).matchAll(/^import\s+(type\s+)?[^;]*?from\s+["']\.\.\/decide\/([^"']+)["']/gm)) {
    if (m[1] !== undefined) continue; // types only
    expect(allowed).toContain(m[2]!);
  }
});

test("both drivers step the host core", () => {
  expect(code("agent/loop.ts")).toMatch(/\bhost\.step\(/);
  expect(code("sim/cluster.ts")).toMatch(/\bhost\.step\(/);
});
