// Scenario (slow): proves the agent's real mesh (openMesh: hyperswarm, the
// firewall, one protomux channel per peer) keeps the mesh link contract, by
// running the acceptance suite every mesh link passes
// (test/adapters/mesh-link.ts; the simulator's in-memory twin passes it in
// src/sim/memnet.test.ts) against three real meshes on a DHT of their own:
// a bootstrap node on loopback, no internet. Each mesh runs in a Node
// process of its own (test/fixtures/mesh-link-host.ts: hyperswarm's UDP
// transport does not load under bun) and answers for its link over stdio
// with what openMesh's link returned. Waits are bounded; every process is
// ended after the suite, failing or not.

import { afterAll, describe, expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import type { WireMsg } from "../src/mesh/index.ts";
import { generateKeyPair } from "../src/shared/identity.ts";
import { hostId, type HostId } from "../src/shared/ids.ts";
import type { MeshLinkEvents } from "../src/shared/meshlink.ts";
import { LINK_HOSTS, meshLinkAcceptance, type DrivenLink } from "./adapters/mesh-link.ts";

const ROOT = resolve(import.meta.dir, "..");
const NODE = join(ROOT, "node_modules/.bin/node");
const MAIN = join(ROOT, "src/cli/main.ts");
const HOST = join(ROOT, "test/fixtures/mesh-link-host.ts");
/** The suite's own cluster name, so its topic is no one else's. */
const CLUSTER = "mesh-link-acceptance";
/** Connecting over a fresh DHT takes seconds on a loaded machine; no wait of the suite, nor a process's start, is longer. */
const WAIT_MS = 30_000;
/** UDP ports the bootstrap node picks from (a random one, so parallel runs do not collide). */
const BOOT_PORT_MIN = 45_000;
const BOOT_PORT_SPAN = 5_000;
/** After SIGTERM, how long a process has to end before SIGKILL. */
const KILL_GRACE_MS = 500;

/** The first line of `p`'s stdout that `pred` accepts, or an error after WAIT_MS or at its exit. */
function firstLine(p: ChildProcess, pred: (o: Record<string, unknown>) => boolean, what: string): Promise<void> {
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`)), WAIT_MS);
    p.once("exit", (code) => rej(new Error(`${what}: the process exited (${code}) first`)));
    createInterface({ input: p.stdout! }).on("line", (l) => {
      if (pred(JSON.parse(l))) {
        clearTimeout(timer);
        res();
      }
    });
  });
}

/** One host's real mesh in its own process, driven over stdio: a question the process exits before answering fails. */
function meshProcess(p: ChildProcess, events: MeshLinkEvents<WireMsg>): DrivenLink<WireMsg> {
  let nextId = 0;
  let exited = false;
  let closing: Promise<void> | null = null;
  const waiting = new Map<number, { res: (result: unknown) => void; rej: (e: Error) => void }>();
  createInterface({ input: p.stdout! }).on("line", (l) => {
    const o = JSON.parse(l);
    if (o.event === "message") events.onMessage(o.from, o.msg);
    else if (o.event === "peer") events.onPeer(o.id, o.connected);
    else if (typeof o.id === "number") waiting.get(o.id)?.res(o.result);
  });
  p.once("exit", () => {
    exited = true;
    for (const w of waiting.values()) w.rej(new Error("the mesh process exited before answering"));
  });
  const ask = <T>(req: object): Promise<T> =>
    exited
      ? Promise.reject(new Error("the mesh process has exited"))
      : new Promise((res, rej) => {
          const id = nextId++;
          waiting.set(id, { res: (r) => res(r as T), rej });
          p.stdin!.write(JSON.stringify({ id, ...req }) + "\n");
        });
  return {
    send: (to, msg) => ask<boolean>({ op: "send", to, msg }),
    connected: () => ask<HostId[]>({ op: "connected" }),
    close: () => (closing ??= exited ? Promise.resolve() : ask<void>({ op: "close" })),
  };
}

meshLinkAcceptance<WireMsg>("real hyperswarm mesh on loopback, one Node process per host", WAIT_MS, async () => {
  const procs: ChildProcess[] = [];
  const start = (args: string[]): ChildProcess => {
    const p = spawn(NODE, args, { stdio: ["pipe", "pipe", "inherit"] });
    procs.push(p);
    return p;
  };
  const bootstrap = `127.0.0.1:${BOOT_PORT_MIN + Math.floor(Math.random() * BOOT_PORT_SPAN)}`;
  const boot = start([MAIN, "bootstrap", "--host", "127.0.0.1", "--port", bootstrap.split(":")[1]!]);
  await firstLine(boot, (o) => o.event === "listening", "the bootstrap node");
  const keys = new Map(LINK_HOSTS.map((h) => [h, generateKeyPair()]));
  return {
    async open(self, events) {
      const peers = LINK_HOSTS.filter((h) => h !== self).flatMap((h) => ["--peer", `${h}=${keys.get(h)!.publicKey.toString("hex")}`]);
      const kp = keys.get(self)!;
      const p = start([HOST, "--self", self, "--cluster", CLUSTER, "--bootstrap", bootstrap, "--public-key", kp.publicKey.toString("hex"), "--secret-key", kp.secretKey.toString("hex"), ...peers]);
      const link = meshProcess(p, events);
      await firstLine(p, (o) => o.event === "ready", `${self}'s mesh to open`);
      return link;
    },
    message: (n): WireMsg => ({ type: "ping", seq: n, updates: [] }),
    unordered: (n): WireMsg => ({ type: "renew", service: "web", epoch: 1, holder: LINK_HOSTS[0], seq: n, boot: 7 }),
    async dispose() {
      for (const p of procs) if (p.exitCode === null) p.kill("SIGTERM");
      await new Promise((r) => setTimeout(r, KILL_GRACE_MS));
      for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
    },
  };
});

// A link one end dropped without a word (both ends dialled at once and each
// kept a different connection; a crash; a NAT rebind) must not be kept by
// the other end: after linkTimeoutMs of silence it drops the connection and
// dials again. A quiet link is not silent: keep-alives carry it.
describe("real mesh link liveness (linkTimeoutMs)", () => {
  /** Short, so the test is quick; the lan profile's is 2 s. */
  const LINK_TIMEOUT_MS = 1_000;
  /** A silent link is dropped well within this (without linkTimeoutMs: 15 s). */
  const SILENT_DROP_BOUND_MS = 5 * LINK_TIMEOUT_MS;
  /** A quiet link must outlive its timeout by this many times. */
  const QUIET_TIMEOUTS = 3;
  const procs: ChildProcess[] = [];
  afterAll(async () => {
    for (const p of procs) {
      if (p.exitCode !== null) continue;
      p.kill("SIGCONT");
      p.kill("SIGTERM");
    }
    await new Promise((r) => setTimeout(r, KILL_GRACE_MS));
    for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
  });

  test("a quiet link stays up; a peer gone silent (SIGSTOP) is dropped after the timeout, and both dial again once it resumes", async () => {
    const start = (args: string[]): ChildProcess => {
      const p = spawn(NODE, args, { stdio: ["pipe", "pipe", "inherit"] });
      procs.push(p);
      return p;
    };
    const bootstrap = `127.0.0.1:${BOOT_PORT_MIN + Math.floor(Math.random() * BOOT_PORT_SPAN)}`;
    await firstLine(start([MAIN, "bootstrap", "--host", "127.0.0.1", "--port", bootstrap.split(":")[1]!]), (o) => o.event === "listening", "the bootstrap node");
    const [a, b] = [hostId("a"), hostId("b")];
    const keys = new Map([a, b].map((h) => [h, generateKeyPair()]));
    const peersSeen = new Map<HostId, Array<{ id: HostId; connected: boolean; atMs: number }>>([[a, []], [b, []]]);
    const procOf = new Map<HostId, ChildProcess>();
    for (const self of [a, b]) {
      const other = self === a ? b : a;
      const kp = keys.get(self)!;
      const p = start([HOST, "--self", self, "--cluster", `${CLUSTER}-liveness`, "--bootstrap", bootstrap, "--public-key", kp.publicKey.toString("hex"), "--secret-key", kp.secretKey.toString("hex"), "--peer", `${other}=${keys.get(other)!.publicKey.toString("hex")}`, "--link-timeout-ms", String(LINK_TIMEOUT_MS)]);
      procOf.set(self, p);
      meshProcess(p, { onMessage: () => {}, onPeer: (id, connected) => peersSeen.get(self)!.push({ id, connected, atMs: Date.now() }) });
      await firstLine(p, (o) => o.event === "ready", `${self}'s mesh to open`);
    }
    const up = (self: HostId) => peersSeen.get(self)!.at(-1)?.connected === true;
    const until = async (pred: () => boolean, what: string) => {
      for (const end = Date.now() + WAIT_MS; !pred(); await new Promise((r) => setTimeout(r, 20))) if (Date.now() > end) throw new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`);
    };
    await until(() => up(a) && up(b), "a and b to connect");

    // Quiet: nothing sent for several timeouts; the keep-alives hold the link.
    const heard = peersSeen.get(a)!.length + peersSeen.get(b)!.length;
    await new Promise((r) => setTimeout(r, QUIET_TIMEOUTS * LINK_TIMEOUT_MS));
    expect(peersSeen.get(a)!.length + peersSeen.get(b)!.length).toBe(heard);
    expect(up(a) && up(b)).toBe(true);

    // Silent: b stops answering anything; a drops the link.
    const stoppedAt = Date.now();
    procOf.get(b)!.kill("SIGSTOP");
    await until(() => !up(a), "a to drop its silent link to b");
    const droppedAfterMs = peersSeen.get(a)!.at(-1)!.atMs - stoppedAt;
    console.log(`mesh-link liveness: a dropped its link to the stopped b after ${droppedAfterMs} ms (timeout ${LINK_TIMEOUT_MS} ms)`);
    // Counted from the last thing a heard from b: up to a keep-alive interval (a quarter of the timeout) before the stop.
    expect(droppedAfterMs).toBeGreaterThanOrEqual(0.75 * LINK_TIMEOUT_MS - 50);
    // Not hyperdht's own 15 s, which held such a link before linkTimeoutMs; wide of the timeout for a loaded machine.
    expect(droppedAfterMs).toBeLessThan(SILENT_DROP_BOUND_MS);

    // b resumes: both sides end up connected again.
    procOf.get(b)!.kill("SIGCONT");
    await until(() => up(a) && up(b), "a and b to connect again");
  }, 4 * WAIT_MS);
});
