// The state channel's messages (protomux protocol "umbra/state/1"), one
// compact-encoding each, checked at both ends like the mesh's: encode
// asserts, decode turns anything malformed into UmbraError("frame_malformed").

import c from "compact-encoding";
import { assert } from "../shared/assert.ts";
import { UmbraError } from "../shared/errors.ts";

export const STATE_PROTOCOL = "umbra/state/1";
/** Largest frame: an Automerge sync message carries whole changes; blobs go on their own channel. */
export const STATE_FRAME_BYTES_MAX = 16 * 1024 * 1024;
/** Heads in one durable-request: concurrent writers, not history. */
export const HEADS_MAX = 64;
const NAME_BYTES_MAX = 64;
const ID_BYTES_MAX = 64;

export type StateWire =
  | { type: "sync"; service: string; data: Uint8Array } // one Automerge sync protocol message
  | { type: "durable-request"; service: string; id: string; heads: string[] } // "tell me when you hold these heads durably"
  | { type: "durable"; service: string; id: string } // "I hold the heads of write `id` on disk"
  | { type: "heads"; service: string; heads: string[] }; // periodic: my durable heads (liveness, lag, and a nudge when the sync went quiet too early)

const TAG = { sync: 1, "durable-request": 2, durable: 3, heads: 4 } as const satisfies Record<StateWire["type"], number>;

type St = { start: number; end: number; buffer: Uint8Array | null };

function bad(what: string): never {
  throw new UmbraError("frame_malformed", what);
}

function str(max: number) {
  return {
    preencode(st: St, v: string) {
      c.string.preencode(st, v);
    },
    encode(st: St, v: string) {
      c.string.encode(st, v);
    },
    decode(st: St): string {
      const v = c.string.decode(st) as string;
      if (Buffer.byteLength(v) > max) bad(`a name longer than ${max} bytes`);
      return v;
    },
  };
}
const name = str(NAME_BYTES_MAX);
const id = str(ID_BYTES_MAX);

export function encodeState(m: StateWire): Buffer {
  assert(Buffer.byteLength(m.service) <= NAME_BYTES_MAX, "service name fits");
  const st: St = { start: 0, end: 0, buffer: null };
  const parts = (fn: "preencode" | "encode") => {
    c.uint8[fn](st, TAG[m.type]);
    name[fn](st, m.service);
    switch (m.type) {
      case "sync":
        c.buffer[fn](st, m.data);
        break;
      case "durable-request":
        id[fn](st, m.id);
        c.uint[fn](st, m.heads.length);
        for (const h of m.heads) c.fixed32[fn](st, Buffer.from(h, "hex"));
        break;
      case "durable":
        id[fn](st, m.id);
        break;
      case "heads":
        c.uint[fn](st, m.heads.length);
        for (const h of m.heads) c.fixed32[fn](st, Buffer.from(h, "hex"));
        break;
    }
  };
  if (m.type === "durable-request" || m.type === "heads") {
    assert(m.heads.length <= HEADS_MAX, "heads fit");
    for (const h of m.heads) assert(/^[0-9a-f]{64}$/.test(h), "a head is 64 hex characters");
  }
  parts("preencode");
  st.buffer = Buffer.allocUnsafe(st.end);
  parts("encode");
  assert(st.start === st.end, "encoded exactly");
  assert(st.end <= STATE_FRAME_BYTES_MAX, "frame fits");
  return st.buffer as Buffer;
}

function decodeHeads(st: St): string[] {
  const n = c.uint.decode(st) as number;
  if (n > HEADS_MAX) bad(`${n} heads (at most ${HEADS_MAX})`);
  const heads: string[] = [];
  for (let i = 0; i < n; i++) heads.push(Buffer.from(c.fixed32.decode(st) as Uint8Array).toString("hex"));
  return heads;
}

export function decodeState(buf: Uint8Array): StateWire {
  if (buf.byteLength > STATE_FRAME_BYTES_MAX) bad(`a frame of ${buf.byteLength} bytes (at most ${STATE_FRAME_BYTES_MAX})`);
  const st: St = { start: 0, end: buf.byteLength, buffer: buf };
  try {
    const tag = c.uint8.decode(st) as number;
    const service = name.decode(st);
    let m: StateWire;
    switch (tag) {
      case TAG.sync: {
        const data = c.buffer.decode(st) as Uint8Array | null;
        if (data === null || data.byteLength === 0) bad("an empty sync message");
        m = { type: "sync", service, data };
        break;
      }
      case TAG["durable-request"]: {
        const wid = id.decode(st);
        m = { type: "durable-request", service, id: wid, heads: decodeHeads(st) };
        break;
      }
      case TAG.heads:
        m = { type: "heads", service, heads: decodeHeads(st) };
        break;
      case TAG.durable:
        m = { type: "durable", service, id: id.decode(st) };
        break;
      default:
        bad(`unknown state message tag ${tag}`);
    }
    if (st.start !== st.end) bad(`${st.end - st.start} trailing bytes`);
    return m;
  } catch (err) {
    if (err instanceof UmbraError) throw err;
    bad(`undecodable state frame: ${(err as Error).message}`);
  }
}
