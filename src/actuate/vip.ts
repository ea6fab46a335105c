// The only code that changes the host's addresses. A VIP goes up with
// `ip addr add` and is announced at once: a gratuitous ARP for IPv4 (so
// neighbours repoint their caches to this host's MAC), an unsolicited
// neighbour advertisement for IPv6 (the kernel sends one when an address is
// added while ndisc_notify is set on the interface). Both directions are
// idempotent, so a retry or a restart never fails on "already so".

import { execFile, spawn } from "node:child_process";
import { isIPv4 } from "node:net";
import { promisify } from "node:util";
import { UmbraError } from "../shared/errors.ts";

const exec = promisify(execFile);

/** Gratuitous ARPs sent (the first at once, the rest 1 s apart, in the background). */
export const GARP_COUNT = 3;

/** `netns` runs the commands inside that namespace (tests); the agent itself runs inside its host. */
export type Vip = { cidr: string; iface: string; netns?: string };
export type Result = { durationMs: number; detail: "done" | "already so" };

const addrOf = (v: Vip): string => v.cidr.split("/")[0]!;
const argvIn = (v: Vip, argv: string[]): string[] => (v.netns === undefined ? argv : ["ip", "netns", "exec", v.netns, ...argv]);

async function run(v: Vip, argv: string[], okWhen: RegExp): Promise<Result["detail"]> {
  const [cmd, ...args] = argvIn(v, argv);
  try {
    await exec(cmd!, args);
    return "done";
  } catch (err) {
    const e = err as { stderr?: string; message: string; code?: string };
    const stderr = (e.stderr ?? e.message).trim();
    if (okWhen.test(stderr)) return "already so";
    if (e.code === "ENOENT") throw new UmbraError("actuate_failed", `${cmd} is not installed (Debian: iproute2)`, { argv }, err);
    throw new UmbraError("actuate_failed", `${argv.join(" ")} failed: ${stderr}`, { argv }, err);
  }
}

export async function addVip(v: Vip): Promise<Result> {
  const t0 = performance.now();
  const v4 = isIPv4(addrOf(v));
  if (!v4) {
    // The kernel sends an unsolicited NA for a new address only when DAD is
    // skipped by accept_dad=0 (not by the nodad flag: seen with tcpdump) and
    // ndisc_notify=1. DAD would hold the address back for a second, and the
    // quorum already guarantees no one else holds it.
    for (const k of ["accept_dad=0", "ndisc_notify=1"]) await run(v, ["sysctl", "-q", "-w", `net.ipv6.conf.${v.iface}.${k}`], /^$/);
  }
  const argv = v4 ? ["ip", "addr", "add", v.cidr, "dev", v.iface] : ["ip", "-6", "addr", "add", v.cidr, "dev", v.iface];
  const detail = await run(v, argv, /File exists|Address already assigned/);
  if (v4) void announceArp(v);
  return { durationMs: performance.now() - t0, detail };
}

export async function removeVip(v: Vip): Promise<Result> {
  const t0 = performance.now();
  const argv = isIPv4(addrOf(v)) ? ["ip", "addr", "del", v.cidr, "dev", v.iface] : ["ip", "-6", "addr", "del", v.cidr, "dev", v.iface];
  const detail = await run(v, argv, /Cannot assign requested address|Address not found|Cannot find device/);
  return { durationMs: performance.now() - t0, detail };
}

export async function vipPresent(v: Vip): Promise<boolean> {
  const [cmd, ...args] = argvIn(v, ["ip", "-j", "addr", "show", "dev", v.iface]);
  const { stdout } = await exec(cmd!, args);
  const links = JSON.parse(stdout) as Array<{ addr_info?: Array<{ local: string }> }>;
  return links.some((l) => (l.addr_info ?? []).some((a) => a.local === addrOf(v)));
}

/** Gratuitous ARP with iputils `arping -U`, in the background; resolves with its exit code (-1 if it could not run). */
export function announceArp(v: Vip): Promise<number> {
  const [cmd, ...args] = argvIn(v, ["arping", "-U", "-c", String(GARP_COUNT), "-I", v.iface, addrOf(v)]);
  return new Promise((res) => {
    const p = spawn(cmd!, args, { stdio: "ignore" });
    p.on("error", () => res(-1));
    p.on("exit", (code) => res(code ?? -1));
  });
}
