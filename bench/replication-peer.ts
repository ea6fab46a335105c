// One replica for bench/replication: a real mesh (hyperswarm on a loopback
// DHT) and a real replicator, no VIPs. The writer waits for its shadow,
// makes --writes one-key writes one after the other (each acknowledged only
// once durable on the shadow), and prints one JSON line of figures.
import { parseArgs } from "node:util";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { readFileSync } from "node:fs";
import type { HostId } from "../src/shared/ids.ts";
import { logger } from "../src/shared/log.ts";
import { openMesh } from "../src/mesh/swarm.ts";
import { startReplicator } from "../src/state/replicator.ts";
import { attachStateChannel, type StateLink } from "../src/state/channel.ts";
import { encodeState } from "../src/state/wire.ts";

const { values: v } = parseArgs({ options: { self: { type: "string" }, keys: { type: "string" }, bootstrap: { type: "string" }, dir: { type: "string" }, writes: { type: "string", default: "0" } } });
const self = v.self as HostId;
const keys = JSON.parse(readFileSync(v.keys!, "utf8")) as Record<string, { publicKey: string; secretKey: string }>;
const [bh, bp] = v.bootstrap!.split(":");
const log = logger(self, "warn");
const links = new Map<HostId, StateLink>();
const frameBytes = { sync: 0, other: 0 };
const now = () => performance.now();
const repl = startReplicator({
  self,
  stateDir: v.dir!,
  services: [{ name: "web", replicas: ["a", "b"] as HostId[], primary: "a" as HostId, ackShadows: 1 }],
  writeTimeoutMs: 10_000,
  staleAfterMs: 3_000,
  log,
  now,
  send: (to, msg) => {
    const n = encodeState(msg).byteLength;
    if (msg.type === "sync") frameBytes.sync += n;
    else frameBytes.other += n;
    return links.get(to)?.send(msg) ?? false;
  },
});
const peers = new Map(Object.entries(keys).filter(([id]) => id !== self).map(([id, k]) => [k.publicKey, id as HostId]));
const mesh = await openMesh({
  cluster: "bench-replication",
  self,
  keyPair: { publicKey: Buffer.from(keys[self]!.publicKey, "hex"), secretKey: Buffer.from(keys[self]!.secretKey, "hex") },
  peers,
  bootstrap: [{ host: bh!, port: Number(bp) }],
  log,
  onMessage: () => {},
  onPeer: () => {},
  onMux: (id, mux) =>
    attachStateChannel(mux, id, {
      log,
      onOpen: (p, l) => {
        links.set(p, l);
        repl.onPeer(p, true);
      },
      onMessage: (p, m) => repl.onMessage(p, m),
      onClose: (p, l) => {
        if (links.get(p) !== l) return;
        links.delete(p);
        repl.onPeer(p, false);
      },
    }),
});
const ticker = setInterval(() => repl.tick(), 10);
const writes = Number(v.writes);
if (writes > 0) {
  const deadline = Date.now() + 30_000;
  while (!links.has("b" as HostId) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  if (!links.has("b" as HostId)) {
    process.stdout.write(JSON.stringify({ error: "the shadow never connected" }) + "\n");
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 300)); // let the first sync round finish
  const lat: number[] = [];
  // How long the writer's event loop was held up while it wrote (saves included): leases are renewed on this loop.
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const perWrite: Array<{ sync: number; other: number }> = [];
  for (let i = 0; i < writes; i++) {
    const before = { ...frameBytes };
    const t0 = performance.now();
    await repl.write("web", { set: { [`key${i % 10}`]: `value-${i}` } }, "bench");
    lat.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 20)); // the sync round's last messages
    perWrite.push({ sync: frameBytes.sync - before.sync, other: frameBytes.other - before.other });
  }
  loop.disable();
  process.stdout.write(JSON.stringify({ lat, perWrite, loopMaxMs: loop.max / 1e6, loopP99Ms: loop.percentile(99) / 1e6 }) + "\n");
  clearInterval(ticker);
  await mesh.close();
  process.exit(0);
}
process.on("SIGTERM", async () => {
  clearInterval(ticker);
  await mesh.close();
  process.exit(0);
});
