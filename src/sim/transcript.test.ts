// Proves the quorum's protocol stories, one per testdata/*.txt: each
// transcript runs its commands against real host cores (decide/host.ts) and
// must print exactly the output recorded under each command; the product's
// core never shows two VIP holders, and each broken core (variant=) does. A change in
// behaviour fails here with a line diff; if the new behaviour is the intended
// one, UMBRA_REWRITE=1 bun test src/sim/transcript.test.ts records it.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runTranscript } from "./transcript.ts";

const DIR = join(import.meta.dir, "testdata");
const REWRITE = process.env.UMBRA_REWRITE === "1";
const files = readdirSync(DIR).filter((f) => f.endsWith(".txt")).sort();

test("there are transcripts", () => {
  expect(files.length).toBeGreaterThan(0);
});

test.each(files)("%s", (file) => {
  const path = join(DIR, file);
  const expected = readFileSync(path, "utf8");
  const actual = runTranscript(expected, file);
  // The product's core never puts a VIP on two hosts; a broken core (variant=) must, or the transcript shows
  // nothing, unless the transcript shows a defence covering it ("# safe: why").
  const broken = /^hosts .*\bvariant=(?!correct\b)/m.test(expected) && !/^# safe: /m.test(expected);
  expect(actual.split("\n").some((l) => l.startsWith("!! TWO HOLDERS"))).toBe(broken);
  if (REWRITE) {
    if (actual !== expected) writeFileSync(path, actual);
    return;
  }
  if (actual !== expected) throw new Error(`${file} differs (- expected, + actual); UMBRA_REWRITE=1 records the new output\n${lineDiff(expected, actual)}`);
});

/** The changed lines with two lines of context, from a longest common subsequence of lines. */
function lineDiff(a: string, b: string): string {
  const x = a.split("\n");
  const y = b.split("\n");
  const n = x.length;
  const m = y.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i]![j] = x[i] === y[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const ops: Array<{ op: " " | "-" | "+"; line: string }> = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) ops.push({ op: " ", line: x[i++]! }), j++;
    else if (i < n && (j >= m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) ops.push({ op: "-", line: x[i++]! });
    else ops.push({ op: "+", line: y[j++]! });
  }
  const keep = ops.map((o, k) => ops.slice(Math.max(0, k - 2), k + 3).some((p) => p.op !== " "));
  const out: string[] = [];
  ops.forEach((o, k) => {
    if (keep[k]) out.push(`${o.op} ${o.line}`);
    else if (k > 0 && keep[k - 1]) out.push("  ...");
  });
  return out.join("\n");
}
