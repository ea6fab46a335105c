// The state channel on a peer's protomux connection: one raw message type
// carrying encodeState frames. A malformed frame closes this channel (not
// the mesh's) with a logged reason; the peer reopens on its next connection.
import type { HostId } from "../shared/ids.ts";
import type { Logger } from "../shared/log.ts";
import { openFramedChannel } from "../shared/framed.ts";
import { STATE_CODEC, STATE_PROTOCOL, type StateWire } from "./wire.ts";

export type StateLink = { send(msg: StateWire): boolean; close(): void };

export type StateChannelHandlers = {
  log: Logger;
  /** Both ends opened the channel: frames may flow. */
  onOpen(peer: HostId, link: StateLink): void;
  onMessage(peer: HostId, msg: StateWire): void;
  onClose(peer: HostId, link: StateLink): void;
};

/** Opens the state channel on `mux` (a Protomux) for `peer`; null when it is open already. */
export function attachStateChannel(mux: any, peer: HostId, h: StateChannelHandlers): StateLink | null {
  return openFramedChannel(mux, STATE_PROTOCOL, STATE_CODEC, {
    log: h.log,
    part: "state",
    peer,
    onMessage: (msg) => h.onMessage(peer, msg),
    onMalformed: (channel) => channel.close(),
    onOpen: (link) => h.onOpen(peer, link),
    onClose: (link) => h.onClose(peer, link),
  });
}
