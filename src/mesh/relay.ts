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
// a relay (chooseRelay); hyperdht keeps punching beside the relayed link and
// moves the connection to the direct path when a punch gets through.
//
// A relay listens on its own key pair (derived from the host's secret key),
// not the host's: a second connection under the host's key would replace
// the mesh's own. Peers learn it on a protomux channel of the mesh's
// connection, in its handshake; on the same channel a relay tells each of
// the two hosts it links that their connection runs through it, which
// `umbra status` shows (a relayed link costs the relay's bandwidth and a
// detour; hyperdht keeps trying to upgrade it to a direct one, and the
// relay says so when the link through it ends).

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
 * function of its address (its first node's host and port), so that every
 * agent listing that bootstrap entry knows it without more configuration.
 * Anyone can compute it, and that costs nothing a relay must keep: it is
 * blind, the peers' own keys authenticate and encrypt end to end, and one
 * who announces it too can only drop the pairs it gets, as anyone on their
 * path can.
 */
export function bootstrapRelayKeyPair(host: string, port: number): KeyPair {
  const seed = createHash("sha256").update(`umbra/bootstrap-relay/1\0${host}:${port}`).digest();
  const kp = DHT.keyPair(seed) as KeyPair;
  return { publicKey: kp.publicKey, secretKey: kp.secretKey };
}

export type Relay = { publicKey: Buffer; close(): Promise<void> };

/**
 * Runs this host's relay on `dht`: only hosts whose keys `allowed` accepts
 * may pair through it. `onLinked` hears of each pair of hosts it links (their
 * public keys), and again when their link ends.
 */
export async function startRelay(dht: any, keyPair: KeyPair, allowed: (publicKeyHex: string) => boolean, log: Logger, onLinked: (a: Buffer, b: Buffer, on: boolean) => void): Promise<Relay> {
  const relay = new BlindRelay.Server({ createStream: (opts: object) => dht.createRawStream({ ...opts, framed: true }) });
  // Both sessions of a pair say 'pair' with the pairing's token: the first waits here for the second.
  const half = new Map<string, Buffer>();
  const server = dht.createServer({ firewall: (remotePublicKey: Buffer) => !allowed(remotePublicKey.toString("hex")) }, (socket: any) => {
    socket.on("error", (err: Error) => log("debug", "mesh", "relay-socket-error", { error: err.message }));
    const id: Buffer = socket.remotePublicKey;
    const session = relay.accept(socket, { id });
    session.on("error", (err: Error) => log("debug", "mesh", "relay-session-error", { error: err.message }));
    session.on("pair", (_initiator: boolean, token: Buffer, stream: any) => {
      const k = token.toString("hex");
      const other = half.get(k);
      if (other === undefined) {
        half.set(k, id);
        stream.once("close", () => half.delete(k));
        return;
      }
      half.delete(k);
      onLinked(other, id, true);
      stream.once("close", () => onLinked(other, id, false));
    });
  });
  await server.listen(keyPair);
  return {
    publicKey: keyPair.publicKey,
    async close() {
      await server.close();
      await relay.close();
    },
  };
}

/** The relay channel of one connection: what this end tells the other. */
export type RelayChannel = {
  /** "Your connection to `peer` runs through my relay" (on), or no longer (off). */
  tell(peer: Uint8Array, on: boolean): void;
  close(): void;
};

/**
 * Opens the relay channel on a connection's protomux: its handshake carries
 * each end's relay key (`onKey` gets the peer's), and its one message says
 * which of the receiver's connections run through the sender's relay
 * (`onLinked`). Null if the channel was open already.
 */
export function openRelayChannel(mux: any, own: Buffer, h: { onKey(key: Buffer): void; onLinked(peer: Buffer, on: boolean): void }): RelayChannel | null {
  const channel = mux.createChannel({ protocol: RELAY_PROTOCOL, handshake: c.fixed32, onopen: (key: Buffer) => h.onKey(Buffer.from(key)) });
  if (channel === null) return null;
  const linked = channel.addMessage({ encoding: LINKED, onmessage: (m: Linked) => h.onLinked(Buffer.from(m.peer), m.on) });
  channel.open(own);
  return { tell: (peer, on) => void linked.send({ peer, on }), close: () => channel.close() };
}

type Linked = { peer: Uint8Array; on: boolean };

/** The linked message: a peer's public key, and whether the receiver's connection to it runs through the sender's relay. */
const LINKED = {
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
 * The relay to ask for a peer hyperswarm could not punch through to, or
 * cannot hope to: one anyone can reach first, so that both ends of the pair
 * get to it without punching (a connected peer with a configured address,
 * then a bootstrap host's relay); else a connected peer's (the first by id)
 * whose own connection is direct (`via` lists the relayed ones).
 */
export function chooseRelay(keys: ReadonlyMap<HostId, Buffer>, via: ReadonlyMap<HostId, HostId>, reachable: ReadonlySet<HostId>, bootstrapRelays: readonly Buffer[]): Buffer | null {
  const direct = [...keys.keys()].filter((id) => !via.has(id)).sort();
  const pick = direct.find((id) => reachable.has(id));
  if (pick !== undefined) return keys.get(pick)!;
  if (bootstrapRelays.length > 0) return bootstrapRelays[0]!;
  return direct.length > 0 ? keys.get(direct[0]!)! : null;
}
