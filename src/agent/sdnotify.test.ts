// Proves the systemd notifications against a real $NOTIFY_SOCKET (a Unix
// datagram socket, as systemd opens one, here bound by python3) through the
// real systemd-notify: READY=1 with the agent's PID and a status, WATCHDOG=1
// every half WATCHDOG_USEC while the loop is alive and none once it is not,
// STOPPING=1; nothing at all without $NOTIFY_SOCKET.
import { afterAll, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { systemdNotifier, watchdogIntervalMs } from "./sdnotify.ts";

const dir = mkdtempSync(join(tmpdir(), "umbra-sdnotify-"));
const LISTENER = `import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    print(s.recv(65536).decode().replace("\\n", "|"), flush=True)
`;
const listener = spawn("python3", ["-c", LISTENER, join(dir, "notify.sock")], { stdio: ["ignore", "pipe", "inherit"] });
const lines: string[] = [];
const bound = new Promise<void>((resolve) => createInterface({ input: listener.stdout! }).on("line", (l) => (l === "bound" ? resolve() : lines.push(l))));
afterAll(() => {
  listener.kill();
  rmSync(dir, { recursive: true, force: true });
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quiet = () => undefined;

test("the watchdog's interval: half WATCHDOG_USEC, for this PID or any; none without it", () => {
  expect(watchdogIntervalMs({ WATCHDOG_USEC: "10000000" }, 7)).toBe(5_000);
  expect(watchdogIntervalMs({ WATCHDOG_USEC: "10000000", WATCHDOG_PID: "7" }, 7)).toBe(5_000);
  expect(watchdogIntervalMs({ WATCHDOG_USEC: "10000000", WATCHDOG_PID: "8" }, 7)).toBeNull();
  expect(watchdogIntervalMs({}, 7)).toBeNull();
  expect(watchdogIntervalMs({ WATCHDOG_USEC: "junk" }, 7)).toBeNull();
  expect(systemdNotifier({ env: {}, pid: 7, log: quiet, alive: () => true })).toBeNull();
});

test("ready, the watchdog while alive and not after, stopping: as systemd receives them", async () => {
  await bound;
  let alive = true;
  const n = systemdNotifier({ env: { ...process.env, NOTIFY_SOCKET: join(dir, "notify.sock"), WATCHDOG_USEC: "200000" }, pid: process.pid, log: quiet, alive: () => alive })!;
  n.ready("started: 1 service(s), 3 host(s)");
  for (let i = 0; i < 100 && lines.filter((l) => l.includes("WATCHDOG=1")).length < 2; i++) await sleep(50);
  alive = false;
  await sleep(400); // a send in flight lands
  const pets = lines.filter((l) => l.includes("WATCHDOG=1")).length;
  await sleep(500);
  n.stopping();
  for (let i = 0; i < 100 && !lines.some((l) => l.includes("STOPPING=1")); i++) await sleep(50);
  n.close();
  expect(lines.find((l) => l.includes("READY=1"))).toContain(`MAINPID=${process.pid}`);
  expect(lines.find((l) => l.includes("READY=1"))).toContain("STATUS=started: 1 service(s), 3 host(s)");
  expect(pets).toBeGreaterThanOrEqual(2);
  expect(lines.filter((l) => l.includes("WATCHDOG=1")).length).toBe(pets); // none once the loop is not alive
  expect(lines.some((l) => l.includes("STOPPING=1"))).toBe(true);
}, 30_000);

test("the shipped unit: systemd-analyze verify accepts it; Type=notify with a watchdog, as umbra, with only the three capabilities", () => {
  const root = join(import.meta.dir, "../..");
  const unit = readFileSync(join(root, "contrib/umbra.service"), "utf8");
  const path = join(dir, "umbra.service");
  writeFileSync(path, unit.replaceAll("/usr/local/bin/umbra", "/bin/true")); // verify wants the programs to exist
  const r = spawnSync("systemd-analyze", ["verify", path], { encoding: "utf8" });
  expect({ code: r.status, err: r.stderr }).toEqual({ code: 0, err: "" });
  for (const line of ["Type=notify", "NotifyAccess=all", "User=umbra", "StateDirectory=umbra", "AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW CAP_SYS_NICE", "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_SYS_NICE"]) expect(unit.split("\n")).toContain(line);
  expect(unit).toMatch(/^WatchdogSec=\d+s$/m);
});
