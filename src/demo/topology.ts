// Network namespaces for the demo, the scenario tests and the benchmark: a
// "switch" namespace holding a bridge, and one namespace per host with a
// veth `eth0` whose other end is plugged into the bridge. Nothing touches
// the root namespace's interfaces, and every address must lie in the
// documentation ranges 198.51.100.0/24 and 2001:db8::/32.
//
// Two ways to break a host off the switch:
// - cutLink takes the switch side of its veth down, like pulling the cable.
//   A veth reports its peer's state as carrier, so the host's eth0 stays
//   administratively UP but goes NO-CARRIER: software watching the link
//   (keepalived does) notices.
// - partition disables the host's bridge port (STP state 0): frames are
//   dropped and the host's carrier stays up, so only a protocol notices.
// A host may sit behind a NAT router instead (HostSpec.nat): the router's
// namespace has the host's switch address on its eth0 and masquerades the
// host's LAN behind it, keeping source ports ("preserving", what most home
// and office routers do) or drawing a new random port for every destination
// ("random", carrier-grade and some enterprise NATs); its forward chain lets
// in only replies, as a NAT does. The switch is then "the internet"
// (203.0.113.0/24) and each host's LAN a /30 of 198.51.100.0/24.
//
// A caller that needs finer faults (one direction only, or a share of the
// frames) can put its own rules on the host's switch port: switchPort names
// it and execSwitch runs a command in the switch namespace. Frames dropped
// there are lost on the wire: the host's own sends see no error.

import { spawn, execFile, execFileSync, type ChildProcess } from "node:child_process";
import { isIPv4, isIPv6 } from "node:net";
import { constants } from "node:os";
import { UmbraError } from "../shared/errors.ts";
import { assert } from "../shared/assert.ts";

/** Hosts in one topology at most. */
export const HOSTS_MAX = 16;
/** Children of one topology at most; a test that spawns more has a bug. */
export const CHILDREN_MAX = 64;
/** How long a child gets after SIGTERM before SIGKILL. */
export const KILL_GRACE_MS = 2_000;
/** After SIGKILL, how long destroy() waits for the exit to be reported. */
const KILL_REAP_MS = 1_000;
/** A command run with exec() gets this long (ping, sysctl and `ip` take milliseconds). */
export const EXEC_TIMEOUT_MS = 30_000;
const OUTPUT_BYTES_MAX = 8 * 1024 * 1024;
/** Linux IFNAMSIZ minus the terminating NUL. */
const IFNAME_CHARS_MAX = 15;

/** A NAT between a host and the switch: how the router maps the host's ports, and the host's LAN (a /30: the router .1, the host .2 of it). */
export type NatSpec = { kind: "preserving" | "random"; lan: string };
export type HostSpec = { name: string; ipv4: string; ipv6?: string; nat?: NatSpec };
export type TopologyOptions = { prefix: string; subnet: string; hosts: HostSpec[] };
export type ExecResult = { code: number; stdout: string; stderr: string };

export type Topology = {
  /** The namespace name of a host. */
  ns(name: string): string;
  /** Runs argv (no shell) inside the host's namespace; resolves with any exit code. */
  exec(name: string, argv: string[]): Promise<ExecResult>;
  /** Starts argv inside the host's namespace in its own process group; destroy() kills the group. */
  spawn(name: string, argv: string[], opts: { env?: Record<string, string> }): ChildProcess;
  /** Takes the switch side of the host's cable down: the host's eth0 stays UP but loses carrier. */
  cutLink(name: string): Promise<void>;
  restoreLink(name: string): Promise<void>;
  /** Disables the host's bridge port: frames are dropped, the host's carrier stays up (a silent partition). */
  partition(name: string): Promise<void>;
  heal(name: string): Promise<void>;
  /** The switch side of the host's cable (an interface of the switch namespace). */
  switchPort(name: string): string;
  /** Runs argv (no shell) inside the switch namespace; resolves with any exit code. */
  execSwitch(argv: string[]): Promise<ExecResult>;
  /** Addresses (without prefix) on all the host's interfaces, from `ip -n NS -j addr`. */
  addrs(name: string): Promise<string[]>;
  destroy(): Promise<void>;
};

const NAME_RE = /^[a-z0-9-]{1,10}$/;

type Live = { pids(): number[]; namespaces(): string[] };
/** Topologies not yet destroyed: the exit and signal safety net cleans these up. */
const live = new Set<Live>();

function netnsUnavailable(detail: string, cause?: unknown): UmbraError {
  return new UmbraError(
    "netns_unavailable",
    `network namespaces need root and iproute2 (ip netns): ${detail} (run as root; scripts/ensure-system.sh installs iproute2)`,
    {},
    cause,
  );
}

function run(cmd: string, args: string[]): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: OUTPUT_BYTES_MAX, timeout: EXEC_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (err === null) return resolve({ code: 0, stdout, stderr });
      const e = err as NodeJS.ErrnoException & { code?: string | number; killed?: boolean };
      if (typeof e.code === "string") return reject(err); // could not start (ENOENT, EACCES)
      resolve({ code: typeof e.code === "number" ? e.code : -1, stdout, stderr: e.killed ? `${stderr}(killed after ${EXEC_TIMEOUT_MS} ms)` : stderr });
    });
  });
}

/** `ip ARGS` in the root namespace (only netns management and `ip -n`); any failure is netns_unavailable. */
async function ip(args: string[]): Promise<string> {
  let r: ExecResult;
  try {
    r = await run("ip", args);
  } catch (err) {
    throw netnsUnavailable(`cannot run \`ip\`: ${(err as Error).message}`, err);
  }
  if (r.code !== 0) throw netnsUnavailable(`ip ${args.join(" ")} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

export async function listNamespaces(): Promise<string[]> {
  const out = await ip(["netns", "list"]);
  return out
    .split("\n")
    .map((l) => l.split(" ")[0]!.trim())
    .filter((l) => l.length > 0);
}

/** Removes namespaces left by a crashed run with this prefix, and the processes in them. */
export async function cleanupStale(prefix: string): Promise<void> {
  assert(NAME_RE.test(prefix), `prefix ${prefix} matches ${NAME_RE}`);
  if (process.getuid?.() !== 0) return; // nothing a non-root run could have left
  for (const ns of await listNamespaces()) {
    if (!ns.startsWith(prefix)) continue;
    await killNamespaceProcesses(ns);
    await ip(["netns", "del", ns]).catch(() => undefined); // raced with another cleanup
  }
}

async function namespacePids(ns: string): Promise<number[]> {
  const out = await ip(["netns", "pids", ns]).catch(() => ""); // the namespace may be gone
  return out
    .split("\n")
    .map((x) => Number(x.trim()))
    .filter((x) => Number.isInteger(x) && x > 1);
}

async function killNamespaceProcesses(ns: string): Promise<void> {
  for (const pid of await namespacePids(ns)) killQuietly(pid, "SIGKILL");
}

/** Signals a pid (negative: a process group); a process already gone is fine. */
function killQuietly(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
  }
}

function checkOptions(o: TopologyOptions): void {
  assert(NAME_RE.test(o.prefix), `prefix ${o.prefix} matches ${NAME_RE}`);
  assert(o.hosts.length >= 1 && o.hosts.length <= HOSTS_MAX, `1..${HOSTS_MAX} hosts`);
  const m = /^(198\.51\.100|203\.0\.113)\.\d{1,3}\/(\d{1,2})$/.exec(o.subnet);
  assert(m !== null && Number(m[2]) >= 24 && Number(m[2]) <= 30, `subnet ${o.subnet} lies inside 198.51.100.0/24 or 203.0.113.0/24`);
  const net = `${m[1]}.`;
  const names = new Set<string>();
  for (const h of o.hosts) {
    assert(NAME_RE.test(h.name), `host name ${h.name} matches ${NAME_RE}`);
    assert(h.name !== "sw", "host name sw is the switch's");
    assert(!names.has(h.name), `host name ${h.name} is unique`);
    names.add(h.name);
    assert(isIPv4(h.ipv4) && h.ipv4.startsWith(net), `${h.name} ipv4 ${h.ipv4} lies inside the subnet ${o.subnet}`);
    if (h.nat !== undefined) {
      const lan = /^198\.51\.100\.(\d{1,3})\/30$/.exec(h.nat.lan);
      assert(lan !== null && Number(lan[1]) % 4 === 0 && Number(lan[1]) <= 252, `${h.name} nat.lan ${h.nat.lan} is a /30 inside 198.51.100.0/24`);
      assert(h.ipv6 === undefined, `${h.name} behind a NAT has no ipv6`);
    }
    if (h.ipv6 !== undefined) assert(isIPv6(h.ipv6) && /^2001:0?db8:/i.test(h.ipv6), `${h.name} ipv6 ${h.ipv6} lies inside 2001:db8::/32`);
  }
}

/** Switch-side veth names: `${prefix}${name}` when it fits IFNAMSIZ, else the prefix and the host's index. */
function switchPorts(prefix: string, hosts: HostSpec[]): Map<string, string> {
  const ports = new Map<string, string>();
  hosts.forEach((h, i) => {
    const full = `${prefix}${h.name}`;
    ports.set(h.name, full.length <= IFNAME_CHARS_MAX ? full : `${prefix.slice(0, IFNAME_CHARS_MAX - 4)}p${i}`);
  });
  assert(new Set(ports.values()).size === ports.size, "switch port names are unique");
  for (const p of ports.values()) assert(p.length <= IFNAME_CHARS_MAX && p !== "br0" && p !== "lo", `switch port ${p} is a usable name`);
  return ports;
}

/** STP port states of a bridge port: disabled (drops everything) and forwarding. */
const STP_DISABLED = 0;
const STP_FORWARDING = 3;
/** The prefix length of a host's IPv6 address. */
const IPV6_PREFIX_LEN = 64;

/** What the parts of one topology share: names, and the children it started. */
type Names = {
  o: TopologyOptions;
  /** The switch namespace. */
  sw: string;
  ns(name: string): string;
  /** The switch side of a host's cable. */
  port(name: string): string;
};

export async function createTopology(o: TopologyOptions): Promise<Topology> {
  checkOptions(o);
  if (process.getuid?.() !== 0) throw netnsUnavailable("this process is not root");
  await ip(["netns", "list"]); // iproute2 present and netns supported, before anything is created
  const hostNames = new Set(o.hosts.map((h) => h.name));
  const ports = switchPorts(o.prefix, o.hosts);
  const ns = (name: string): string => {
    assert(hostNames.has(name), `host ${name} is in this topology`);
    return `${o.prefix}${name}`;
  };
  const names: Names = { o, sw: `${o.prefix}sw`, ns, port: (name) => ports.get(name) ?? ns(name) }; // ns() asserts the name
  const children = new Set<ChildProcess>();
  const entry: Live = {
    pids: () => [...children].map((c) => c.pid).filter((x): x is number => x !== undefined),
    namespaces: () => [...o.hosts.flatMap((h) => [`${o.prefix}${h.name}`, ...(h.nat === undefined ? [] : [routerNs(o.prefix, h.name)])]), names.sw],
  };
  const topo = topologyHandle(names, children, entry);
  live.add(entry);
  armSafetyNet();
  try {
    await buildSwitch(names.sw);
    for (const h of o.hosts) await (h.nat === undefined ? plugHost(topo, names, h) : plugNatHost(names, h, h.nat));
  } catch (err) {
    await topo.destroy();
    throw err;
  }
  return topo;
}

async function buildSwitch(sw: string): Promise<void> {
  await ip(["netns", "add", sw]);
  await ip(["-n", sw, "link", "set", "lo", "up"]);
  await ip(["-n", sw, "link", "add", "br0", "type", "bridge"]);
  await ip(["-n", sw, "link", "set", "br0", "up"]);
}

/** A host's namespace, its eth0 cabled to the bridge, its sysctls and addresses. */
async function plugHost(topo: Topology, n: Names, h: HostSpec): Promise<void> {
  const { sw } = n;
  const hns = n.ns(h.name);
  const prefixLen = n.o.subnet.split("/")[1]!;
  await ip(["netns", "add", hns]);
  await ip(["-n", hns, "link", "add", "eth0", "type", "veth", "peer", "name", n.port(h.name), "netns", sw]);
  await ip(["-n", sw, "link", "set", n.port(h.name), "master", "br0"]);
  await ip(["-n", sw, "link", "set", n.port(h.name), "up"]);
  await ip(["-n", hns, "link", "set", "lo", "up"]);
  // arp_accept: neighbours create and update entries from gratuitous ARP.
  // accept_dad=0: addresses are usable at once and the kernel sends an
  // unsolicited NA for each new one when ndisc_notify is set (see actuate/vip.ts).
  const sysctls = ["net/ipv4/conf/all/arp_accept=1", "net/ipv4/conf/eth0/arp_accept=1"];
  if (h.ipv6 !== undefined) sysctls.push("net/ipv6/conf/eth0/accept_dad=0");
  const r = await topo.exec(h.name, ["sysctl", "-q", "-w", ...sysctls]);
  if (r.code !== 0) throw netnsUnavailable(`sysctl in ${hns} failed: ${r.stderr.trim()}`);
  await ip(["-n", hns, "addr", "add", `${h.ipv4}/${prefixLen}`, "dev", "eth0"]);
  if (h.ipv6 !== undefined) await ip(["-n", hns, "addr", "add", `${h.ipv6}/${IPV6_PREFIX_LEN}`, "dev", "eth0"]);
  await ip(["-n", hns, "link", "set", "eth0", "up"]);
}

/** The namespace of the NAT router in front of a host. */
const routerNs = (prefix: string, host: string): string => `${prefix}${host}-gw`;

/** `ip netns exec NS ARGV` that must succeed; any failure is netns_unavailable. */
async function inNs(ns: string, argv: string[]): Promise<void> {
  let r: ExecResult;
  try {
    r = await run("ip", ["netns", "exec", ns, ...argv]);
  } catch (err) {
    throw netnsUnavailable(`cannot run \`ip netns exec\`: ${(err as Error).message}`, err);
  }
  if (r.code !== 0) throw netnsUnavailable(`${argv.join(" ")} in ${ns} failed: ${r.stderr.trim()}`);
}

/**
 * A host behind a NAT router: the router's eth0 on the switch with the
 * host's switch address, its lan0 cabled to the host's eth0. The host's
 * default route goes through the router, which masquerades (keeping source
 * ports, or fully random ones) and forwards inbound only what answers
 * outbound traffic.
 */
async function plugNatHost(n: Names, h: HostSpec, nat: NatSpec): Promise<void> {
  const rns = routerNs(n.o.prefix, h.name);
  const hns = n.ns(h.name);
  const prefixLen = n.o.subnet.split("/")[1]!;
  const base = nat.lan.split("/")[0]!.split(".").map(Number);
  const lanAddr = (i: number): string => [...base.slice(0, 3), base[3]! + i].join(".");
  await ip(["netns", "add", rns]);
  await ip(["netns", "add", hns]);
  await ip(["-n", rns, "link", "add", "eth0", "type", "veth", "peer", "name", n.port(h.name), "netns", n.sw]);
  await ip(["-n", n.sw, "link", "set", n.port(h.name), "master", "br0"]);
  await ip(["-n", n.sw, "link", "set", n.port(h.name), "up"]);
  await ip(["-n", rns, "link", "add", "lan0", "type", "veth", "peer", "name", "eth0", "netns", hns]);
  for (const [ns, dev, addr] of [[rns, "eth0", `${h.ipv4}/${prefixLen}`], [rns, "lan0", `${lanAddr(1)}/30`], [hns, "eth0", `${lanAddr(2)}/30`]] as const) {
    await ip(["-n", ns, "link", "set", "lo", "up"]);
    await ip(["-n", ns, "addr", "add", addr, "dev", dev]);
    await ip(["-n", ns, "link", "set", dev, "up"]);
  }
  await ip(["-n", hns, "route", "add", "default", "via", lanAddr(1)]);
  await inNs(rns, ["sysctl", "-q", "-w", "net/ipv4/ip_forward=1"]);
  const masquerade = nat.kind === "random" ? "masquerade fully-random" : "masquerade";
  await inNs(rns, [
    "nft",
    [
      "add table ip nat",
      "add chain ip nat post { type nat hook postrouting priority srcnat; }",
      `add rule ip nat post oifname "eth0" ${masquerade}`,
      "add table ip filter",
      "add chain ip filter through { type filter hook forward priority filter; policy drop; }",
      `add rule ip filter through iifname "lan0" accept`,
      "add rule ip filter through ct state established,related accept",
      // Unsolicited packets to the router itself are dropped before their
      // conntrack entry is confirmed, as a home router's firewall does: one
      // kept would take the port the LAN host's next packet to that peer
      // needs, and masquerade would give it another (no hole-punching).
      "add chain ip filter in { type filter hook input priority filter; policy drop; }",
      `add rule ip filter in iifname != "eth0" accept`,
      "add rule ip filter in ct state established,related accept",
    ].join("; "),
  ]);
}

/** The Topology's operations over its names and children. */
function topologyHandle(n: Names, children: Set<ChildProcess>, entry: Live): Topology {
  const { ns, port, sw } = n;
  let destroyed = false;
  return {
    ns,
    async exec(name, argv) {
      assert(argv.length > 0, "argv names a command");
      try {
        return await run("ip", ["netns", "exec", ns(name), ...argv]);
      } catch (err) {
        throw netnsUnavailable(`cannot run \`ip netns exec\`: ${(err as Error).message}`, err);
      }
    },
    spawn(name, argv, opts) {
      assert(!destroyed, "topology alive");
      assert(children.size < CHILDREN_MAX, `at most ${CHILDREN_MAX} children`);
      assert(argv.length > 0, "argv names a command");
      const p = spawn("ip", ["netns", "exec", ns(name), ...argv], {
        stdio: ["ignore", "pipe", "pipe"],
        detached: true, // own process group: destroy() kills the whole tree
        env: { ...process.env, ...opts.env },
      });
      children.add(p);
      p.once("exit", () => children.delete(p));
      p.once("error", () => children.delete(p)); // the spawner sees the error on its own listener
      return p;
    },
    cutLink: async (name) => void (await ip(["-n", sw, "link", "set", port(name), "down"])),
    restoreLink: async (name) => void (await ip(["-n", sw, "link", "set", port(name), "up"])),
    partition: (name) => bridgePortState(sw, port(name), STP_DISABLED),
    heal: (name) => bridgePortState(sw, port(name), STP_FORWARDING),
    switchPort: port,
    async execSwitch(argv) {
      assert(argv.length > 0, "argv names a command");
      try {
        return await run("ip", ["netns", "exec", sw, ...argv]);
      } catch (err) {
        throw netnsUnavailable(`cannot run \`ip netns exec\`: ${(err as Error).message}`, err);
      }
    },
    async addrs(name) {
      const out = await ip(["-n", ns(name), "-j", "addr", "show"]);
      const links = JSON.parse(out) as Array<{ addr_info?: Array<{ local?: string }> }>;
      return links.flatMap((l) => (l.addr_info ?? []).flatMap((a) => (a.local === undefined ? [] : [a.local])));
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await Promise.all([...children].map(killTree));
      // Whatever escaped the process groups (a daemon's setsid child) dies with its namespace.
      for (const name of entry.namespaces()) {
        await killNamespaceProcesses(name);
        await ip(["netns", "del", name]).catch(() => undefined); // never created, or already gone
      }
      live.delete(entry);
      if (live.size === 0) disarmSafetyNet();
    },
  };
}

/** Sets a bridge port's STP state (STP_DISABLED or STP_FORWARDING). */
async function bridgePortState(sw: string, port: string, state: typeof STP_DISABLED | typeof STP_FORWARDING): Promise<void> {
  let r: ExecResult;
  try {
    r = await run("ip", ["netns", "exec", sw, "bridge", "link", "set", "dev", port, "state", String(state)]);
  } catch (err) {
    throw netnsUnavailable(`cannot run \`bridge\`: ${(err as Error).message}`, err);
  }
  if (r.code !== 0) throw netnsUnavailable(`bridge link set dev ${port} state ${state} failed: ${r.stderr.trim()}`);
}

/** SIGTERM to the child's process group, SIGKILL after KILL_GRACE_MS; resolves once it exited (bounded). */
function killTree(p: ChildProcess): Promise<void> {
  return new Promise((res) => {
    if (p.exitCode !== null || p.signalCode !== null || p.pid === undefined) return res();
    const pgid = -p.pid;
    const timers: NodeJS.Timeout[] = [];
    const done = () => {
      for (const t of timers) clearTimeout(t);
      res();
    };
    p.once("exit", done);
    timers.push(setTimeout(() => killQuietly(pgid, "SIGKILL"), KILL_GRACE_MS));
    timers.push(setTimeout(done, KILL_GRACE_MS + KILL_REAP_MS));
    killQuietly(pgid, "SIGTERM");
  });
}

/** Synchronous last-resort cleanup: kills every process group and namespace process, deletes the namespaces. */
function cleanupAllSync(): void {
  for (const t of live) {
    for (const pid of t.pids()) killQuietly(-pid, "SIGKILL");
    for (const n of t.namespaces()) {
      try {
        const pids = execFileSync("ip", ["netns", "pids", n], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
        for (const x of pids.split("\n").map(Number).filter((x) => Number.isInteger(x) && x > 1)) killQuietly(x, "SIGKILL");
        execFileSync("ip", ["netns", "del", n], { stdio: "ignore" });
      } catch {
        // The namespace is gone already (or never got created): nothing to clean.
      }
    }
  }
  live.clear();
}

// Safety net: a run that exits or is interrupted without destroy() still
// removes its namespaces. Armed only while a topology is alive, so a process
// done with them keeps the default signal behaviour.
const onExit = () => cleanupAllSync();
const onSignal = (sig: NodeJS.Signals) => {
  cleanupAllSync();
  disarmSafetyNet();
  // Another listener (the demo's) decides how to exit; otherwise die as the signal would.
  if (process.listenerCount(sig) === 0) process.exit(128 + constants.signals[sig]);
};
let armed = false;
function armSafetyNet(): void {
  if (armed) return;
  armed = true;
  process.on("exit", onExit);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}
function disarmSafetyNet(): void {
  if (!armed) return;
  armed = false;
  process.off("exit", onExit);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
}
