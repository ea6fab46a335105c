// The only code that changes the host's addresses. A VIP goes up with
// `ip addr add` and is announced at once, so neighbours repoint their caches
// to this host's MAC without waiting for their entries to go stale:
//
// - IPv4: a gratuitous ARP, `arping -U -c 2 -w 1` (iputils-arping). Its first
//   packet leaves ~5 ms after the spawn and its second one second later, so
//   it runs in the background: the caller is not held for the second packet,
//   and its exit is logged.
// - IPv6: the kernel's own unsolicited neighbour advertisement. Seen with
//   tcpdump in namespaces (kernel 6.18), adding 2001:db8::50/64:
//     `nodad` flag, ndisc_notify=1            -> no NA at all
//     accept_dad=0, ndisc_notify=0            -> no NA at all
//     accept_dad=1 (DAD), ndisc_notify=1      -> NS for DAD, NA ~1 s later
//     accept_dad=0, ndisc_notify=1, no nodad  -> NA to ff02::1 within ~5 ms,
//                                                override flag, target lladdr
//   The kernel sends it from addrconf_dad_begin() only for an address still
//   flagged tentative, which `nodad` never is; accept_dad=0 skips DAD yet
//   keeps that path. So an IPv6 add sets accept_dad=0 and ndisc_notify=1 on
//   the interface (DAD would hold the address back ~1 s, and the quorum
//   already guarantees no one else holds it) and adds without `nodad`.
//   The kernel sends one NA, no repeat; a re-add of a present address sends
//   none. ndisc6 has no unsolicited-NA sender; ipv6toolkit's na6 would be an
//   extra package for what the kernel already does.
//
// Both directions are idempotent, so a retry or a restart never fails on
// "already so". Commands go through a Runner: the agent runs inside its
// host and calls `ip` directly; tests pass one that prefixes
// `ip netns exec NS`.

import { execFile } from "node:child_process";
import { BlockList, isIP } from "node:net";
import type { NetworkInterfaceInfo } from "node:os";
import { assert } from "../shared/assert.ts";
import { UmbraError } from "../shared/errors.ts";
import { logger, type Logger } from "../shared/log.ts";

/** One command's time limit; `ip addr` takes milliseconds, so this only catches a wedged host. */
export const COMMAND_TIMEOUT_MS = 5_000;
/**
 * Gratuitous ARPs per arping: one, at once. A second, a second later, was
 * sent by a host that might no longer hold the VIP by then (arping writes
 * to a packet socket, which the fence's ARP output rule never sees), and
 * would point the clients back at it. The redundancy comes from two armed
 * shells on two CPUs instead (garp.ts).
 */
export const GARP_COUNT = 1;
/** arping's deadline in seconds: it sends nothing after it (and exits about then). */
export const GARP_DEADLINE_S = 1;
/** Output kept from a command, per stream. */
const COMMAND_OUTPUT_BYTES_MAX = 1024 * 1024;

export type Vip = { cidr: string; iface: string };
export type CommandResult = { code: number; stdout: string; stderr: string };
/** Runs argv (no shell) and resolves with its exit; rejects only when the command cannot run at all. */
export type Runner = (argv: string[]) => Promise<CommandResult>;
export type VipResult = {
  ok: true;
  durationMs: number;
  /** "done": this call changed the host; "already so": it was in that state before. */
  detail: "done" | "already so";
};

const defaultLog: Logger = logger("local");

export const runCommand: Runner = (argv) => {
  const [cmd, ...args] = argv;
  assert(cmd !== undefined, "argv names a command");
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: COMMAND_TIMEOUT_MS, maxBuffer: COMMAND_OUTPUT_BYTES_MAX }, (err, stdout, stderr) => {
      if (err === null) return resolve({ code: 0, stdout, stderr });
      const e = err as NodeJS.ErrnoException & { code?: string | number; killed?: boolean; signal?: string };
      if (typeof e.code === "string") {
        const hint = e.code === "ENOENT" ? ` (${cmd} is not installed; Debian: ${cmd === "arping" ? "iputils-arping" : cmd === "sysctl" ? "procps" : "iproute2"})` : "";
        return reject(new UmbraError("actuate_failed", `${cmd} could not run: ${e.code}${hint}`, { argv }, err));
      }
      const why = e.killed ? `killed by ${e.signal ?? "a signal"} after ${COMMAND_TIMEOUT_MS} ms` : "";
      resolve({ code: typeof e.code === "number" ? e.code : -1, stdout, stderr: `${stderr}${why}` });
    });
  });
};

function parse(v: Vip): { addr: string; family: 4 | 6 } {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(v.cidr);
  assert(m !== null, `VIP ${v.cidr} is ADDR/PREFIX`);
  const family = isIP(m[1]!);
  assert(family === 4 || family === 6, `VIP ${v.cidr} is an IP address`);
  assert(Number(m[2]) <= (family === 4 ? 32 : 128), `VIP ${v.cidr} prefix fits the family`);
  assert(/^[A-Za-z0-9_.@-]{1,15}$/.test(v.iface), `interface ${v.iface} is an interface name`);
  return { addr: m[1]!, family };
}

/** Runs argv; an exit whose stderr matches `alreadySo` counts as success; any other failure is actuate_failed. */
async function change(run: Runner, argv: string[], alreadySo: RegExp | null): Promise<VipResult["detail"]> {
  const r = await run(argv);
  if (r.code === 0) return "done";
  const stderr = r.stderr.trim();
  if (alreadySo !== null && alreadySo.test(stderr)) return "already so";
  throw new UmbraError("actuate_failed", `${argv.join(" ")} failed (exit ${r.code}): ${stderr}`, { argv, code: r.code, stderr });
}

/** How long a gratuitous ARP waits for the kernel lease it needs (`announceAfter`) before it goes anyway. */
export const ANNOUNCE_WAIT_MAX_MS = 200;

/** Resolves when `p` settles or after `ms`, whichever comes first, leaving no timer behind. */
function waitAtMost(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((done) => {
    const timer = setTimeout(done, ms);
    void p.finally(() => {
      clearTimeout(timer);
      done();
    });
  });
}

/**
 * Adds the VIP and announces it (IPv4: a gratuitous ARP, sent off the
 * returned promise: by `announce`, an armed arping (garp.ts), else arping
 * forked now). `announceAfter`: the kernel lease that lets packets to the
 * VIP in, still being applied; the announcement waits for it (at most
 * ANNOUNCE_WAIT_MAX_MS), or the clients it turns to this host would reach a
 * fence that still drops them. (The fence does not stop the announcement
 * itself: arping writes to a packet socket, past the ARP output hook.)
 */
export async function addVip(v: Vip, run: Runner = runCommand, log: Logger = defaultLog, announceAfter: Promise<unknown> | null = null, announce: (() => Promise<Awaited<ReturnType<typeof announceArp>>>) | null = null): Promise<VipResult> {
  const { family } = parse(v);
  const t0 = performance.now();
  if (family === 6) {
    // Slash form: an interface name may hold dots (eth0.100).
    await change(run, ["sysctl", "-q", "-w", `net/ipv6/conf/${v.iface}/accept_dad=0`, `net/ipv6/conf/${v.iface}/ndisc_notify=1`], null);
  }
  const argv = family === 4 ? ["ip", "addr", "add", v.cidr, "dev", v.iface] : ["ip", "-6", "addr", "add", v.cidr, "dev", v.iface];
  // Older kernels say "File exists", newer ones "Address already assigned".
  const detail = await change(run, argv, /File exists|address already assigned/i);
  const durationMs = performance.now() - t0;
  if (family === 4) {
    // Also on "already so": a restarted agent re-announces what it holds.
    const leased = announceAfter === null ? Promise.resolve() : waitAtMost(announceAfter, ANNOUNCE_WAIT_MAX_MS);
    void leased
      .then(() => {
        log("debug", "actuate", "garp-fired", { vip: v.cidr, iface: v.iface, sinceAddedMs: Math.round((performance.now() - t0 - durationMs) * 10) / 10 });
        return announce === null ? announceArp(v, run) : announce();
      })
      .then((r) => log(r.ok ? "debug" : "warn", "actuate", r.ok ? "garp-sent" : "garp-failed", { vip: v.cidr, iface: v.iface, code: r.code, ms: Math.round(r.durationMs), stderr: r.stderr, ...("armed" in r ? { armed: r.armed } : {}) }));
  }
  return { ok: true, durationMs, detail };
}

/**
 * ARP on the interfaces that carry IPv4 VIPs: arp_announce=2, so the host's
 * own ARP requests name its primary address as sender, never a VIP. With the
 * kernel-side lease's ARP fence, a request naming a fenced VIP would be
 * dropped (and the host's own lookups with it); a VIP is announced only by
 * its holder's gratuitous ARP and its replies. Resolves with the interfaces
 * the sysctl failed on (a missing interface, say), which the caller reports.
 */
export async function announceFromPrimary(ifaces: readonly string[], run: Runner = runCommand): Promise<Array<{ iface: string; error: string }>> {
  const failed: Array<{ iface: string; error: string }> = [];
  for (const iface of new Set(ifaces)) {
    const r = await run(["sysctl", "-q", "-w", `net/ipv4/conf/${iface}/arp_announce=2`]).catch((err: Error) => ({ code: -1, stdout: "", stderr: err.message }));
    if (r.code !== 0) failed.push({ iface, error: r.stderr.trim() || `exit ${r.code}` });
  }
  return failed;
}

export async function removeVip(v: Vip, run: Runner = runCommand): Promise<VipResult> {
  const { family } = parse(v);
  const t0 = performance.now();
  const argv = family === 4 ? ["ip", "addr", "del", v.cidr, "dev", v.iface] : ["ip", "-6", "addr", "del", v.cidr, "dev", v.iface];
  // "Cannot assign requested address" / "Address not found": not there. A
  // vanished interface holds no address either.
  const detail = await change(run, argv, /Cannot assign requested address|address not found|Cannot find device/i);
  return { ok: true, durationMs: performance.now() - t0, detail };
}

export async function vipPresent(v: Vip, run: Runner = runCommand): Promise<boolean> {
  const { addr } = parse(v);
  const argv = ["ip", "-j", "addr", "show", "dev", v.iface];
  const r = await run(argv);
  if (r.code !== 0) throw new UmbraError("actuate_failed", `${argv.join(" ")} failed (exit ${r.code}): ${r.stderr.trim()}`, { argv, code: r.code });
  const links = JSON.parse(r.stdout) as Array<{ addr_info?: Array<{ local?: string }> }>;
  return links.some((l) => (l.addr_info ?? []).some((a) => a.local === addr));
}

/**
 * Gratuitous ARP for an IPv4 VIP (iputils `arping -U`); resolves when arping
 * exits, about GARP_DEADLINE_S after the first packet. Never rejects: a
 * failed announcement is logged by the caller, the address is up regardless.
 */
export async function announceArp(v: Vip, run: Runner = runCommand): Promise<{ ok: boolean; code: number; durationMs: number; stderr: string }> {
  const { addr, family } = parse(v);
  assert(family === 4, "gratuitous ARP is for IPv4");
  const t0 = performance.now();
  try {
    const r = await run(["arping", "-U", "-c", String(GARP_COUNT), "-w", String(GARP_DEADLINE_S), "-I", v.iface, addr]);
    return { ok: r.code === 0, code: r.code, durationMs: performance.now() - t0, stderr: r.stderr.trim() };
  } catch (err) {
    return { ok: false, code: -1, durationMs: performance.now() - t0, stderr: (err as Error).message };
  }
}

/**
 * Why this host cannot carry the VIP where its clients are, or null: its
 * interface missing, or no address of its own in the VIP's subnet. A VIP
 * added there would reach no client (in a lab of three sites behind NAT,
 * shadows of other sites added a lost site's VIP to their own LAN, and the
 * service stayed dark). `ifaces` as os.networkInterfaces() gives them.
 */
export function vipPlacementIssue(v: Vip, ifaces: NodeJS.Dict<NetworkInterfaceInfo[]>): string | null {
  const { addr, family } = parse(v);
  const prefix = Number(v.cidr.split("/")[1]);
  const addrs = ifaces[v.iface];
  if (addrs === undefined) return `interface ${v.iface} does not exist here (interfaces: ${Object.keys(ifaces).sort().join(", ")})`;
  const type = family === 4 ? "ipv4" : "ipv6";
  const subnet = new BlockList();
  subnet.addSubnet(addr, prefix, type);
  const own = addrs.filter((a) => a.family === (family === 4 ? "IPv4" : "IPv6") && a.address !== addr && subnet.check(a.address, type));
  if (own.length === 0) return `${v.iface} has no address of its own in ${v.cidr}'s subnet: the VIP added here would reach no client of that subnet`;
  return null;
}
