// A Runner that sends `ip addr add|del` to one long-lived `ip -batch`
// process instead of forking `ip` per change. A fork and exec of `ip` took
// 8-15 ms here when idle and 65 ms under load, and a VIP drop sits on the
// lease's critical path: the old holder must be done before the voters'
// grants run out. Through the batch process a change takes ~0.5 ms.
//
// The protocol: `ip -force -o -batch -` with stderr folded into stdout
// reads one command a line and goes on after a failure ("Command failed
// -:N" after the error). ip flushes its output after each command, so after
// every command we send a marker, `link show dev lo`, whose one-line answer
// ("1: lo: ...") closes that command's output: what came before it is the
// command's own output, and an error if "Command failed" is among it.
//
// Anything else (sysctl, arping, `ip -j ... show`) and any command the batch
// process cannot finish (it died, or hung past the time limit and was
// killed) runs through the fallback Runner, forked as before: add and del
// are idempotent, so running one twice is harmless.

import { spawn, type ChildProcess } from "node:child_process";
import { assert } from "../shared/assert.ts";
import { COMMAND_TIMEOUT_MS, runCommand, type CommandResult, type Runner } from "./vip.ts";

const MARKER = "link show dev lo";
const MARKER_ANSWER = /^\d+: lo: /;
const FAILED = /^Command failed /;
/**
 * Commands waiting for the batch process's answer, at most. The agent asks
 * one change per service at a time (64 services at most), so this is never
 * reached in use; past it a command runs through the fallback instead.
 */
export const BATCH_QUEUE_MAX = 256;
/** Output lines kept per command (ip answers an address change with a line or two). */
const LINES_MAX = 64;

type Pending = { argv: string[]; lines: string[]; resolve(r: CommandResult): void; timer: NodeJS.Timeout };

export type IpBatch = {
  run: Runner;
  /** Ends the batch process; later commands start a new one. */
  close(): void;
  /** Starts the batch process now, if it is not running: the first change then does not wait for a spawn (3-5 ms here, on a move's path). */
  warm(): void;
  /** Commands answered by the batch process and by the fallback, for tests and /status. */
  counts(): { batch: number; fallback: number; queueFull: number };
};

/** The line for the batch process, or null when argv is not an address change it takes. */
export function batchLine(argv: string[]): string | null {
  if (argv[0] !== "ip") return null;
  // `-6` is a global option, which batch lines cannot carry; the address says its family.
  const rest = argv[1] === "-6" ? argv.slice(2) : argv.slice(1);
  if (rest[0] !== "addr" || (rest[1] !== "add" && rest[1] !== "del")) return null;
  if (rest.some((a) => a.length === 0 || /[\s"'\\#]/.test(a))) return null; // the batch reader splits on blanks and quotes
  return rest.join(" ");
}

/** After close() ends its input, the batch process gets this long before SIGKILL. */
const CLOSE_GRACE_MS = 1_000;

export type IpBatchOptions = { prefix?: string[]; fallback?: Runner; timeoutMs?: number };

/** `prefix` runs the process elsewhere (tests: `ip netns exec NS`). */
export function ipBatch(o: IpBatchOptions = {}): IpBatch {
  const b = new BatchProcess(o);
  return { run: (argv) => b.run(argv), close: () => b.close(), warm: () => b.warm(), counts: () => b.counts() };
}

/** One `ip -batch` process (started on first use, restarted after it dies), its queue of commands awaiting answers, and the fallback. */
class BatchProcess {
  private readonly fallback: Runner;
  private readonly timeoutMs: number;
  private readonly prefix: string[];
  private child: ChildProcess | null = null;
  private readonly queue: Pending[] = [];
  private buf = "";
  private readonly tally = { batch: 0, fallback: 0, queueFull: 0 };

  constructor(o: IpBatchOptions) {
    this.fallback = o.fallback ?? runCommand;
    this.timeoutMs = o.timeoutMs ?? COMMAND_TIMEOUT_MS;
    this.prefix = o.prefix ?? [];
  }

  counts(): { batch: number; fallback: number; queueFull: number } {
    return { ...this.tally };
  }

  run(argv: string[]): Promise<CommandResult> {
    const line = batchLine(argv);
    if (line === null) return this.viaFallback(argv);
    if (this.queue.length >= BATCH_QUEUE_MAX) {
      this.tally.queueFull += 1;
      return this.viaFallback(argv);
    }
    const c = this.child ?? (this.child = this.start());
    return new Promise<CommandResult>((resolve) => {
      const p: Pending = {
        argv,
        lines: [],
        resolve,
        // A wedged `ip`: kill it; this command and those behind it go to the fallback.
        timer: setTimeout(() => c.kill("SIGKILL"), this.timeoutMs),
      };
      this.queue.push(p);
      assert(this.queue.length <= BATCH_QUEUE_MAX, "the batch queue stays within BATCH_QUEUE_MAX");
      c.stdin!.write(`${line}\n${MARKER}\n`);
    });
  }

  warm(): void {
    this.child ??= this.start();
  }

  close(): void {
    const c = this.child;
    if (c === null) return;
    c.stdin!.end();
    setTimeout(() => c.kill("SIGKILL"), CLOSE_GRACE_MS).unref();
  }

  private viaFallback(argv: string[]): Promise<CommandResult> {
    this.tally.fallback += 1;
    return this.fallback(argv);
  }

  /** The batch process is gone: what it had not answered runs through the fallback. */
  private orphan(c: ChildProcess): void {
    if (this.child !== c) return;
    this.child = null;
    this.buf = "";
    for (const p of this.queue.splice(0)) {
      clearTimeout(p.timer);
      this.viaFallback(p.argv).then(p.resolve, (err: Error) => p.resolve({ code: -1, stdout: "", stderr: err.message }));
    }
  }

  private onLine(line: string): void {
    const p = this.queue[0];
    if (p === undefined) return;
    if (!MARKER_ANSWER.test(line)) {
      if (p.lines.length < LINES_MAX) p.lines.push(line);
      return;
    }
    this.queue.shift();
    clearTimeout(p.timer);
    this.tally.batch += 1;
    const failed = p.lines.some((l) => FAILED.test(l));
    const text = p.lines.filter((l) => !FAILED.test(l)).join("\n");
    p.resolve(failed ? { code: 1, stdout: "", stderr: text } : { code: 0, stdout: text, stderr: "" });
  }

  private start(): ChildProcess {
    const argv = [...this.prefix, "sh", "-c", "exec ip -force -o -batch - 2>&1"];
    const c = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "pipe", "ignore"] });
    c.on("error", () => this.orphan(c)); // sh or ip missing: the fallback says so in its own words
    c.on("exit", () => this.orphan(c));
    c.stdin!.on("error", () => this.orphan(c)); // EPIPE when it died under us
    c.stdout!.setEncoding("utf8");
    c.stdout!.on("data", (chunk: string) => {
      this.buf += chunk;
      for (let i = this.buf.indexOf("\n"); i >= 0; i = this.buf.indexOf("\n")) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        this.onLine(line);
      }
    });
    // The agent's stop closes it; it must never be what keeps a process alive.
    c.unref();
    (c.stdin as unknown as { unref?(): void }).unref?.();
    (c.stdout as unknown as { unref?(): void }).unref?.();
    return c;
  }
}
