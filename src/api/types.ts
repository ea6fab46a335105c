import type { HostSample } from "../probe/types.ts";

/** What `GET /status` returns and `umbra status` prints. */
export type StatusDoc = {
  host: string;
  cluster: string;
  version: string;
  /** Wall-clock ms when produced. */
  nowMs: number;
  uptimeMs: number;
  /** This host's role summary across its services. */
  role: "primary" | "shadow" | "active" | "safe-mode" | "standby";
  members: Array<{
    id: string;
    status: "alive" | "suspect" | "dead";
    incarnation: number;
    connected: boolean;
    rttMs: number | null;
    labels: Record<string, string>;
    lastBeaconAgoMs: number | null;
    metrics: HostSample | null;
  }>;
  services: Array<{
    name: string;
    vip: string;
    primary: string;
    shadows: string[];
    voters: string[];
    epoch: number;
    holder: string | null;
    holdsVipHere: boolean;
    /** This host's lease if it holds the VIP, else null. */
    leaseRemainingMs: number | null;
    /** The quorum machine's local role: follower, acquiring, holding, safe-mode, handing-over. */
    state: string;
    lastChange: { atMs: number; reason: string; fromHolder: string | null; toHolder: string } | null;
  }>;
};
