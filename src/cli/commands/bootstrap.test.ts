// `umbra bootstrap`: what it refuses, what it listens on, and a taken port.
import { afterEach, expect, test } from "bun:test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { join, resolve } from "node:path";
import { NODE } from "../../demo/index.ts";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { BOOTSTRAP_NODES_DEFAULT, relayAllowList } from "./bootstrap.ts";

const MAIN = join(resolve(import.meta.dir, "../../.."), "src/cli/main.ts");
const WAIT_MS = 10_000;
const running: ChildProcess[] = [];
afterEach(() => {
  for (const p of running.splice(0)) p.kill("SIGKILL");
});

const bootstrap = (args: string[]) => spawnSync(NODE, [MAIN, "bootstrap", ...args], { encoding: "utf8", timeout: WAIT_MS });

test("refuses a missing or unusable --host and a bad --nodes or --port, with exit 2 and the reason", () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /--host is required/],
    [["--host", "0.0.0.0"], /must be this host's IPv4 address/],
    [["--host", "::1"], /must be this host's IPv4 address/],
    [["--host", "127.0.0.1", "--nodes", "0"], /--nodes must be 1-16/],
    [["--host", "127.0.0.1", "--port", "65535"], /--port must be 1-65532 \(4 nodes from it\)/],
  ];
  for (const [args, why] of cases) {
    const r = bootstrap(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(why);
    expect(r.stdout).toBe("");
  }
});

test("runs its nodes on consecutive ports of the given address; a second on a taken port fails with exit 1 and says which", async () => {
  const { port, line } = await startOnSomePort();
  expect(JSON.parse(line)).toEqual({ event: "listening", host: "127.0.0.1", port, ports: Array.from({ length: BOOTSTRAP_NODES_DEFAULT }, (_, i) => port + i) });
  const taken = bootstrap(["--host", "127.0.0.1", "--port", String(port + 2), "--nodes", "1"]);
  expect(taken.status).toBe(1);
  expect(taken.stderr).toContain(`cannot listen on 127.0.0.1:${port + 2}`);
});

/** A bootstrap on a random base port, tried again on another when that one is taken (this machine runs other tests). */
async function startOnSomePort(): Promise<{ port: number; line: string }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = 42_000 + Math.floor(Math.random() * 3_000);
    const p = spawn(NODE, [MAIN, "bootstrap", "--host", "127.0.0.1", "--port", String(port)], { stdio: ["ignore", "pipe", "pipe"] });
    running.push(p);
    const line = await new Promise<string | null>((res, rej) => {
      const timer = setTimeout(() => rej(new Error("no listening line")), WAIT_MS);
      createInterface({ input: p.stdout! }).once("line", (l) => (clearTimeout(timer), res(l)));
      p.once("exit", () => (clearTimeout(timer), res(null)));
    });
    if (line !== null) return { port, line };
  }
  throw new Error("no free base port in 5 tries");
}

test("--relay-for reads the [[hosts]] keys of each cluster config, and names the file that has none or does not parse", () => {
  const dir = mkdtempSync(join(tmpdir(), "umbra-relayfor-"));
  try {
    const [a, b] = ["a".repeat(64), "b".repeat(64)];
    writeFileSync(join(dir, "one.toml"), `cluster = "x"\n[[hosts]]\nid = "h1"\npublicKey = "${a}"\n[[hosts]]\nid = "h2"\npublicKey = "${b}"\n`);
    writeFileSync(join(dir, "none.toml"), `cluster = "x"\n`);
    writeFileSync(join(dir, "bad.toml"), `cluster = \n`);
    const ok = relayAllowList([join(dir, "one.toml")]);
    expect("keys" in ok && [...ok.keys].sort()).toEqual([a, b]);
    const wrong = relayAllowList([join(dir, "none.toml"), join(dir, "bad.toml"), join(dir, "missing.toml")]);
    expect("errors" in wrong && wrong.errors.map((e) => e.split(":")[1]!.trim())).toEqual([`--relay-for ${join(dir, "none.toml")}`, `--relay-for ${join(dir, "bad.toml")}`, `--relay-for ${join(dir, "missing.toml")}`]);
    expect(bootstrap(["--host", "127.0.0.1", "--relay-for", join(dir, "none.toml")]).status).toBe(2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
