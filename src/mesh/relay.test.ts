// The relay's bookkeeping: which relays to ask and in what order, which
// links run through whose relay, the linked message, and the key pairs.
import { expect, test } from "bun:test";
import c from "compact-encoding";
import { bootstrapRelayKeyPair, LINKED, relayCandidates, RelayedLinks, relayKeyPair } from "./relay.ts";
import type { HostId } from "../shared/ids.ts";

const h = (x: string) => x as HostId;
const key = (n: number) => Buffer.alloc(32, n);

test("relays anyone can reach come first (peers with an address, then the bootstrap hosts'), then other direct peers'; relayed peers never", () => {
  const keys = new Map([
    [h("c"), key(3)],
    [h("a"), key(1)],
    [h("b"), key(2)],
    [h("d"), key(4)],
  ]);
  const got = relayCandidates(keys, new Set([h("d")]), new Set([h("b")]), [key(9)]);
  expect(got.map((k) => k[0])).toEqual([2, 9, 1, 3]);
  expect(relayCandidates(new Map(), new Set(), new Set(), [])).toEqual([]);
});

test("links are counted per relay: one of two ending leaves the other; a relay gone voids what it said", () => {
  const l = new RelayedLinks();
  l.said(h("c"), h("a"), true);
  l.said(h("c"), h("a"), true);
  l.said(h("c"), h("a"), false);
  expect(l.via(h("c"))).toBe(h("a"));
  l.said(h("c"), h("a"), false);
  expect(l.via(h("c"))).toBeNull();
  expect(l.peers()).toEqual([]);
  l.said(h("c"), h("b"), true);
  l.said(h("d"), h("b"), true);
  l.said(h("d"), h("a"), true);
  l.relayGone(h("b"));
  expect(l.via(h("c"))).toBeNull();
  expect(l.via(h("d"))).toBe(h("a"));
  l.said(h("e"), h("a"), false); // an "off" never heard "on": nothing below zero
  expect(l.via(h("e"))).toBeNull();
});

test("the linked message round-trips and is 33 bytes", () => {
  const m = { peer: key(7), on: true };
  const buf = c.encode(LINKED, m);
  expect(buf.byteLength).toBe(33);
  const back = c.decode(LINKED, buf);
  expect(Buffer.from(back.peer).equals(key(7))).toBe(true);
  expect(back.on).toBe(true);
});

test("a host's relay key is its own and stable; a bootstrap's follows from its address alone", () => {
  const secret = Buffer.alloc(64, 5);
  expect(relayKeyPair(secret).publicKey.equals(relayKeyPair(secret).publicKey)).toBe(true);
  expect(relayKeyPair(secret).publicKey.equals(relayKeyPair(Buffer.alloc(64, 6)).publicKey)).toBe(false);
  expect(bootstrapRelayKeyPair("203.0.113.2", 49737).publicKey.equals(bootstrapRelayKeyPair("203.0.113.2", 49737).publicKey)).toBe(true);
  expect(bootstrapRelayKeyPair("203.0.113.2", 49737).publicKey.equals(bootstrapRelayKeyPair("203.0.113.2", 49738).publicKey)).toBe(false);
});
