// Proves the parts of src/ meet only at their front doors: a file of one
// part (agent, api, state, ...) reaches another part only through that
// part's index.ts, so what a part exports is the handful of names its
// index.ts lists and nothing else can grow a dependency on its insides.
// shared/ is the base every part stands on, module by module; it imports no
// part. Dynamic imports (the CLI loads its commands lazily) count too.
// Tests may reach into their own part, and into others through index.ts
// (shared/'s tests too: a framed channel is tested with real protocols).
import { expect, test } from "bun:test";
import ts from "typescript";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const SRC = import.meta.dir;
/** Not parts: the base layer and ambient type declarations. */
const BASE = "shared";
const AMBIENT = "types";

const parts = readdirSync(SRC).filter((e) => statSync(join(SRC, e)).isDirectory() && e !== AMBIENT);

function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (p.endsWith(".ts") && !p.endsWith(".d.ts")) out.push(p);
  }
  return out.sort();
}

/** The part a path under src/ belongs to ("" for src/ itself, and for test/'s suites every adapter runs, outside src/). */
const partOf = (abs: string): string => relative(SRC, abs).startsWith("..") ? "" : relative(SRC, abs).split("/").length > 1 ? relative(SRC, abs).split("/")[0]! : "";

/** Every relative module a file imports, statically or dynamically, resolved to an absolute path. */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
  return info.importedFiles.map((f) => f.fileName).filter((s) => s.startsWith(".")).map((s) => resolve(dirname(file), s));
}

/** A violation of the boundary rules by one import, or null. */
function violation(file: string, target: string): string | null {
  const from = partOf(file);
  const to = partOf(target);
  if (from === "" || to === "" || from === to) return null;
  if (from === BASE && !file.endsWith(".test.ts")) return `${BASE}/ imports the part ${to}`;
  if (to === BASE || to === AMBIENT) return null;
  if (relative(join(SRC, to), target) !== "index.ts") return `bypasses ${to}/index.ts`;
  return null;
}

const sources = files(SRC).filter((f) => partOf(f) !== "");

/** The entry point: nothing imports it, so it needs no front door. */
const ENTRY = "cli";

test("every part has a front door", () => {
  for (const p of parts.filter((p) => p !== BASE && p !== ENTRY)) expect(statSync(join(SRC, p, "index.ts")).isFile()).toBe(true);
});

test("no import crosses a part boundary except through the part's index.ts, and shared/ imports no part", () => {
  const found: string[] = [];
  for (const f of sources) {
    for (const t of importsOf(f)) {
      const why = violation(f, t);
      if (why !== null) found.push(`${relative(SRC, f)} -> ${relative(SRC, t)}: ${why}`);
    }
  }
  expect(found).toEqual([]);
});

test("the rule itself: a bypass and shared/ reaching up are caught, a front-door import is not", () => {
  expect(violation(join(SRC, "agent/x.ts"), join(SRC, "state/replicator.ts"))).toBe("bypasses state/index.ts");
  expect(violation(join(SRC, "shared/config.ts"), join(SRC, "probe/index.ts"))).toBe("shared/ imports the part probe");
  expect(violation(join(SRC, "agent/x.ts"), join(SRC, "state/index.ts"))).toBeNull();
  expect(violation(join(SRC, "agent/x.ts"), join(SRC, "shared/assert.ts"))).toBeNull();
  expect(violation(join(SRC, "state/blobs/fetcher.ts"), join(SRC, "state/chunks.ts"))).toBeNull();
});

test("no host id is made by a cast outside the config edge and tests", () => {
  const EDGE = ["shared/ids.ts"];
  const found = sources
    .filter((f) => !f.endsWith(".test.ts") && !EDGE.includes(relative(SRC, f)))
    .flatMap((f) =>
      readFileSync(f, "utf8")
        .split("\n")
        .map((l, i) => [l, i + 1] as const)
        .filter(([l]) => /\bas HostId\b/.test(l))
        .map(([, n]) => `${relative(SRC, f)}:${n}`),
    );
  expect(found).toEqual([]);
});
