// Network namespaces for the demo, the scenario tests and the benchmark: a
// "switch" namespace holding a bridge, and one namespace per host with a
// veth `eth0` whose other end is plugged into the bridge. Cutting a link
// takes the switch side down, like pulling the host's cable: the host still
// believes its link is up. Nothing touches the root namespace's interfaces.

import { spawn, execFile, execFileSync, type ChildProcess } from "node:child_process";
import { promisify } from "node:util";
import { UmbraError } from "../shared/errors.ts";
import { assert } from "../shared/assert.ts";

const run = promisify(execFile);

/** Children of one topology at most; a test that spawns more has a bug. */
export const CHILDREN_MAX = 64;
/** How long a child gets after SIGTERM before SIGKILL. */
export const KILL_GRACE_MS = 2_000;

export type HostSpec = { name: string; ipv4: string; ipv6?: string };
export type TopologyOptions = { prefix: string; subnet: string; hosts: HostSpec[] };

export type Topology = {
  ns(name: string): string;
  exec(name: string, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  spawn(name: string, argv: string[], opts: { env?: Record<string, string> }): ChildProcess;
  /** Takes the switch side of the host's cable down: the host sees its carrier go. */
  cutLink(name: string): Promise<void>;
  restoreLink(name: string): Promise<void>;
  /** Disables the host's bridge port: frames are dropped, the host's carrier stays up (a silent partition). */
  partition(name: string): Promise<void>;
  heal(name: string): Promise<void>;
  /** Addresses (without prefix) on the host's interfaces. */
  addrs(name: string): Promise<string[]>;
  destroy(): Promise<void>;
};

const NAME_RE = /^[a-z0-9-]{1,10}$/;
const live = new Set<Topology & { pids(): number[]; namespaces(): string[] }>();
let exitHookInstalled = false;

async function ip(args: string[]): Promise<string> {
  try {
    const { stdout } = await run("ip", args, { maxBuffer: 8 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; code?: string | number; message: string };
    if (e.code === "ENOENT") throw new UmbraError("netns_unavailable", "`ip` (iproute2) is not installed: run scripts/ensure-system.sh or apt-get install iproute2", {}, err);
    throw new UmbraError("netns_unavailable", `ip ${args.join(" ")} failed: ${(e.stderr ?? e.message).trim()}`, { args }, err);
  }
}

export async function listNamespaces(): Promise<string[]> {
  const out = await ip(["netns", "list"]).catch(() => "");
  return out
    .split("\n")
    .map((l) => l.split(" ")[0]!.trim())
    .filter((l) => l.length > 0);
}

/** Removes namespaces left by a crashed run with this prefix (and the processes in them). */
export async function cleanupStale(prefix: string): Promise<void> {
  assert(NAME_RE.test(prefix.replace(/-$/, "")) || prefix.endsWith("-"), `prefix ${prefix}`);
  for (const ns of await listNamespaces()) {
    if (!ns.startsWith(prefix)) continue;
    await killNamespaceProcesses(ns);
    await ip(["netns", "del", ns]).catch(() => undefined);
  }
}

async function killNamespaceProcesses(ns: string): Promise<void> {
  const pids = (await ip(["netns", "pids", ns]).catch(() => ""))
    .split("\n")
    .map((x) => Number(x.trim()))
    .filter((x) => Number.isInteger(x) && x > 1);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

export async function createTopology(o: TopologyOptions): Promise<Topology> {
  if (process.getuid?.() !== 0) {
    throw new UmbraError("netns_unavailable", "network namespaces need root (ip netns add); run as root");
  }
  for (const h of o.hosts) assert(NAME_RE.test(h.name), `host name ${h.name} matches ${NAME_RE}`);
  const prefixLen = o.subnet.split("/")[1]!;
  const sw = `${o.prefix}sw`;
  const ns = (name: string) => `${o.prefix}${name}`;
  const children = new Set<ChildProcess>();
  let destroyed = false;

  const topo: Topology & { pids(): number[]; namespaces(): string[] } = {
    ns,
    pids: () => [...children].map((c) => c.pid).filter((x): x is number => x !== undefined),
    namespaces: () => [...o.hosts.map((h) => ns(h.name)), sw],
    async exec(name, argv) {
      try {
        const { stdout, stderr } = await run("ip", ["netns", "exec", ns(name), ...argv], { maxBuffer: 8 * 1024 * 1024 });
        return { code: 0, stdout, stderr };
      } catch (err) {
        const e = err as { code?: number; stdout?: string; stderr?: string };
        return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
      }
    },
    spawn(name, argv, opts) {
      assert(children.size < CHILDREN_MAX, "children bounded");
      assert(!destroyed, "topology alive");
      const p = spawn("ip", ["netns", "exec", ns(name), ...argv], {
        stdio: ["ignore", "pipe", "pipe"],
        detached: true, // own process group: destroy() kills the whole tree
        env: { ...process.env, ...opts.env },
      });
      children.add(p);
      p.once("exit", () => children.delete(p));
      return p;
    },
    async cutLink(name) {
      await ip(["-n", sw, "link", "set", vethSw(o.prefix, name), "down"]);
    },
    async restoreLink(name) {
      await ip(["-n", sw, "link", "set", vethSw(o.prefix, name), "up"]);
    },
    async partition(name) {
      await bridgePortState(sw, vethSw(o.prefix, name), 0);
    },
    async heal(name) {
      await bridgePortState(sw, vethSw(o.prefix, name), 3);
    },
    async addrs(name) {
      const out = await ip(["-n", ns(name), "-j", "addr", "show"]);
      const links = JSON.parse(out) as Array<{ addr_info?: Array<{ local: string }> }>;
      return links.flatMap((l) => (l.addr_info ?? []).map((a) => a.local));
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      live.delete(topo);
      await Promise.all([...children].map(killTree));
      for (const h of o.hosts) {
        await killNamespaceProcesses(ns(h.name));
        await ip(["netns", "del", ns(h.name)]).catch(() => undefined);
      }
      await ip(["netns", "del", sw]).catch(() => undefined);
    },
  };

  live.add(topo);
  installExitHook();
  try {
    await ip(["netns", "add", sw]);
    await ip(["-n", sw, "link", "add", "br0", "type", "bridge"]);
    await ip(["-n", sw, "link", "set", "br0", "up"]);
    await ip(["-n", sw, "link", "set", "lo", "up"]);
    for (const h of o.hosts) {
      const hns = ns(h.name);
      await ip(["netns", "add", hns]);
      const swSide = vethSw(o.prefix, h.name);
      await ip(["-n", hns, "link", "add", "eth0", "type", "veth", "peer", "name", swSide, "netns", sw]);
      await ip(["-n", sw, "link", "set", swSide, "master", "br0"]);
      await ip(["-n", sw, "link", "set", swSide, "up"]);
      await ip(["-n", hns, "link", "set", "lo", "up"]);
      await ip(["-n", hns, "addr", "add", `${h.ipv4}/${prefixLen}`, "dev", "eth0"]);
      if (h.ipv6 !== undefined) await ip(["-n", hns, "addr", "add", `${h.ipv6}/64`, "dev", "eth0", "nodad"]);
      await ip(["-n", hns, "link", "set", "eth0", "up"]);
      // Neighbours learn new entries from gratuitous ARP only with arp_accept.
      await run("ip", ["netns", "exec", hns, "sysctl", "-q", "-w", "net.ipv4.conf.all.arp_accept=1", "net.ipv4.conf.eth0.arp_accept=1"]);
    }
  } catch (err) {
    await topo.destroy();
    throw err;
  }
  return topo;
}

/** STP port state: 0 disabled (drops everything), 3 forwarding. */
async function bridgePortState(sw: string, port: string, state: 0 | 3): Promise<void> {
  try {
    await run("ip", ["netns", "exec", sw, "bridge", "link", "set", "dev", port, "state", String(state)]);
  } catch (err) {
    throw new UmbraError("netns_unavailable", `bridge link set dev ${port} state ${state} failed: ${((err as { stderr?: string }).stderr ?? String(err)).trim()}`, {}, err);
  }
}

/** The switch-side veth name: fits IFNAMSIZ (15). */
function vethSw(prefix: string, name: string): string {
  const n = `${prefix}${name}`.replace(/-/g, "");
  return `v${n}`.slice(0, 15);
}

function killTree(p: ChildProcess): Promise<void> {
  return new Promise((res) => {
    if (p.exitCode !== null || p.signalCode !== null || p.pid === undefined) return res();
    const timer = setTimeout(() => {
      try {
        process.kill(-p.pid!, "SIGKILL");
      } catch {
        // gone
      }
    }, KILL_GRACE_MS);
    p.once("exit", () => {
      clearTimeout(timer);
      res();
    });
    try {
      process.kill(-p.pid, "SIGTERM");
    } catch {
      clearTimeout(timer);
      res();
    }
  });
}

/** Safety net: a test runner or demo that exits without destroy() still removes its namespaces. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const t of live) {
      for (const pid of t.pids()) {
        try {
          process.kill(-pid, "SIGKILL");
        } catch {
          // gone
        }
      }
      for (const n of t.namespaces()) {
        try {
          execFileSync("ip", ["netns", "del", n], { stdio: "ignore" });
        } catch {
          // already gone
        }
      }
    }
  });
}
