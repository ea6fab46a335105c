// Scenario (slow): real agents on loopback, real hyperswarm. Proves that a
// peer whose key is not in the config is refused before any message is
// read, that a malformed frame from a listed peer drops that connection with
// a logged reason, that a listed peer that never opens the mesh channel is
// dropped, that the agent survives these, that `umbra status` shows
// the mesh (through a's Unix socket, and b's TCP listener with its token),
// that SIGHUP reloads the config instead of killing the agent, and that
// /metrics passes promtool.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { generateKeyPair, writeKeyFile } from "../src/shared/identity.ts";
import { apiJson, apiRequest, textOf, type ApiTarget } from "../src/api/index.ts";

const ROOT = resolve(import.meta.dir, "..");
const NODE = join(ROOT, "node_modules/.bin/node");
const MAIN = join(ROOT, "src/cli/main.ts");
const dir = mkdtempSync(join(tmpdir(), "umbra-mesh-test-"));
const BOOT_PORT = 40000 + Math.floor(Math.random() * 5000);
/** a serves its API on its Unix socket only; b on TCP too, with a token. */
const API = { a: join(dir, "a-state", "api.sock"), b: `127.0.0.1:${BOOT_PORT + 2}` };
const TOKEN_FILE = join(dir, "b.token");
const TARGET = { a: { socket: API.a }, b: { host: "127.0.0.1", port: BOOT_PORT + 2, token: "b".repeat(48) } };
const healthz = async (t: ApiTarget) => (await apiRequest(t, "GET", "/healthz", { timeoutMs: 5_000 })).status;
const procs: ChildProcess[] = [];
let agentA: ChildProcess;
const logs: Array<Record<string, unknown>> = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function start(args: string[], collect: boolean): ChildProcess {
  const p = spawn(NODE, args, { stdio: ["ignore", "pipe", "pipe"] });
  procs.push(p);
  if (collect) createInterface({ input: p.stderr! }).on("line", (l) => { try { logs.push(JSON.parse(l)); } catch { logs.push({ raw: l }); } });
  return p;
}

async function until(pred: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await pred()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  const keys: Record<string, string> = {};
  for (const h of ["a", "b", "c"]) {
    const kp = generateKeyPair();
    writeKeyFile(join(dir, `${h}.key`), kp, { force: false });
    keys[h] = kp.publicKey.toString("hex");
  }
  writeFileSync(TOKEN_FILE, TARGET.b.token + "\n", { mode: 0o600 });
  for (const h of ["a", "b"] as const) {
    writeFileSync(join(dir, `${h}.toml`), [
      `cluster = "meshtest"`, `host = "${h}"`, `keyFile = "${h}.key"`, `stateDir = "${h}-state"`, `bootstrap = ["127.0.0.1:${BOOT_PORT}"]`,
      ...(h === "b" ? ["[api]", `listen = "${API.b}"`, `tokenFile = "${TOKEN_FILE}"`] : []),
      ...["a", "b", "c"].flatMap((x) => ["[[hosts]]", `id = "${x}"`, `publicKey = "${keys[x]}"`]),
    ].join("\n"));
  }
  const boot = start([MAIN, "bootstrap", "--host", "127.0.0.1", "--port", String(BOOT_PORT)], false);
  await new Promise<void>((res) => createInterface({ input: boot.stdout! }).once("line", () => res()));
  agentA = start([MAIN, "agent", "--config", join(dir, "a.toml")], true);
  start([MAIN, "agent", "--config", join(dir, "b.toml")], true);
  await until(() => logs.some((l) => l.host === "a" && l.event === "peer-connected" && l.peer === "b"), 20_000, "a and b to connect");
});

afterAll(async () => {
  for (const p of procs) if (p.exitCode === null) p.kill("SIGTERM");
  await sleep(300);
  for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

function rogue(args: string[]): Promise<string[]> {
  return new Promise((res) => {
    const p = start([join(ROOT, "test/fixtures/rogue-peer.ts"), "--bootstrap", `127.0.0.1:${BOOT_PORT}`, "--cluster", "meshtest", "--wait-ms", "4000", ...args], false);
    const events: string[] = [];
    createInterface({ input: p.stdout! }).on("line", (l) => events.push(JSON.parse(l).event));
    p.once("exit", () => res(events));
  });
}

describe("mesh on loopback (slow)", () => {
  test("a stranger's key is refused before any message; the agents carry on", async () => {
    await rogue(["--mode", "hello"]);
    expect(logs.some((l) => l.event === "peer-refused" && l.why === "key not in the cluster's [[hosts]]")).toBe(true);
    expect(logs.some((l) => l.event === "peer-connected" && l.peer !== "a" && l.peer !== "b" && l.peer !== "c")).toBe(false);
    expect(await healthz(TARGET.a)).toBe(200);
  }, 30_000);

  test("a malformed frame from a listed peer drops that connection with a reason; the agent carries on", async () => {
    const events = await rogue(["--key", join(dir, "c.key"), "--mode", "garbage"]);
    expect(events).toContain("sent-garbage");
    const dropped = logs.find((l) => l.event === "frame-dropped" && l.peer === "c");
    expect(dropped).toBeDefined();
    expect(String(dropped!.why)).toMatch(/unknown message tag|undecodable|trailing/);
    expect(events).toContain("closed");
    expect(await healthz(TARGET.a)).toBe(200);
    expect(await healthz(TARGET.b)).toBe(200);
  }, 30_000);

  // The far end of a connection it dropped mid-handshake says nothing either:
  // the connection is dropped after timing.linkOpenTimeoutMs (lan: 1.5 s)
  // and never counted, so the two hosts' dials are not refused as duplicates
  // of it and no one reads the peer as connected.
  test("a listed peer that connects but never opens the mesh channel is dropped after linkOpenTimeoutMs, never counted connected", async () => {
    const from = logs.length;
    const events = await rogue(["--key", join(dir, "c.key"), "--mode", "mute"]);
    expect(events).toContain("connected");
    expect(events).toContain("closed");
    const mine = logs.slice(from);
    expect(mine.some((l) => l.event === "link-unopened" && l.peer === "c" && l.waitedMs === 1500)).toBe(true);
    expect(mine.some((l) => l.event === "peer-connected" && l.peer === "c")).toBe(false);
    expect(await healthz(TARGET.a)).toBe(200);
  }, 30_000);

  test("umbra status shows the members, as a table and as JSON", async () => {
    await until(async () => {
      const doc = (await apiJson(TARGET.a, "GET", "/status", undefined, 5_000)) as { members: Array<{ id: string; rttMs: number | null; metrics?: { cpuLoad?: number } }> };
      const m = doc.members.find((x: { id: string }) => x.id === "b");
      // RTT from SWIM probes, metrics from b's beacons (sampled in b's worker thread)
      return m?.rttMs !== null && typeof m?.metrics?.cpuLoad === "number";
    }, 10_000, "an RTT to b and a beacon from it");
    const table = spawnSync(NODE, [MAIN, "status", "--api", API.a], { encoding: "utf8" });
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(/^host a {2}cluster meshtest {2}role standby/);
    expect(table.stdout).toMatch(/\nb +alive +\d+ +direct +\d/);
    const json = JSON.parse(spawnSync(NODE, [MAIN, "status", "--api", API.b, "--token-file", TOKEN_FILE, "--json"], { encoding: "utf8" }).stdout);
    expect(json.host).toBe("b");
    expect(json.members.map((m: { id: string }) => m.id).sort()).toEqual(["a", "b", "c"]);
    const tokenless = spawnSync(NODE, [MAIN, "status", "--api", API.b], { encoding: "utf8" });
    expect(tokenless.status).toBe(1);
    expect(tokenless.stderr).toBe("umbra: this API needs the token of [api] tokenFile: Authorization: Bearer TOKEN (a browser: open /ui?token=TOKEN once)\n");
    const down = spawnSync(NODE, [MAIN, "status", "--api", "127.0.0.1:1"], { encoding: "utf8" });
    expect(down.status).toBe(1);
    expect(down.stderr).toContain("cannot reach the umbra agent API at 127.0.0.1:1: is the agent running? see --api / --config");
  }, 30_000);

  test("a live agent's /metrics passes promtool check metrics, and counts its peers", async () => {
    const text = await textOf(await apiRequest(TARGET.a, "GET", "/metrics", { timeoutMs: 5_000 }));
    expect(text).toContain('umbra_member_up{member="b"} 1\n');
    const check = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    expect(check.stderr + check.stdout).toBe("");
    expect(check.status).toBe(0);
  }, 30_000);

  test("SIGHUP reads the config again: what needs a restart is named, a broken file changes nothing; the agent lives on", async () => {
    const file = join(dir, "a.toml");
    const good = readFileSync(file, "utf8");
    writeFileSync(file, good.replace('stateDir = "a-state"', 'stateDir = "a-state"\nlogLevel = "debug"'));
    agentA.kill("SIGHUP");
    await until(() => logs.some((l) => l.host === "a" && l.event === "reloaded"), 5_000, "a's reloaded line");
    expect(logs.find((l) => l.host === "a" && l.event === "reloaded")).toMatchObject({ level: "warn", applied: [], needRestart: ["logLevel"] });
    writeFileSync(file, good + "\n[[[ not toml");
    agentA.kill("SIGHUP");
    await until(() => logs.some((l) => l.host === "a" && l.event === "reload-refused"), 5_000, "a's reload-refused line");
    writeFileSync(file, good);
    expect(await healthz(TARGET.a)).toBe(200);
    expect(agentA.exitCode).toBeNull();
    // The refusal is an error line by design: the check below must not count it.
    logs.splice(logs.findIndex((l) => l.event === "reload-refused"), 1);
  }, 30_000);

  test("no agent logged an error or crashed", () => {
    expect(logs.filter((l) => l.level === "error" || l.raw !== undefined)).toEqual([]);
    expect(procs.slice(1, 3).every((p) => p.exitCode === null)).toBe(true);
  });
});
