// One framed protocol on a peer's protomux connection: a channel with one
// raw message type whose every frame goes through a FrameCodec. The one
// place that decodes, and that answers a malformed frame: it is logged
// (frame-dropped {peer, why, bytes}) and the protocol closes what it chose to
// close (the mesh its whole connection, the state and blob channels only
// themselves).

import c from "compact-encoding";
import { isUmbraError } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { FrameCodec } from "./wire.ts";

/** Our end of one framed channel. */
export type FramedChannel<M> = {
  /** False when the channel is closed or the frame was not accepted (the frame is dropped). */
  send(msg: M): boolean;
  close(): void;
  readonly closed: boolean;
  /** Whether the connection's stream has room: false after a send it reported full, until it drains. */
  readonly drained: boolean;
};

export type FramedHandlers<M> = {
  log: Logger;
  /** The log's part: "mesh", "state", "blobs". */
  part: string;
  /** Names the peer in the log: its host id, or a label where the protocol has none. */
  peer: string;
  onMessage(msg: M, channel: FramedChannel<M>): void;
  /** A frame from the peer did not decode (already logged): close what this protocol closes. */
  onMalformed(channel: FramedChannel<M>): void;
  /** Both ends opened the channel: frames may flow. */
  onOpen?(channel: FramedChannel<M>): void;
  onClose?(channel: FramedChannel<M>): void;
  /** The connection's stream drained after reporting itself full: send on. */
  onDrain?(channel: FramedChannel<M>): void;
};

/** Opens `protocol` on `mux` (a Protomux); null when that channel is open on it already. */
export function openFramedChannel<M>(mux: any, protocol: string, codec: FrameCodec<M>, h: FramedHandlers<M>): FramedChannel<M> | null {
  let link: FramedChannel<M> | null = null;
  const channel = mux.createChannel({
    protocol,
    onopen: () => {
      if (link !== null) h.onOpen?.(link);
    },
    onclose: () => {
      if (link !== null) h.onClose?.(link);
    },
    ondrain: () => {
      if (link !== null) h.onDrain?.(link);
    },
  });
  if (channel === null) return null;
  const frame = channel.addMessage({
    encoding: c.raw,
    onmessage: (buf: Uint8Array) => {
      let msg: M;
      try {
        msg = codec.decode(buf);
      } catch (err) {
        if (!isUmbraError(err)) throw err;
        h.log("warn", h.part, "frame-dropped", { peer: h.peer, why: err.message, bytes: buf.byteLength });
        if (link !== null) h.onMalformed(link);
        return;
      }
      if (link !== null) h.onMessage(msg, link);
    },
  });
  const open: FramedChannel<M> = {
    send: (msg) => (channel.closed ? false : frame.send(codec.encode(msg))),
    close: () => channel.close(),
    get closed(): boolean {
      return channel.closed === true;
    },
    get drained(): boolean {
      return channel.drained === true;
    },
  };
  link = open;
  channel.open();
  return open;
}
