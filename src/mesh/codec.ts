// One compact-encoding per wire message. Frames are checked at both ends:
// encode asserts what we send is well-formed (a bug otherwise), decode turns
// anything malformed from a peer into an UmbraError("frame_malformed"), which
// the mesh answers by dropping the frame and that peer's connection.

import c from "compact-encoding";
import { assert } from "../shared/assert.ts";
import { UmbraError } from "../shared/errors.ts";
import type { HostId } from "../shared/ids.ts";
import type { MemberStatus, MemberUpdate, SwimMsg } from "../decide/membership.ts";
import type { Certificate, QuorumMsg, Reason } from "../decide/quorum.ts";
import type { HostSample } from "../probe/types.ts";

/** Longest host id or service name on the wire. */
export const NAME_BYTES_MAX = 64;
/** Most membership updates piggybacked on one SWIM message. */
export const UPDATES_MAX = 32;
/** Most votes in one certificate (= most voters of a service). */
export const VOTES_MAX = 64;
/** A signature is ed25519: 64 bytes, 128 hex characters. */
export const SIG_HEX_CHARS = 128;
/** Largest frame we accept; anything bigger is malformed. */
export const FRAME_BYTES_MAX = 64 * 1024;

export type Beacon = {
  type: "beacon";
  /** Wall-clock send time, for display only: leases never use wall time. */
  sentAtWallMs: number;
  metrics: HostSample | null;
  /** The sender's own forecast of itself (absent from agents without a forecaster, and from older agents). */
  forecast?: BeaconForecast | null;
};

/** A host's forecast of itself, as its beacons carry it: the highest exhaustion probability (and its metric), the highest anomaly score. */
export type BeaconForecast = { exhaustionProbability: number; metric: string; anomaly: number };

export type WireMsg = Beacon | SwimMsg | QuorumMsg;

// Tags are part of the protocol: never renumber, only add.
const TAG = {
  beacon: 1,
  ping: 2,
  ack: 3,
  "ping-req": 4,
  propose: 10,
  vote: 11,
  reject: 12,
  certificate: 13,
  renew: 14,
  grant: 15,
  "cert-request": 16,
} as const satisfies Record<WireMsg["type"], number>;

const STATUS: MemberStatus[] = ["alive", "suspect", "dead"];
const REASONS: Reason[] = ["initial", "holder-lost", "handover", "predicted"]; // index on the wire: only append

type State = { start: number; end: number; buffer: Uint8Array | null };

function bad(what: string): never {
  throw new UmbraError("frame_malformed", what);
}

// ---------------------------------------------------------------- primitives

type Enc<T> = { preencode(st: State, v: T): void; encode(st: State, v: T): void; decode(st: State): T };

/** T or null: a presence flag, then the value. */
function optional<T>(enc: Enc<T>): Enc<T | null> {
  return {
    preencode(st, v) {
      c.bool.preencode(st, v !== null);
      if (v !== null) enc.preencode(st, v);
    },
    encode(st, v) {
      c.bool.encode(st, v !== null);
      if (v !== null) enc.encode(st, v);
    },
    decode(st) {
      return c.bool.decode(st) ? enc.decode(st) : null;
    },
  };
}

const name: Enc<string> = {
  preencode(st: State, s: string) {
    assert(s.length > 0 && Buffer.byteLength(s) <= NAME_BYTES_MAX, `name fits on the wire: ${s}`);
    c.string.preencode(st, s);
  },
  encode(st: State, s: string) {
    c.string.encode(st, s);
  },
  decode(st: State): string {
    const s = c.string.decode(st) as string;
    if (s.length === 0 || Buffer.byteLength(s) > NAME_BYTES_MAX) bad("bad name length");
    return s;
  },
};

const optName = optional(name);

const uint = {
  preencode(st: State, n: number) {
    assert(Number.isSafeInteger(n) && n >= 0, `uint: ${n}`);
    c.uint.preencode(st, n);
  },
  encode(st: State, n: number) {
    c.uint.encode(st, n);
  },
  decode(st: State): number {
    return c.uint.decode(st) as number;
  },
};

const f64: Enc<number> = {
  preencode(st: State, n: number) {
    assert(Number.isFinite(n), `finite number: ${n}`);
    c.float64.preencode(st, n);
  },
  encode(st: State, n: number) {
    c.float64.encode(st, n);
  },
  decode(st: State): number {
    const n = c.float64.decode(st) as number;
    if (!Number.isFinite(n)) bad("non-finite number");
    return n;
  },
};

const optF64 = optional(f64);

function oneOf<T extends string>(values: readonly T[], what: string) {
  return {
    preencode(st: State, v: T) {
      const i = values.indexOf(v);
      assert(i >= 0, `${what}: ${v}`);
      c.uint.preencode(st, i);
    },
    encode(st: State, v: T) {
      c.uint.encode(st, values.indexOf(v));
    },
    decode(st: State): T {
      const i = c.uint.decode(st) as number;
      const v = values[i];
      if (v === undefined) bad(`unknown ${what} ${i}`);
      return v;
    },
  };
}

function list<T>(item: Enc<T>, max: number, what: string): Enc<T[]> {
  return {
    preencode(st: State, vs: T[]) {
      assert(vs.length <= max, `${what}: at most ${max}`);
      c.uint.preencode(st, vs.length);
      for (const v of vs) item.preencode(st, v);
    },
    encode(st: State, vs: T[]) {
      c.uint.encode(st, vs.length);
      for (const v of vs) item.encode(st, v);
    },
    decode(st: State): T[] {
      const n = c.uint.decode(st) as number;
      if (n > max) bad(`${what}: ${n} > ${max}`);
      const out: T[] = [];
      for (let i = 0; i < n; i++) out.push(item.decode(st));
      return out;
    },
  };
}

const status = oneOf(STATUS, "member status");
const reason = oneOf(REASONS, "reason");

const update = {
  preencode(st: State, u: MemberUpdate) {
    name.preencode(st, u.id);
    status.preencode(st, u.status);
    uint.preencode(st, u.incarnation);
  },
  encode(st: State, u: MemberUpdate) {
    name.encode(st, u.id);
    status.encode(st, u.status);
    uint.encode(st, u.incarnation);
  },
  decode(st: State): MemberUpdate {
    return { id: name.decode(st) as HostId, status: status.decode(st), incarnation: uint.decode(st) };
  },
};
const updates = list(update, UPDATES_MAX, "updates");

const sig = {
  preencode(st: State, s: string) {
    assert(s.length === SIG_HEX_CHARS && /^[0-9a-f]*$/.test(s), "signature is 128 hex chars");
    c.fixed64.preencode(st, Buffer.alloc(64));
  },
  encode(st: State, s: string) {
    c.fixed64.encode(st, Buffer.from(s, "hex"));
  },
  decode(st: State): string {
    return Buffer.from(c.fixed64.decode(st) as Uint8Array).toString("hex");
  },
};

const vote = {
  preencode(st: State, v: { voter: string; sig: string }) {
    name.preencode(st, v.voter);
    sig.preencode(st, v.sig);
  },
  encode(st: State, v: { voter: string; sig: string }) {
    name.encode(st, v.voter);
    sig.encode(st, v.sig);
  },
  decode(st: State) {
    return { voter: name.decode(st) as HostId, sig: sig.decode(st) } as { voter: HostId; sig: string };
  },
};
const votes = list<{ voter: HostId; sig: string }>(vote, VOTES_MAX, "votes");

const cert: Enc<Certificate> = {
  preencode(st: State, x: Certificate) {
    name.preencode(st, x.service);
    uint.preencode(st, x.epoch);
    name.preencode(st, x.holder);
    optName.preencode(st, x.from);
    reason.preencode(st, x.reason);
    votes.preencode(st, x.votes);
  },
  encode(st: State, x: Certificate) {
    name.encode(st, x.service);
    uint.encode(st, x.epoch);
    name.encode(st, x.holder);
    optName.encode(st, x.from);
    reason.encode(st, x.reason);
    votes.encode(st, x.votes);
  },
  decode(st: State): Certificate {
    return {
      service: name.decode(st),
      epoch: uint.decode(st),
      holder: name.decode(st) as HostId,
      from: optName.decode(st) as HostId | null,
      reason: reason.decode(st),
      votes: votes.decode(st),
    };
  },
};

const optCert = optional(cert);

const SAMPLE_FIELDS = ["ts", "cpuLoad", "memoryUsage", "diskIO", "storageUsage", "storageIOBytesPerSec", "networkBandwidthBytesPerSec"] as const;

const sample: Enc<HostSample> = {
  preencode(st: State, m: HostSample) {
    for (const k of SAMPLE_FIELDS) f64.preencode(st, m[k]);
    optF64.preencode(st, m.networkLatency);
  },
  encode(st: State, m: HostSample) {
    for (const k of SAMPLE_FIELDS) f64.encode(st, m[k]);
    optF64.encode(st, m.networkLatency);
  },
  decode(st: State): HostSample {
    const m: Record<string, number | null> = {};
    for (const k of SAMPLE_FIELDS) m[k] = f64.decode(st);
    m.networkLatency = optF64.decode(st);
    return m as unknown as HostSample;
  },
};

// ---------------------------------------------------------------- messages

/** Field lists per message, in wire order; each field names its encoding. */
type Field = { key: string; enc: { preencode(st: State, v: never): void; encode(st: State, v: never): void; decode(st: State): unknown } };
const f = (key: string, enc: Field["enc"]): Field => ({ key, enc });

const optSample = optional(sample);

const unit: Enc<number> = {
  preencode: (st, n) => {
    assert(n >= 0 && n <= 1, `a probability: ${n}`);
    f64.preencode(st, n);
  },
  encode: (st, n) => f64.encode(st, n),
  decode(st) {
    const n = f64.decode(st);
    if (n < 0 || n > 1) bad(`not a probability: ${n}`);
    return n;
  },
};

const beaconForecast: Enc<BeaconForecast> = {
  preencode(st, x) {
    unit.preencode(st, x.exhaustionProbability);
    name.preencode(st, x.metric);
    unit.preencode(st, x.anomaly);
  },
  encode(st, x) {
    unit.encode(st, x.exhaustionProbability);
    name.encode(st, x.metric);
    unit.encode(st, x.anomaly);
  },
  decode: (st) => ({ exhaustionProbability: unit.decode(st), metric: name.decode(st), anomaly: unit.decode(st) }),
};

/** A field added after the message was first shipped: absent (null) when the frame ends before it. */
function trailing<T>(enc: Enc<T>): Enc<T | null | undefined> {
  const opt = optional(enc);
  return {
    preencode: (st, v) => opt.preencode(st, v ?? null),
    encode: (st, v) => opt.encode(st, v ?? null),
    decode: (st) => (st.start === st.end ? null : opt.decode(st)),
  };
}

const FIELDS: Record<WireMsg["type"], Field[]> = {
  beacon: [f("sentAtWallMs", f64), f("metrics", optSample), f("forecast", trailing(beaconForecast))],
  ping: [f("seq", uint), f("updates", updates)],
  ack: [f("seq", uint), f("updates", updates)],
  "ping-req": [f("seq", uint), f("target", name), f("updates", updates)],
  propose: [f("service", name), f("epoch", uint), f("holder", name), f("from", optName), f("reason", reason), f("proposer", name), f("basis", optCert), f("boot", uint)],
  vote: [f("service", name), f("epoch", uint), f("holder", name), f("from", optName), f("reason", reason), f("voter", name), f("sig", sig), f("boot", uint)],
  reject: [f("service", name), f("epoch", uint), f("voter", name), f("votedEpoch", uint)],
  certificate: [f("cert", cert), f("inPerson", c.bool as Field["enc"])],
  renew: [f("service", name), f("epoch", uint), f("holder", name), f("seq", uint), f("boot", uint)],
  grant: [f("service", name), f("epoch", uint), f("seq", uint), f("voter", name), f("boot", uint)],
  "cert-request": [f("service", name), f("epoch", uint)],
};

const TYPE_BY_TAG = new Map<number, WireMsg["type"]>(Object.entries(TAG).map(([k, v]) => [v, k as WireMsg["type"]]));

export function encodeMsg(msg: WireMsg): Buffer {
  const fields = FIELDS[msg.type];
  assert(fields !== undefined, `known message type ${msg.type}`);
  const rec = msg as unknown as Record<string, never>;
  const st: State = { start: 0, end: 0, buffer: null };
  c.uint.preencode(st, TAG[msg.type]);
  for (const fl of fields) fl.enc.preencode(st, rec[fl.key]!);
  assert(st.end <= FRAME_BYTES_MAX, `frame of ${st.end} bytes fits`);
  st.buffer = Buffer.allocUnsafe(st.end);
  c.uint.encode(st, TAG[msg.type]);
  for (const fl of fields) fl.enc.encode(st, rec[fl.key]!);
  assert(st.start === st.end, "frame sized exactly");
  return st.buffer as Buffer;
}

/** Decodes one frame; throws UmbraError("frame_malformed") on anything off. */
export function decodeMsg(buf: Uint8Array): WireMsg {
  if (buf.byteLength === 0 || buf.byteLength > FRAME_BYTES_MAX) bad(`frame of ${buf.byteLength} bytes`);
  const st: State = { start: 0, end: buf.byteLength, buffer: buf };
  try {
    const tag = c.uint.decode(st) as number;
    const type = TYPE_BY_TAG.get(tag);
    if (type === undefined) bad(`unknown message tag ${tag}`);
    const out: Record<string, unknown> = { type };
    for (const fl of FIELDS[type]) out[fl.key] = fl.enc.decode(st);
    if (st.start !== st.end) bad(`${st.end - st.start} trailing bytes after ${type}`);
    return out as unknown as WireMsg;
  } catch (e) {
    if (e instanceof UmbraError) throw e;
    // compact-encoding throws plain Errors (out of bounds, bad utf-8): wrap them.
    throw new UmbraError("frame_malformed", `undecodable frame: ${(e as Error).message}`, {}, e);
  }
}

/** The bytes a vote's signature covers: everything that makes it this vote. */
export function voteSigningBytes(v: { service: string; epoch: number; holder: string; from: string | null; reason: Reason }): Buffer {
  return Buffer.from(JSON.stringify(["umbra-vote-1", v.service, v.epoch, v.holder, v.from, v.reason]));
}
