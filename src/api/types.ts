import type { HostSample } from "../probe/index.ts";
import type { BlobStatus, ReconcileReport } from "../state/index.ts";
import type { HostForecast } from "../forecast/index.ts";
import type { BeaconForecast } from "../mesh/index.ts";

/** What `GET /status` returns and `umbra status` prints: one host's view of the cluster. */
export type StatusDoc = {
  /** This host's id, as in the config's [[hosts]]. */
  host: string;
  cluster: string;
  /** umbra's version on this host. */
  version: string;
  /** Wall-clock ms when produced; the reference for every `*AtMs` below. */
  nowMs: number;
  /** How long this agent has run. */
  uptimeMs: number;
  /**
   * This host's role across its services, the most pressing first:
   * safe-mode (a holder lost its lease: a VIP is down here), primary (holds a
   * service it is primary for), active (holds a service as a shadow: a
   * failover happened), shadow (ready to take over), standby (voter only).
   */
  role: "primary" | "shadow" | "active" | "safe-mode" | "standby" | "spare";
  /** The hosts in this host's membership view, this one first. */
  members: MemberDoc[];
  /** Every configured service. */
  services: ServiceDoc[];
  /** State replication, one row per (service, other replica) this host keeps a replica with. */
  replication: ReplicationDoc[];
  /** The last reconciliation of each service on this host (after a failover to it, or asked by an operator). */
  reconciliations?: ReconcileReport[];
  /** Every blob the documents of this host's services name, and how much of it is here. */
  blobs?: BlobStatus[];
  /** This host's latest forecast of every host (its own samples and its peers' beacons). */
  forecasts?: HostForecast[];
  /** The forecaster this host runs (PredictionModel, from the model's metadata), and its size. */
  forecastModel?: { model_type: string; parameters: Record<string, unknown>; prediction_horizon: string; bytes: number; horizonMinutes: number } | null;
  /** Hosts this host predicts will run out of a resource (probability above the threshold, sustained). */
  predicted?: string[];
  /** Every bounded queue of this agent, by name: its bound and how many items it dropped since start. */
  queues?: QueueDoc[];
};

/** A bounded queue of the agent: inbox (network messages, the oldest dropped), peer-events (connects and disconnects, new ones dropped), forecasts (finished forecasts, the oldest dropped), ip-batch (VIP commands waiting on `ip -batch`; past it they fork `ip` instead). */
export type QueueDoc = { name: string; max: number; dropped: number };

/** ShadowHostPair: how a service's state stands between its primary and one shadow, seen from this host. */
export type ReplicationDoc = {
  service: string;
  primaryHostID: string;
  shadowHostID: string;
  /** The other replica this row is about. */
  peer: string;
  /** in-sync, syncing (one side lacks changes), diverged (both do: concurrent writes being merged), stale (not heard within syncStaleMs). */
  syncStatus: "in-sync" | "syncing" | "diverged" | "stale";
  /** Changes and bytes of this host's document that the peer lacks, as of its last report. */
  lagChanges: number;
  lagBytes: number;
  lastHeardAgoMs: number | null;
};

export type MemberDoc = {
  id: string;
  /** SWIM membership as this host sees it. */
  status: "alive" | "suspect" | "dead";
  /** Raised by a host to refute a suspicion; a jump means it was suspected. */
  incarnation: number;
  /** An open mesh connection to it right now (always true for this host). */
  connected: boolean;
  /**
   * How this host reaches it: "direct"; "relayed" through another host's
   * relay (`via`: NATs neither side could punch through); "through-others"
   * (no connection, but SWIM holds it alive through other hosts' probes);
   * or "none". Absent from older agents and for this host.
   */
  reach?: "direct" | "relayed" | "through-others" | "none";
  /** Whose relay the connection runs through, when relayed: a host's id, or "bootstrap HOST:PORT". */
  via?: string | null;
  /** Median round trip to it; null for this host or before a reply. */
  rttMs: number | null;
  labels: Record<string, string>;
  /** Since its last metrics beacon arrived; 0 for this host, null if none yet. */
  lastBeaconAgoMs: number | null;
  /** Its latest host sample, from its beacon; null until one arrives. */
  metrics: HostSample | null;
  /** Its forecast of itself, from its beacon (this host's own for this host); null without one. */
  ownForecast?: BeaconForecast | null;
  /** What operators last said of it, if it is kept out of candidacy (standby, maintenance) with their reason; null when a candidate. */
  standing?: { mode: "standby" | "maintenance"; reason: string; issuedAtMs: number } | null;
};

export type ServiceDoc = {
  name: string;
  /** Address with prefix, e.g. 198.51.100.10/24. */
  vip: string;
  /** Where the service should run when all is well. */
  primary: string;
  /** Warm standbys, in takeover order. */
  shadows: string[];
  /** Hosts that may become shadows when the shadow count asks for more (absent from older agents). */
  spares?: string[];
  /** Hosts whose majority certifies a holder. */
  voters: string[];
  /** The holder's epoch: raised by every change of holder. */
  epoch: number;
  /** The certified holder as this host knows it; null before the first election. */
  holder: string | null;
  /** The VIP is configured on this host right now. */
  holdsVipHere: boolean;
  /** This host's lease if it holds the VIP, else null. */
  leaseRemainingMs: number | null;
  /** The quorum machine's local role: follower, acquiring, holding, safe-mode, handing-over. */
  state: string;
  /** The last change of holder this host saw certified; null if none since it started. */
  lastChange: { atMs: number; reason: string; fromHolder: string | null; toHolder: string } | null;
  /** A VIP change that failed and matters (an add given up, a removal still failing after retries); null when none. */
  alarm: { alarm: string; epoch: number; error: string | null; attempts: number; atMs: number } | null;
  /** This host's health of the service (its checks, its VIP's placement); null where it is no candidate (no checks run). */
  health?: { healthy: boolean; why: string | null; checks: Array<{ ok: boolean; detail: string }> } | null;
  /** Hosts kept out of candidacy for it (an operator's standby or maintenance, unhealthy there), as this host sees it. */
  excluded?: string[];
  /** The votes its majority is counted over now (the voters, unless an operator lowered it: `override`, with how long until it counts and the voters heard since, which raise it again). */
  quorum?: { expectedVotes: number; needed: number; override: { votes: number; reason: string; issuedAtMs: number; countsInMs: number; heard: string[] } | null };
  /** As holder other than the primary, the primary fit to take the service back (moveBackAfterMs): to whom, in how long (0: as soon as the handover can start), and whether it then waits for the swap window too ([services.swap] moveBackInWindow); null otherwise. */
  moveBack?: { to: string; inMs: number; inWindow?: boolean } | null;
  /** As holder with [services.scaling]: the shadows active beside it now (scale out), in the order they joined; empty otherwise. */
  active?: string[];
  /** With [services.shadowCount]: its warm shadows as this host knows them (the holder's word), the cold ones (shadows and spares kept out, not syncing), how many the holder's forecast wants and why, and the free capacity a host needs to warm up (reserve). */
  /** free: each other shadow's and spare's free capacity in the reserve's metrics, by its last beacon (absent: not heard yet, this host itself, or an agent older than the field). */
  shadowCount?: { warm: string[]; cold: string[]; wanted: number; why: string; reserve: Record<string, number>; free?: Record<string, Record<string, number>> } | null;
  /** With [services.migrate]: the service's workloads as this host's replica of its document has them (where each runs, its weight), and the move under way (as holder; null: none). */
  workloads?: { list: Array<{ id: string; host: string; weight: number }>; moving: { id: string; from: string; to: string } | null } | null;
  /** As holder with [services.swap], its swap window open and someone fit: with whom and in how long it swaps roles (0: as soon as it can); null otherwise. */
  swap?: { to: string; inMs: number } | null;
  /**
   * With [services.swap], the window this host swaps in, by its local time:
   * `window` as the config writes it ("02:15-04:15"; with window = "auto"
   * the quietest stretch of its day, null until the day is learned, `why`
   * saying how far it got), whether it is `open` now, and for auto the
   * `metric` it measures and the window's predicted `load` (its slots' mean
   * over the last week). null without [services.swap]; absent from older agents.
   */
  swapWindow?: { window: string | null; open: boolean; auto: boolean; metric: string | null; load: number | null; why: string | null } | null;
  /**
   * This host's safe mode for the service (null where it is no candidate):
   * demoted by a failover it did not hand over, it runs diagnostics (the
   * bundle under the state directory, the diagnose hook) and is no candidate
   * until they pass or an operator's `umbra rejoin`. `last`: the latest
   * diagnostics, kept after safe mode ends.
   */
  /** With [placement] domains: the candidates in the order they take over (the primary first), each with its failure domain (the labels' values, widest first, "/"-joined) and its distance from the primary (README "Placement"). */
  placement?: Array<{ host: string; domain: string; distance: number }>;
  safeMode?: { on: boolean; why: string | null; sinceAgoMs: number | null; running: boolean; retryInMs: number | null; last: { ok: boolean; detail: string; bundle: string | null; agoMs: number } | null } | null;
};
