// Proves the operators' statements are refused for each attack with its
// reason, and nothing else: unsigned, forged (a field changed after
// signing, or signed by another key), replayed, expired, not yet valid,
// living too long, an unknown operator, another cluster's, malformed; a
// genuine one is accepted once. Real ed25519 keys.
import { describe, expect, test } from "bun:test";
import { generateKeyPair } from "./identity.ts";
import { checkStatement, NonceMemory, signStatement, CLOCK_SKEW_MS_MAX, STATEMENT_LIFETIME_MS_MAX, type SignedStatement } from "./statements.ts";

const alice = generateKeyPair();
const mallory = generateKeyPair();
const NOW = 1_800_000_000_000;
const operators = new Set([alice.publicKey.toString("hex")]);
const fields = { cluster: "prod", action: "move" as const, service: "web", target: "h3", expectVotes: null, reason: "rebalance" };
const good = (over: Partial<SignedStatement> = {}, key = alice, at = NOW, life = 60_000): SignedStatement => ({ ...signStatement(fields, key, at, life), ...over });
const check = (x: unknown, nonces = new NonceMemory(), nowMs = NOW) => checkStatement(x, { cluster: "prod", operators, nowMs, nonces });

test("a genuine statement is accepted once; the same again is a replay", () => {
  const nonces = new NonceMemory();
  const s = good();
  expect(check(s, nonces)).toEqual({ ok: true, statement: s });
  expect(check(s, nonces)).toMatchObject({ ok: false, reason: "replayed" });
});

describe("each attack is refused with its reason", () => {
  const forgedField = (() => {
    const s = good();
    return { ...s, target: "h9" }; // the signature was over target h3
  })();
  test.each([
    ["unsigned", { ...good(), sig: undefined }, "malformed"],
    ["a field changed after signing", forgedField, "forged"],
    ["signed by another key, naming alice", { ...good({}, mallory), operator: alice.publicKey.toString("hex") }, "forged"],
    ["signed by a key not under [[operators]]", good({}, mallory), "unknown-operator"],
    ["another cluster's", signStatement({ ...fields, cluster: "staging" }, alice, NOW, 60_000), "wrong-cluster"],
    ["expired", good({}, alice, NOW - 10 * 60_000 - CLOCK_SKEW_MS_MAX, 10 * 60_000), "expired"],
    ["issued in the future", good({}, alice, NOW + 2 * CLOCK_SKEW_MS_MAX), "not-yet-valid"],
    ["living longer than a statement may", good({}, alice, NOW, STATEMENT_LIFETIME_MS_MAX + 1), "too-long-lived"],
    ["an unknown action", { ...good(), action: "format-disk" }, "malformed"],
    ["a service name with a path in it", { ...good(), service: "../../etc" }, "malformed"],
    ["not an object", "move web", "malformed"],
    ["a reason with half a surrogate pair (the wire would change it, and the signature with it)", { ...good(), reason: "disk \uD800 swap" }, "malformed"],
  ])("%s: %s", (_what, x, reason) => {
    const nonces = new NonceMemory();
    expect(check(x, nonces)).toMatchObject({ ok: false, reason });
    // A refused statement leaves no trace: the genuine one still passes after it.
    expect(check(good(), nonces).ok).toBe(true);
  });
});

test("a nonce is forgotten once its statement has expired, and the memory stays bounded", () => {
  const nonces = new NonceMemory();
  expect(nonces.seenOrKeep("a".repeat(32), NOW + 10, NOW)).toBe(false);
  expect(nonces.seenOrKeep("a".repeat(32), NOW + 10, NOW + 5)).toBe(true);
  expect(nonces.seenOrKeep("a".repeat(32), NOW + 30, NOW + 20)).toBe(false);
});
