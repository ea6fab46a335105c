// A gratuitous ARP that is ready before it is needed. When a VIP moves, the
// clients keep sending to the old holder's MAC until the new holder's
// gratuitous ARP reaches them, so every millisecond between the take and
// the announcement is a millisecond of requests lost. Forking `arping` from
// the agent at that moment costs a fork of a large process (5-10 ms here,
// more under load, and the agent's loop waits for the fork).
//
// Instead a small shell waits ahead of time, `read` on its stdin; a newline
// makes it exec arping (`sh -c 'read _ && exec "$@"'`), which sends its
// first frame within about a millisecond. After each announcement another
// shell is armed, a little later, off the path of the move. Should the
// armed shell be gone (killed from outside), the announcement forks arping
// as before. End of input (close) makes the shell exit without a frame.
//
// One such shell per CPU it is given (`taskset -c`), each firing one frame
// when asked: in one move of about 360 on this machine (bench/handover
// --capture) the one armed shell's frame left 36 ms after it was woken, not
// 1-2 ms, the clients' requests going to the old holder meanwhile; the
// machine is a VM whose virtual CPUs stall now and then (steal time). Two
// shells on two CPUs, one frame each, and a stalled CPU no longer holds the
// announcement up; the first frame out counts, the other is a duplicate.

import { spawn, type ChildProcess } from "node:child_process";
import { assert } from "../shared/assert.ts";
import { isIPv4 } from "node:net";
import { vipAddress } from "./fence.ts";
import { announceArp, GARP_COUNT, GARP_DEADLINE_S, runCommand, type Runner, type Vip } from "./vip.ts";

/** After an announcement, the next shell is armed this much later: off the move's path (the agent is busy taking over then). */
export const REARM_DELAY_MS = 500;
/** Output kept from arping's stderr. */
const STDERR_BYTES_MAX = 4096;

export type AnnounceResult = { ok: boolean; code: number; durationMs: number; stderr: string; /** Whether an armed shell sent it (false: arping forked then). */ armed?: boolean };

export type Announcer = {
  /** Sends the gratuitous ARP now, from every armed shell; resolves when the first arping that succeeds exits (about GARP_DEADLINE_S after its frame), or the last. Never rejects. */
  announce(): Promise<AnnounceResult>;
  /** Whether a shell waits armed now, on every CPU given (tests). */
  armed(): boolean;
  /** Disarms: the waiting shell exits without a frame; nothing is armed again. */
  close(): void;
};

export type AnnouncerOptions = {
  /** Runs the shell elsewhere (tests: `ip netns exec NS`). */
  prefix?: string[];
  /** The fallback when no shell is armed (tests pass one that runs in their namespace). */
  run?: Runner;
  /** One armed shell per CPU listed, pinned there (`taskset -c`); none given: one shell, where the scheduler puts it. */
  cpus?: readonly number[];
};

/** An announcer for an IPv4 VIP, armed at once. */
export function armedArping(v: Vip, o: AnnouncerOptions = {}): Announcer {
  const addr = vipAddress(v.cidr);
  assert(isIPv4(addr), "gratuitous ARP is for IPv4");
  const run = o.run ?? runCommand;
  const slots = (o.cpus === undefined || o.cpus.length === 0 ? [null] : [...o.cpus]).map((cpu) => ({
    argv: [...(o.prefix ?? []), ...(cpu === null ? [] : ["taskset", "-c", String(cpu)]), "sh", "-c", 'read _ && exec "$@"', "sh", "arping", "-U", "-c", String(GARP_COUNT), "-w", String(GARP_DEADLINE_S), "-I", v.iface, addr],
    child: null as ChildProcess | null,
  }));
  let rearm: NodeJS.Timeout | null = null;
  let closed = false;

  const armSlot = (slot: (typeof slots)[number]): void => {
    if (closed || slot.child !== null) return;
    const [cmd, ...args] = slot.argv;
    const c = spawn(cmd!, args, { stdio: ["pipe", "ignore", "pipe"] });
    c.stdin!.on("error", () => {}); // a dead shell: seen by exit below
    c.on("error", () => {
      if (slot.child === c) slot.child = null;
    });
    c.on("exit", () => {
      if (slot.child === c) slot.child = null; // died before it was asked: the next announcement goes without it
    });
    slot.child = c;
  };
  const arm = (): void => {
    rearm = null;
    for (const slot of slots) armSlot(slot);
  };

  const fire = (c: ChildProcess): Promise<AnnounceResult> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      let stderr = "";
      c.stderr!.setEncoding("utf8");
      c.stderr!.on("data", (d: string) => {
        if (stderr.length < STDERR_BYTES_MAX) stderr += d;
      });
      c.on("close", (code) => resolve({ ok: code === 0, code: code ?? -1, durationMs: performance.now() - t0, stderr: stderr.trim(), armed: true }));
      c.stdin!.end("\n");
    });

  arm();
  return {
    announce() {
      const live = slots.map((s) => s.child).filter((c): c is ChildProcess => c !== null && c.exitCode === null && c.signalCode === null);
      for (const s of slots) s.child = null;
      if (!closed && rearm === null) rearm = setTimeout(arm, REARM_DELAY_MS);
      if (live.length === 0) return announceArp(v, run).then((r) => ({ ...r, armed: false }));
      return firstOk(live.map(fire));
    },
    armed: () => slots.every((s) => s.child !== null),
    close() {
      closed = true;
      if (rearm !== null) clearTimeout(rearm);
      rearm = null;
      for (const s of slots) {
        const c = s.child;
        s.child = null;
        c?.stdin!.end(); // `read` sees end of input: the shell exits, no frame
      }
    },
  };
}

/** The first result that is ok, or the last one when none is. */
function firstOk(ps: Array<Promise<AnnounceResult>>): Promise<AnnounceResult> {
  return new Promise((resolve) => {
    let left = ps.length;
    for (const p of ps) {
      void p.then((r) => {
        left -= 1;
        if (r.ok || left === 0) resolve(r);
      });
    }
  });
}
