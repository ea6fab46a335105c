// The state channel's messages (protomux protocol "umbra/state/1"), one
// compact-encoding each, checked at both ends like the mesh's: encode
// asserts, decode turns anything malformed into UmbraError("frame_malformed").

import { bytes, fixedHex, list, string, struct, taggedUnion } from "../shared/wire.ts";

export const STATE_PROTOCOL = "umbra/state/1";
/** Largest frame: an Automerge sync message carries whole changes; blobs go on their own channel. */
export const STATE_FRAME_BYTES_MAX = 16 * 1024 * 1024;
/** Heads in one durable-request: concurrent writers, not history. */
export const HEADS_MAX = 64;
/** Longest service name on this channel. */
const NAME_BYTES_MAX = 64;
/** Longest write id (the replicator's are 16 hex characters). */
const ID_BYTES_MAX = 64;

export type StateWire =
  | { type: "sync"; service: string; data: Uint8Array } // one Automerge sync protocol message
  | { type: "durable-request"; service: string; id: string; heads: string[] } // "tell me when you hold these heads durably"
  | { type: "durable"; service: string; id: string } // "I hold the heads of write `id` on disk"
  | { type: "heads"; service: string; heads: string[] }; // periodic: my durable heads (liveness, lag, and a nudge when the sync went quiet too early)

/** A head is an Automerge change hash: 32 bytes, 64 hex characters. */
const HEAD_BYTES = 32;

const name = string({ max: NAME_BYTES_MAX, what: "service name" });
const id = string({ max: ID_BYTES_MAX, what: "write id" });
const heads = list(fixedHex(HEAD_BYTES, "head"), { max: HEADS_MAX, what: "heads" });
/** One Automerge sync message: never empty, bounded by the frame. */
const syncData = bytes({ min: 1, max: STATE_FRAME_BYTES_MAX, what: "sync message" });

/** Tag and body of every message, fields in wire order. Tags are part of the protocol: never renumber, only add. */
export const STATE_CODEC = taggedUnion<StateWire>(
  {
    sync: [1, struct({ service: name, data: syncData })],
    "durable-request": [2, struct({ service: name, id, heads })],
    durable: [3, struct({ service: name, id })],
    heads: [4, struct({ service: name, heads })],
  },
  { maxBytes: STATE_FRAME_BYTES_MAX, tag: "uint8", what: "state" },
);

/** Encodes one frame; asserts the message is well-formed (a bug otherwise). */
export const encodeState = (m: StateWire): Buffer => STATE_CODEC.encode(m);

/** Decodes one frame; throws UmbraError("frame_malformed") on anything off. */
export const decodeState = (buf: Uint8Array): StateWire => STATE_CODEC.decode(buf);
