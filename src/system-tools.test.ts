// Fresh-machine honesty (issue 16): every program the product, the tests and
// the benches start is installed by scripts/ensure-system.sh, or is part of
// every Debian system. This machine has tools installed by hand that a fresh
// one lacks (ping was one: a test passed here and failed there), so the
// check does not trust what is installed; it reads the code. A program
// counts as started when its name is the first string of an array literal
// (an argv: ["ip", "-batch", "-"], a prefix ["chrt", "--rr", ...]), the
// first argument of a spawn-like call, or a /usr/sbin-style path, and that
// name is a program on this machine's PATH (which keeps host names such as
// "h1" out). A tool missing here is caught by the test that runs it.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { spawnSync } from "node:child_process";

const ROOT = resolve(import.meta.dir, "..");
const DIRS = ["src", "test", "bench", "scripts"];
/** On every Debian system (Essential: yes, or required by it), our own, or the quick start's prerequisites (node, npm). */
const BASE = new Set(["bash", "sh", "env", "true", "false", "du", "sync", "getconf", "mount", "umount", "setpriv", "kill", "cat", "ls", "rm", "mkdir", "sleep", "timeout", "apt-get", "dpkg", "id", "node", "groupadd", "useradd", "getent", "uname", "tar", "gzip", "cp", "npm"]);
/** Words of the code that are also program names, never started (an array of labels, a table's keys): checked by hand. */
const NOT_STARTED = new Set(["red", "service", "set", "last", "arp", "nologin"]);
/** Installed by the script that runs them (scripts/check-model.sh installs spin; gcc comes with every machine of this kind). */
const SELF_INSTALLED = new Set(["spin", "gcc", "cc"]);

function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (e === "node_modules" || e === "testdata" || e === "fixtures") continue;
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (/\.ts$/.test(e)) out.push(p);
  }
  return out;
}

/** Names the code starts programs by, with where. */
export function startedPrograms(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(/\[\s*"([a-z][a-z0-9_.+-]*)"\s*,/g)) names.add(m[1]!);
  for (const m of text.matchAll(/\b(?:spawn|spawnSync|execFile|execFileSync|exec|execSync)\(\s*"([a-z][a-z0-9_.+-]*)"/g)) names.add(m[1]!);
  for (const m of text.matchAll(/"\/(?:usr\/)?s?bin\/([a-z][a-z0-9_.+-]*)"/g)) names.add(m[1]!);
  return [...names];
}

const onPath = (name: string): boolean => spawnSync("sh", ["-c", `PATH="$PATH:/usr/sbin:/sbin" command -v ${name}`], { encoding: "utf8" }).status === 0;

test("the scanner sees programs however they are started", () => {
  expect(startedPrograms(`spawn("ip", ["-batch"]); const p = ["chrt", "--rr", "10"]; topo.exec("h1", ["nft", "-f", "-"]); x("/usr/sbin/keepalived"); const hosts = ["h1", "h2"];`).sort()).toEqual(["chrt", "h1", "ip", "keepalived", "nft"]);
});

test("every program started anywhere is installed by scripts/ensure-system.sh or is on every Debian system", () => {
  const script = readFileSync(join(ROOT, "scripts/ensure-system.sh"), "utf8");
  const ensured = new Set([...script.matchAll(/\bhave ([a-z][a-z0-9_.+-]*)/g)].map((m) => m[1]!));
  const where = new Map<string, string>();
  for (const d of DIRS) for (const f of files(join(ROOT, d))) for (const n of startedPrograms(readFileSync(f, "utf8"))) if (!where.has(n)) where.set(n, f.slice(ROOT.length + 1));
  const programs = [...where.keys()].filter(onPath);
  expect(programs).toContain("ip"); // the scan found the obvious ones
  expect(programs).toContain("nft");
  const missing = programs.filter((n) => !ensured.has(n) && !BASE.has(n) && !SELF_INSTALLED.has(n) && !NOT_STARTED.has(n)).map((n) => `${n} (${where.get(n)})`);
  expect(missing).toEqual([]);
});

test("bin/umbra runs the agent with the flags the demo cluster and the benches use (src/shared/nodeflags.ts)", async () => {
  const { AGENT_NODE_FLAGS } = await import("./shared/nodeflags.ts");
  const launcher = readFileSync(join(ROOT, "bin/umbra"), "utf8");
  expect(launcher).toContain(`node" ${AGENT_NODE_FLAGS.join(" ")} "$here/../src/cli/main.ts"`);
});
