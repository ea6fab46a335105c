// The mesh transport: hyperswarm on a topic derived from the cluster name,
// one protomux channel per peer carrying compact-encoded frames. Only keys
// listed in the config get through the firewall, which hyperswarm consults
// before the Noise handshake completes, so an unknown peer is refused before
// any message of ours is read. A malformed frame drops that frame and that
// peer's connection with a logged reason; the agent never crashes on one.

import Hyperswarm from "hyperswarm";
import DHT from "hyperdht";
import Protomux from "protomux";
import crypto from "hypercore-crypto";
import { type FramedChannel, openFramedChannel } from "../shared/framed.ts";
import type { HostId } from "../shared/ids.ts";
import { isUmbraError, UmbraError } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";
import { PROFILES } from "../shared/profiles.ts";
import { afterIoPoll } from "../shared/timers.ts";
import type { MeshLink, MeshLinkEvents } from "../shared/meshlink.ts";
import { MESH_CODEC, type WireMsg } from "./codec.ts";
import { newWatch, watchStep, WATCH_INTERVAL_MS } from "./watch.ts";
import { bootstrapRelayKeyPair, openRelayChannel, relayCandidates, relayKeyPair, RelayedLinks, startRelay, type Relay, type RelayChannel } from "./relay.ts";
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
/** A connection whose peer has not opened the mesh channel this long is dropped, unless MeshOptions.linkOpenTimeoutMs says otherwise (the lan profile's timing). */
export const LINK_OPEN_TIMEOUT_MS = PROFILES.lan.linkOpenTimeoutMs;
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
  /** Where this host's DHT node listens (its [[hosts]] address), so the others can bootstrap from it; null: any port. */
  listen?: { host: string; port: number } | null;
  log: Logger;
  /** Called for each new connection of a listed peer, so other protocols (state, blobs) open their own channels on its protomux. */
  onMux?(id: HostId, mux: unknown): void;
  /** Peers reachable at a configured address: the relays asked first (mesh/relay.ts). */
  reachable?: ReadonlySet<HostId>;
  /** The `umbra bootstrap` hosts (host and first port), whose relays come next. */
  bootstrapRelays?: Array<{ host: string; port: number }>;
  /** A connection whose peer has not opened the mesh channel this long is dropped (default LINK_OPEN_TIMEOUT_MS; timing.linkOpenTimeoutMs). */
  linkOpenTimeoutMs?: number;
} & MeshLinkEvents<WireMsg>;

/** The mesh link of the agent (the contract both shells' links keep, shared/meshlink.ts), and how it reaches each peer. */
export type Mesh = MeshLink<WireMsg> & {
  /** Connected peers whose connection runs through a relay: peer -> the relay's host (as that relay said), or "bootstrap HOST:PORT" (by the connection's remote end). */
  relayedVia(): ReadonlyMap<HostId, string>;
};

/**
 * A hyperswarm connection (@hyperswarm/secret-stream over UDX): a reliable
 * ordered stream, and beside it encrypted, authenticated, unordered
 * datagrams (`trySend`, the "message" event), absent on other transports.
 */
type Conn = {
  destroy(err?: Error): void;
  writableLength?: number;
  on(event: "error", f: (err: Error) => void): void;
  on(event: "message", f: (buf: Uint8Array) => void): void;
  on(event: "close", f: () => void): void;
  trySend?(buf: Uint8Array): void;
  /** The UDX stream under it: its remote end is the relay's when relayed. */
  rawStream?: { remoteHost?: string; remotePort?: number } | null;
};

/**
 * Messages that go as datagrams: small, idempotent and time-critical, so a
 * lost one must not hold back the ones behind it as it would on the ordered
 * stream (a renewal waiting out a retransmission is a lease lost). Lost
 * ones are simply not answered; the next renewal goes 50 ms later.
 */
export const DATAGRAM_TYPES: ReadonlySet<WireMsg["type"]> = new Set(["renew", "grant", "lapsed", "lapsed-ack"]);
/**
 * Each datagram goes twice, back to back; the receiver drops the copy it has
 * seen. A renewal needs its way there and a grant back: under 30 % loss each
 * way one voter answers a renewal with p = 0.49, with two copies each way
 * p = 0.83, and the holder, with two other voters and four renewals per
 * window at the lan timing, misses its lease with probability 0.26^4 = 0.5 %
 * per window, 0.03^4 = 1e-6 with copies (measured before copies: 98.5 % held
 * under 30 % loss at a 120 ms lease).
 *
 * The copy goes in the same turn, not a moment later: a copy sent 2 ms after
 * (sessions 10-14) rode out loss bursts shorter than that, but woke sender
 * and receiver once more for every datagram, and on this machine's VM a
 * wakeup costs 70-300 µs of CPU whatever the program (bench/RESULTS.md,
 * "Session 15"): at lan that was a third of an idle agent's wakeups. The
 * renewals themselves, five per lease, are spread in time.
 */
export const DATAGRAM_COPIES = 2;
/** Datagrams remembered per connection to drop their copies: far more than arrive between a datagram and its copy. */
export const DATAGRAMS_REMEMBERED = 64;
type Peer = { id: HostId; conn: Conn; link: FramedChannel<WireMsg>; relay: RelayChannel | null };

/** What the mesh knows of relays: each connected peer's relay key, which connections run through whose relay, and this host's own relay. */
type Relays = { keys: Map<HostId, Buffer>; links: RelayedLinks; own: Buffer; relay: Relay | null };

export function topicFor(cluster: string): Buffer {
  return crypto.hash(Buffer.from(`umbra/cluster/${cluster}`));
}

export async function openMesh(o: MeshOptions): Promise<Mesh> {
  const relayKeys = relayKeyPair(o.keyPair.secretKey);
  const relays: Relays = { keys: new Map(), links: new RelayedLinks(), own: relayKeys.publicKey, relay: null };
  const bootstrapRelays = (o.bootstrapRelays ?? []).map((b) => bootstrapRelayKeyPair(b.host, b.port).publicKey);
  // A relay when punching to a peer failed (force), or at once when this
  // host's NAT draws random ports: hyperdht punches on beside the relayed
  // link and moves to the direct path if a punch gets through. The
  // candidates in turn, so that one refusing or gone is not asked for ever.
  let turn = 0;
  const relayFor = (force: boolean): Buffer | null => {
    if (!force && swarm.dht.randomized !== true) return null;
    const all = relayCandidates(relays.keys, new Set(relays.links.peers()), o.reachable ?? new Set(), bootstrapRelays);
    return all.length === 0 ? null : all[turn++ % all.length]!;
  };
  const swarm = createSwarm(o, (force) => relayFor(force));
  const peers = new Map<HostId, Peer>();
  const refresh = refresher(o, () => peers.size);
  swarm.on("connection", (conn: Conn, info: { publicKey: Buffer; client?: boolean }) => onConnection(o, peers, relays, refresh, conn, info));
  // The relay listens in the background: announcing it waits on the DHT, which must not hold the start.
  const tellLinked = (a: Buffer, b: Buffer, on: boolean) => {
    const [ida, idb] = [o.peers.get(a.toString("hex")), o.peers.get(b.toString("hex"))];
    if (ida === undefined || idb === undefined) return;
    o.log("info", "mesh", on ? "relaying" : "relaying-ended", { between: [ida, idb] });
    peers.get(ida)?.relay?.tell(b, on);
    peers.get(idb)?.relay?.tell(a, on);
  };
  void startRelay(swarm.dht, relayKeys, (hex) => o.peers.has(hex), o.log, tellLinked).then(
    (r) => void (relays.relay = r),
    (err: Error) => o.log("warn", "mesh", "relay-failed", { error: err.message, effect: "this host relays for no pair of peers; its own connections are not affected" }),
  );
  // Every configured peer by its key too: hyperswarm finds each where it
  // announced itself and reconnects to it after a drop on its own, whatever
  // became of the topic's records (a bootstrap node gone with them).
  for (const key of o.peers.keys()) swarm.joinPeer(Buffer.from(key, "hex"));
  const joined = swarm.join(topicFor(o.cluster), { server: true, client: true });
  await joinedOrSaid(o, joined.flushed(), () => peers.size > 0 || (swarm.dht.nodes?.length ?? 0) > 0);
  refresh.start(joined);
  const watcher = watchReach(o, swarm, peers);

  return {
    send(to, msg) {
      const p = peers.get(to);
      if (p === undefined) return false;
      if (DATAGRAM_TYPES.has(msg.type) && p.conn.trySend !== undefined) {
        const buf = MESH_CODEC.encode(msg);
        for (let i = 0; i < DATAGRAM_COPIES; i++) p.conn.trySend(buf);
        return true;
      }
      if ((p.conn.writableLength ?? 0) > PEER_BUFFERED_BYTES_MAX) return false;
      return p.link.send(msg);
    },
    connected: () => [...peers.keys()],
    relayedVia: () => relayedVia(peers, relays.links, o.bootstrapRelays ?? []),
    async close() {
      refresh.stop();
      clearInterval(watcher);
      // A relay still announcing goes with the DHT below.
      relays.relay?.close();
      // Leaving tells the DHT nodes we announced to; one gone costs its
      // timeouts (5 s seen when a peer had stopped first). The process is
      // ending: past this wait the sockets close with it.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([swarm.destroy(), new Promise<void>((resolve) => (timer = setTimeout(resolve, MESH_CLOSE_WAIT_MS)))]);
      clearTimeout(timer);
    },
  };
}

/** A stopping agent waits this long at most for the swarm to leave the DHT. */
export const MESH_CLOSE_WAIT_MS = 250;
/** The topic's first announcement may wait this long at start; past it the agent says so and goes on (the refresher keeps asking the bootstrap nodes). */
export const JOIN_WAIT_MS = 2_000;

/**
 * Waits for the topic's first announcement, at most JOIN_WAIT_MS: a
 * bootstrap node down must not hold the agent's start (it took 12 s), and
 * no DHT node answering (`reached` false: no node in the routing table, no
 * peer connected) must be said.
 */
async function joinedOrSaid(o: MeshOptions, flushed: Promise<unknown>, reached: () => boolean): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), JOIN_WAIT_MS)));
  const first = await Promise.race([flushed.then(() => "joined" as const), late]);
  clearTimeout(timer);
  if (first === "joined" || reached()) return;
  const nodes = o.bootstrap.map((b) => `${b.host}:${b.port}`);
  o.log("warn", "mesh", "dht-unreachable", { bootstrap: nodes.length > 0 ? nodes : "the public DHT", waitedMs: JOIN_WAIT_MS, effect: "no DHT node answered yet: peers are not found until one does; still trying" });
  flushed.then(
    () => o.log("info", "mesh", "dht-joined", { bootstrap: nodes }),
    (err: Error) => o.log("warn", "mesh", "dht-join-failed", { error: err.message }),
  );
}

/** Hyperswarm on its own DHT, with a firewall that lets through only the cluster's keys. */
function createSwarm(o: MeshOptions, relayThrough: (force: boolean) => Buffer | null): any {
  const dht = new DHT({
    // Its own connections (to a relay: hyperdht's dht.connect without a key
    // pair) go under the host's key, the one relays let through.
    keyPair: o.keyPair,
    bootstrap: o.bootstrap.length > 0 ? o.bootstrap : undefined,
    // A host with an address is reachable there by the operator's word: it
    // serves as a DHT node (and a bootstrap node) from the start, rather than
    // after NAT sampling, which needs replies from several nodes a small
    // cluster may not have.
    //
    // A host without an address is left to find out (dht-rpc's adaptive
    // mode). Forced persistent behind a NAT, its routing table stayed empty
    // while an adaptive node's held every bootstrap node (the NAT lab,
    // session 15): it could neither announce nor look the topic up, and no
    // pair connected.
    ...(o.listen === undefined || o.listen === null ? {} : { host: o.listen.host, port: o.listen.port, firewalled: false, ephemeral: false }),
  });
  return new Hyperswarm({
    keyPair: o.keyPair,
    dht,
    // Asked when punching to a peer failed (force): a connected peer's relay (mesh/relay.ts).
    relayThrough,
    firewall: (remotePublicKey: Buffer) => {
      const id = o.peers.get(remotePublicKey.toString("hex"));
      if (id === undefined) {
        o.log("warn", "mesh", "peer-refused", { publicKey: remotePublicKey.toString("hex"), why: "key not in the cluster's [[hosts]]" });
        return true;
      }
      return false;
    },
  });
}

/** The topic's lookup, as joining it returns it. */
type Discovery = { refresh(o: { server: boolean; client: boolean }): Promise<void> };

/** Looks the topic up again while a configured peer is missing, backing off; `restart` starts the backoff over. */
type Refresher = { start(discovery: Discovery): void; restart(): void; stop(): void };

// Peers that joined at the same moment may have missed each other, and a
// dropped one must be found again: look up the topic while one is missing.
function refresher(o: MeshOptions, connectedCount: () => number): Refresher {
  let discovery: Discovery | null = null;
  let stopped = false;
  let delayMs = REFRESH_INTERVAL_MS;
  let timer: NodeJS.Timeout | null = null;
  function schedule(restart: boolean): void {
    if (stopped) return;
    if (restart) {
      delayMs = REFRESH_INTERVAL_MS;
      if (timer !== null) clearTimeout(timer);
      timer = null;
    }
    if (timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      if (stopped || discovery === null) return;
      if (connectedCount() >= o.peers.size) return; // all here: nothing until one drops
      discovery.refresh({ server: true, client: true }).catch((err: Error) => o.log("warn", "mesh", "refresh-failed", { error: err.message }));
      delayMs = Math.min(2 * delayMs, REFRESH_INTERVAL_MAX_MS);
      schedule(false);
    }, delayMs);
    timer.unref();
  }
  return {
    start(d) {
      discovery = d;
      schedule(true);
    },
    restart: () => schedule(true),
    stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
    },
  };
}

/** The datagrams a connection delivered lately, to know a copy (DATAGRAM_COPIES) when it comes. */
export function datagramMemory(max: number = DATAGRAMS_REMEMBERED): { seen(buf: Uint8Array): boolean } {
  const set = new Set<string>();
  const order: string[] = [];
  return {
    seen(buf) {
      const key = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString("base64");
      if (set.has(key)) return true;
      set.add(key);
      order.push(key);
      if (order.length > max) set.delete(order.shift()!);
      return false;
    },
  };
}

/** Looks at the mesh's reach every WATCH_INTERVAL_MS and logs what mesh/watch.ts finds (an unclassified NAT, a peer long without a connection). */
function watchReach(o: MeshOptions, swarm: any, peers: ReadonlyMap<HostId, Peer>): NodeJS.Timeout {
  const ids = [...o.peers.values()];
  const state = newWatch(performance.now(), ids);
  const timer = setInterval(() => {
    const dht = swarm.dht;
    const view = { peers: ids, connected: new Set(peers.keys()), firewalled: dht.firewalled === true, dhtNodes: dht.toArray?.().length ?? 0, addressKnown: dht.host !== null && dht.host !== undefined };
    for (const l of watchStep(state, view, performance.now())) o.log(l.level, "mesh", l.event, l.fields);
  }, WATCH_INTERVAL_MS);
  timer.unref();
  return timer;
}

/** Mesh.relayedVia: what relays said of each connection, and connections whose remote end is a bootstrap host's relay. */
function relayedVia(peers: ReadonlyMap<HostId, Peer>, links: RelayedLinks, bootstraps: ReadonlyArray<{ host: string; port: number }>): Map<HostId, string> {
  const out = new Map<HostId, string>();
  for (const [id, p] of peers) {
    const relay = links.via(id);
    const end = p.conn.rawStream;
    const b = bootstraps.find((x) => x.host === end?.remoteHost && x.port === end?.remotePort);
    if (relay !== null) out.set(id, relay);
    else if (b !== undefined) out.set(id, `bootstrap ${b.host}:${b.port}`);
  }
  return out;
}

/** A peer gone: its relay key, and what its relay said (it says it again when it reconnects). Links through other relays to it end with their own word. */
function forgetRelays(relays: Relays, id: HostId): void {
  relays.keys.delete(id);
  relays.links.relayGone(id);
}

/** A datagram from a listed peer: only the types that travel so; anything malformed is the peer's bug, as a malformed frame is. */
function onDatagram(o: MeshOptions, conn: Conn, id: HostId, buf: Uint8Array): void {
  let msg: WireMsg;
  try {
    msg = MESH_CODEC.decode(buf);
    if (!DATAGRAM_TYPES.has(msg.type)) throw new UmbraError("frame_malformed", `a ${msg.type} message as a datagram`);
  } catch (err) {
    if (!isUmbraError(err)) throw err;
    o.log("warn", "mesh", "frame-dropped", { peer: id, why: err.message, bytes: buf.byteLength, datagram: true });
    conn.destroy();
    return;
  }
  o.onMessage(id, msg);
}

/** A new connection: refused unless its key is listed, else the mesh channel opened on it, and the peer (re)placed once the peer opens it too. */
function onConnection(o: MeshOptions, peers: Map<HostId, Peer>, relays: Relays, refresh: Refresher, conn: Conn, info: { publicKey: Buffer; client?: boolean }): void {
  const key = info.publicKey.toString("hex");
  const id = o.peers.get(key);
  if (id === undefined) {
    // The firewall should have stopped it; refuse anyway.
    o.log("warn", "mesh", "peer-refused", { publicKey: key, why: "key not in the cluster's [[hosts]]" });
    conn.destroy();
    return;
  }
  conn.on("error", (err: Error) => o.log("debug", "mesh", "connection-error", { peer: id, error: err.message }));
  const mux = Protomux.from(conn);
  const relay = openRelayChannel(mux, relays.own, {
    onOpen: (key, channel) => {
      relays.keys.set(id, key);
      // What this host's relay links for that peer, said again: the peer forgot it when this connection last closed.
      for (const [a, b] of relays.relay?.active() ?? []) {
        if (a.equals(info.publicKey)) channel.tell(b, true);
        else if (b.equals(info.publicKey)) channel.tell(a, true);
      }
    },
    onLinked: (peer, on) => {
      const other = o.peers.get(peer.toString("hex"));
      if (other !== undefined && other !== id) relays.links.said(other, id, on);
    },
  });
  let spoke = false;
  const link = openFramedChannel(mux, PROTOCOL, MESH_CODEC, {
    log: o.log,
    part: "mesh",
    peer: id,
    onMessage: (msg) => o.onMessage(id, msg),
    onMalformed: () => conn.destroy(),
    // The peer is connected once it speaks the mesh protocol too, not when a connection exists.
    onOpen: (channel) => {
      spoke = true;
      const prior = peers.get(id);
      peers.set(id, { id, conn, link: channel, relay });
      if (prior !== undefined && prior.conn !== conn) prior.conn.destroy();
      o.log("info", "mesh", "peer-connected", { peer: id, initiator: Boolean(info.client) });
      o.onPeer(id, true);
    },
    onClose: () => {
      const cur = peers.get(id);
      if (cur !== undefined && cur.conn === conn) {
        peers.delete(id);
        forgetRelays(relays, id);
        o.log("info", "mesh", "peer-disconnected", { peer: id });
        o.onPeer(id, false);
        refresh.restart();
      }
    },
  });
  if (link === null) {
    conn.destroy();
    return;
  }
  const memory = datagramMemory();
  conn.on("message", (buf) => {
    if (!memory.seen(buf)) onDatagram(o, conn, id, buf); // a copy of one delivered already is dropped
  });
  o.onMux?.(id, mux);
  dropIfUnopened(o, id, conn, () => spoke);
}

/**
 * A connection whose peer has not opened the mesh channel within
 * linkOpenTimeoutMs is dropped. Its other end is gone or mute: when two
 * hosts dial each other at once, hyperswarm may leave one holding a
 * connection the other destroyed mid-handshake, and the other holding none.
 * The holder would keep it until UDX gives up (15 s), refusing the other's
 * dials as duplicates meanwhile, and the two would meet only through other
 * hosts: lose those and a holder loses its lease. Judged after an I/O poll
 * (afterIoPoll), so a stall of this host's own does not drop a link whose
 * peer's open is waiting to be read.
 */
function dropIfUnopened(o: MeshOptions, id: HostId, conn: Conn, opened: () => boolean): void {
  const waitMs = o.linkOpenTimeoutMs ?? LINK_OPEN_TIMEOUT_MS;
  let closed = false;
  conn.on("close", () => (closed = true));
  afterIoPoll(waitMs, () => {
    if (closed || opened()) return;
    o.log("warn", "mesh", "link-unopened", { peer: id, waitedMs: waitMs, effect: "connection dropped; the hosts dial again" });
    conn.destroy();
  }).unref();
}
