// Operators' signed statements (issue 15, DESIGN "Operators, and no one
// else"): an override (move, failover, standby, maintenance, a lowered
// quorum...) is a statement an operator's ed25519 key signs, which travels
// the mesh and which every voter checks on its own before it counts. This
// module is the statement's shape, its canonical bytes, signing, and the
// check, which names why it refuses: malformed, another cluster's, an
// unknown operator's, forged (the signature does not match), not yet valid
// or expired (by the checker's clock, with a skew allowance), living longer
// than a statement may, or replayed (its nonce seen before, remembered until
// it expires). What a statement then does is the host core's to decide.
import { randomBytes } from "node:crypto";
import { sign, verify } from "./identity.ts";

export const ACTIONS = ["move", "failover", "standby", "unstandby", "maintenance", "release", "override", "rejoin"] as const;
export type Action = (typeof ACTIONS)[number];

/** A statement lives at most this long: a stolen one is worth little, and replays are remembered this long at most. */
export const STATEMENT_LIFETIME_MS_MAX = 15 * 60_000;
/** Clocks of operators' machines and hosts may differ this much. */
export const CLOCK_SKEW_MS_MAX = 60_000;
/** Nonces remembered at most (a flood of valid statements cannot grow memory without bound). */
export const NONCES_MAX = 10_000;
/** What the signature covers begins with this: no other signed umbra message can pass for a statement. */
const DOMAIN = "umbra-operator-statement-v1\n";
export const REASON_CHARS_MAX = 500;
const NONCE_HEX = 32;

export type Statement = {
  cluster: string;
  action: Action;
  /** The service it is about, or null (standby, maintenance: a host). */
  service: string | null;
  /** The host it names (move --to, standby, maintenance), or null. */
  target: string | null;
  /** override: the votes that make a majority from now on; null otherwise. */
  expectVotes: number | null;
  /** Why, in the operator's words (the audit trail shows it). */
  reason: string;
  nonce: string;
  issuedAtMs: number;
  expiresAtMs: number;
  /** The operator's public key, hex. */
  operator: string;
};
export type SignedStatement = Statement & { sig: string };

export type Refusal = "malformed" | "wrong-cluster" | "unknown-operator" | "forged" | "not-yet-valid" | "expired" | "too-long-lived" | "replayed";
export type Checked = { ok: true; statement: SignedStatement } | { ok: false; reason: Refusal; detail: string };

/** The bytes the signature covers: the domain, then the fields in a fixed order. */
export function canonicalBytes(s: Statement): Buffer {
  const fields = [s.cluster, s.action, s.service, s.target, s.expectVotes, s.reason, s.nonce, s.issuedAtMs, s.expiresAtMs, s.operator];
  return Buffer.from(DOMAIN + JSON.stringify(fields), "utf8");
}

/** A fresh statement, signed: valid from now for lifetimeMs. */
export function signStatement(fields: Omit<Statement, "nonce" | "issuedAtMs" | "expiresAtMs" | "operator">, key: { publicKey: Buffer; secretKey: Buffer }, nowMs: number, lifetimeMs: number): SignedStatement {
  const s: Statement = { ...fields, nonce: randomBytes(NONCE_HEX / 2).toString("hex"), issuedAtMs: nowMs, expiresAtMs: nowMs + lifetimeMs, operator: key.publicKey.toString("hex") };
  return { ...s, sig: sign(key.secretKey, canonicalBytes(s)).toString("hex") };
}

/** Nonces of statements accepted, each until its statement expires. */
export class NonceMemory {
  private readonly until = new Map<string, number>();

  /** Whether the nonce was seen and has not expired; else it is remembered now until untilMs. */
  seenOrKeep(nonce: string, untilMs: number, nowMs: number): boolean {
    const t = this.until.get(nonce);
    if (t !== undefined && t > nowMs) return true;
    if (this.until.size >= NONCES_MAX) for (const [n, u] of this.until) if (u <= nowMs) this.until.delete(n);
    if (this.until.size >= NONCES_MAX) this.until.delete(this.until.keys().next().value!); // full of live ones: the oldest goes (it expires first within the lifetime bound)
    this.until.set(nonce, untilMs);
    return false;
  }
}

/** Half of a UTF-16 surrogate pair without the other half: JSON keeps it, UTF-8 on the wire does not. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const isHex = (x: unknown, chars: number): x is string => typeof x === "string" && x.length === chars && /^[0-9a-f]+$/.test(x);
const isMs = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
const nameOrNull = (x: unknown): boolean => x === null || (typeof x === "string" && /^[A-Za-z0-9_.-]{1,64}$/.test(x));

/** Checks an untrusted statement: shape, cluster, operator, signature, time, replay; a replay check remembers the nonce of one it accepts. */
export function checkStatement(x: unknown, o: { cluster: string; operators: ReadonlySet<string>; nowMs: number; nonces: NonceMemory }): Checked {
  const s = x as Partial<SignedStatement> | null;
  const malformed = (detail: string): Checked => ({ ok: false, reason: "malformed", detail });
  if (typeof s !== "object" || s === null) return malformed("not an object");
  if (typeof s.cluster !== "string" || !(ACTIONS as readonly string[]).includes(s.action as string)) return malformed("no cluster, or an unknown action");
  if (!nameOrNull(s.service) || !nameOrNull(s.target)) return malformed("service and target are names or null");
  if (!(s.expectVotes === null || (Number.isSafeInteger(s.expectVotes) && s.expectVotes! >= 1))) return malformed("expectVotes is a whole number ≥ 1 or null");
  if (typeof s.reason !== "string" || s.reason.length > REASON_CHARS_MAX || LONE_SURROGATE.test(s.reason)) return malformed(`reason is text of at most ${REASON_CHARS_MAX} characters (well-formed Unicode: the wire would change a lone surrogate, and the signature with it)`);
  if (!isHex(s.nonce, NONCE_HEX) || !isMs(s.issuedAtMs) || !isMs(s.expiresAtMs) || !isHex(s.operator, 64) || !isHex(s.sig, 128)) return malformed("nonce, times, operator key or signature malformed");
  const st = s as SignedStatement;
  if (st.cluster !== o.cluster) return { ok: false, reason: "wrong-cluster", detail: `for cluster "${st.cluster}", this is "${o.cluster}"` };
  if (!o.operators.has(st.operator)) return { ok: false, reason: "unknown-operator", detail: `key ${st.operator.slice(0, 16)}… is not under [[operators]]` };
  const { sig, ...fields } = st;
  if (!verify(Buffer.from(st.operator, "hex"), canonicalBytes(fields), Buffer.from(sig, "hex"))) return { ok: false, reason: "forged", detail: "the signature does not match the statement" };
  if (st.expiresAtMs - st.issuedAtMs > STATEMENT_LIFETIME_MS_MAX || st.expiresAtMs <= st.issuedAtMs) return { ok: false, reason: "too-long-lived", detail: `a statement lives at most ${STATEMENT_LIFETIME_MS_MAX} ms` };
  if (st.issuedAtMs > o.nowMs + CLOCK_SKEW_MS_MAX) return { ok: false, reason: "not-yet-valid", detail: `issued ${st.issuedAtMs - o.nowMs} ms in this host's future` };
  if (st.expiresAtMs + CLOCK_SKEW_MS_MAX <= o.nowMs) return { ok: false, reason: "expired", detail: `expired ${o.nowMs - st.expiresAtMs} ms ago` };
  if (o.nonces.seenOrKeep(st.nonce, st.expiresAtMs + CLOCK_SKEW_MS_MAX, o.nowMs)) return { ok: false, reason: "replayed", detail: `nonce ${st.nonce} was seen already` };
  return { ok: true, statement: st };
}
