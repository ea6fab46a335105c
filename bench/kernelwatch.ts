// The servers' own view of a move, from their kernels: when each host starts
// and stops answering for the VIP. A host answers for it while the VIP's
// address is up on it and (the fence, src/actuate/fence.ts) its kernel lease
// is in the `inet` table's lease set; it stops at whichever ends first.
//
// A watcher per host namespace reads the kernel's own notifications (`ip
// monitor address`, `nft monitor`) and stamps each line as it arrives (raw
// reads of the pipes: a buffered reader would keep lines that select() no
// longer reports until the next write). It
// runs at SCHED_FIFO 99, above the agents: it sleeps until the kernel has
// something to say, so it takes nothing from them, and its stamps are the
// kernel's moments to within a few microseconds, where the probes' requests
// (at an ordinary or low real-time priority) wait behind the agents' work in
// the move. nft's monitor prints a transaction's element changes and then
// `# new generation`: the set's state changes at that line, once, so a lease
// refresh (add 1 ms, delete, add) is not read as a moment without a lease. An
// element's timeout expiring sends no notification; its expiry is computed
// from the timeout it was given.

import { createInterface } from "node:readline";
import { terminate } from "../src/demo/cluster.ts";
import type { Topology } from "../src/demo/topology.ts";

/** Above the agents' real-time priority: the watcher only ever waits for the kernel. */
const WATCH_RT = 99;

/** The watcher: both monitors as children, every line stamped (wall ms, to the microsecond) as it is read. */
const WATCHER = `
import os, selectors, subprocess, sys, time
procs = {"addr": subprocess.Popen(["ip", "-o", "monitor", "address"], stdout=subprocess.PIPE), "nft": subprocess.Popen(["nft", "monitor"], stdout=subprocess.PIPE)}
sel = selectors.DefaultSelector()
rest = {}
for name, p in procs.items():
    sel.register(p.stdout.fileno(), selectors.EVENT_READ, name)
    rest[name] = b""
print("0 ready", flush=True)
while rest:
    for key, _ in sel.select():
        chunk = os.read(key.fd, 65536)
        at = time.time() * 1000
        if not chunk:
            sel.unregister(key.fd)
            del rest[key.data]
            continue
        lines = (rest[key.data] + chunk).split(b"\\n")
        rest[key.data] = lines.pop()
        for line in lines:
            sys.stdout.write("%.3f %s %s\\n" % (at, key.data, line.decode(errors="replace").rstrip()))
        sys.stdout.flush()
`;

/** What one watcher line says of the VIP. */
export type KernelEvent = { at: number; kind: "addr-up" | "addr-down" } | { at: number; kind: "lease"; untilMs: number } | { at: number; kind: "unlease" };

/** The address without the prefix length. */
const bare = (cidr: string): string => cidr.split("/")[0]!;

/**
 * Parses a host's watcher lines into the VIP's events. nft element lines are
 * held until their transaction's `# new generation` line, then the last one
 * for the VIP's `inet` lease set applies at that moment.
 */
export function kernelEvents(lines: readonly string[], vip: string): KernelEvent[] {
  const addr = bare(vip);
  const esc = addr.replace(/[.:]/g, (c) => `\\${c}`);
  const addrRe = new RegExp(`\\binet6? ${esc}/`);
  const elemRe = new RegExp(`^(add|delete) element inet \\S+ lease[46] \\{ ${esc}(?: timeout (\\d+)ms)?`);
  const out: KernelEvent[] = [];
  let pending: { op: string; timeoutMs: number } | null = null;
  for (const line of lines) {
    const m = /^(\d+(?:\.\d+)?) (addr|nft) (.*)$/.exec(line);
    if (m === null) continue;
    const at = Number(m[1]);
    const [src, text] = [m[2]!, m[3]!];
    if (src === "addr") {
      if (addrRe.test(text)) out.push({ at, kind: text.startsWith("Deleted") ? "addr-down" : "addr-up" });
      continue;
    }
    const e = elemRe.exec(text);
    if (e !== null) pending = { op: e[1]!, timeoutMs: Number(e[2] ?? 0) };
    else if (text.startsWith("# new generation") && pending !== null) {
      out.push(pending.op === "add" && pending.timeoutMs > 0 ? { at, kind: "lease", untilMs: at + pending.timeoutMs } : { at, kind: "unlease" });
      pending = null;
    }
  }
  return out;
}

/**
 * The stretches [from, to] in which the host answered for the VIP, up to
 * `endAt` (a stretch still open then ends there). `addrUp`/`leased` give the
 * state before the first event (what the host was doing when watching began).
 */
export function answeringSpans(events: readonly KernelEvent[], endAt: number, before: { addrUp: boolean; leasedUntil: number }): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let addrUp = before.addrUp;
  let leasedUntil = before.leasedUntil;
  const answering = (t: number) => addrUp && leasedUntil > t;
  let openedAt: number | null = answering(-Infinity) ? -Infinity : null;
  const close = (t: number) => {
    if (openedAt !== null) spans.push([openedAt, t]);
    openedAt = null;
  };
  for (const e of [...events].sort((a, b) => a.at - b.at)) {
    if (openedAt !== null && leasedUntil <= e.at) close(leasedUntil); // the lease ran out before this event
    if (e.kind === "addr-up") addrUp = true;
    else if (e.kind === "addr-down") addrUp = false;
    else if (e.kind === "lease") leasedUntil = e.untilMs;
    else leasedUntil = -Infinity;
    if (answering(e.at) && openedAt === null) openedAt = e.at;
    else if (!answering(e.at)) close(e.at);
  }
  if (openedAt !== null) close(Math.min(endAt, leasedUntil));
  return spans;
}

/**
 * The kernels' gap: the new holder's first moment answering (after `since`)
 * minus the end of the old holder's last stretch begun before it (an earlier
 * hole in the old holder's answering, a refresh come late, is not the move).
 * Negative: both kernels answered at once (the fence's promise broken). Null
 * when either side shows no change.
 */
export function kernelGap(oldSpans: ReadonlyArray<[number, number]>, newSpans: ReadonlyArray<[number, number]>, since: number): number | null {
  const started = newSpans.find(([from]) => from >= since);
  if (started === undefined) return null;
  const before = oldSpans.filter(([from, to]) => from < started[0] && to >= since);
  if (before.length === 0) return null;
  return started[0] - Math.max(...before.map(([, to]) => to));
}

/** The old holder's holes before the move: its stretches that ended after `since` and before its last one began (a kernel lease run out in steady service). */
export function holesBefore(oldSpans: ReadonlyArray<[number, number]>, since: number): number {
  return Math.max(0, oldSpans.filter(([, to]) => to >= since).length - 1);
}

/** A running watcher in a host's namespace: its stamped lines, and stop. */
export type KernelWatch = { lines: string[]; ready: Promise<void>; stop(): Promise<void> };

export function watchKernel(topo: Topology, host: string): KernelWatch {
  const p = topo.spawn(host, ["chrt", "-f", String(WATCH_RT), "python3", "-c", WATCHER], {});
  const lines: string[] = [];
  let ready!: () => void;
  const readyP = new Promise<void>((r) => (ready = r));
  createInterface({ input: p.stdout! }).on("line", (line) => {
    if (line === "0 ready") ready();
    else lines.push(line);
  });
  p.once("exit", () => ready());
  return { lines, ready: readyP, stop: () => terminate(p) };
}
