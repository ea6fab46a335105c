// Proves VIP moves on the real kernel stack in namespaces: after an add and
// its gratuitous ARP the client reaches the VIP at the holder's MAC; after a
// move the client's neighbour entry follows the new holder; add and remove
// are idempotent; IPv6 works too.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTopology, cleanupStale, type Topology } from "../demo/topology.ts";
import { addVip, removeVip, vipPresent, announceArp } from "./vip.ts";

const PREFIX = "uv-";
const isRoot = process.getuid?.() === 0;
let topo: Topology;

async function macOf(ns: string): Promise<string> {
  const r = await topo.exec(ns, ["ip", "-j", "link", "show", "eth0"]);
  return (JSON.parse(r.stdout) as Array<{ address: string }>)[0]!.address;
}
async function neighMac(ip: string): Promise<string | null> {
  const r = await topo.exec("client", ["ip", "-j", "neigh", "show", ip]);
  const e = (JSON.parse(r.stdout) as Array<{ lladdr?: string }>)[0];
  return e?.lladdr ?? null;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!isRoot)("netns: VIP add/remove", () => {
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

  test("IPv4: add announces, a move repoints the client, remove is idempotent", async () => {
    const va = { cidr: "198.51.100.30/24", iface: "eth0", netns: topo.ns("a") };
    const vb = { ...va, netns: topo.ns("b") };
    expect((await addVip(va)).detail).toBe("done");
    expect((await addVip(va)).detail).toBe("already so");
    expect(await vipPresent(va)).toBe(true);
    expect((await topo.exec("client", ["ping", "-c", "1", "-W", "1", "198.51.100.30"])).code).toBe(0);
    expect(await neighMac("198.51.100.30")).toBe(await macOf("a"));

    await removeVip(va);
    expect((await removeVip(va)).detail).toBe("already so");
    expect(await vipPresent(va)).toBe(false);
    await addVip(vb);
    // The client learns the new MAC from the gratuitous ARP, without asking.
    const macB = await macOf("b");
    for (let i = 0; i < 50 && (await neighMac("198.51.100.30")) !== macB; i++) await sleep(20);
    expect(await neighMac("198.51.100.30")).toBe(macB);
    expect(await announceArp(vb)).toBe(0);
    await removeVip(vb);
  });

  test("IPv6: add (no DAD wait), the unsolicited NA repoints the client on a move, remove", async () => {
    const va = { cidr: "2001:db8::30/64", iface: "eth0", netns: topo.ns("a") };
    const vb = { ...va, netns: topo.ns("b") };
    await addVip(va);
    expect(await vipPresent(va)).toBe(true);
    expect((await topo.exec("client", ["ping", "-6", "-c", "1", "-W", "1", "2001:db8::30"])).code).toBe(0);
    expect(await neighMac("2001:db8::30")).toBe(await macOf("a"));
    await removeVip(va);
    await addVip(vb);
    const macB = await macOf("b");
    for (let i = 0; i < 50 && (await neighMac("2001:db8::30")) !== macB; i++) await sleep(20);
    expect(await neighMac("2001:db8::30")).toBe(macB);
    await removeVip(vb);
    expect(await vipPresent(vb)).toBe(false);
  });

  test("a missing interface is a clear actuate error", async () => {
    await expect(addVip({ cidr: "198.51.100.30/24", iface: "nope0", netns: topo.ns("a") })).rejects.toThrow(/ip addr add 198.51.100.30\/24 dev nope0 failed/);
  });
});
