// Reports functions of src/ (tests excluded) longer than the house limits:
// over 70 lines without a comment right above saying why it must be long
// (a line containing "long:"), or over 100 lines at all.
//
//   node scripts/fn-lengths.ts [--json] [--all]
//
// Exit status 1 when any function breaks a limit, 0 otherwise. --all lists
// every function over 70 lines, excused or not.

import ts from "typescript";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";

export const SOFT_LIMIT = 70;
export const HARD_LIMIT = 100;
/** A comment line above a long function containing this marker excuses it up to HARD_LIMIT. */
export const EXCUSE = "long:";

export type LongFunction = { file: string; line: number; name: string; lines: number; excused: boolean };

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (p.endsWith(".ts") && !p.endsWith(".test.ts") && !p.endsWith(".d.ts")) out.push(p);
  }
  return out.sort();
}

function nameOf(node: ts.Node, sf: ts.SourceFile): string {
  if ((ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node)) && node.name !== undefined) return node.name.getText(sf);
  const parent = node.parent;
  if (parent !== undefined && ts.isVariableDeclaration(parent)) return parent.name.getText(sf);
  if (parent !== undefined && ts.isPropertyAssignment(parent)) return parent.name.getText(sf);
  return "(anonymous)";
}

/** Every function-like node of the file spanning more than SOFT_LIMIT lines. */
export function longFunctions(root: string, file: string): LongFunction[] {
  const text = readFileSync(file, "utf8");
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const lines = text.split("\n");
  const out: LongFunction[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isArrowFunction(node) || ts.isFunctionExpression(node)) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      const n = end - start + 1;
      if (n > SOFT_LIMIT) {
        // The statement the function belongs to starts the comment search.
        let top = node as ts.Node;
        while (top.parent !== undefined && !ts.isSourceFile(top.parent) && !ts.isBlock(top.parent) && !ts.isClassDeclaration(top.parent) && !ts.isObjectLiteralExpression(top.parent)) top = top.parent;
        const topLine = sf.getLineAndCharacterOfPosition(top.getStart(sf)).line;
        let excused = false;
        for (let i = topLine - 1; i >= 0 && i >= topLine - 12; i--) {
          const l = lines[i]!.trim();
          if (!(l.startsWith("//") || l.startsWith("*") || l.startsWith("/*"))) break;
          if (l.includes(EXCUSE)) excused = true;
        }
        out.push({ file: relative(root, file), line: start + 1, name: nameOf(node, sf), lines: n, excused });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

export function report(root: string): LongFunction[] {
  return sourceFiles(join(root, "src")).flatMap((f) => longFunctions(root, f));
}

export const breaks = (f: LongFunction): boolean => f.lines > HARD_LIMIT || (f.lines > SOFT_LIMIT && !f.excused);

if (import.meta.main ?? process.argv[1]?.endsWith("fn-lengths.ts")) {
  const root = resolve(import.meta.dirname, "..");
  const all = report(root).sort((a, b) => b.lines - a.lines);
  const bad = all.filter(breaks);
  const shown = process.argv.includes("--all") ? all : bad;
  if (process.argv.includes("--json")) process.stdout.write(`${JSON.stringify({ limits: { soft: SOFT_LIMIT, hard: HARD_LIMIT }, breaking: bad.length, functions: shown }, null, 2)}\n`);
  else {
    for (const f of shown) process.stdout.write(`${String(f.lines).padStart(4)} lines  ${f.file}:${f.line}  ${f.name}${f.excused ? "  (excused)" : ""}\n`);
    process.stdout.write(`${bad.length} function(s) over ${SOFT_LIMIT} lines without a "${EXCUSE}" comment, or over ${HARD_LIMIT}\n`);
  }
  process.exitCode = bad.length > 0 ? 1 : 0;
}
