// Placement across failure domains, as pure functions of the config: the
// failure-domain labels of the hosts ([[hosts]] labels) read through the
// hierarchy the cluster names ([placement] domains, widest first: e.g.
// region > zone > rack; the host itself is the last level), rank a
// service's shadows so that the one taking over first is as far from the
// primary as the labels allow, and each next one as far from those before
// it. The rank is the candidates' order the quorum uses (who proposes first
// when the holder is lost), and so the order predicted moves try.
//
// The score, documented for operators (README "Placement"):
// - distance(a, b) = the number of levels, counted from the host level up,
//   at or below which a and b differ: hosts in one rack are 1 apart, racks
//   of one zone 2, zones of one region 3, regions 4 (with three domains);
//   a host is 0 from itself.
// - Shadows are ranked greedily: next is the one farthest from the primary,
//   ties broken by the farthest from the nearest shadow ranked so far, then
//   by the configured order. Without [placement] domains, the configured
//   order stands.

import type { HostId } from "../shared/ids.ts";

/** A host's labels (e.g. { region: "eu", zone: "a", rack: "r1" }). */
export type Labels = Readonly<Record<string, string>>;

/** The failure-domain path of a host: its value at each level, widest first, then the host. */
export function domainPath(id: HostId, labels: Labels, domains: readonly string[]): string[] {
  return [...domains.map((d) => labels[d] ?? "?"), id];
}

/** How far apart two hosts are (see above): 0 for one host, domains.length + 1 for hosts that differ at the widest level. */
export function distance(a: readonly string[], b: readonly string[]): number {
  const shared = a.findIndex((x, i) => x !== b[i]);
  return shared === -1 ? 0 : a.length - shared;
}

/** The candidates of a service, best first: the primary, then its shadows as placement ranks them (the configured order without domains). */
export function rankCandidates(primary: HostId, shadows: readonly HostId[], labelsOf: (h: HostId) => Labels, domains: readonly string[]): HostId[] {
  if (domains.length === 0) return [primary, ...shadows];
  const path = new Map([primary, ...shadows].map((h) => [h, domainPath(h, labelsOf(h), domains)]));
  const ranked: HostId[] = [primary];
  const left = [...shadows];
  while (left.length > 0) {
    let best = 0;
    let bestKey: [number, number] = [-1, -1];
    left.forEach((h, i) => {
      const fromPrimary = distance(path.get(h)!, path.get(primary)!);
      const others = ranked.slice(1).map((r) => distance(path.get(h)!, path.get(r)!));
      const key: [number, number] = [fromPrimary, others.length === 0 ? Infinity : Math.min(...others)];
      if (key[0] > bestKey[0] || (key[0] === bestKey[0] && key[1] > bestKey[1])) {
        best = i;
        bestKey = key;
      }
    });
    ranked.push(left.splice(best, 1)[0]!);
  }
  return ranked;
}
