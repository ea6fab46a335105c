// Proves what a SIGHUP applies live (a service's hooks) and what it names
// as needing a restart (timings, the API, a VIP, services added), on real
// parsed configs.
import { expect, test } from "bun:test";
import { parseConfig } from "../shared/config.ts";
import { planReload } from "./reload.ts";

const K = (c: string) => c.repeat(64);
const base = (extra = "", service = "") => parseConfig(`cluster = "demo"
host = "h1"
keyFile = "h1.key"
bootstrap = ["198.51.100.2:49737"]
${extra}
[[hosts]]
id = "h1"
publicKey = "${K("a")}"
[[hosts]]
id = "h2"
publicKey = "${K("b")}"

[[services]]
name = "web"
vip = "198.51.100.10/24"
interface = "eth0"
primary = "h1"
shadows = ["h2"]
${service}`, "/etc/umbra/umbra.toml");

test("the same file: nothing to do", () => {
  expect(planReload(base(), base())).toEqual({ hooks: [], checks: [], operators: false, restart: [] });
});

test("a hook changed is applied live, as an absolute path", () => {
  expect(planReload(base(), base("", '[services.hooks]\nactivate = "hooks/up"'))).toEqual({ hooks: [{ service: "web", hooks: { activate: "/etc/umbra/hooks/up", demote: undefined, reconcile: undefined, notify: undefined } }], checks: [], operators: false, restart: [] });
});

test("timings, the API and a VIP need a restart, each named", () => {
  const next = base('profile = "wan"\n[api]\ngroup = "ops"\n', "").services[0]!;
  const changed = { ...base('profile = "wan"\n[api]\ngroup = "ops"\n'), services: [{ ...next, vip: "198.51.100.11/24" }] };
  expect(planReload(base(), changed).restart).toEqual(["api", "profile", "timing", "services[web].vip"]);
});

test("a service added is a restart", () => {
  const two = base("", '\n[[services]]\nname = "db"\nvip = "198.51.100.20/24"\ninterface = "eth0"\nprimary = "h2"\nshadows = ["h1"]');
  expect(planReload(base(), two)).toEqual({ hooks: [], checks: [], operators: false, restart: ["services (added, removed or reordered)"] });
});

test("operator keys are applied live", () => {
  const key = "ab".repeat(32);
  expect(planReload(base(), base(`[[operators]]\nname = "ops"\npublicKey = "${key}"\n`))).toEqual({ hooks: [], checks: [], operators: true, restart: [] });
});

test("a service's checks are applied live", () => {
  const plan = planReload(base(), base("", '[[services.checks]]\ntcp = "127.0.0.1:5432"'));
  expect(plan).toMatchObject({ hooks: [], operators: false, restart: [] });
  expect(plan.checks).toEqual([{ service: "web", checks: [{ tcp: "127.0.0.1:5432", intervalMs: 1000, timeoutMs: 1000, rise: 2, fall: 3 }] }]);
});
