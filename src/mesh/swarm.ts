// The mesh transport: hyperswarm on a topic derived from the cluster name,
// one protomux channel per peer carrying compact-encoded frames. Only keys
// listed in the config get through the firewall, which hyperswarm consults
// before the Noise handshake completes, so an unknown peer is refused before
// any message of ours is read. A malformed frame drops that frame and that
// peer's connection with a logged reason; the agent never crashes on one.

import Hyperswarm from "hyperswarm";
import DHT from "hyperdht";
import Protomux from "protomux";
import c from "compact-encoding";
import crypto from "hypercore-crypto";
import { isUmbraError } from "../shared/errors.ts";
import type { HostId } from "../shared/ids.ts";
import type { Logger } from "../shared/log.ts";
import { decodeMsg, encodeMsg, type WireMsg } from "./codec.ts";
export { parseHostPort } from "../shared/hostport.ts";

export const PROTOCOL = "umbra/1";
/**
 * While some configured peer is not connected, look it up again: after this
 * at first, then twice as long each time it is still missing, up to
 * REFRESH_INTERVAL_MAX_MS (a host that is down for the night must not cost
 * every other host a DHT lookup a second; Serf retries failed members every
 * 30 s). A peer that drops starts it over, so a short cut heals in seconds.
 */
export const REFRESH_INTERVAL_MS = 1_000;
export const REFRESH_INTERVAL_MAX_MS = 16_000;
/** A peer whose connection has this much unsent data gets no more frames until it drains (a cut link must not eat memory). */
export const PEER_BUFFERED_BYTES_MAX = 1024 * 1024;

export type KeyPair = { publicKey: Buffer; secretKey: Buffer };

export type MeshOptions = {
  cluster: string;
  self: HostId;
  keyPair: KeyPair;
  /** Every other host of the cluster: public key (hex) -> host id. */
  peers: Map<string, HostId>;
  /** host:port of DHT bootstrap nodes; empty means hyperswarm's public ones. */
  bootstrap: Array<{ host: string; port: number }>;
  log: Logger;
  onMessage(from: HostId, msg: WireMsg): void;
  onPeer(id: HostId, connected: boolean): void;
  /** Called for each new connection of a listed peer, so other protocols (state, blobs) open their own channels on its protomux. */
  onMux?(id: HostId, mux: unknown): void;
};

export type Mesh = {
  /** False when the peer is not connected or its send buffer is full (the frame is dropped). */
  send(to: HostId, msg: WireMsg): boolean;
  connected(): HostId[];
  close(): Promise<void>;
};

type Peer = { id: HostId; conn: { destroy(err?: Error): void; writableLength?: number }; frame: { send(b: Buffer): boolean } };

export function topicFor(cluster: string): Buffer {
  return crypto.hash(Buffer.from(`umbra/cluster/${cluster}`));
}

export async function openMesh(o: MeshOptions): Promise<Mesh> {
  const { log } = o;
  const dht = new DHT({
    bootstrap: o.bootstrap.length > 0 ? o.bootstrap : undefined,
    // Seen here: ephemeral (default) nodes opened connections that never
    // carried data, on loopback and between namespaces; persistent ones work.
    ephemeral: false,
  });
  const swarm = new Hyperswarm({
    keyPair: o.keyPair,
    dht,
    firewall: (remotePublicKey: Buffer) => {
      const id = o.peers.get(remotePublicKey.toString("hex"));
      if (id === undefined) {
        log("warn", "mesh", "peer-refused", { publicKey: remotePublicKey.toString("hex"), why: "key not in the cluster's [[hosts]]" });
        return true;
      }
      return false;
    },
  });
  const peers = new Map<HostId, Peer>();
  let closed = false;
  // Peers that joined at the same moment may have missed each other, and a
  // dropped one must be found again: look up the topic while one is missing.
  let discovery: { refresh(o: { server: boolean; client: boolean }): Promise<void> } | null = null;
  let refreshDelayMs = REFRESH_INTERVAL_MS;
  let refreshTimer: NodeJS.Timeout | null = null;
  function scheduleRefresh(restart: boolean): void {
    if (closed) return;
    if (restart) {
      refreshDelayMs = REFRESH_INTERVAL_MS;
      if (refreshTimer !== null) clearTimeout(refreshTimer);
      refreshTimer = null;
    }
    if (refreshTimer !== null) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      if (closed || discovery === null) return;
      if (peers.size >= o.peers.size) return; // all here: nothing until one drops
      discovery.refresh({ server: true, client: true }).catch((err: Error) => log("warn", "mesh", "refresh-failed", { error: err.message }));
      refreshDelayMs = Math.min(2 * refreshDelayMs, REFRESH_INTERVAL_MAX_MS);
      scheduleRefresh(false);
    }, refreshDelayMs);
    refreshTimer.unref();
  }

  swarm.on("connection", (conn: any, info: any) => {
    const key = (info.publicKey as Buffer).toString("hex");
    const id = o.peers.get(key);
    if (id === undefined) {
      // The firewall should have stopped it; refuse anyway.
      log("warn", "mesh", "peer-refused", { publicKey: key, why: "key not in the cluster's [[hosts]]" });
      conn.destroy();
      return;
    }
    conn.on("error", (err: Error) => log("debug", "mesh", "connection-error", { peer: id, error: err.message }));
    const mux = Protomux.from(conn);
    const channel = mux.createChannel({
      protocol: PROTOCOL,
      onclose: () => {
        const cur = peers.get(id);
        if (cur !== undefined && cur.conn === conn) {
          peers.delete(id);
          log("info", "mesh", "peer-disconnected", { peer: id });
          o.onPeer(id, false);
          scheduleRefresh(true);
        }
      },
    });
    if (channel === null) {
      conn.destroy();
      return;
    }
    const frame = channel.addMessage({
      encoding: c.raw,
      onmessage: (buf: Uint8Array) => {
        let msg: WireMsg;
        try {
          msg = decodeMsg(buf);
        } catch (err) {
          if (!isUmbraError(err)) throw err;
          log("warn", "mesh", "frame-dropped", { peer: id, why: err.message, bytes: buf.byteLength });
          conn.destroy();
          return;
        }
        o.onMessage(id, msg);
      },
    });
    channel.open();
    o.onMux?.(id, mux);
    const prior = peers.get(id);
    peers.set(id, { id, conn, frame });
    if (prior !== undefined && prior.conn !== conn) prior.conn.destroy();
    log("info", "mesh", "peer-connected", { peer: id, initiator: Boolean(info.client) });
    o.onPeer(id, true);
  });

  const joined = swarm.join(topicFor(o.cluster), { server: true, client: true });
  await joined.flushed();
  discovery = joined;
  scheduleRefresh(true);

  return {
    send(to, msg) {
      const p = peers.get(to);
      if (p === undefined) return false;
      if ((p.conn.writableLength ?? 0) > PEER_BUFFERED_BYTES_MAX) return false;
      return p.frame.send(encodeMsg(msg));
    },
    connected: () => [...peers.keys()],
    async close() {
      closed = true;
      if (refreshTimer !== null) clearTimeout(refreshTimer);
      await swarm.destroy();
    },
  };
}
