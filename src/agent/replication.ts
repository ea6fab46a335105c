// The agent's state replication wiring: the chunk store, the replicator
// (whose machine runs in the host core, so what it learns goes to the loop
// as events), and, per mesh connection, the state channel and blob channel
// opened on that connection's protomux.

import { join } from "node:path";
import { hostId, type HostId } from "../shared/ids.ts";
import type { Logger } from "../shared/log.ts";
import { replicasOf, type Config } from "../shared/config.ts";
import { host } from "../decide/index.ts";
import { startReplicator, type Replicator, attachStateChannel, type StateLink, openChunkStore, serveBlobs, type BlobPeer } from "../state/index.ts";
import type { AgentLoop } from "./loop.ts";

/** Bytes in the megabyte of `state.blobRateMBps`. */
const BYTES_PER_MB = 1_000_000;

export type AgentReplication = {
  replicator: Replicator;
  /** Opens the state and blob channels of a new mesh connection. */
  onMux(id: HostId, mux: unknown): void;
};

export async function startAgentReplication(config: Config, loop: AgentLoop, log: Logger, now: () => number): Promise<AgentReplication> {
  const self = config.host;
  const t = config.timing;
  const stateLinks = new Map<HostId, StateLink>();
  const workloads = workloadsReader(config, loop);
  const blobPeers = new Map<HostId, BlobPeer>();
  const chunkStore = await openChunkStore(join(config.stateDir, "chunks"), {
    syncEach: false, // one syncfs per blob instead of two fsyncs per chunk (see chunks.ts)
    onCorrupt: (hash, file) => log("error", "state", "chunk-corrupt", { hash, file, action: "removed; it will be fetched again" }),
  });
  const swept = await chunkStore.sweep();
  if (swept > 0) log("info", "state", "chunk-temps-swept", { files: swept });
  const replicator = startReplicator({
    self,
    stateDir: config.stateDir,
    services: config.services.map((s) => ({ name: s.name, replicas: replicasOf(s), primary: s.primary, ackShadows: s.ackShadows })),
    writeTimeoutMs: t.writeTimeoutMs,
    staleAfterMs: t.syncStaleMs,
    log,
    now,
    send: (to, msg) => stateLinks.get(to)?.send(msg) ?? false,
    onSaved: (service) => workloads.read(replicator, service),
    // The replication machine runs in the host core: what the replicator learns goes in as events, right away.
    core: { feed: (ev) => loop.feed(ev), peers: (service) => host.replicaPeers(loop.core, service) },
    blobs: {
      store: chunkStore,
      rateBytesPerSec: config.state.blobRateMBps * BYTES_PER_MB,
      sources: (peers) => peers.flatMap((p) => {
        const bp = blobPeers.get(p);
        return bp !== undefined && !bp.closed ? [bp] : [];
      }),
    },
  });
  for (const s of config.services) if (s.migrate !== undefined && replicator.services().includes(s.name)) workloads.read(replicator, s.name);
  const onMux = (id: HostId, mux: unknown): void => {
    const bp = serveBlobs(mux, chunkStore, { label: id, log });
    if (bp !== null) blobPeers.set(id, bp);
    attachStateChannel(mux, id, {
      log,
      onOpen: (peer, link) => {
        stateLinks.set(peer, link);
        replicator.onPeer(peer, true);
      },
      onMessage: (peer, msg) => replicator.onMessage(peer, msg),
      onClose: (peer, link) => {
        // A newer connection may have replaced this one already.
        if (stateLinks.get(peer) !== link) return;
        stateLinks.delete(peer);
        replicator.onPeer(peer, false);
      },
    });
  };
  return { replicator, onMux };
}

/** Tells the core a service's workloads (with a migrate hook) as the document has them: at start, and whenever a saved change changed them. */
function workloadsReader(config: Config, loop: AgentLoop): { read(replicator: Replicator, service: string): void } {
  const migrating = new Set(config.services.filter((s) => s.migrate !== undefined).map((s) => s.name));
  const told = new Map<string, string>();
  return {
    read(replicator, service) {
      if (!migrating.has(service)) return;
      const list = Object.values(replicator.get(service).state.workloads ?? {}).map((w) => ({ id: w.workload_id, host: hostId(w.host_id), requirements: w.resource_requirements }));
      const key = JSON.stringify(list);
      if (told.get(service) === key) return;
      told.set(service, key);
      loop.feed({ type: "workloads", service, workloads: list });
    },
  };
}
