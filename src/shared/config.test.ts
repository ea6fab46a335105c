// Proves a bad config file is refused with the exact message and exit code 2,
// through the real CLI, and that nothing starts; and that a good one loads
// with every default filled in.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { spawnSync } from "node:child_process";
import { parseConfig, PROFILES } from "./config.ts";

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

describe("a good config", () => {
  test("loads with defaults filled and paths resolved against the file", () => {
    const c = parseConfig(GOOD, "/etc/umbra/umbra.toml");
    expect(c.keyFile).toBe("/etc/umbra/h1.key");
    expect(c.stateDir).toBe("/etc/umbra/state");
    expect(c.api).toBe("127.0.0.1:7070");
    expect(c.profile).toBe("lan");
    expect(c.timing).toEqual({ ...PROFILES.lan });
    expect(c.services[0]!.voters).toEqual(["h1", "h2", "h3"]);
    expect(c.probe.intervalMs).toBe(1000);
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
  ["bad public key", (s) => s.replace(K2, "XYZ"), ["umbra: FILE: hosts[1].publicKey: must be 64 lowercase hex characters (as printed by `umbra keygen`)"]],
  ["renewals too slow for the lease", (s) => s + "\n[timing]\nleaseMs = 300\nrenewIntervalMs = 200\n", ["umbra: FILE: timing.renewIntervalMs: 200 must be less than half of timing.leaseMs (300), so one lost renewal does not cost the lease", "umbra: FILE: timing.leaseMs: 300 leaves the holder 199 ms after clock drift and timing.actuationGuardMs (100); it needs at least two renewal intervals (400 ms): raise leaseMs or lower the guard"]],
  ["a guard that eats the lease", (s) => s + "\n[timing]\nleaseMs = 150\nrenewIntervalMs = 25\n", ["umbra: FILE: timing.leaseMs: 150 leaves the holder 49 ms after clock drift and timing.actuationGuardMs (100); it needs at least two renewal intervals (50 ms): raise leaseMs or lower the guard"]],
  ["wrong type", (s) => s.replace('bootstrap = ["198.51.100.2:49737"]', 'bootstrap = "198.51.100.2:49737"'), ["umbra: FILE: bootstrap: expected array, got string"]],
  ["voter not in hosts", (s) => s.replace('shadows = ["h2", "h3"]', 'shadows = ["h2", "h3"]\nvoters = ["h1", "h2", "h5"]'), ['umbra: FILE: services[0].voters[2]: "h5" is not one of the [[hosts]] ids']],
  ["unknown profile", (s) => s.replace('host = "h1"', 'host = "h1"\nprofile = "fast"'), ['umbra: FILE: profile: must be one of "lan", "wan", "edge", "local"']],
  ["several issues at once", (s) => s.replace('host = "h1"', 'host = "h9"').replace('primary = "h1"', 'primary = "h8"'), ['umbra: FILE: host: "h9" is not one of the [[hosts]] ids (h1, h2, h3)', 'umbra: FILE: services[0].primary: "h8" is not one of the [[hosts]] ids']],
];

describe("a bad config exits 2 with the exact message", () => {
  test.each(CASES)("%s", (name, edit, expected) => {
    const file = join(dir, `${name.replace(/\W+/g, "-")}.toml`);
    const text = edit(GOOD);
    if (text !== null) writeFileSync(file, text);
    const r = spawnSync(NODE, [join(ROOT, "src/cli/main.ts"), "agent", "--config", file], { encoding: "utf8", timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trimEnd().split("\n")).toEqual(expected.map((l) => l.replace("FILE", file)));
  });
});
