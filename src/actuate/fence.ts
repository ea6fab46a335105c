// The kernel-side lease: the holder gives its kernel the lease too, so the
// host stops answering for a VIP when the lease ends even if no process of
// ours runs any more (agent frozen by SIGSTOP or a swap storm, or killed).
//
// Two nftables tables, both named FENCE_TABLE:
// - `inet`: packets to a fenced VIP are dropped on input, packets from it on
//   output (which covers IPv6 neighbour advertisements, sent from the
//   address they advertise);
// - `arp`: ARP frames carrying a fenced VIP as sender are dropped on output,
//   so the host neither answers ARP for it nor announces it.
// A VIP is fenced unless its address is in the table's timed `lease` set.
// The holder refreshes the element with each majority renewal, its timeout
// the holder's lease remaining; when renewals stop, the kernel drops the
// element on its own and the host goes quiet for that VIP. Both tables keep
// their own copy of the sets (nftables sets are per table) and every change
// writes both in one transaction.
//
// Refreshing an element's timeout: a refresh is "add with 1 ms; delete;
// add with the timeout" in one transaction, which works whether or not the
// element was there and never leaves it absent. (A plain `add` of an
// element already there does set its timeout anew on kernel 6.18 with nft
// 1.0.6 when run as its own `nft` command; but the long-lived `nft -i`
// below, asked that after another process had changed the ruleset, took
// 15 s to answer, where this transaction answers in a millisecond. Session
// 14; the shorter line would have halved nft's CPU per refresh.)
//
// Commands go to one long-lived `nft -i` process (a fork and exec of nft per
// renewal would cost a core's few percent at 20 renewals a second); it reads
// one line at a time, each line one transaction. It answers nothing on
// success and an error on stderr, which is reported with the line it names.

import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { isIPv4, isIPv6 } from "node:net";
import { delimiter, join } from "node:path";
import { assert } from "../shared/assert.ts";
import { runCommand, type Runner } from "./vip.ts";

export const FENCE_TABLE = "umbra_fence";
/** The chains' priority: before any filter an operator may keep (raw is -300; filter 0). */
const FENCE_PRIORITY = -250;
/** A lease element's longest timeout: a lease is seconds at most, so this only catches a unit error. */
export const FENCE_TIMEOUT_MAX_MS = 600_000;
/** After close() ends its input, the nft process gets this long before SIGKILL. */
const CLOSE_GRACE_MS = 1_000;
/** Error lines kept from the nft process before they are reported. */
const ERROR_LINES_MAX = 64;

/** Where root's tools live besides PATH: Debian installs nft in /usr/sbin, which a non-root PATH (and some service managers') lacks. */
const SBIN_DIRS = ["/usr/sbin", "/sbin"];

/** The nft executable: the first on PATH, else in the sbin directories; plain "nft" when none is found (the spawn then reports it). */
export function nftPath(path: string = process.env.PATH ?? ""): string {
  for (const dir of [...path.split(delimiter).filter((d) => d !== ""), ...SBIN_DIRS]) {
    const p = join(dir, "nft");
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return "nft";
}

const family = (addr: string): "4" | "6" => {
  if (isIPv4(addr)) return "4";
  assert(isIPv6(addr), `a VIP address is IPv4 or IPv6: ${addr}`);
  return "6";
};

/** The address of a VIP's CIDR. */
export const vipAddress = (cidr: string): string => cidr.split("/")[0]!;

/**
 * The whole fence, for `nft -f`: both tables created afresh (an old fence
 * left by a crash is replaced), every VIP of `addrs` fenced, none leased.
 */
export function fenceRuleset(addrs: readonly string[]): string {
  const v4 = addrs.filter((a) => family(a) === "4");
  const v6 = addrs.filter((a) => family(a) === "6");
  const elems = (xs: string[]) => (xs.length === 0 ? "" : ` elements = { ${xs.join(", ")} };`);
  return [
    `add table inet ${FENCE_TABLE}`,
    `delete table inet ${FENCE_TABLE}`,
    `add table arp ${FENCE_TABLE}`,
    `delete table arp ${FENCE_TABLE}`,
    `table inet ${FENCE_TABLE} {`,
    `  set vips4 { type ipv4_addr;${elems(v4)} }`,
    `  set vips6 { type ipv6_addr;${elems(v6)} }`,
    `  set lease4 { type ipv4_addr; flags timeout; }`,
    `  set lease6 { type ipv6_addr; flags timeout; }`,
    `  chain input { type filter hook input priority ${FENCE_PRIORITY}; ip daddr @vips4 ip daddr != @lease4 drop; ip6 daddr @vips6 ip6 daddr != @lease6 drop; }`,
    `  chain output { type filter hook output priority ${FENCE_PRIORITY}; ip saddr @vips4 ip saddr != @lease4 drop; ip6 saddr @vips6 ip6 saddr != @lease6 drop; }`,
    `}`,
    `table arp ${FENCE_TABLE} {`,
    `  set vips4 { type ipv4_addr;${elems(v4)} }`,
    `  set lease4 { type ipv4_addr; flags timeout; }`,
    `  chain output { type filter hook output priority ${FENCE_PRIORITY}; arp saddr ip @vips4 arp saddr ip != @lease4 drop; }`,
    `}`,
    "",
  ].join("\n");
}

/** The tables to refresh for an address: IPv4 lives in both, IPv6 only in inet. */
const tablesOf = (addr: string): Array<[string, string]> => (family(addr) === "4" ? [["inet", "lease4"], ["arp", "lease4"]] : [["inet", "lease6"]]);

/** One transaction that gives `addr` a lease of `ms` from now in every table, whether or not it had one. */
export function leaseLine(addr: string, ms: number): string {
  assert(Number.isInteger(ms) && ms >= 1 && ms <= FENCE_TIMEOUT_MAX_MS, `a lease of 1..${FENCE_TIMEOUT_MAX_MS} whole ms: ${ms}`);
  return tablesOf(addr)
    .flatMap(([fam, set]) => [`add element ${fam} ${FENCE_TABLE} ${set} { ${addr} timeout 1ms }`, `delete element ${fam} ${FENCE_TABLE} ${set} { ${addr} }`, `add element ${fam} ${FENCE_TABLE} ${set} { ${addr} timeout ${ms}ms }`])
    .join("; ");
}

/** One transaction that ends `addr`'s lease at once in every table, whether or not it had one. */
export function unleaseLine(addr: string): string {
  return tablesOf(addr)
    .flatMap(([fam, set]) => [`add element ${fam} ${FENCE_TABLE} ${set} { ${addr} timeout 1ms }`, `delete element ${fam} ${FENCE_TABLE} ${set} { ${addr} }`])
    .join("; ");
}

/** Both tables gone; `add` first so that a host without them does not fail. */
export const TEARDOWN = `add table inet ${FENCE_TABLE}; delete table inet ${FENCE_TABLE}; add table arp ${FENCE_TABLE}; delete table arp ${FENCE_TABLE}`;

export type FenceOptions = {
  /** Runs nft elsewhere (tests: `ip netns exec NS`). */
  prefix?: string[];
  /** A line nft refused, with its error; the lease it carried did not reach the kernel. */
  onError?(line: string, error: string): void;
  /** The tables were gone (a ruleset flush: a firewall reload) and were put back, every VIP fenced; or putting them back failed (error). */
  onReinstall?(error: string | null): void;
};

/** Tables put back at most this often: a flush that repeats must not turn into a loop of nft runs. */
export const REINSTALL_INTERVAL_MIN_MS = 1_000;
/** How `nft -e` says a line was committed. */
const GENERATION_LINE = "# new generation";
/** What nft says of a line naming a table or set that is not there. */
const TABLE_GONE = "No such file or directory";

export type Fence = {
  /** Creates the tables afresh with every VIP fenced; throws when nft refuses. Should the tables vanish later (a ruleset flush), the first lease that fails puts them back. */
  install(addrs: readonly string[]): Promise<void>;
  /** Gives `addr` a kernel lease of `ms` from now (whole ms, at least 1); resolves once nft has applied it (null) or refused it (nft's error). Never rejects. */
  lease(addr: string, ms: number): Promise<string | null>;
  /** Ends `addr`'s kernel lease now; resolves as lease does. */
  unlease(addr: string): Promise<string | null>;
  /** Starts the nft process now, if it is not running: the first lease then does not wait for a spawn (5 ms measured, on a new holder's take). */
  warm(): void;
  /** Ends the nft process; the tables are no longer put back. */
  close(): void;
};

/** Removes the fence (both tables); what `umbra release` and a clean stop run. */
export async function removeFence(run: Runner = runCommand, prefix: string[] = []): Promise<void> {
  const r = await run([...prefix, nftPath(), TEARDOWN]);
  if (r.code !== 0) throw new Error(`nft: ${r.stderr.trim() || `exit ${r.code}`}`);
}

/** The fence of this host, through one `nft -i` process started on first use and again after it dies. */
export function openFence(o: FenceOptions = {}): Fence {
  return new NftProcess(o);
}

class NftProcess implements Fence {
  private child: ChildProcess | null = null;
  private readonly prefix: string[];
  private readonly onError: (line: string, error: string) => void;
  private readonly onReinstall: (error: string | null) => void;
  private errBuf = "";
  private errLines: string[] = [];
  /** The VIPs of the last install, to put the tables back with; null before it and after close. */
  private installed: readonly string[] | null = null;
  private lastReinstallMs = -Infinity;
  /** Lines written to the current nft process, and lines it has answered (a committed generation, or an error). */
  private written = 0;
  private answered = 0;
  /** Callers waiting for the line with this number to be answered: null when committed, else the error. */
  private waiting: Array<{ line: number; done: (error: string | null) => void }> = [];
  private outBuf = "";

  constructor(o: FenceOptions) {
    this.prefix = o.prefix ?? [];
    this.onError = o.onError ?? (() => {});
    this.onReinstall = o.onReinstall ?? (() => {});
  }

  async install(addrs: readonly string[]): Promise<void> {
    const r = await runWithInput([...this.prefix, nftPath(), "-f", "-"], fenceRuleset(addrs));
    if (r.code !== 0) throw new Error(`nft refused the fence: ${r.stderr.trim() || `exit ${r.code}`}`);
    this.installed = [...addrs];
  }

  warm(): void {
    this.child ??= this.start();
  }

  /**
   * The tables are gone (`nft flush ruleset`, as a reload of Debian's
   * nftables.service does): every VIP here answers unfenced, and no lease
   * reaches the kernel. Put them back, every VIP fenced; the holder's next
   * renewal leases its VIP again.
   */
  private reinstall(): void {
    const addrs = this.installed;
    const now = performance.now();
    if (addrs === null || now - this.lastReinstallMs < REINSTALL_INTERVAL_MIN_MS) return;
    this.lastReinstallMs = now;
    this.install(addrs).then(
      () => this.onReinstall(null),
      (err: Error) => this.onReinstall(err.message),
    );
  }

  lease(addr: string, ms: number): Promise<string | null> {
    return this.write(leaseLine(addr, ms));
  }

  unlease(addr: string): Promise<string | null> {
    return this.write(unleaseLine(addr));
  }

  close(): void {
    this.installed = null;
    const c = this.child;
    if (c === null) return;
    this.child = null;
    c.stdin!.end();
    setTimeout(() => c.kill("SIGKILL"), CLOSE_GRACE_MS).unref();
  }

  private write(line: string): Promise<string | null> {
    if (this.child === null) this.child = this.start();
    this.child.stdin!.write(`${line}\n`);
    const n = ++this.written;
    return new Promise((done) => this.waiting.push({ line: n, done }));
  }

  /** One more line answered (committed: error null): wake whoever waits for it. */
  private answer(error: string | null): void {
    this.answered += 1;
    while (this.waiting.length > 0 && this.waiting[0]!.line <= this.answered) this.waiting.shift()!.done(error);
  }

  /** The process is gone: whatever it had not answered never will be; the next write starts another. */
  private gone(c: ChildProcess): void {
    if (this.child !== c) return;
    this.child = null;
    this.written = 0;
    this.answered = 0;
    for (const w of this.waiting.splice(0)) w.done("the nft process exited before it answered");
  }

  /** `nft -e -i`: each line it commits echoes, then says "# new generation N ..." on stdout: the acknowledgement. */
  private start(): ChildProcess {
    const [cmd, ...args] = [...this.prefix, nftPath(), "-e", "-i"];
    const c = spawn(cmd!, args, { stdio: ["pipe", "pipe", "pipe"] });
    c.stdin!.on("error", () => {}); // a dead process: reported by exit below
    c.stdout!.setEncoding("utf8");
    c.stdout!.on("data", (d: string) => this.onStdout(d));
    c.stderr!.setEncoding("utf8");
    c.stderr!.on("data", (d: string) => this.onStderr(d));
    c.on("exit", (code) => {
      this.gone(c);
      if (code !== 0 && code !== null) this.onError("", `nft -i exited ${code}`);
    });
    c.on("error", (err) => {
      this.gone(c);
      this.onError("", `nft -i: ${err.message}`);
    });
    return c;
  }

  private onStdout(d: string): void {
    this.outBuf += d;
    const lines = this.outBuf.split("\n");
    this.outBuf = lines.pop()!;
    for (const l of lines) if (l.startsWith(GENERATION_LINE)) this.answer(null);
  }

  /** nft reports a refused line as "Error: ...", the line itself, and a caret line under the fault. */
  private onStderr(d: string): void {
    this.errBuf += d;
    const lines = this.errBuf.split("\n");
    this.errBuf = lines.pop()!;
    for (const l of lines) {
      if (l.startsWith("Error:") && this.errLines.length > 0) this.flushError();
      if (this.errLines.length < ERROR_LINES_MAX) this.errLines.push(l);
    }
    if (this.errLines.length > 0) setImmediate(() => this.flushError());
  }

  private flushError(): void {
    if (this.errLines.length === 0) return;
    const [error, line] = this.errLines;
    this.errLines = [];
    this.answer(error || "nft refused the line"); // a refused line commits nothing: its error is its answer
    this.onError(line ?? "", error ?? "");
    if (error?.includes(TABLE_GONE)) this.reinstall();
  }
}

/** Runs argv with `input` on its stdin; resolves with its exit and output. */
function runWithInput(argv: string[], input: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const [cmd, ...args] = argv;
    const c = spawn(cmd!, args, { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    c.stderr!.setEncoding("utf8");
    c.stderr!.on("data", (d: string) => (stderr += d));
    c.on("error", (err) => resolve({ code: -1, stderr: err.message }));
    c.on("close", (code) => resolve({ code: code ?? -1, stderr }));
    c.stdin!.end(input);
  });
}
