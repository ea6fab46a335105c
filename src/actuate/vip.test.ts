// Proves VIP moves on the real kernel stack in namespaces: after an add and
// its gratuitous ARP (IPv4) or the kernel's unsolicited NA (IPv6) the client
// reaches the VIP at the holder's MAC; after a move the client's existing
// neighbour entry follows the new holder without the client asking; add and
// remove are idempotent; failures are actuate_failed with the stderr.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTopology, cleanupStale, type Topology } from "../demo/index.ts";
import { UmbraError } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";
import { addVip, announceFromPrimary, removeVip, vipPresent, announceArp, vipPlacementIssue, type Runner } from "./vip.ts";
import { availableParallelism, type NetworkInterfaceInfo } from "node:os";
import { batchLine, ipBatch } from "./ipbatch.ts";
import { FENCE_TABLE, nftPath, openFence } from "./fence.ts";
import { armedArping } from "./garp.ts";

const PREFIX = "uv-";
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("vip.test.ts: skipping the netns tests: they need root (network namespaces)");
let topo: Topology;

/** Runs the VIP commands inside host `name`'s namespace, as the agent would inside its host. */
const inHost = (name: string): Runner => (argv) => topo.exec(name, argv);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Collects log lines so a test can see the background announcement finish. */
function recorder(): { log: Logger; events: string[] } {
  const events: string[] = [];
  return { events, log: (_level, _part, event) => void events.push(event) };
}

async function macOf(name: string): Promise<string> {
  const r = await topo.exec(name, ["ip", "-j", "link", "show", "eth0"]);
  return (JSON.parse(r.stdout) as Array<{ address: string }>)[0]!.address;
}
async function clientNeighMac(ip: string): Promise<string | null> {
  const r = await topo.exec("client", ["ip", "-j", "neigh", "show", ip, "dev", "eth0"]);
  const e = (JSON.parse(r.stdout) as Array<{ lladdr?: string }>)[0];
  return e?.lladdr ?? null;
}
/** Polls the client's neighbour entry (bounded: 50 × 20 ms, well under the 1 s a retried ARP would take). */
async function waitNeighMac(ip: string, mac: string): Promise<string | null> {
  for (let i = 0; i < 50 && (await clientNeighMac(ip)) !== mac; i++) await sleep(20);
  return clientNeighMac(ip);
}

describe.skipIf(!isRoot)("netns", () => {
  beforeAll(async () => {
    await cleanupStale(PREFIX);
    topo = await createTopology({
      prefix: PREFIX,
      subnet: "198.51.100.0/24",
      hosts: [
        { name: "a", ipv4: "198.51.100.31", ipv6: "2001:db8::31" },
        { name: "b", ipv4: "198.51.100.32", ipv6: "2001:db8::32" },
        { name: "client", ipv4: "198.51.100.39", ipv6: "2001:db8::39" },
      ],
    });
  });
  afterAll(async () => {
    await topo?.destroy();
  });

  test("umbra release removes this host's configured VIPs (what systemd runs after a kill -9), says which were absent, then the fence", async () => {
    const { writeFileSync, mkdtempSync, rmSync } = await import("node:fs");
    const { join, resolve } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "umbra-release-"));
    try {
      const cfg = join(dir, "a.toml");
      writeFileSync(cfg, [
        'cluster = "t"', 'host = "a"', 'keyFile = "a.key"', 'bootstrap = ["198.51.100.2:49737"]',
        "[[hosts]]", 'id = "a"', `publicKey = "${"a".repeat(64)}"`, "[[hosts]]", 'id = "b"', `publicKey = "${"b".repeat(64)}"`,
        "[[services]]", 'name = "web"', 'vip = "198.51.100.40/24"', 'interface = "eth0"', 'primary = "a"', 'shadows = ["b"]',
        "[[services]]", 'name = "db"', 'vip = "2001:db8::41/64"', 'interface = "eth0"', 'primary = "a"', 'shadows = ["b"]',
        "[[services]]", 'name = "gone"', 'vip = "198.51.100.42/24"', 'interface = "eth9"', 'primary = "a"', 'shadows = ["b"]',
      ].join("\n"));
      await addVip({ cidr: "198.51.100.40/24", iface: "eth0" }, inHost("a"), recorder().log);
      // What a killed agent leaves: its fence, the VIP fenced.
      await openFence({ prefix: ["ip", "netns", "exec", topo.ns("a")] }).install(["198.51.100.40", "2001:db8::41", "198.51.100.42"]);
      const ROOT = resolve(import.meta.dir, "../..");
      const r = await topo.exec("a", [join(ROOT, "node_modules/.bin/node"), join(ROOT, "src/cli/main.ts"), "release", "--config", cfg, "--json"]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ removed: ["198.51.100.40/24"], absent: ["2001:db8::41/64", "198.51.100.42/24"], failed: [], fence: "removed" });
      expect(await vipPresent({ cidr: "198.51.100.40/24", iface: "eth0" }, inHost("a"))).toBe(false);
      expect((await topo.exec("a", [nftPath(), "list", "tables"])).stdout).not.toContain(FENCE_TABLE);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("ARP on a VIP's interface names the primary address as sender (arp_announce=2); a missing interface is reported, not thrown", async () => {
    expect(await announceFromPrimary(["eth0", "eth0"], inHost("a"))).toEqual([]);
    expect((await topo.exec("a", ["sysctl", "-n", "net.ipv4.conf.eth0.arp_announce"])).stdout.trim()).toBe("2");
    const failed = await announceFromPrimary(["eth9"], inHost("a"));
    expect(failed.map((f) => f.iface)).toEqual(["eth9"]);
  });

  test("IPv4: add announces, a move repoints the client, remove is idempotent", async () => {
    const vip = { cidr: "198.51.100.30/24", iface: "eth0" };
    const rec = recorder();
    const first = await addVip(vip, inHost("a"), rec.log);
    expect(first).toMatchObject({ ok: true, detail: "done" });
    expect((await addVip(vip, inHost("a"), rec.log)).detail).toBe("already so");
    expect(await vipPresent(vip, inHost("a"))).toBe(true);
    expect(await vipPresent(vip, inHost("b"))).toBe(false);
    expect((await topo.exec("client", ["ping", "-c", "1", "-W", "1", "198.51.100.30"])).code).toBe(0);
    expect(await clientNeighMac("198.51.100.30")).toBe(await macOf("a"));

    expect((await removeVip(vip, inHost("a"))).detail).toBe("done");
    expect((await removeVip(vip, inHost("a"))).detail).toBe("already so");
    expect(await vipPresent(vip, inHost("a"))).toBe(false);
    const t0 = performance.now();
    await addVip(vip, inHost("b"), rec.log);
    // The add does not wait for arping to exit (1 s after its frame).
    expect(performance.now() - t0).toBeLessThan(900);
    // The client learns the new MAC from the first gratuitous ARP, without asking.
    expect(await waitNeighMac("198.51.100.30", await macOf("b"))).toBe(await macOf("b"));
    expect(performance.now() - t0).toBeLessThan(900);
    expect(await announceArp(vip, inHost("b"))).toMatchObject({ ok: true, code: 0 });
    // Three adds, three background arpings, each logged when it exits (~1 s).
    const sent = () => rec.events.filter((e) => e === "garp-sent");
    for (let i = 0; i < 100 && sent().length < 3; i++) await sleep(20);
    expect(sent()).toEqual(["garp-sent", "garp-sent", "garp-sent"]);
    expect(rec.events.filter((e) => e === "garp-fired")).toHaveLength(3); // each said when it went off
    await removeVip(vip, inHost("b"));
  });

  test("an armed arping (garp.ts) announces when asked, is armed again after, and closed sends nothing more", async () => {
    const vip = { cidr: "198.51.100.33/24", iface: "eth0" };
    await addVip(vip, inHost("a"));
    expect((await topo.exec("client", ["ping", "-c", "1", "-W", "1", "198.51.100.33"])).code).toBe(0);
    expect(await clientNeighMac("198.51.100.33")).toBe(await macOf("a"));
    await removeVip(vip, inHost("a"));
    // Two shells, each pinned to a CPU, when there are two (what the agent arms).
    const announcer = armedArping(vip, { prefix: ["ip", "netns", "exec", topo.ns("b")], run: inHost("b"), cpus: availableParallelism() >= 2 ? [0, 1] : undefined });
    try {
      expect(announcer.armed()).toBe(true);
      const rec = recorder();
      await addVip(vip, inHost("b"), rec.log, null, announcer.announce);
      expect(announcer.armed()).toBe(false); // the armed shell went off; another comes REARM_DELAY_MS later
      expect(await waitNeighMac("198.51.100.33", await macOf("b"))).toBe(await macOf("b"));
      for (let i = 0; i < 100 && !(announcer.armed() && rec.events.includes("garp-sent")); i++) await sleep(20);
      expect(announcer.armed()).toBe(true);
      expect(rec.events).toEqual(["garp-fired", "garp-sent"]); // fired at once, then arping ran to its end and said so
    } finally {
      announcer.close();
    }
    expect(announcer.armed()).toBe(false);
    expect(await announcer.announce()).toMatchObject({ ok: true, armed: false }); // closed: nothing armed, the announcement forks arping
    await removeVip(vip, inHost("b"));
  });

  test("IPv6: add without DAD, the unsolicited NA repoints the client on a move, remove is idempotent", async () => {
    const vip = { cidr: "2001:db8::30/64", iface: "eth0" };
    expect((await addVip(vip, inHost("a"))).detail).toBe("done");
    expect((await addVip(vip, inHost("a"))).detail).toBe("already so");
    expect(await vipPresent(vip, inHost("a"))).toBe(true);
    expect((await topo.exec("client", ["ping", "-6", "-c", "1", "-W", "1", "2001:db8::30"])).code).toBe(0);
    expect(await clientNeighMac("2001:db8::30")).toBe(await macOf("a"));
    expect((await removeVip(vip, inHost("a"))).detail).toBe("done");
    const t0 = performance.now();
    await addVip(vip, inHost("b"));
    // Within ~1 s DAD would not even have finished: this is the kernel's NA at add time.
    expect(await waitNeighMac("2001:db8::30", await macOf("b"))).toBe(await macOf("b"));
    expect(performance.now() - t0).toBeLessThan(900);
    expect((await removeVip(vip, inHost("b"))).detail).toBe("done");
    expect((await removeVip(vip, inHost("b"))).detail).toBe("already so");
    expect(await vipPresent(vip, inHost("b"))).toBe(false);
  });

  test("a missing interface is actuate_failed, with the command and its stderr", async () => {
    const err = await addVip({ cidr: "198.51.100.30/24", iface: "nope0" }, inHost("a")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UmbraError);
    expect((err as UmbraError).code).toBe("actuate_failed");
    expect((err as UmbraError).message).toMatch(/ip addr add 198.51.100.30\/24 dev nope0 failed \(exit \d+\): .*nope0/);
    await expect(vipPresent({ cidr: "198.51.100.30/24", iface: "nope0" }, inHost("a"))).rejects.toThrow(/actuate|nope0/);
  });

  test("through one ip -batch process: add and del of both families, idempotent, ip's errors as they are, and a dead or wedged batch process falls back to a fork", async () => {
    const b = ipBatch({ prefix: ["ip", "netns", "exec", topo.ns("a")], fallback: inHost("a") });
    try {
      const v4 = { cidr: "198.51.100.33/24", iface: "eth0" };
      const v6 = { cidr: "2001:db8::33/64", iface: "eth0" };
      const { log } = recorder();
      expect((await addVip(v4, b.run, log)).detail).toBe("done");
      expect((await addVip(v4, b.run, log)).detail).toBe("already so");
      expect((await addVip(v6, b.run, log)).detail).toBe("done");
      expect(await vipPresent(v4, inHost("a"))).toBe(true);
      expect(await vipPresent(v6, inHost("a"))).toBe(true);
      const times: number[] = [];
      for (const v of [v4, v6]) {
        const r = await removeVip(v, b.run);
        expect(r.detail).toBe("done");
        times.push(r.durationMs);
        expect((await removeVip(v, b.run)).detail).toBe("already so");
        expect(await vipPresent(v, inHost("a"))).toBe(false);
      }
      console.log(`ip -batch: del ${times.map((t) => t.toFixed(2)).join(" / ")} ms`);
      const err = await addVip({ cidr: "198.51.100.30/24", iface: "nope0" }, b.run).catch((e: unknown) => e);
      expect((err as UmbraError).message).toMatch(/ip addr add 198.51.100.30\/24 dev nope0 failed \(exit 1\): .*nope0/);
      // Adds, dels and the failure went through the batch; the IPv6 add's sysctl and the two gratuitous ARPs were forked.
      expect(b.counts()).toEqual({ batch: 8, fallback: 3, queueFull: 0 });
      // The batch process dies: the next change starts a new one.
      b.close();
      await sleep(100);
      expect((await addVip(v4, b.run, log)).detail).toBe("done");
      expect(b.counts().batch).toBe(9);
      // A wedged one (here: stopped) is killed at the time limit and its command forked instead.
      const w = ipBatch({ prefix: ["ip", "netns", "exec", topo.ns("a"), "sh", "-c", 'kill -STOP $$; exec "$@"', "sh"], fallback: inHost("a"), timeoutMs: 200 });
      expect((await removeVip(v4, w.run)).detail).toBe("done");
      expect(w.counts()).toEqual({ batch: 0, fallback: 1, queueFull: 0 });
      w.close();
    } finally {
      b.close();
    }
  });
});

describe("runner failures", () => {
  test("a command that cannot run is actuate_failed, never 'already so'", async () => {
    const missing: Runner = async () => ({ code: 255, stdout: "", stderr: 'exec of "ip" failed: No such file or directory' });
    await expect(removeVip({ cidr: "198.51.100.30/24", iface: "eth0" }, missing)).rejects.toThrow(/No such file/);
  });
  test("what goes to the batch process: address changes only, without -6, nothing it would split or quote differently", () => {
    expect(batchLine(["ip", "addr", "add", "198.51.100.30/24", "dev", "eth0"])).toBe("addr add 198.51.100.30/24 dev eth0");
    expect(batchLine(["ip", "-6", "addr", "del", "2001:db8::30/64", "dev", "eth0.100"])).toBe("addr del 2001:db8::30/64 dev eth0.100");
    expect(batchLine(["ip", "-j", "addr", "show", "dev", "eth0"])).toBeNull();
    expect(batchLine(["sysctl", "-q", "-w", "x=1"])).toBeNull();
    expect(batchLine(["ip", "addr", "add", "198.51.100.30/24", "dev", "eth 0"])).toBeNull();
    expect(batchLine(["ip", "addr", "add", "198.51.100.30/24", "dev", "#eth0"])).toBeNull();
  });
  test("the arguments each change sends", async () => {
    const seen: string[][] = [];
    const ok: Runner = async (argv) => (seen.push(argv), { code: 0, stdout: "", stderr: "" });
    await addVip({ cidr: "2001:db8::30/64", iface: "eth0.100" }, ok);
    await removeVip({ cidr: "198.51.100.30/24", iface: "eth0" }, ok);
    expect(seen).toEqual([
      ["sysctl", "-q", "-w", "net/ipv6/conf/eth0.100/accept_dad=0", "net/ipv6/conf/eth0.100/ndisc_notify=1"],
      ["ip", "-6", "addr", "add", "2001:db8::30/64", "dev", "eth0.100"],
      ["ip", "addr", "del", "198.51.100.30/24", "dev", "eth0"],
    ]);
  });
});

describe("where a VIP can reach its clients", () => {
  const a = (address: string, family: "IPv4" | "IPv6") => ({ address, family, netmask: "", mac: "", internal: false, cidr: null }) as unknown as NetworkInterfaceInfo;
  const ifaces = { eth0: [a("198.51.100.7", "IPv4"), a("2001:db8::7", "IPv6")], eth1: [a("203.0.113.7", "IPv4")], lo: [a("127.0.0.1", "IPv4")] };
  test.each([
    ["198.51.100.10/24", "eth0", null],
    ["2001:db8::10/64", "eth0", null],
    ["198.51.100.10/24", "eth9", "interface eth9 does not exist here (interfaces: eth0, eth1, lo)"],
    ["198.51.100.10/24", "eth1", "eth1 has no address of its own in 198.51.100.10/24's subnet: the VIP added here would reach no client of that subnet"],
    ["2001:db9::10/64", "eth0", "eth0 has no address of its own in 2001:db9::10/64's subnet: the VIP added here would reach no client of that subnet"],
  ])("%s on %s: %p", (cidr, iface, why) => {
    expect(vipPlacementIssue({ cidr, iface }, ifaces)).toBe(why);
  });
  test("the VIP itself (still up after a crash) is not an address of the host's own", () => {
    expect(vipPlacementIssue({ cidr: "203.0.113.10/24", iface: "eth0" }, { eth0: [a("203.0.113.10", "IPv4")] })).toMatch(/has no address of its own/);
  });
});
