// Proves the functional core stays pure: nothing under src/decide may
// import I/O or read a clock or randomness (this test, which reads files,
// lives outside it).
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const DIR = join(import.meta.dir, "decide");
const FORBIDDEN_IMPORT = /from\s+["'](node:[^"']+|fs|net|dgram|os|child_process|http|https|hyperswarm|hyperdht|protomux|@hono\/[^"']+|hono|systeminformation|onnxruntime-node|sodium-native)["']/;
const FORBIDDEN_CALL = /\b(Date\.now|Math\.random|performance\.now|setTimeout|setInterval|setImmediate|process\.)|\bawait\b|new Date\(/;

const sources = readdirSync(DIR).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"));

test("there are decision machines to check", () => {
  expect(sources).toContain("quorum.ts");
  expect(sources).toContain("membership.ts");
});

test.each(sources)("%s imports no I/O and reads no clock or randomness", (file) => {
  const text = readFileSync(join(DIR, file), "utf8")
    .split("\n")
    .filter((l) => !l.trim().startsWith("//") && !l.trim().startsWith("*") && !l.trim().startsWith("/*"))
    .join("\n");
  expect(text).not.toMatch(FORBIDDEN_IMPORT);
  expect(text).not.toMatch(FORBIDDEN_CALL);
  // only relative imports of other pure modules
  for (const m of text.matchAll(/from\s+["']([^"']+)["']/g)) {
    expect(m[1]!.startsWith("./") || m[1]!.startsWith("../shared/")).toBe(true);
  }
});
