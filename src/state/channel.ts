// The state channel on a peer's protomux connection: one raw message type
// carrying encodeState frames. A malformed frame closes this channel (not
// the mesh's) with a logged reason; the peer reopens on its next connection.
import c from "compact-encoding";
import { isUmbraError } from "../shared/errors.ts";
import type { HostId } from "../shared/ids.ts";
import type { Logger } from "../shared/log.ts";
import { decodeState, encodeState, STATE_PROTOCOL, type StateWire } from "./wire.ts";

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
  let link: StateLink | null = null;
  const channel = mux.createChannel({
    protocol: STATE_PROTOCOL,
    onopen: () => {
      if (link !== null) h.onOpen(peer, link);
    },
    onclose: () => {
      if (link !== null) h.onClose(peer, link);
    },
  });
  if (channel === null) return null;
  const frame = channel.addMessage({
    encoding: c.raw,
    onmessage: (buf: Uint8Array) => {
      let msg: StateWire;
      try {
        msg = decodeState(buf);
      } catch (err) {
        if (!isUmbraError(err)) throw err;
        h.log("warn", "state", "frame-dropped", { peer, why: err.message, bytes: buf.byteLength });
        channel.close();
        return;
      }
      h.onMessage(peer, msg);
    },
  });
  link = {
    send: (msg) => (channel.closed ? false : frame.send(encodeState(msg))),
    close: () => channel.close(),
  };
  channel.open();
  return link;
}
