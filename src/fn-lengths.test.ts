// Proves the house limit on function length holds across src/: none over
// 100 lines, none over 70 without a comment above it saying why ("long:").
// The rule's own reader (scripts/fn-lengths.ts) is checked on a sample, so a
// broken reader cannot pass everything.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { breaks, longFunctions, report } from "../scripts/fn-lengths.ts";

const ROOT = resolve(import.meta.dir, "..");

test("no function in src/ breaks the length limits", () => {
  expect(report(ROOT).filter(breaks).map((f) => `${f.file}:${f.line} ${f.name} (${f.lines} lines)`)).toEqual([]);
});

test("the reader finds a long function, and a 'long:' comment excuses it up to the hard limit only", () => {
  const dir = mkdtempSync(join(tmpdir(), "umbra-fnlen-"));
  try {
    const body = (n: number) => Array.from({ length: n }, (_, i) => `  x += ${i};`).join("\n");
    const file = join(dir, "sample.ts");
    writeFileSync(file, [`export function plain(x: number) {`, body(80), `  return x;`, `}`, `// long: a table that reads best in one piece`, `export function excused(x: number) {`, body(80), `  return x;`, `}`, `// long: too long all the same`, `export function huge(x: number) {`, body(120), `  return x;`, `}`].join("\n"));
    const found = longFunctions(dir, file);
    expect(found.map((f) => [f.name, f.excused, breaks(f)])).toEqual([
      ["plain", false, true],
      ["excused", true, false],
      ["huge", true, true],
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
