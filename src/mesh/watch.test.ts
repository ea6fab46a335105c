// The mesh's watch: one warning per episode after its threshold, a line when it ends.
import { expect, test } from "bun:test";
import { NAT_UNCLASSIFIED_WARN_MS, PEER_UNREACHABLE_WARN_MS, newWatch, watchStep, type WatchView } from "./watch.ts";
import type { HostId } from "../shared/ids.ts";

const h = (x: string) => x as HostId;
const view = (o: Partial<WatchView>): WatchView => ({ peers: [h("b"), h("c")], connected: new Set(), firewalled: false, dhtNodes: 4, addressKnown: true, ...o });
const events = (lines: ReturnType<typeof watchStep>) => lines.map((l) => `${l.level} ${l.event}${"peer" in l.fields ? ` ${String(l.fields.peer)}` : ""}`);

test("a peer never connected is said once after the threshold, and again when it connects", () => {
  const s = newWatch(0, [h("b"), h("c")]);
  const some = view({ connected: new Set([h("c")]) });
  expect(events(watchStep(s, some, PEER_UNREACHABLE_WARN_MS - 1))).toEqual([]);
  expect(events(watchStep(s, some, PEER_UNREACHABLE_WARN_MS))).toEqual(["warn peer-unreachable b"]);
  expect(events(watchStep(s, some, PEER_UNREACHABLE_WARN_MS * 3))).toEqual([]);
  const back = watchStep(s, view({ connected: new Set([h("b"), h("c")]) }), PEER_UNREACHABLE_WARN_MS * 4);
  expect(events(back)).toEqual(["info peer-reachable b"]);
  expect(back[0]!.fields.afterMs).toBe(PEER_UNREACHABLE_WARN_MS * 4);
});

test("a drop starts the clock over; a short one says nothing", () => {
  const s = newWatch(0, [h("b"), h("c")]);
  const all = view({ connected: new Set([h("b"), h("c")]) });
  watchStep(s, all, 1_000);
  const noB = view({ connected: new Set([h("c")]) });
  expect(events(watchStep(s, noB, 100_000))).toEqual([]);
  expect(events(watchStep(s, all, 100_000 + PEER_UNREACHABLE_WARN_MS - 1))).toEqual([]);
  expect(events(watchStep(s, noB, 200_000))).toEqual([]);
  expect(events(watchStep(s, noB, 200_000 + PEER_UNREACHABLE_WARN_MS))).toEqual(["warn peer-unreachable b"]);
});

test("a host behind NAT with too few DHT nodes to classify it is said once, and again once it has enough; a reachable one never", () => {
  const s = newWatch(0, []);
  const few = view({ peers: [], firewalled: true, dhtNodes: 1 });
  expect(events(watchStep(s, few, NAT_UNCLASSIFIED_WARN_MS - 1))).toEqual([]);
  const said = watchStep(s, few, NAT_UNCLASSIFIED_WARN_MS);
  expect(events(said)).toEqual(["warn nat-unclassified"]);
  expect(String(said[0]!.fields.why)).toContain("only 1 DHT node(s) answered");
  expect(events(watchStep(s, few, NAT_UNCLASSIFIED_WARN_MS * 2))).toEqual([]);
  expect(events(watchStep(s, view({ peers: [], firewalled: true, dhtNodes: 3 }), NAT_UNCLASSIFIED_WARN_MS * 3))).toEqual(["info nat-classified"]);
  const disagree = newWatch(0, []);
  const said2 = watchStep(disagree, view({ peers: [], firewalled: true, dhtNodes: 4, addressKnown: false }), NAT_UNCLASSIFIED_WARN_MS);
  expect(String(said2[0]!.fields.why)).toContain("do not agree");
  const reachable = newWatch(0, []);
  expect(events(watchStep(reachable, view({ peers: [], firewalled: false, dhtNodes: 0 }), NAT_UNCLASSIFIED_WARN_MS * 5))).toEqual([]);
});
