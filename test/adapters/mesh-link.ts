// The acceptance suite of a mesh link (shared/meshlink.ts): the behaviours
// the shells rely on, written once and run against every adapter that
// claims the contract — the agent's real hyperswarm mesh
// (test/mesh-link.slow.test.ts) and the simulator's in-memory twin
// (src/sim/memnet.test.ts). Three hosts a, b, c open links; the suite
// proves they see each other connected, that a frame reaches the named peer
// intact and no one else, that one sender's frames to one peer arrive in
// order, that a send to a peer not connected is refused, and that a closed
// link is seen gone by the others, whose sends to it are then refused.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { hostId, type HostId } from "../../src/shared/ids.ts";
import type { MeshLink, MeshLinkEvents } from "../../src/shared/meshlink.ts";

/**
 * A link as the suite drives it: a MeshLink, or a proxy of one in another
 * process (the real mesh runs under Node: its UDP transport does not load
 * under bun), whose answers come back through a promise.
 */
export type DrivenLink<M> = {
  send(to: HostId, msg: M): boolean | Promise<boolean>;
  connected(): HostId[] | Promise<HostId[]>;
  close(): Promise<void>;
};

/** An adapter under test: opens one host's link among the three, and tears everything down. */
export type LinkAdapter<M> = {
  /** Opens `self`'s link; its peers are the suite's other hosts. Resolves once the link is open (not necessarily connected). */
  open(self: HostId, events: MeshLinkEvents<M>): Promise<DrivenLink<M>>;
  /** The n-th distinct frame of the suite (any message the adapter carries). */
  message(n: number): M;
  /** The n-th distinct message of a kind the adapter sends unordered (the real mesh: renewals and grants, as datagrams); absent: message(n). */
  unordered?(n: number): M;
  /** Frees what the adapter holds beyond the links (a DHT, timers); the suite closes the links itself. */
  dispose(): Promise<void>;
};

/** The suite's hosts. */
export const LINK_HOSTS = [hostId("a"), hostId("b"), hostId("c")] as const;
/** Frames one sender sends one peer back to back in the order test. */
const ORDER_FRAMES = 50;
/** How often a wait looks again. */
const POLL_MS = 10;
/** After the frames a test waits for have arrived, how long it waits more for frames that must not arrive (a share of the adapter's wait). */
const SETTLE_SHARE = 0.1;
/** A test or a hook may take this many of the adapter's waits before bun stops it (a test waits at most three times in a row). */
const WAITS_PER_TEST = 4;

/** What one host's link has told its owner. */
type Seen<M> = { got: Array<{ from: HostId; msg: M }>; peers: Array<{ id: HostId; connected: boolean }> };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(pred: () => boolean, waitMs: number, what: string): Promise<void> {
  const end = Date.now() + waitMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${waitMs} ms waiting for ${what}`);
    await sleep(POLL_MS);
  }
}

/** Whether `seen` was last told that `id` is connected. */
function peerUp<M>(seen: Seen<M>, id: HostId): boolean {
  const last = seen.peers.filter((p) => p.id === id).at(-1);
  return last !== undefined && last.connected;
}

/**
 * Registers the suite for one adapter, made by `make` before the first test
 * and disposed after the last, failing or not. `waitMs` bounds each wait for
 * something to happen over the adapter.
 */
// long: one describe holds the whole suite, each test a few lines, so that
// every adapter runs exactly the same behaviours in the same order.
export function meshLinkAcceptance<M>(name: string, waitMs: number, make: () => Promise<LinkAdapter<M>>): void {
  const timeout = WAITS_PER_TEST * waitMs;
  describe(`mesh link acceptance: ${name}`, () => {
    let adapter: LinkAdapter<M> | null = null;
    const links = new Map<HostId, DrivenLink<M>>();
    const seen = new Map<HostId, Seen<M>>();
    const [a, b, c] = LINK_HOSTS;
    const link = (h: HostId): DrivenLink<M> => links.get(h)!;
    const of = (h: HostId): Seen<M> => seen.get(h)!;
    const wait = (pred: () => boolean, what: string) => until(pred, waitMs, what);

    beforeAll(async () => {
      adapter = await make();
      for (const h of LINK_HOSTS) {
        const s: Seen<M> = { got: [], peers: [] };
        seen.set(h, s);
        const events: MeshLinkEvents<M> = { onMessage: (from, msg) => s.got.push({ from, msg }), onPeer: (id, connected) => s.peers.push({ id, connected }) };
        links.set(h, await adapter.open(h, events));
      }
    }, timeout);

    afterAll(async () => {
      // A link that does not close in time is left to dispose.
      await Promise.race([Promise.allSettled([...links.values()].map((l) => l.close())), sleep(waitMs)]);
      await adapter?.dispose();
    }, timeout);

    test("peers see each other connected: onPeer(true) for every other host, and connected() lists them", async () => {
      for (const h of LINK_HOSTS) {
        const others = LINK_HOSTS.filter((x) => x !== h);
        await wait(() => others.every((x) => peerUp(of(h), x)), `${h} to see ${others.join(", ")}`);
        expect([...(await link(h).connected())].sort()).toEqual(others);
      }
    }, timeout);

    test("a frame sent arrives intact at the named peer, and at no one else", async () => {
      const [m1, m2] = [adapter!.message(1), adapter!.message(2)];
      expect(await link(a).send(b, m1)).toBe(true);
      expect(await link(a).send(c, m2)).toBe(true);
      await wait(() => of(b).got.length > 0 && of(c).got.length > 0, "b and c to receive");
      await sleep(waitMs * SETTLE_SHARE);
      expect(of(b).got).toEqual([{ from: a, msg: m1 }]);
      expect(of(c).got).toEqual([{ from: a, msg: m2 }]);
      expect(of(a).got).toEqual([]);
    }, timeout);

    test("an unordered message (a renewal, as a datagram on the real mesh) arrives intact at the named peer", async () => {
      const m = (adapter!.unordered ?? adapter!.message)(50);
      const before = of(b).got.length;
      expect(await link(a).send(b, m)).toBe(true);
      await wait(() => of(b).got.length > before, "b to receive it");
      expect(of(b).got.at(-1)).toEqual({ from: a, msg: m });
    }, timeout);

    test(`frames from one sender to one peer arrive in the order sent (${ORDER_FRAMES} back to back)`, async () => {
      const msgs = Array.from({ length: ORDER_FRAMES }, (_, i) => adapter!.message(100 + i));
      of(b).got.length = 0;
      expect(await Promise.all(msgs.map((m) => link(a).send(b, m)))).toEqual(msgs.map(() => true));
      await wait(() => of(b).got.length >= ORDER_FRAMES, `b to receive ${ORDER_FRAMES} frames`);
      expect(of(b).got).toEqual(msgs.map((msg) => ({ from: a, msg })));
    }, timeout);

    test("a send to a host that is not a connected peer (unknown, or itself) returns false", async () => {
      expect(await link(a).send(hostId("nobody"), adapter!.message(3))).toBe(false);
      expect(await link(a).send(a, adapter!.message(4))).toBe(false);
    }, timeout);

    test("closing a link: the others see onPeer(false) for it, stop listing it, and their sends to it return false", async () => {
      await link(c).close();
      for (const h of [a, b]) {
        await wait(() => !peerUp(of(h), c), `${h} to see c gone`);
        expect(await link(h).connected()).not.toContain(c);
        expect(await link(h).send(c, adapter!.message(5))).toBe(false);
      }
      const before = of(b).got.length;
      expect(await link(a).send(b, adapter!.message(6))).toBe(true); // the others still talk
      await wait(() => of(b).got.length > before, "b to still hear from a");
      expect(of(b).got.at(-1)).toEqual({ from: a, msg: adapter!.message(6) });
    }, timeout);
  });
}
