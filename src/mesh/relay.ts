// Relays for pairs of hosts that cannot punch through their NATs to each
// other (two NATs that draw a random port per destination: in the NAT lab
// such a pair never connected, and talked only through a third host's SWIM
// probes). Every agent runs a blind relay (the blind-relay package, which
// hyperdht speaks): it links two of the cluster's hosts that both reach it
// and forwards their UDX packets, still end-to-end encrypted between them,
// so it reads nothing. `umbra bootstrap` runs one too, beside its DHT nodes:
// the one host everybody reaches when no agent has an address. When
// hyperswarm gives up punching to a peer, or this host's own NAT draws
// random ports (punching from it rarely works), it asks `relayThrough` for
// a relay (relayCandidates, in turn); hyperdht keeps punching beside the
// relayed link and moves the connection to the direct path when a punch
// gets through.
//
// A relay listens on its own key pair (derived from the host's secret key),
// not the host's: a second connection under the host's key would replace
// the mesh's own. Peers learn it on a protomux channel of the mesh's
// connection, in its handshake; on the same channel a relay tells each of
// the two hosts it links that their connection runs through it (again
// after that channel reopens), which `umbra status` shows: a relayed link
// costs the relay's bandwidth and a detour.

import { createHash } from "node:crypto";
import DHT from "hyperdht";
import c, { type State } from "compact-encoding";
import BlindRelay from "blind-relay";
import type { HostId } from "../shared/ids.ts";
import type { Logger } from "../shared/log.ts";

/** The protomux protocol on which each end tells the other its relay's public key (the channel's handshake), and which links run through it. */
export const RELAY_PROTOCOL = "umbra/relay/1";

type KeyPair = { publicKey: Buffer; secretKey: Buffer };

/** The relay's key pair: a function of the host's secret key, so it is the same after a restart and nobody else's. */
export function relayKeyPair(secretKey: Uint8Array): KeyPair {
  const seed = createHash("sha256").update("umbra/relay/1\0").update(secretKey).digest();
  const kp = DHT.keyPair(seed) as KeyPair;
  return { publicKey: kp.publicKey, secretKey: kp.secretKey };
}

/**
 * The key pair of the relay `umbra bootstrap` runs beside its DHT nodes: a
 * function of its address (the IP and first port it was started with), so
 * every agent listing that bootstrap entry knows it with no more
 * configuration. Anyone can compute the secret half too. The relay stays
 * blind (the peers' own keys authenticate and encrypt end to end), but one
 * who announces the same key on the cluster's DHT sees which hosts pair
 * through it and can drop those pairs. Known limit, in the README (a relay
 * key file told to the agents would close it); `umbra bootstrap
 * --relay-for CONFIG` limits whom it links to a cluster's hosts.
 */
export function bootstrapRelayKeyPair(host: string, port: number): KeyPair {
  const seed = createHash("sha256").update(`umbra/bootstrap-relay/1\0${host}:${port}`).digest();
  const kp = DHT.keyPair(seed) as KeyPair;
  return { publicKey: kp.publicKey, secretKey: kp.secretKey };
}

export type Relay = {
  publicKey: Buffer;
  /** The pairs it links now (their public keys). */
  active(): Array<[Buffer, Buffer]>;
  /** Ends every link and stops listening; does not wait for the DHT to hear of it. */
  close(): void;
};

/**
 * Runs a relay on `dht`: only hosts whose keys `allowed` accepts may pair
 * through it. `onLinked` hears of each pair of hosts it links (their public
 * keys), and once again when their link ends (either side's stream closing).
 */
export async function startRelay(dht: any, keyPair: KeyPair, allowed: (publicKeyHex: string) => boolean, log: Logger, onLinked: (a: Buffer, b: Buffer, on: boolean) => void): Promise<Relay> {
  const relay = new BlindRelay.Server({ createStream: (opts: object) => dht.createRawStream({ ...opts, framed: true }) });
  // Both sessions of a pair say 'pair' with the pairing's token: the first waits here for the second.
  const half = new Map<string, { id: Buffer; stream: any }>();
  const linked = new Map<string, [Buffer, Buffer]>();
  const server = dht.createServer({ firewall: (remotePublicKey: Buffer) => !allowed(remotePublicKey.toString("hex")) }, (socket: any) => {
    socket.on("error", (err: Error) => log("debug", "mesh", "relay-socket-error", { error: err.message }));
    const id: Buffer = socket.remotePublicKey;
    const session = relay.accept(socket, { id });
    session.on("error", (err: Error) => log("debug", "mesh", "relay-session-error", { error: err.message }));
    session.on("pair", (_initiator: boolean, token: Buffer, stream: any) => {
      const k = token.toString("hex");
      const first = half.get(k);
      if (first === undefined) {
        half.set(k, { id, stream });
        stream.once("close", () => half.get(k)?.stream === stream && half.delete(k));
        return;
      }
      half.delete(k);
      linked.set(k, [first.id, id]);
      onLinked(first.id, id, true);
      const ended = () => {
        if (linked.delete(k)) onLinked(first.id, id, false);
      };
      first.stream.once("close", ended);
      stream.once("close", ended);
    });
  });
  await server.listen(keyPair);
  return {
    publicKey: keyPair.publicKey,
    active: () => [...linked.values()],
    close() {
      for (const s of relay.sessions) s.destroy();
      server.close().catch(() => undefined); // unannouncing waits on the DHT: not for a stopping agent
    },
  };
}

/** The relay channel of one connection: what this end tells the other. */
export type RelayChannel = {
  /** "Your connection to `peer` runs through my relay" (on), or no longer (off). */
  tell(peer: Uint8Array, on: boolean): void;
};

/**
 * Opens the relay channel on a connection's protomux: its handshake carries
 * each end's relay key (`onOpen` gets the peer's, once both ends opened),
 * and its one message says which of the receiver's connections run through
 * the sender's relay (`onLinked`). Null if the channel was open already.
 */
export function openRelayChannel(mux: any, own: Buffer, h: { onOpen(key: Buffer, channel: RelayChannel): void; onLinked(peer: Buffer, on: boolean): void }): RelayChannel | null {
  let open: RelayChannel | null = null;
  const channel = mux.createChannel({ protocol: RELAY_PROTOCOL, handshake: c.fixed32, onopen: (key: Buffer) => open !== null && h.onOpen(Buffer.from(key), open) });
  if (channel === null) return null;
  const linked = channel.addMessage({ encoding: LINKED, onmessage: (m: Linked) => h.onLinked(Buffer.from(m.peer), m.on) });
  open = { tell: (peer, on) => void linked.send({ peer, on }) };
  channel.open(own);
  return open;
}

type Linked = { peer: Uint8Array; on: boolean };

/** The linked message: a peer's public key, and whether the receiver's connection to it runs through the sender's relay. */
export const LINKED = {
  preencode(state: State, m: Linked) {
    c.fixed32.preencode(state, m.peer);
    c.bool.preencode(state, m.on);
  },
  encode(state: State, m: Linked) {
    c.fixed32.encode(state, m.peer);
    c.bool.encode(state, m.on);
  },
  decode(state: State): Linked {
    return { peer: c.fixed32.decode(state), on: c.bool.decode(state) };
  },
};

/**
 * The relays to ask, best first, for a peer hyperswarm could not punch
 * through to (or cannot hope to): first those anyone can reach, so that
 * both ends of the pair get to it without punching (a connected peer with
 * a configured address, then the bootstrap hosts' relays), then the other
 * connected peers' relays whose own connection is direct (`relayed` lists
 * the others). The caller takes them in turn: one that refuses or is gone
 * must not be asked for ever.
 */
export function relayCandidates(keys: ReadonlyMap<HostId, Buffer>, relayed: ReadonlySet<HostId>, reachable: ReadonlySet<HostId>, bootstrapRelays: readonly Buffer[]): Buffer[] {
  const direct = [...keys.keys()].filter((id) => !relayed.has(id)).sort();
  const open = direct.filter((id) => reachable.has(id));
  const rest = direct.filter((id) => !reachable.has(id));
  return [...open.map((id) => keys.get(id)!), ...bootstrapRelays, ...rest.map((id) => keys.get(id)!)];
}

/**
 * Which relay each connection runs through, as the relays said: counted per
 * (peer, relay), since two links to one peer may run through one relay
 * while one of them ends. A relay's word goes with its own connection; it
 * says it again when that reopens.
 */
export class RelayedLinks {
  private readonly counts = new Map<HostId, Map<HostId, number>>();

  said(peer: HostId, relay: HostId, on: boolean): void {
    const m = this.counts.get(peer) ?? new Map<HostId, number>();
    const n = (m.get(relay) ?? 0) + (on ? 1 : -1);
    if (n > 0) m.set(relay, n);
    else m.delete(relay);
    if (m.size > 0) this.counts.set(peer, m);
    else this.counts.delete(peer);
  }

  /** A relay's connection closed: what it said is void (it says it again on reconnecting). */
  relayGone(relay: HostId): void {
    for (const peer of [...this.counts.keys()]) {
      const m = this.counts.get(peer)!;
      m.delete(relay);
      if (m.size === 0) this.counts.delete(peer);
    }
  }

  /** The relay a peer's connection runs through, if any relay said so (the first by id). */
  via(peer: HostId): HostId | null {
    const m = this.counts.get(peer);
    return m === undefined ? null : ([...m.keys()].sort()[0] ?? null);
  }

  peers(): HostId[] {
    return [...this.counts.keys()];
  }
}
