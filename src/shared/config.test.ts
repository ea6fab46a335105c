// Proves a bad config file is refused with the exact message and exit code 2,
// through the real CLI, and that nothing starts; and that a good one loads
// with every default filled in.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { spawn } from "node:child_process";
import { bootstrapOf, CONFIG_PROFILES, HOSTS_MAX, inWindow, limitLines, parseConfig, PROFILES, type DayWindow } from "./config.ts";
import { UmbraError } from "./errors.ts";

const ROOT = resolve(import.meta.dir, "../..");
const NODE = join(ROOT, "node_modules/.bin/node");
const dir = mkdtempSync(join(tmpdir(), "umbra-config-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const K1 = "a".repeat(64);
const K2 = "b".repeat(64);
const K3 = "c".repeat(64);
const GOOD = `cluster = "demo"
host = "h1"
keyFile = "h1.key"
bootstrap = ["198.51.100.2:49737"]

[[hosts]]
id = "h1"
publicKey = "${K1}"
[[hosts]]
id = "h2"
publicKey = "${K2}"
[[hosts]]
id = "h3"
publicKey = "${K3}"

[[services]]
name = "web"
vip = "198.51.100.10/24"
interface = "eth0"
primary = "h1"
shadows = ["h2", "h3"]
`;

describe("the API", () => {
  const withApi = (table: string) => GOOD.replace("[[hosts]]", `${table}\n\n[[hosts]]`);
  test("TCP with a token on loopback; beyond it with allowRemote; the socket where asked", () => {
    expect(parseConfig(withApi('[api]\nlisten = "127.0.0.1:7070"\ntokenFile = "api.token"'), "/etc/umbra/umbra.toml").api).toEqual({ socket: "/etc/umbra/state/api.sock", group: "umbra", listen: "127.0.0.1:7070", tokenFile: "/etc/umbra/api.token", allowRemote: false });
    expect(parseConfig(withApi('[api]\nlisten = "0.0.0.0:7070"\ntokenFile = "t"\nallowRemote = true\nsocket = "/run/umbra.sock"\ngroup = "ops"'), "/etc/umbra/umbra.toml").api).toMatchObject({ socket: "/run/umbra.sock", group: "ops", listen: "0.0.0.0:7070", allowRemote: true });
  });
  test.each([
    ['api = "127.0.0.1:7070"', 'api: is a table now: [api] socket = "PATH" (the default: api.sock in stateDir), or listen = "127.0.0.1:7070" with tokenFile = "FILE" for TCP'],
    ['[api]\nlisten = "127.0.0.1:7070"', 'api.listen: "127.0.0.1:7070" needs api.tokenFile: without a token anyone who reaches the port could move VIPs and write the state'],
    ['[api]\nlisten = "0.0.0.0:7070"\ntokenFile = "t"', 'api.listen: "0.0.0.0:7070" is not a loopback address; set api.allowRemote = true to serve the API beyond this host (with the token, over a network you trust: it is plain HTTP)'],
    ['[api]\ntokenFile = "t"', "api.tokenFile: given without api.listen (the Unix socket needs no token: its mode and group decide)"],
  ])("%s is refused: %s", (table, message) => {
    expect(() => parseConfig(withApi(table), "/etc/umbra/umbra.toml")).toThrow(`/etc/umbra/umbra.toml: ${message}`);
  });
});

describe("a good config", () => {
  test("loads with defaults filled and paths resolved against the file", () => {
    const c = parseConfig(GOOD, "/etc/umbra/umbra.toml");
    expect(c.keyFile).toBe("/etc/umbra/h1.key");
    expect(c.stateDir).toBe("/etc/umbra/state");
    expect(c.api).toEqual({ socket: "/etc/umbra/state/api.sock", group: "umbra", listen: null, tokenFile: null, allowRemote: false }); // a Unix socket; TCP only when asked
    expect(c.profile).toBe("lan");
    expect(c.fence).toBe(true); // the kernel-side lease is on unless the config turns it off
    expect(c.timing).toEqual({ ...PROFILES.lan });
    expect<string[]>(c.services[0]!.voters).toEqual(["h1", "h2", "h3"]);
    expect(c.probe.intervalMs).toBe(1000);
  });

  test("every profile passes its own cross-checks", () => {
    for (const profile of CONFIG_PROFILES) {
      const c = parseConfig(GOOD.replace("bootstrap = [", `profile = "${profile}"\nbootstrap = [`), "/x/u.toml");
      expect(c.timing).toEqual({ ...PROFILES[profile] });
    }
  });

  test("hook paths resolve against the file, keys are lowercased, IPv6 VIPs load", () => {
    const text = GOOD.replace(K1, K1.toUpperCase()).replace("198.51.100.10/24", "2001:DB8::10/64") + '[services.hooks]\nactivate = "hooks/up"\ndemote = "/usr/bin/down"\n';
    const c = parseConfig(text, "/etc/umbra/umbra.toml");
    expect(c.hosts[0]!.publicKey).toBe(K1);
    expect(c.services[0]!.vip).toBe("2001:DB8::10/64");
    expect(c.services[0]!.hooks).toEqual({ activate: "/etc/umbra/hooks/up", demote: "/usr/bin/down" });
  });

  test("fence = false turns the kernel-side lease off; anything but a boolean is refused", () => {
    expect(parseConfig(GOOD.replace("bootstrap = [", "fence = false\nbootstrap = ["), "/x/u.toml").fence).toBe(false);
    expect(() => parseConfig(GOOD.replace("bootstrap = [", 'fence = "no"\nbootstrap = ['), "u.toml")).toThrow("u.toml: fence");
  });

  test("a profile and a timing override combine", () => {
    const c = parseConfig(GOOD.replace('bootstrap = [', 'profile = "wan"\nbootstrap = [') + "\n[timing]\nleaseMs = 4000\n", "/x/u.toml");
    expect(c.timing.leaseMs).toBe(4000);
    expect(c.timing.renewIntervalMs).toBe(PROFILES.wan.renewIntervalMs);
  });
});

// Each case: a name, a transformation of the good file, the exact stderr lines (FILE stands for the path).
const CASES: Array<[string, (s: string) => string | null, string[]]> = [
  ["missing file", () => null, ["umbra: FILE: cannot read: no such file"]],
  ["TOML syntax error", (s) => s.replace('host = "h1"', 'host = "h1'), ["umbra: FILE: TOML syntax error at line 2, column 11: Invalid TOML document: control characters are not allowed in strings"]],
  ["unknown key", (s) => s.replace('host = "h1"', 'host = "h1"\nleseMs = 3'), ["umbra: FILE: (top level): unknown key \"leseMs\""]],
  ["missing host", (s) => s.replace('host = "h1"\n', ""), ["umbra: FILE: host: missing (expected string)"]],
  ["host not in hosts", (s) => s.replace('host = "h1"', 'host = "h9"'), ['umbra: FILE: host: "h9" is not one of the [[hosts]] ids (h1, h2, h3)']],
  ["bad vip", (s) => s.replace("198.51.100.10/24", "300.1.1.1/24"), ['umbra: FILE: services[0].vip: "300.1.1.1/24" is not an IPv4 or IPv6 address with a prefix (e.g. 198.51.100.10/24)']],
  ["vip without prefix", (s) => s.replace("198.51.100.10/24", "198.51.100.10"), ['umbra: FILE: services[0].vip: "198.51.100.10" must be an address with a prefix length, e.g. 198.51.100.10/24 or 2001:db8::10/64']],
  ["shadow not in hosts", (s) => s.replace('shadows = ["h2", "h3"]', 'shadows = ["h2", "h7"]'), ['umbra: FILE: services[0].shadows[1]: "h7" is not one of the [[hosts]] ids']],
  ["primary listed as a shadow", (s) => s.replace('shadows = ["h2", "h3"]', 'shadows = ["h1", "h3"]'), ['umbra: FILE: services[0].shadows[0]: "h1" is the primary; a host cannot shadow itself']],
  ["duplicate service names", (s) => s + s.slice(s.indexOf("[[services]]")).replace("198.51.100.10/24", "198.51.100.20/24"), ['umbra: FILE: services[1].name: "web" is used by two services']],
  ["bad public key", (s) => s.replace(K2, "XYZ"), ["umbra: FILE: hosts[1].publicKey: must be 64 hex characters (as printed by `umbra keygen`)"]],
  ["renewals too slow for the lease", (s) => s + "\n[timing]\nleaseMs = 300\nrenewIntervalMs = 200\n", ["umbra: FILE: timing.renewIntervalMs: 200 must be less than half of timing.leaseMs (300), so one lost renewal does not cost the lease", "umbra: FILE: timing.leaseMs: 300 leaves the holder 279 ms after clock drift and timing.actuationGuardMs (20); it needs at least two renewal intervals (400 ms): raise leaseMs or lower the guard"]],
  ["a guard that eats the lease", (s) => s + "\n[timing]\nleaseMs = 150\nrenewIntervalMs = 25\nactuationGuardMs = 100\n", ["umbra: FILE: timing.leaseMs: 150 leaves the holder 49 ms after clock drift and timing.actuationGuardMs (100); it needs at least two renewal intervals (50 ms): raise leaseMs or lower the guard"]],
  ["wrong type", (s) => s.replace('bootstrap = ["198.51.100.2:49737"]', 'bootstrap = "198.51.100.2:49737"'), ["umbra: FILE: bootstrap: expected array, got string"]],
  ["voter not in hosts", (s) => s.replace('shadows = ["h2", "h3"]', 'shadows = ["h2", "h3"]\nvoters = ["h1", "h2", "h5"]'), ['umbra: FILE: services[0].voters[2]: "h5" is not one of the [[hosts]] ids']],
  ["unknown profile", (s) => s.replace('host = "h1"', 'host = "h1"\nprofile = "fast"'), ['umbra: FILE: profile: must be one of "lan", "wan", "edge", "local"']],
  ["several issues at once", (s) => s.replace('host = "h1"', 'host = "h9"').replace('primary = "h1"', 'primary = "h8"'), ['umbra: FILE: host: "h9" is not one of the [[hosts]] ids (h1, h2, h3)', 'umbra: FILE: services[0].primary: "h8" is not one of the [[hosts]] ids']],
];

type Run = { status: number | null; stdout: string; stderr: string };

/** Runs the real CLI; the cases run at once, as a node start costs ~200 ms (zod, sodium). */
function runAgent(file: string): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(NODE, [join(ROOT, "src/cli/main.ts"), "agent", "--config", file], { stdio: ["ignore", "pipe", "pipe"], timeout: 20_000 });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (status) => resolveRun({ status, stdout, stderr }));
  });
}

const fileOf = (name: string) => join(dir, `${name.replace(/\W+/g, "-")}.toml`);
let runs: Map<string, Promise<Run>> | null = null;
function runOf(name: string): Promise<Run> {
  if (runs === null) {
    runs = new Map();
    for (const [n, edit] of CASES) {
      const text = edit(GOOD);
      if (text !== null) writeFileSync(fileOf(n), text);
      runs.set(n, runAgent(fileOf(n)));
    }
  }
  return runs.get(name)!;
}

/** The first case waits for every case's CLI run (they start at once): room for a loaded 2-core machine, where the default 5 s is not enough. */
const CLI_CASES_TIMEOUT_MS = 60_000;

describe("a bad config exits 2 with the exact message, through the CLI", () => {
  test.each(CASES)(
    "%s",
    async (name, _edit, expected) => {
      const r = await runOf(name);
      expect(r.stderr.trimEnd().split("\n")).toEqual(expected.map((l) => l.replace("FILE", fileOf(name))));
      expect(r.status).toBe(2);
      expect(r.stdout).toBe("");
    },
    CLI_CASES_TIMEOUT_MS,
  );
});

// Limits the rest of umbra asserts on: a file that passes here must not crash the agent later.
const MORE_HOSTS = Array.from({ length: HOSTS_MAX }, (_, i) => `[[hosts]]\nid = "x${i}"\npublicKey = "${(i + 16).toString(16).padStart(64, "0")}"\n`).join("");
const IN_PROCESS: Array<[string, (s: string) => string, string[]]> = [
  ["a hook timeout runHook refuses", (s) => s + "\n[timing]\nhookTimeoutMs = 600001\n", ["timing.hookTimeoutMs: must be at most 600000, got 600001"]],
  ["an API port out of range", (s) => s.replace("[[hosts]]", '[api]\nlisten = "127.0.0.1:70000"\ntokenFile = "t"\n\n[[hosts]]'), ["api.listen: has a port outside 1-65535"]],
  ["a bootstrap entry without a port", (s) => s.replace("198.51.100.2:49737", "198.51.100.2"), ["bootstrap[0]: must be host:port (IPv6 as [addr]:port)"]],
  ["more hosts than membership tracks", (s) => s + MORE_HOSTS, [`hosts: at most ${HOSTS_MAX} hosts`]],
  ["an IPv6 prefix over 128", (s) => s.replace("198.51.100.10/24", "2001:db8::10/129"), ['services[0].vip: "2001:db8::10/129" has an IPv6 prefix length outside 1-128']],
  ["the same VIP twice, spelled differently", (s) => s.replace("198.51.100.10/24", "2001:db8::10/64") + s.slice(s.indexOf("[[services]]")).replace('"web"', '"api"').replace("198.51.100.10/24", "2001:DB8::10/64"), ["services[1].vip: 2001:db8::10 is the VIP of another service"]],
  ["one key for two hosts, differing in case", (s) => s.replace(K2, K1.toUpperCase()), ["hosts[1].publicKey: the same key is listed for two hosts"]],
  ["a probe timeout as long as the round", (s) => s + "\n[timing]\nprobeTimeoutMs = 50\n", ["timing.probeTimeoutMs: 50 must be less than timing.probeIntervalMs (50)"]],
  ["a fractional duration", (s) => s + "\n[timing]\nleaseMs = 300.5\n", ["timing.leaseMs: must be a whole number, got 300.5"]],
  ["a misspelt timing key", (s) => s + "\n[timing]\nleseMs = 3\n", ['timing: unknown key "leseMs"']],
  ["a check of two kinds", (s) => s + '[[services.checks]]\nhttp = "http://127.0.0.1:8080/health"\ntcp = "127.0.0.1:8080"\n', ["services[0].checks[0]: give exactly one of http, tcp, command"]],
  ["a check that outlasts its interval", (s) => s + '[[services.checks]]\ntcp = "127.0.0.1:5432"\nintervalMs = 500\ntimeoutMs = 800\n', ["services[0].checks[0]: timeoutMs must not exceed intervalMs (one run at a time)"]],
  ["an operator key listed twice", (s) => s + `[[operators]]\nname = "a"\npublicKey = "${"ab".repeat(32)}"\n[[operators]]\nname = "b"\npublicKey = "${"AB".repeat(32)}"\n`, ["operators[1].publicKey: the same key is listed for two operators"]],
  ["a host's key as an operator's", (s) => s + `[[operators]]\nname = "a"\npublicKey = "${K1}"\n`, ["operators[0].publicKey: is a host's key; an operator's key is its own (umbra keygen --operator)"]],
  ["no bootstrap node and no host address: the public DHT by accident", (s) => s.replace('bootstrap = ["198.51.100.2:49737"]\n', ""), ["bootstrap: empty, and no other [[hosts]] entry has an address: the agent would look for its peers on the public internet's DHT. Give every host an address (its agent then serves as a bootstrap node for the others), list bootstrap nodes (umbra bootstrap), or set publicDht = true to mean it"]],
  ["the public DHT and the cluster's own nodes at once", (s) => s.replace('bootstrap = [', "publicDht = true\nbootstrap = ["), ["publicDht: true, with bootstrap nodes or [[hosts]] addresses too: choose the public DHT (publicDht = true, no bootstrap, no addresses) or your own nodes"]],
  ["a host address without a port", (s) => s.replace('id = "h2"', 'id = "h2"\naddress = "198.51.100.22"'), ["hosts[1].address: must be host:port (IPv6 as [addr]:port)"]],
];

test("without stateDir: systemd's StateDirectory ($STATE_DIRECTORY), else state/ beside the config", () => {
  expect(parseConfig(GOOD, "/etc/umbra/umbra.toml", { STATE_DIRECTORY: "/var/lib/umbra" }).stateDir).toBe("/var/lib/umbra");
  expect(parseConfig(GOOD, "/etc/umbra/umbra.toml", { STATE_DIRECTORY: "/var/lib/umbra:/var/lib/other" }).api.socket).toBe("/var/lib/umbra/api.sock");
  expect(parseConfig(GOOD, "/etc/umbra/umbra.toml", {}).stateDir).toBe("/etc/umbra/state");
});

describe("discovery", () => {
  test("the other hosts' addresses are bootstrap nodes too; only its own is not; the public DHT only when asked", () => {
    const withAddresses = GOOD.replace('bootstrap = ["198.51.100.2:49737"]\n', "").replace(/id = "(h\d)"/g, (_m, h: string) => `id = "${h}"\naddress = "198.51.100.${h.slice(1)}1:49738"`);
    const c = parseConfig(withAddresses, "/x/u.toml");
    expect(bootstrapOf(c)).toEqual(["198.51.100.21:49738", "198.51.100.31:49738"]);
    expect(bootstrapOf(parseConfig(GOOD.replace('id = "h3"', 'id = "h3"\naddress = "[2001:db8::3]:49738"'), "/x/u.toml"))).toEqual(["198.51.100.2:49737", "[2001:db8::3]:49738"]);
    expect(parseConfig(GOOD.replace('bootstrap = ["198.51.100.2:49737"]', "publicDht = true"), "/x/u.toml").publicDht).toBe(true);
  });
});

describe("limits other parts rely on are checked here", () => {
  test.each(IN_PROCESS)("%s", (_name, edit, expected) => {
    let err: unknown = null;
    try {
      parseConfig(edit(GOOD), "/x/u.toml");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UmbraError);
    expect((err as UmbraError).code).toBe("config_invalid");
    expect((err as UmbraError).context.issues).toEqual(expected.map((l) => `/x/u.toml: ${l}`));
  });
});

describe("checks and operators", () => {
  test("a command check's program is resolved against the config's folder; defaults fill the rest", () => {
    const c = parseConfig(GOOD + '[[services.checks]]\ncommand = ["checks/db", "--quick"]\n[[services.checks]]\nhttp = "http://127.0.0.1:8080/health"\nfall = 5\n', "/etc/umbra/umbra.toml");
    expect(c.services[0]!.checks).toEqual([
      { command: ["/etc/umbra/checks/db", "--quick"], intervalMs: 1000, timeoutMs: 1000, rise: 2, fall: 3 },
      { http: "http://127.0.0.1:8080/health", intervalMs: 1000, timeoutMs: 1000, rise: 2, fall: 5 },
    ]);
    expect(parseConfig(GOOD + `[[operators]]\nname = "alice"\npublicKey = "${"AB".repeat(32)}"\n`, "u.toml").operators).toEqual([{ name: "alice", publicKey: "ab".repeat(32) }]);
  });
});

describe("probe.replay and ackShadows", () => {
  test("a replay file is resolved against the config's folder; a bad metric names the choices", () => {
    const withReplay = GOOD.replace('bootstrap = ["198.51.100.2:49737"]', 'bootstrap = ["198.51.100.2:49737"]\n[probe]\nreplay = { file = "series/leak.csv", metric = "memoryUsage", speed = 600 }');
    const c = parseConfig(withReplay, "/etc/umbra/umbra.toml");
    expect(c.probe.replay).toEqual({ file: "/etc/umbra/series/leak.csv", metric: "memoryUsage", speed: 600, scale: 1, loop: false });
    const bad = withReplay.replace('metric = "memoryUsage"', 'metric = "ram"');
    expect(() => parseConfig(bad, "u.toml")).toThrow('u.toml: probe.replay.metric');
  });

  test("ackShadows above the number of shadows can never be met and is refused", () => {
    const c = GOOD.replace('shadows = ["h2", "h3"]', 'shadows = ["h2", "h3"]\nackShadows = 3');
    expect(() => parseConfig(c, "u.toml")).toThrow("u.toml: services[0].ackShadows: 3 is more than the 2 shadow(s) listed");
    expect(parseConfig(GOOD, "u.toml").services[0]!.ackShadows).toBe(1);
  });
});

describe("forecast limits", () => {
  const withLimits = (limits: string) => GOOD.replace('bootstrap = ["198.51.100.2:49737"]', `bootstrap = ["198.51.100.2:49737"]\n[forecast]\nlimits = ${limits}`);
  test("a number is an upper line; a table names a lower one, or both", () => {
    const c = parseConfig(withLimits("{ memoryUsage = 0.95, networkBandwidthBytesPerSec = { below = 1000 }, cpuLoad = { above = 0.97, below = 0.01 } }"), "u.toml");
    expect(c.forecast.limits).toEqual({ memoryUsage: 0.95, networkBandwidthBytesPerSec: { below: 1000 }, cpuLoad: { above: 0.97, below: 0.01 } });
    expect(limitLines(c.forecast.limits.memoryUsage!)).toEqual({ above: 0.95, below: null });
    expect(limitLines(c.forecast.limits.networkBandwidthBytesPerSec!)).toEqual({ above: null, below: 1000 });
  });
  test.each([
    ["{ cpuLoad = {} }", "a limit names above, below or both"],
    ["{ cpuLoad = { above = 0.1, below = 0.5 } }", "above must be greater than below"],
    ["{ cpuLoad = { beneath = 0.1 } }", "beneath"],
  ])("%s is refused", (limits, why) => {
    expect(() => parseConfig(withLimits(limits), "u.toml")).toThrow(why);
  });
});

test("anomalyThreshold: off by default, a score in (0, 1] when set", () => {
  const withAnomaly = (v: string) => GOOD.replace('bootstrap = ["198.51.100.2:49737"]', `bootstrap = ["198.51.100.2:49737"]\n[forecast]\nanomalyThreshold = ${v}`);
  expect(parseConfig(GOOD, "u.toml").forecast.anomalyThreshold).toBeUndefined();
  expect(parseConfig(withAnomaly("0.95"), "u.toml").forecast.anomalyThreshold).toBe(0.95);
  expect(() => parseConfig(withAnomaly("1.5"), "u.toml")).toThrow("u.toml: forecast.anomalyThreshold");
  expect(() => parseConfig(withAnomaly("0"), "u.toml")).toThrow("u.toml: forecast.anomalyThreshold");
});

test("moveBackAfterMs is 0 (never) or at least a second", () => {
  const withMoveBack = (v: number) => GOOD.replace('shadows = ["h2", "h3"]', `shadows = ["h2", "h3"]\nmoveBackAfterMs = ${v}`);
  expect(parseConfig(GOOD, "u.toml").services[0]!.moveBackAfterMs).toBe(600_000);
  expect(parseConfig(withMoveBack(0), "u.toml").services[0]!.moveBackAfterMs).toBe(0);
  expect(() => parseConfig(withMoveBack(500), "u.toml")).toThrow("services[0].moveBackAfterMs");
});

test("placement: domains name label keys once; every primary and shadow carries each, or the error says which host lacks which", () => {
  const labelled = (h3: string) =>
    GOOD.replace('bootstrap = ["198.51.100.2:49737"]', 'bootstrap = ["198.51.100.2:49737"]\n[placement]\ndomains = ["zone", "rack"]')
      .replace(`publicKey = "${K1}"`, `publicKey = "${K1}"\nlabels = { zone = "a", rack = "r1" }`)
      .replace(`publicKey = "${K2}"`, `publicKey = "${K2}"\nlabels = { zone = "a", rack = "r1" }`)
      .replace(`publicKey = "${K3}"`, `publicKey = "${K3}"\nlabels = ${h3}`);
  expect(parseConfig(labelled('{ zone = "a", rack = "r2" }'), "u.toml").placement.domains).toEqual(["zone", "rack"]);
  expect(parseConfig(GOOD, "u.toml").placement.domains).toEqual([]);
  expect(() => parseConfig(labelled('{ zone = "a" }'), "u.toml")).toThrow('u.toml: hosts[2].labels: h3 has no "rack", which placement.domains names');
  expect(() => parseConfig(labelled('{ zone = "a", rack = "r2" }').replace('domains = ["zone", "rack"]', 'domains = ["zone", "zone"]'), "u.toml")).toThrow('placement.domains[1]: "zone" is listed twice');
});

test("swap: every is a duration of 10 s or more, window a span of the day (across midnight too); inWindow reads it", () => {
  const withSwap = (every: string, window: string) => GOOD.replace('shadows = ["h2", "h3"]', `shadows = ["h2", "h3"]\n[services.swap]\nevery = "${every}"\nwindow = "${window}"`);
  expect(parseConfig(withSwap("7d", "02:00-04:00"), "u.toml").services[0]!.swap).toEqual({ every: 7 * 86_400_000, window: { fromMin: 120, toMin: 240 }, moveBackInWindow: false });
  const backOnly = GOOD.replace('shadows = ["h2", "h3"]', `shadows = ["h2", "h3"]\n[services.swap]\nwindow = "02:00-04:00"\nmoveBackInWindow = true`);
  expect(parseConfig(backOnly, "u.toml").services[0]!.swap).toEqual({ every: 0, window: { fromMin: 120, toMin: 240 }, moveBackInWindow: true });
  expect(() => parseConfig(backOnly.replace("moveBackInWindow = true", ""), "u.toml")).toThrow("services[0].swap: give every (swap roles that often) or moveBackInWindow = true");
  expect(parseConfig(GOOD, "u.toml").services[0]!.swap).toBeUndefined();
  expect(() => parseConfig(withSwap("5s", "02:00-04:00"), "u.toml")).toThrow("services[0].swap.every: at least 10s");
  expect(() => parseConfig(withSwap("1w", "02:00-04:00"), "u.toml")).toThrow("must be a duration");
  expect(() => parseConfig(withSwap("1d", "2:00-4:00"), "u.toml")).toThrow("HH:MM-HH:MM");
  expect(() => parseConfig(withSwap("1d", "03:00-03:00"), "u.toml")).toThrow("an empty window");
  const night = parseConfig(withSwap("1d", "22:00-02:00"), "u.toml").services[0]!.swap!.window as DayWindow;
  expect([inWindow(night, 23 * 60), inWindow(night, 60), inWindow(night, 2 * 60), inWindow(night, 12 * 60)]).toEqual([true, true, false, false]);
  expect(inWindow(parseConfig(withSwap("1d", "00:00-24:00"), "u.toml").services[0]!.swap!.window as DayWindow, 1439)).toBe(true);
});

describe('swap window = "auto"', () => {
  const withAuto = (extra = "", top = "") =>
    GOOD.replace('bootstrap = ["198.51.100.2:49737"]', `bootstrap = ["198.51.100.2:49737"]${top}`).replace('shadows = ["h2", "h3"]', `shadows = ["h2", "h3"]\n[services.swap]\nevery = "7d"\nwindow = "auto"${extra}`);
  test("defaults: two hours of cpuLoad; length and metric as given", () => {
    expect(parseConfig(withAuto(), "u.toml").services[0]!.swap).toEqual({ every: 7 * 86_400_000, window: { auto: true, lengthMin: 120, metric: "cpuLoad" }, moveBackInWindow: false });
    expect(parseConfig(withAuto('\nlength = "90m"\nmetric = "networkBandwidthBytesPerSec"'), "u.toml").services[0]!.swap!.window).toEqual({ auto: true, lengthMin: 90, metric: "networkBandwidthBytesPerSec" });
    expect(parseConfig(withAuto('\nlength = "12h"'), "u.toml").services[0]!.swap!.window).toMatchObject({ lengthMin: 720 });
  });
  test("the metric defaults to scaling's, which the forecaster already watches", () => {
    const scaled = withAuto().replace("[services.swap]", '[services.redirect]\nhook = "lb.sh"\naddresses = { h1 = "198.51.100.11", h2 = "198.51.100.12", h3 = "198.51.100.13" }\n[services.scaling]\nmetric = "memoryUsage"\n[services.swap]');
    expect(parseConfig(scaled, "u.toml").services[0]!.swap!.window).toEqual({ auto: true, lengthMin: 120, metric: "memoryUsage" });
    expect(parseConfig(scaled.replace('window = "auto"', 'window = "auto"\nmetric = "diskIO"'), "u.toml").services[0]!.swap!.window).toMatchObject({ metric: "diskIO" });
  });
  test.each([
    ['\nlength = "20m"', "services[0].swap.length: must be whole 15-minute slots, from 15m to 12h"],
    ['\nlength = "30s"', "services[0].swap.length: must be whole 15-minute slots"],
    ['\nlength = "13h"', "services[0].swap.length: must be whole 15-minute slots"],
    ['\nlength = "2 h"', "services[0].swap.length: must be a duration"],
    ['\nmetric = "networkLatency"', "services[0].swap.metric: must be one of"],
  ])("%s is refused: %s", (extra, message) => {
    expect(() => parseConfig(withAuto(extra), "u.toml")).toThrow(`u.toml: ${message}`);
  });
  test("length and metric only with auto; a wrong word names both forms", () => {
    const fixed = withAuto('\nlength = "2h"').replace('window = "auto"', 'window = "02:00-04:00"');
    expect(() => parseConfig(fixed, "u.toml")).toThrow('services[0].swap: length and metric are for window = "auto"');
    expect(() => parseConfig(withAuto().replace('window = "auto"', 'window = "Auto"'), "u.toml")).toThrow('services[0].swap.window: must be "auto" or a window of the day, HH:MM-HH:MM');
  });
  test("auto needs the forecaster on, and probe samples that see every slot of the day", () => {
    expect(() => parseConfig(withAuto("", "\n[forecast]\nenabled = false"), "u.toml")).toThrow('u.toml: services[0].swap.window: "auto" needs forecasts ([forecast] enabled = true)');
    expect(() => parseConfig(withAuto("", "\n[probe]\nintervalMs = 600000"), "u.toml")).toThrow('u.toml: services[0].swap.window: "auto" needs probe.intervalMs at most 300000');
    expect(parseConfig(withAuto("", "\n[probe]\nintervalMs = 300000"), "u.toml").services[0]!.swap!.window).toMatchObject({ auto: true });
    // A fixed window reads no load: it needs neither.
    expect(parseConfig(withAuto("", "\n[forecast]\nenabled = false\n[probe]\nintervalMs = 600000").replace('window = "auto"', 'window = "02:00-04:00"'), "u.toml").services[0]!.swap!.window).toEqual({ fromMin: 120, toMin: 240 });
  });
});

test("redirect: a hook resolved against the config's folder, addresses only of the service's hosts and only addresses", () => {
  const withRedirect = (addresses: string) => GOOD.replace('shadows = ["h2", "h3"]', `shadows = ["h2", "h3"]\n[services.redirect]\nhook = "dns.sh"\naddresses = ${addresses}`);
  const all = 'h1 = "198.51.100.11", h2 = "198.51.100.12", h3 = "2001:db8::13"';
  const r = parseConfig(withRedirect(`{ ${all} }`), "/etc/umbra/u.toml").services[0]!.redirect!;
  expect(r).toEqual({ hook: "/etc/umbra/dns.sh", addresses: { h1: "198.51.100.11", h2: "198.51.100.12", h3: "2001:db8::13" } });
  expect(() => parseConfig(withRedirect(`{ ${all}, h9 = "198.51.100.19" }`), "u.toml")).toThrow(`services[0].redirect.addresses: "h9" is not web's primary, one of its shadows or spares`);
  expect(() => parseConfig(withRedirect('{ h1 = "198.51.100.11", h2 = "host2.example", h3 = "198.51.100.13" }'), "u.toml")).toThrow(`services[0].redirect.addresses.h2: "host2.example" is not an IPv4 or IPv6 address`);
  expect(() => parseConfig(withRedirect('{ h1 = "198.51.100.11" }'), "u.toml")).toThrow("services[0].redirect.addresses: no address for h2, h3");
});

test("scaling: defaults filled, lowThreshold below threshold, forecasts on, maxActive within the shadows", () => {
  const redirect = '\n[services.redirect]\nhook = "lb.sh"\naddresses = { h1 = "198.51.100.11", h2 = "198.51.100.12", h3 = "198.51.100.13" }';
  const withScaling = (body: string, extra = "", r = redirect) => GOOD.replace('bootstrap = ["198.51.100.2:49737"]', `bootstrap = ["198.51.100.2:49737"]${extra}`).replace('shadows = ["h2", "h3"]', `shadows = ["h2", "h3"]\nscaling = { ${body} }${r}`);
  expect(parseConfig(withScaling(""), "u.toml").services[0]!.scaling).toEqual({ metric: "cpuLoad", threshold: 0.8, lowThreshold: 0.5, cooldownMs: 600_000, maxActive: 1 });
  expect(() => parseConfig(withScaling("threshold = 0.5, lowThreshold = 0.6"), "u.toml")).toThrow("lowThreshold must be below threshold");
  expect(() => parseConfig(withScaling("maxActive = 3"), "u.toml")).toThrow("services[0].scaling.maxActive: 3 is more than the 2 shadow(s) listed");
  expect(() => parseConfig(withScaling("", "\n[forecast]\nenabled = false"), "u.toml")).toThrow("services[0].scaling: needs forecasts");
  expect(() => parseConfig(withScaling("", "", ""), "u.toml")).toThrow("services[0].scaling: needs [services.redirect]");
});

test("spares and the shadow count: defaults, and what is wrong and where", () => {
  const withCount = (count: string, spares = '["h3"]', shadows = '["h2"]') => GOOD.replace('shadows = ["h2", "h3"]', `shadows = ${shadows}\nspares = ${spares}${count === "" ? "" : `\n[services.shadowCount]\n${count}`}`);
  const s = parseConfig(withCount("min = 1"), "u.toml").services[0]!;
  expect(s.spares as string[]).toEqual(["h3"]);
  expect(s.shadowCount).toEqual({ min: 1, metric: "cpuLoad", load: 0.8, band: 0.3, cooldownMs: 600_000, reserve: {} });
  expect(s.voters as string[]).toEqual(["h1", "h2"]); // spares vote only when listed
  expect(() => parseConfig(withCount(""), "u.toml")).toThrow("services[0].spares: needs [services.shadowCount]");
  expect(() => parseConfig(withCount("max = 3"), "u.toml")).toThrow("services[0].shadowCount.max: 3 is more than the 2 shadow(s) and spare(s) listed");
  expect(() => parseConfig(withCount("min = 2\nmax = 1"), "u.toml")).toThrow("services[0].shadowCount.min: 2 is more than max (1)");
  expect(() => parseConfig(withCount("min = 1", '["h2"]'), "u.toml")).toThrow('services[0].spares[0]: "h2" is the primary or a shadow already');
  expect(() => parseConfig(withCount("reserve = { diskIO = 0.1 }"), "u.toml")).toThrow("services[0].shadowCount.reserve");
  expect(() => parseConfig(withCount("min = 1").replace("[[hosts]]", "[forecast]\nenabled = false\n\n[[hosts]]"), "u.toml")).toThrow("services[0].shadowCount: needs forecasts");
});
