// The in-memory twin of the VIP kernel: a Runner (actuate/vip.ts's
// contract: argv in, exit code and output out, a rejection only when the
// command cannot run at all) that keeps each interface's addresses in
// memory and answers the commands addVip, removeVip and vipPresent send as
// iproute2, procps sysctl and iputils arping answer them on Linux 6.x, with
// their exit codes and their words (seen in a namespace: `ip addr add` of a
// present address exits 2 with "Error: ipv4: Address already assigned.", a
// missing interface exits 1 with `Cannot find device "X"`). One acceptance
// suite (test/adapters/vip-runner.ts) holds it and the real runners to the
// same behaviours. The simulator's own kernel (host-shell.ts) stays at the
// level of services and ops, where its latency and failures are drawn: it
// runs no commands.

import { isIP } from "node:net";
import type { Runner, CommandResult } from "../actuate/index.ts";
import { UmbraError } from "../shared/errors.ts";

/** An address on an interface, as `ip -j addr show` lists it. */
type Addr = { family: "inet" | "inet6"; local: string; prefixlen: number };

/** ip's exit for an error the kernel answered (RTNETLINK), and for one ip found itself (no such device). */
const EXIT_KERNEL_ERROR = 2;
const EXIT_USAGE_ERROR = 1;
/** sysctl's and arping's exits for a missing interface. */
const EXIT_SYSCTL_NO_KEY = 1;
const EXIT_ARPING_NO_DEVICE = 2;
/** What the twin answers for a form of a known command it does not model. */
const EXIT_UNMODELLED = 255;

export type MemKernel = {
  run: Runner;
  /** The interface's addresses as ADDR/PREFIX, in the order added; null for a missing interface. */
  addresses(iface: string): string[] | null;
};

const ok = (stdout = ""): CommandResult => ({ code: 0, stdout, stderr: "" });
const fail = (code: number, stderr: string): CommandResult => ({ code, stdout: "", stderr: `${stderr}\n` });

/** A kernel with these interfaces (up, no addresses yet). */
export function memKernel(ifaces: string[]): MemKernel {
  const links = new Map<string, Addr[]>(ifaces.map((i) => [i, []]));
  const run: Runner = async (argv) => {
    const [cmd, ...args] = argv;
    switch (cmd) {
      case "ip":
        return ip(links, args);
      case "sysctl":
        return sysctl(links, args);
      case "arping":
        return arping(links, args);
      default:
        throw new UmbraError("actuate_failed", `${cmd} could not run: ENOENT (not in the in-memory kernel)`, { argv });
    }
  };
  return { run, addresses: (iface) => links.get(iface)?.map((a) => `${a.local}/${a.prefixlen}`) ?? null };
}

/** `ip [-6] [-j] addr add|del|show ...`. */
function ip(links: Map<string, Addr[]>, argv: string[]): CommandResult {
  const args = [...argv];
  const opts = new Set<string>();
  while (args[0]?.startsWith("-")) opts.add(args.shift()!);
  const [object, verb, ...rest] = args;
  if (object !== "addr") return fail(EXIT_UNMODELLED, `in-memory kernel: ip ${args.join(" ")} is not modelled`);
  if (verb === "show" && rest[0] === "dev" && rest.length === 2 && opts.has("-j")) return show(links, rest[1]!);
  if ((verb === "add" || verb === "del") && rest[1] === "dev" && rest.length === 3) return change(links, verb, rest[0]!, rest[2]!);
  return fail(EXIT_UNMODELLED, `in-memory kernel: ip ${[...opts, ...args].join(" ")} is not modelled`);
}

function change(links: Map<string, Addr[]>, verb: "add" | "del", cidr: string, iface: string): CommandResult {
  const addrs = links.get(iface);
  if (addrs === undefined) return fail(EXIT_USAGE_ERROR, `Cannot find device "${iface}"`);
  const [local, prefix] = cidr.split("/");
  const family = isIP(local ?? "") === 6 ? "inet6" : "inet";
  const a: Addr = { family, local: local!, prefixlen: Number(prefix) };
  const at = addrs.findIndex((x) => x.local === a.local && x.prefixlen === a.prefixlen);
  // The kernel's words differ by family in case only.
  const fam = family === "inet" ? { name: "ipv4", assigned: "Address already assigned", missing: "Address not found" } : { name: "ipv6", assigned: "address already assigned", missing: "address not found" };
  if (verb === "add") {
    if (at >= 0) return fail(EXIT_KERNEL_ERROR, `Error: ${fam.name}: ${fam.assigned}.`);
    addrs.push(a);
    return ok();
  }
  if (at < 0) return fail(EXIT_KERNEL_ERROR, `Error: ${fam.name}: ${fam.missing}.`);
  addrs.splice(at, 1);
  return ok();
}

function show(links: Map<string, Addr[]>, iface: string): CommandResult {
  const addrs = links.get(iface);
  if (addrs === undefined) return fail(EXIT_USAGE_ERROR, `Device "${iface}" does not exist.`);
  return ok(JSON.stringify([{ ifname: iface, operstate: "UP", addr_info: addrs.map((a) => ({ ...a, scope: "global" })) }]) + "\n");
}

/** `sysctl -q -w net/ipv6/conf/IFACE/KEY=V ...`: only an interface's IPv6 settings, which it accepts for a present interface. */
function sysctl(links: Map<string, Addr[]>, args: string[]): CommandResult {
  const settings = args.filter((a) => !a.startsWith("-"));
  for (const s of settings) {
    const m = /^net\/ipv6\/conf\/([^/]+)\/([a-z_]+)=\S+$/.exec(s);
    if (m === null) return fail(EXIT_UNMODELLED, `in-memory kernel: sysctl ${s} is not modelled`);
    if (!links.has(m[1]!)) return fail(EXIT_SYSCTL_NO_KEY, `sysctl: cannot stat /proc/sys/net/ipv6/conf/${m[1]}/${m[2]}: No such file or directory`);
  }
  return ok();
}

/** `arping -U ... -I IFACE ADDR`: sent, if the interface is there. */
function arping(links: Map<string, Addr[]>, args: string[]): CommandResult {
  const i = args.indexOf("-I");
  const iface = i >= 0 ? args[i + 1] : undefined;
  if (iface === undefined || !links.has(iface)) return fail(EXIT_ARPING_NO_DEVICE, `arping: Device ${iface ?? ""} not available.`);
  return ok();
}
