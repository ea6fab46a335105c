// What only the shell sees of its peers and itself, for status and beacons:
// open connections, the latest beacon of each peer, round-trip samples, and
// this host's latest sample. Plain records; nothing here decides.

import type { HostId } from "../shared/ids.ts";
import type { HostSample } from "../probe/index.ts";
import type { BeaconForecast } from "../mesh/index.ts";
import { median } from "./status.ts";

/** RTT samples kept per peer for the median latency. */
export const RTT_SAMPLES_MAX = 32;

export type BeaconSeen = { atMono: number; sample: HostSample | null; forecast: BeaconForecast | null };

export class Observed {
  readonly connected = new Set<HostId>();
  readonly beacons = new Map<HostId, BeaconSeen>();
  readonly rtts = new Map<HostId, number[]>();
  latestSample: HostSample | null = null;

  peerChanged(id: HostId, up: boolean): void {
    if (up) this.connected.add(id);
    else this.connected.delete(id);
  }

  beacon(from: HostId, seen: BeaconSeen): void {
    this.beacons.set(from, seen);
  }

  /** One round trip to a peer; the oldest sample goes past RTT_SAMPLES_MAX. */
  rtt(id: HostId, rttMs: number): void {
    const xs = this.rtts.get(id) ?? [];
    xs.push(rttMs);
    if (xs.length > RTT_SAMPLES_MAX) xs.shift();
    this.rtts.set(id, xs);
  }

  /** The median over peers of each peer's median round trip; null before any. */
  medianLatency(): number | null {
    const all = [...this.rtts.values()].map((xs) => median(xs)).filter((x): x is number => x !== null);
    return median(all);
  }
}
