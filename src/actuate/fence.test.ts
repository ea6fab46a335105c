// Proves the kernel-side lease on the real kernel in namespaces: a host
// whose VIP is fenced answers neither ping nor ARP for it (IPv4) nor ping
// (IPv6), though the address stays on its interface; a lease lets it answer;
// a lease not refreshed runs out in the kernel on time with no process of
// ours doing anything; a lease resolves once applied; refreshes keep it
// answering; an unlease ends it at
// once; a ruleset flush (a firewall reload) is undone at the next lease;
// removing the fence (what `umbra release` does) leaves the host as it was.
// The nft lines themselves are checked as text too.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTopology, cleanupStale, type Topology } from "../demo/index.ts";
import { fenceRuleset, leaseLine, nftPath, openFence, removeFence, REINSTALL_INTERVAL_MIN_MS, TEARDOWN, unleaseLine, type Fence } from "./fence.ts";
import type { Runner } from "./vip.ts";

const PREFIX = "uf-";
const VIP4 = "198.51.100.50";
const VIP6 = "2001:db8::50";
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("fence.test.ts: skipping the netns tests: they need root (network namespaces)");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("the lines: a refresh re-adds in one transaction, per table; IPv6 lives only in inet; a bad timeout is a bug", () => {
  expect(leaseLine(VIP4, 300).split("; ")).toEqual([
    `add element inet umbra_fence lease4 { ${VIP4} timeout 1ms }`,
    `delete element inet umbra_fence lease4 { ${VIP4} }`,
    `add element inet umbra_fence lease4 { ${VIP4} timeout 300ms }`,
    `add element arp umbra_fence lease4 { ${VIP4} timeout 1ms }`,
    `delete element arp umbra_fence lease4 { ${VIP4} }`,
    `add element arp umbra_fence lease4 { ${VIP4} timeout 300ms }`,
  ]);
  expect(unleaseLine(VIP6)).toBe(`add element inet umbra_fence lease6 { ${VIP6} timeout 1ms }; delete element inet umbra_fence lease6 { ${VIP6} }`);
  expect(() => leaseLine(VIP4, 0)).toThrow();
  expect(() => leaseLine(VIP4, 1.5)).toThrow();
  expect(fenceRuleset([VIP4, VIP6])).toContain(`set vips6 { type ipv6_addr; elements = { ${VIP6} }; }`);
  expect(fenceRuleset([])).not.toContain("elements");
});

describe.skipIf(!isRoot)("netns", () => {
  let topo: Topology;
  let fence: Fence;
  const errors: string[] = [];
  const reinstalls: Array<string | null> = [];
  const inHost = (name: string): Runner => (argv) => topo.exec(name, argv);
  const pings = async (addr: string): Promise<boolean> => (await topo.exec("client", ["ping", ...(addr.includes(":") ? ["-6"] : []), "-c", "1", "-W", "1", addr])).code === 0;
  /** Whether `holder` answers an ARP request for the VIP (arping exits 0 on a reply). */
  const arpAnswered = async (): Promise<boolean> => (await topo.exec("client", ["arping", "-c", "1", "-w", "1", "-I", "eth0", VIP4])).code === 0;
  const forgetNeighbours = () => topo.exec("client", ["ip", "neigh", "flush", "dev", "eth0"]);

  beforeAll(async () => {
    await cleanupStale(PREFIX);
    topo = await createTopology({
      prefix: PREFIX,
      subnet: "198.51.100.0/24",
      hosts: [
        { name: "holder", ipv4: "198.51.100.51", ipv6: "2001:db8::51" },
        { name: "client", ipv4: "198.51.100.59", ipv6: "2001:db8::59" },
      ],
    });
    for (const a of [[`${VIP4}/24`], ["-6", `${VIP6}/64`]]) {
      const six = a[0] === "-6";
      const r = await topo.exec("holder", ["ip", ...(six ? ["-6"] : []), "addr", "add", a[a.length - 1]!, "dev", "eth0", ...(six ? ["nodad"] : [])]);
      expect(r.stderr).toBe("");
    }
    fence = openFence({ prefix: ["ip", "netns", "exec", topo.ns("holder")], onError: (line, error) => void errors.push(`${error} in ${line}`), onReinstall: (e) => void reinstalls.push(e) });
  });
  afterAll(async () => {
    fence?.close();
    await topo?.destroy();
  });

  test("fenced: the address is there, yet the host answers neither ping nor ARP for it", async () => {
    expect(await pings(VIP4)).toBe(true); // no fence yet: a plain address
    await fence.install([VIP4, VIP6]);
    await forgetNeighbours();
    expect((await topo.exec("holder", ["ip", "-br", "addr", "show", "eth0"])).stdout).toContain(VIP4);
    expect(await pings(VIP4)).toBe(false);
    expect(await pings(VIP6)).toBe(false);
    await forgetNeighbours();
    expect(await arpAnswered()).toBe(false);
    expect(await pings("198.51.100.51")).toBe(true); // the host's own address is not fenced
  });

  test("a lease lets it answer; left alone, the kernel ends it on time and the host goes quiet", async () => {
    fence.lease(VIP4, 1_500);
    fence.lease(VIP6, 1_500);
    await sleep(50);
    const t0 = Date.now();
    expect(await pings(VIP4)).toBe(true);
    expect(await pings(VIP6)).toBe(true);
    await forgetNeighbours();
    expect(await arpAnswered()).toBe(true);
    await sleep(Math.max(0, 1_500 + 100 - (Date.now() - t0)));
    await forgetNeighbours();
    expect(await arpAnswered()).toBe(false);
    expect(await pings(VIP4)).toBe(false);
    expect(await pings(VIP6)).toBe(false);
  });

  test("a lease resolves once nft has applied it: the host answers at once, with no wait", async () => {
    for (let i = 0; i < 3; i++) {
      await fence.unlease(VIP4);
      await forgetNeighbours(); // a fenced VIP's ARP goes unanswered: start each look afresh
      expect(await arpAnswered()).toBe(false);
      await fence.lease(VIP4, 2_000);
      await forgetNeighbours();
      expect(await arpAnswered()).toBe(true);
    }
  }, 15_000);

  test("refreshed shorter than it lives, the lease holds; an unlease ends it at once", async () => {
    for (let i = 0; i < 8; i++) {
      fence.lease(VIP4, 300);
      await sleep(100);
    }
    expect(await pings(VIP4)).toBe(true);
    fence.unlease(VIP4);
    await sleep(20);
    expect(await pings(VIP4)).toBe(false);
    expect(errors).toEqual([]);
  });

  test("nft's refusals come back with the line they name", async () => {
    fence.lease("198.51.100.99", 100); // not a fenced VIP: fine, the set takes any address
    await sleep(50);
    expect(errors).toEqual([]);
    await topo.exec("holder", [nftPath(), TEARDOWN]);
    await fence.lease(VIP4, 100); // the tables are gone: nft refuses, and the refusal answers the write
    for (let i = 0; i < 50 && errors.length === 0; i++) await sleep(20);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toContain("Error");
    errors.length = 0;
  });

  test("a ruleset flush (a firewall reload) takes the tables away: the next lease's refusal puts them back, fenced, and the lease after holds", async () => {
    await sleep(REINSTALL_INTERVAL_MIN_MS); // the test above made one reinstall already
    await fence.install([VIP4, VIP6]);
    const before = reinstalls.length;
    await topo.exec("holder", [nftPath(), "flush", "ruleset"]);
    expect(await pings(VIP4)).toBe(true); // unfenced: the hole the reinstall closes
    fence.lease(VIP4, 5_000); // refused: the tables are gone
    for (let i = 0; i < 100 && reinstalls.length === before; i++) await sleep(20);
    expect(reinstalls.slice(before)).toEqual([null]);
    expect(await pings(VIP4)).toBe(false); // back, fenced
    fence.lease(VIP4, 5_000);
    await sleep(20);
    expect(await pings(VIP4)).toBe(true);
    errors.length = 0;
  });

  test("removing the fence leaves the host as it was, and is idempotent", async () => {
    await fence.install([VIP4, VIP6]);
    expect(await pings(VIP4)).toBe(false);
    await removeFence(inHost("holder"));
    await removeFence(inHost("holder"));
    expect((await topo.exec("holder", [nftPath(), "list", "tables"])).stdout).not.toContain("umbra_fence");
    expect(await pings(VIP4)).toBe(true);
  });
});
