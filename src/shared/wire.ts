// Typed compact-encoding combinators: the one wire layer under every
// protocol (mesh, state, blobs). A Codec<T> sizes, writes and reads one T;
// struct() derives its type from its field codecs, and taggedUnion() checks
// each message's codec against the documented message union, so a field
// renamed in one but not the other fails the type check. Both ends check:
// encode asserts what we send is well-formed (a bug otherwise), decode turns
// anything malformed from a peer into UmbraError("frame_malformed").

import c from "compact-encoding";
import { assert } from "./assert.ts";
import { isUmbraError, UmbraError } from "./errors.ts";

/** compact-encoding's cursor: sizing (buffer null) or reading/writing buffer[start..end). */
export type WireState = { start: number; end: number; buffer: Uint8Array | null };

/**
 * Sizes, writes and reads one T. Written as function-typed properties (not
 * methods) so Codec<T> is invariant in T: a Codec<A> stands for a Codec<B>
 * only when A and B are the same type, both ways.
 */
export type Codec<T> = {
  readonly preencode: (st: WireState, v: T) => void;
  readonly encode: (st: WireState, v: T) => void;
  readonly decode: (st: WireState) => T;
};

/** The type a codec carries. */
export type Infer<C> = C extends Codec<infer T> ? T : never;

/** Rejects a peer's frame: the one way decode fails. */
export function malformed(what: string): never {
  throw new UmbraError("frame_malformed", what);
}

// ---------------------------------------------------------------- primitives

/** An unsigned safe integer, compact-encoding's varint. */
export const uint: Codec<number> = {
  preencode(st, n) {
    assert(Number.isSafeInteger(n) && n >= 0, `uint: ${n}`);
    c.uint.preencode(st, n);
  },
  encode: (st, n) => c.uint.encode(st, n),
  decode: (st) => c.uint.decode(st),
};

export const bool: Codec<boolean> = {
  preencode: (st, b) => c.bool.preencode(st, b),
  encode: (st, b) => c.bool.encode(st, b),
  decode: (st) => c.bool.decode(st),
};

/** A finite float64 (NaN and infinities are malformed). */
export const f64: Codec<number> = {
  preencode(st, n) {
    assert(Number.isFinite(n), `finite number: ${n}`);
    c.float64.preencode(st, n);
  },
  encode: (st, n) => c.float64.encode(st, n),
  decode(st) {
    const n = c.float64.decode(st);
    if (!Number.isFinite(n)) malformed("non-finite number");
    return n;
  },
};

/** A float64 in [min, max]; `what` names it in errors ("a probability"). */
export function f64In(min: number, max: number, what: string): Codec<number> {
  return {
    preencode(st, n) {
      assert(n >= min && n <= max, `${what}: ${n}`);
      f64.preencode(st, n);
    },
    encode: (st, n) => f64.encode(st, n),
    decode(st) {
      const n = f64.decode(st);
      if (n < min || n > max) malformed(`not ${what}: ${n}`);
      return n;
    },
  };
}

/** Bounds of a length on the wire, in bytes or items; `what` names the field in errors. */
export type Bounds = { min?: number; max: number; what: string };

/** A UTF-8 string of min..max bytes (min defaults to 0). */
export function string(b: Bounds): Codec<string> {
  const min = b.min ?? 0;
  return {
    preencode(st, s) {
      const n = Buffer.byteLength(s);
      assert(n >= min && n <= b.max, `${b.what} fits on the wire: ${s}`);
      c.string.preencode(st, s);
    },
    encode: (st, s) => c.string.encode(st, s),
    decode(st) {
      const s = c.string.decode(st);
      const n = Buffer.byteLength(s);
      if (n < min || n > b.max) malformed(`bad ${b.what} length: ${n} bytes (${min}..${b.max})`);
      return s;
    },
  };
}

/** A string codec whose values are a branded subtype of string (a HostId): the brand is the caller's claim. */
export function branded<S extends string>(inner: Codec<string>): Codec<S> {
  return { preencode: inner.preencode, encode: inner.encode, decode: (st) => inner.decode(st) as S };
}

/**
 * A length-prefixed byte string of min..max bytes. Decoded as a view into
 * the frame (a Buffer), or with `copy` as a plain Uint8Array copy, when it
 * outlives the frame.
 */
export function bytes(b: Bounds & { copy?: boolean }): Codec<Uint8Array> {
  const min = b.min ?? 0;
  return {
    preencode(st, v) {
      assert(v.byteLength >= min && v.byteLength <= b.max, `${b.what} of ${min}..${b.max} bytes: ${v.byteLength}`);
      c.buffer.preencode(st, v);
    },
    encode: (st, v) => c.buffer.encode(st, v),
    decode(st) {
      const v = c.buffer.decode(st) ?? Buffer.alloc(0);
      if (v.byteLength < min || v.byteLength > b.max) malformed(`${b.what} of ${v.byteLength} bytes (${min}..${b.max})`);
      return b.copy === true ? new Uint8Array(v) : v;
    },
  };
}

/** Lowercase hex of a given character length. */
const hexOf = (chars: number) => new RegExp(`^[0-9a-f]{${chars}}$`);

/** Exactly n bytes with no length prefix, carried as 2n lowercase hex characters (a hash, a signature). */
export function fixedHex(n: number, what: string): Codec<string> {
  const pattern = hexOf(2 * n);
  const fixed = c.fixed(n);
  return {
    preencode(st, s) {
      assert(pattern.test(s), `${what} is ${2 * n} hex chars: ${s}`);
      st.end += n; // fixed size: no length prefix
    },
    encode: (st, s) => fixed.encode(st, Buffer.from(s, "hex")),
    decode: (st) => Buffer.from(fixed.decode(st)).toString("hex"),
  };
}

/** One of a fixed list of literals, by its index: only ever append to `values`. */
export function oneOf<const T extends string>(values: readonly T[], what: string): Codec<T> {
  return {
    preencode(st, v) {
      const i = values.indexOf(v);
      assert(i >= 0, `${what}: ${v}`);
      c.uint.preencode(st, i);
    },
    encode: (st, v) => c.uint.encode(st, values.indexOf(v)),
    decode(st) {
      const i = c.uint.decode(st);
      const v = values[i];
      if (v === undefined) malformed(`unknown ${what} ${i}`);
      return v;
    },
  };
}

// ---------------------------------------------------------------- combinators

/** A count (min..max items), then the items. */
export function list<T>(item: Codec<T>, b: Bounds): Codec<T[]> {
  const min = b.min ?? 0;
  return {
    preencode(st, vs) {
      assert(vs.length >= min && vs.length <= b.max, `${b.what}: ${min}..${b.max} items, not ${vs.length}`);
      c.uint.preencode(st, vs.length);
      for (const v of vs) item.preencode(st, v);
    },
    encode(st, vs) {
      c.uint.encode(st, vs.length);
      for (const v of vs) item.encode(st, v);
    },
    decode(st) {
      const n = c.uint.decode(st);
      if (n > b.max) malformed(`${b.what}: ${n} > ${b.max}`);
      if (n < min) malformed(`${b.what}: ${n} < ${min}`);
      const out: T[] = [];
      for (let i = 0; i < n; i++) out.push(item.decode(st));
      return out;
    },
  };
}

/** T or null: a presence flag, then the value. */
export function optional<T>(inner: Codec<T>): Codec<T | null> {
  return {
    preencode(st, v) {
      c.bool.preencode(st, v !== null);
      if (v !== null) inner.preencode(st, v);
    },
    encode(st, v) {
      c.bool.encode(st, v !== null);
      if (v !== null) inner.encode(st, v);
    },
    decode: (st) => (c.bool.decode(st) ? inner.decode(st) : null),
  };
}

/** Marks a codec whose struct field may be absent from the value (an optional property). */
export type AbsentOk = { readonly absentOk: true };

/**
 * A field added to a message after it first shipped, last in its frame: an
 * optional() (null written as "none"), and an optional property of the
 * struct's type. Left out (undefined), it is not written at all, as older
 * senders did not, and a frame that ends before it reads it as left out; a
 * field left out must be followed only by fields left out (struct checks).
 */
export function trailing<T>(inner: Codec<T>): Codec<T | null | undefined> & AbsentOk {
  const opt = optional(inner);
  return {
    absentOk: true,
    preencode: (st, v) => (v === undefined ? undefined : opt.preencode(st, v)),
    encode: (st, v) => (v === undefined ? undefined : opt.encode(st, v)),
    decode: (st) => (st.start === st.end ? undefined : opt.decode(st)),
  };
}

/** A codec of some type: Codec is invariant, so only Codec<any> holds codecs of every type. */
type SomeCodec = Codec<any>;
/** Field codecs of a struct, in wire order. */
export type Fields = Record<string, SomeCodec>;
type AbsentKeys<F> = { [K in keyof F]: F[K] extends AbsentOk ? K : never }[keyof F];
/** The type a struct of these fields carries: one property per field, optional where the codec is trailing(). */
export type StructOf<F extends Fields> = {
  [K in Exclude<keyof F, AbsentKeys<F>>]: Infer<F[K]>;
} & { [K in AbsentKeys<F>]?: Infer<F[K]> } extends infer O
  ? { [K in keyof O]: O[K] }
  : never;

/** The fields one after another, in the order `fields` lists them. */
export function struct<F extends Fields>(fields: F): Codec<StructOf<F>> {
  const entries = Object.entries(fields);
  return {
    preencode(st, v) {
      const rec: Record<string, unknown> = v;
      let leftOut: string | null = null;
      for (const [k, f] of entries) {
        assert(leftOut === null || rec[k] === undefined, `struct: ${k} follows ${leftOut}, which is left out`);
        if (rec[k] === undefined && (f as Partial<AbsentOk>).absentOk) leftOut = k;
        f.preencode(st, rec[k]);
      }
    },
    encode(st, v) {
      const rec: Record<string, unknown> = v;
      for (const [k, f] of entries) f.encode(st, rec[k]);
    },
    decode(st) {
      const out: Record<string, unknown> = {};
      for (const [k, f] of entries) {
        const v = f.decode(st);
        if (v !== undefined) out[k] = v;
      }
      return out as StructOf<F>;
    },
  };
}

// ---------------------------------------------------------------- frames

/** A message of union M without its tag field. */
export type Body<M extends { type: string }, K extends M["type"]> = Omit<Extract<M, { type: K }>, "type">;

/** Each message type's tag number and body codec. Tags are part of a protocol: never renumber, only add. */
export type TagTable<M extends { type: string }> = { readonly [K in M["type"]]: readonly [tag: number, body: Codec<Body<M, K>>] };

export type FrameOptions = {
  /** Largest frame either way; bigger is malformed. */
  maxBytes: number;
  /** How the tag goes on the wire: a varint (uint) or one byte (uint8). */
  tag: "uint" | "uint8";
  /** Names the protocol in errors ("blob" makes "blob frame of ..."). */
  what: string;
};

/** One whole frame of a protocol: a tag, then that message's body, and nothing after. */
export type FrameCodec<M> = {
  /** Asserts `msg` is well-formed and fits. */
  encode(msg: M): Buffer;
  /** Throws UmbraError("frame_malformed") on anything off: bad tag, short or extra bytes, over a bound or the byte limit. */
  decode(buf: Uint8Array): M;
};

/** The frame codec of the message union M (give M explicitly: the table is checked against it). */
export function taggedUnion<M extends { type: string }>(table: TagTable<M>, o: FrameOptions): FrameCodec<M> {
  const tagCodec = c[o.tag];
  const types = Object.keys(table) as Array<M["type"]>;
  const byTag = new Map(types.map((t) => [table[t][0], t] as const));
  assert(byTag.size === types.length, `${o.what}: tags are distinct`);
  const bodyOf = (t: M["type"]): SomeCodec => table[t][1];
  return {
    encode(msg) {
      const entry = table[msg.type as M["type"]];
      assert(entry !== undefined, `known ${o.what} message type ${msg.type}`);
      const body = bodyOf(msg.type);
      const st: WireState = { start: 0, end: 0, buffer: null };
      tagCodec.preencode(st, entry[0]);
      body.preencode(st, msg);
      assert(st.end <= o.maxBytes, `${o.what} frame of ${st.end} bytes fits`);
      st.buffer = Buffer.allocUnsafe(st.end);
      tagCodec.encode(st, entry[0]);
      body.encode(st, msg);
      assert(st.start === st.end, "frame sized exactly");
      return st.buffer as Buffer;
    },
    decode(buf) {
      if (buf.byteLength === 0 || buf.byteLength > o.maxBytes) malformed(`${o.what} frame of ${buf.byteLength} bytes`);
      const st: WireState = { start: 0, end: buf.byteLength, buffer: buf };
      try {
        const tag = tagCodec.decode(st);
        const type = byTag.get(tag);
        if (type === undefined) malformed(`unknown ${o.what} tag ${tag}`);
        const msg = { type, ...bodyOf(type).decode(st) };
        if (st.start !== st.end) malformed(`${st.end - st.start} trailing bytes after ${type}`);
        return msg as Record<string, unknown> as M;
      } catch (e) {
        if (isUmbraError(e)) throw e;
        // compact-encoding throws plain Errors (out of bounds, bad utf-8): wrap them.
        throw new UmbraError("frame_malformed", `undecodable ${o.what} frame: ${(e as Error).message}`, {}, e);
      }
    },
  };
}
