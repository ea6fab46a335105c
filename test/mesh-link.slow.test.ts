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

import { spawn, type ChildProcess } from "node:child_process";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import type { WireMsg } from "../src/mesh/index.ts";
import { generateKeyPair } from "../src/shared/identity.ts";
import type { HostId } from "../src/shared/ids.ts";
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
