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

import { spawn, type ChildProcess } from "node:child_process";
import { assert } from "../shared/assert.ts";
import { isIPv4 } from "node:net";
import { vipAddress } from "./fence.ts";
import { announceArp, GARP_COUNT, GARP_DEADLINE_S, runCommand, type Runner, type Vip } from "./vip.ts";

/** After an announcement, the next shell is armed this much later: off the move's path (the agent is busy taking over then). */
export const REARM_DELAY_MS = 500;
/** Output kept from arping's stderr. */
const STDERR_BYTES_MAX = 4096;

export type AnnounceResult = { ok: boolean; code: number; durationMs: number; stderr: string; /** Whether the armed shell sent it (false: arping forked then). */ armed?: boolean };

export type Announcer = {
  /** Sends the gratuitous ARP now; resolves when arping exits (about GARP_DEADLINE_S after the first frame). Never rejects. */
  announce(): Promise<AnnounceResult>;
  /** Whether a shell waits armed now (tests). */
  armed(): boolean;
  /** Disarms: the waiting shell exits without a frame; nothing is armed again. */
  close(): void;
};

export type AnnouncerOptions = {
  /** Runs the shell elsewhere (tests: `ip netns exec NS`). */
  prefix?: string[];
  /** The fallback when no shell is armed (tests pass one that runs in their namespace). */
  run?: Runner;
};

/** An announcer for an IPv4 VIP, armed at once. */
export function armedArping(v: Vip, o: AnnouncerOptions = {}): Announcer {
  const addr = vipAddress(v.cidr);
  assert(isIPv4(addr), "gratuitous ARP is for IPv4");
  const argv = [...(o.prefix ?? []), "sh", "-c", 'read _ && exec "$@"', "sh", "arping", "-U", "-c", String(GARP_COUNT), "-w", String(GARP_DEADLINE_S), "-I", v.iface, addr];
  const run = o.run ?? runCommand;
  let child: ChildProcess | null = null;
  let rearm: NodeJS.Timeout | null = null;
  let closed = false;

  const arm = (): void => {
    rearm = null;
    if (closed || child !== null) return;
    const [cmd, ...args] = argv;
    const c = spawn(cmd!, args, { stdio: ["pipe", "ignore", "pipe"] });
    c.stdin!.on("error", () => {}); // a dead shell: seen by exit below
    c.on("error", () => {
      if (child === c) child = null;
    });
    c.on("exit", () => {
      if (child === c) child = null; // died before it was asked: the next announcement forks
    });
    child = c;
  };

  const fire = (c: ChildProcess): Promise<AnnounceResult> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      let stderr = "";
      c.stderr!.setEncoding("utf8");
      c.stderr!.on("data", (d: string) => {
        if (stderr.length < STDERR_BYTES_MAX) stderr += d;
      });
      c.on("close", (code) => resolve({ ok: code === 0, code: code ?? -1, durationMs: performance.now() - t0, stderr: stderr.trim() }));
      c.stdin!.end("\n");
    });

  arm();
  return {
    announce() {
      const c = child;
      child = null;
      if (!closed && rearm === null) rearm = setTimeout(arm, REARM_DELAY_MS);
      if (c === null || c.exitCode !== null || c.signalCode !== null) return announceArp(v, run).then((r) => ({ ...r, armed: false }));
      return fire(c).then((r) => ({ ...r, armed: true }));
    },
    armed: () => child !== null,
    close() {
      closed = true;
      if (rearm !== null) clearTimeout(rearm);
      rearm = null;
      const c = child;
      child = null;
      c?.stdin!.end(); // `read` sees end of input: the shell exits, no frame
    },
  };
}
