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

/** The values a driver may take from the core's front door: the host core and the routing-free helpers, no machine. */
const DRIVER_VALUES = new Set(["host", "stepReplicas", "blobsToFetch", "initialReplication", "planReconcile", "PENDING_WRITES_MAX", "forecastStaleMs", "quietestWindow", "daySeenShare"]);

test.each([...sources("sim"), ...sources("agent")])("%s imports no decision machine but the host core", (file) => {
  for (const m of code(file).matchAll(/^import\s+(type\s+)?\{([^}]*)\}\s*from\s+["']\.\.\/decide\/([^"']+)["']/gm)) {
    expect(m[3]).toBe("index.ts"); // the boundary test says so too
    if (m[1] !== undefined) continue; // types only
    const values = m[2]!.split(",").map((x) => x.trim()).filter((x) => x !== "" && !x.startsWith("type "));
    for (const v of values) expect(DRIVER_VALUES).toContain(v);
  }
});

test("the core's front door offers no machine's step but the host core's and the replicator's own sync", () => {
  const namespaces = [...code("decide/index.ts").matchAll(/export \* as (\w+)/g)].map((m) => m[1]);
  expect(namespaces.sort()).toEqual(["host", "replicasync"]);
  for (const f of [...sources("sim"), ...sources("agent")]) expect(code(f)).not.toMatch(/\breplicasync\b/);
});

test("both drivers step the host core", () => {
  expect(code("agent/loop.ts")).toMatch(/\bhost\.step\(/);
  expect(code("sim/cluster.ts")).toMatch(/\bhost\.step\(/);
});
