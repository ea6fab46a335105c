// What the mesh tells the operator about its own reach, beside what it does:
// a host behind a NAT it could not classify (so peers behind other NATs may
// never connect), and a configured peer it has no connection to for a while
// (direct or relayed). Both were silent before (issue 16: "only a debug
// line says why"). One warning per episode, and a line when it ends.

import type { HostId } from "../shared/ids.ts";

/** A NAT still unclassified this long after start is said. */
export const NAT_UNCLASSIFIED_WARN_MS = 10_000;
/** A configured peer without a connection this long is said. */
export const PEER_UNREACHABLE_WARN_MS = 30_000;
/** How often the mesh looks. */
export const WATCH_INTERVAL_MS = 5_000;
/** DHT nodes whose replies an agent behind NAT needs to classify it (hyperdht's lib/nat.js). */
const NAT_SAMPLES_MIN = 3;

/** What the mesh sees at one look. */
export type WatchView = {
  peers: readonly HostId[];
  connected: ReadonlySet<HostId>;
  /** Not known to be reachable from outside (no configured address, and the DHT found none). */
  firewalled: boolean;
  /** DHT nodes in its routing table: behind a NAT, hyperdht classifies it from the replies of NAT_SAMPLES_MIN of them. */
  dhtNodes: number;
  /** The DHT has agreed on this host's public address. */
  addressKnown: boolean;
};

export type WatchState = { startedMs: number; missingSince: Map<HostId, number>; warned: Set<HostId>; natWarned: boolean };
export type WatchLine = { level: "warn" | "info"; event: string; fields: Record<string, unknown> };

export function newWatch(startedMs: number, peers: readonly HostId[]): WatchState {
  return { startedMs, missingSince: new Map(peers.map((p) => [p, startedMs])), warned: new Set(), natWarned: false };
}

/** One look: the lines to log (updates `s`). */
export function watchStep(s: WatchState, v: WatchView, nowMs: number): WatchLine[] {
  const out: WatchLine[] = [];
  const unclassified = v.firewalled && (v.dhtNodes < NAT_SAMPLES_MIN || !v.addressKnown);
  if (unclassified && !s.natWarned && nowMs - s.startedMs >= NAT_UNCLASSIFIED_WARN_MS) {
    s.natWarned = true;
    const why =
      v.dhtNodes < NAT_SAMPLES_MIN
        ? `only ${v.dhtNodes} DHT node(s) answered: an agent behind NAT learns what kind of NAT it is, and so how to punch through it, from the replies of at least ${NAT_SAMPLES_MIN} (one \`umbra bootstrap\` runs four: list its IP and first port under bootstrap)`
        : "the DHT nodes' replies do not agree on this host's public address";
    out.push({ level: "warn", event: "nat-unclassified", fields: { dhtNodes: v.dhtNodes, why, effect: "peers behind other NATs may not connect, or only through a relay" } });
  } else if (!unclassified && s.natWarned) {
    s.natWarned = false;
    out.push({ level: "info", event: "nat-classified", fields: { afterMs: nowMs - s.startedMs } });
  }
  for (const p of v.peers) {
    if (v.connected.has(p)) {
      const since = s.missingSince.get(p);
      s.missingSince.delete(p);
      if (s.warned.delete(p)) out.push({ level: "info", event: "peer-reachable", fields: { peer: p, afterMs: since === undefined ? null : nowMs - since } });
      continue;
    }
    const since = s.missingSince.get(p) ?? nowMs;
    s.missingSince.set(p, since);
    if (!s.warned.has(p) && nowMs - since >= PEER_UNREACHABLE_WARN_MS) {
      s.warned.add(p);
      out.push({ level: "warn", event: "peer-unreachable", fields: { peer: p, forMs: nowMs - since, effect: "no connection to it, direct or relayed: nothing this host sends it arrives; `umbra status` says whether other hosts still hear of it" } });
    }
  }
  return out;
}
