// One compact-encoding per wire message. Frames are checked at both ends:
// encode asserts what we send is well-formed (a bug otherwise), decode turns
// anything malformed from a peer into an UmbraError("frame_malformed"), which
// the mesh answers by dropping the frame and that peer's connection.

import type { HostId } from "../shared/ids.ts";
import { bool, branded, type Codec, f64, f64In, fixedHex, list, oneOf, optional, string, struct, taggedUnion, trailing, uint } from "../shared/wire.ts";
import type { MemberStatus, MemberUpdate, SwimMsg, Certificate, QuorumMsg, Reason, Vote } from "../decide/index.ts";
import type { HostSample } from "../probe/index.ts";
import { ACTIONS, REASON_CHARS_MAX, type SignedStatement } from "../shared/statements.ts";

/** Longest host id or service name on the wire. */
export const NAME_BYTES_MAX = 64;
/** Most membership updates piggybacked on one SWIM message. */
export const UPDATES_MAX = 32;
/** Most standings a beacon carries: one per host of a cluster (HOSTS_MAX of the config). */
const STANDINGS_MAX = 257;
/** Most services a beacon names as unhealthy (SERVICES_MAX of the host core). */
const SERVICES_ON_WIRE_MAX = 64;
/** Most votes in one certificate (= most voters of a service). */
export const VOTES_MAX = 64;
/** A signature is ed25519: 64 bytes, 128 hex characters. */
export const SIG_HEX_CHARS = 128;
/** Largest frame we accept; anything bigger is malformed. */
export const FRAME_BYTES_MAX = 64 * 1024;

export type Beacon = {
  type: "beacon";
  /** Wall-clock send time, for display only: leases never use wall time. */
  sentAtWallMs: number;
  metrics: HostSample | null;
  /** The sender's own forecast of itself (absent from agents without a forecaster, and from older agents). */
  forecast?: BeaconForecast | null;
  /** The services whose health checks fail at the sender (absent from older agents): no voter votes for it for those. */
  unhealthy?: string[] | null;
  /** What operators last said of each host, as the sender knows it (absent when it knows nothing): the later statement of each host wins. */
  standings?: BeaconStanding[] | null;
  /** The services whose quorum an operator lowered, as the sender took it on (absent when none). */
  votes?: BeaconVotes[] | null;
  /** The services the sender is in safe mode for (demoted, diagnosing; absent when none, and from older agents): kept out while a fit candidate is left. */
  safe?: string[] | null;
  /** The sender's word on the warm shadows of each service it holds with a shadow count (absent when none, and from older agents). */
  warm?: BeaconWarm[] | null;
};

export type BeaconWarm = { service: string; epoch: number; seq: number; hosts: HostId[] };

export type BeaconVotes = { service: string; votes: number; reason: string; nonce: string; issuedAtMs: number };
export type BeaconStanding = { host: HostId; mode: "standby" | "maintenance" | "active"; reason: string; nonce: string; issuedAtMs: number };

/** A host's forecast of itself, as its beacons carry it: the highest exhaustion probability (and its metric), the highest anomaly score. */
export type BeaconForecast = { exhaustionProbability: number; metric: string; anomaly: number };

/** An operator's signed statement, passed on by the host that got it from its API; every host checks it itself. */
export type StatementMsg = { type: "statement"; statement: SignedStatement };

export type WireMsg = Beacon | SwimMsg | QuorumMsg | StatementMsg;

const STATUS: readonly MemberStatus[] = ["alive", "suspect", "dead"];
const REASONS: readonly Reason[] = ["initial", "holder-lost", "handover", "predicted"]; // index on the wire: only append

// ---------------------------------------------------------------- parts

const name = string({ min: 1, max: NAME_BYTES_MAX, what: "name" });
const host = branded<HostId>(name);
const optHost = optional(host);
const status = oneOf(STATUS, "member status");
const reason = oneOf(REASONS, "reason");
/** A probability: a float64 in [0, 1]. */
const unit = f64In(0, 1, "a probability");

const update: Codec<MemberUpdate> = struct({ id: host, status, incarnation: uint });
const updates = list(update, { max: UPDATES_MAX, what: "updates" });

const sig = fixedHex(SIG_HEX_CHARS / 2, "signature");
const vote: Codec<Vote> = struct({ voter: host, sig });

const cert: Codec<Certificate> = struct({
  service: name,
  epoch: uint,
  holder: host,
  from: optHost,
  reason,
  votes: list(vote, { max: VOTES_MAX, what: "votes" }),
});

/** Wire order: the seven always-present metrics, then the latency the agent may not have yet. */
const sample: Codec<HostSample> = struct({
  ts: f64,
  cpuLoad: f64,
  memoryUsage: f64,
  diskIO: f64,
  storageUsage: f64,
  storageIOBytesPerSec: f64,
  networkBandwidthBytesPerSec: f64,
  networkLatency: optional(f64),
});

/** A statement's fields in wire order; its checks (cluster, key, signature, time, nonce) are the receiver's (shared/statements.ts). */
const statement: Codec<SignedStatement> = struct({
  cluster: string({ min: 1, max: NAME_BYTES_MAX, what: "cluster" }),
  action: oneOf(ACTIONS, "action"),
  service: optional(name),
  target: optional(name),
  expectVotes: optional(uint),
  reason: string({ min: 0, max: REASON_CHARS_MAX * 4, what: "reason" }),
  nonce: fixedHex(16, "nonce"),
  issuedAtMs: uint,
  expiresAtMs: uint,
  operator: fixedHex(32, "operator key"),
  sig,
});

const standing: Codec<BeaconStanding> = struct({
  host,
  mode: oneOf(["standby", "maintenance", "active"] as const, "standing"),
  reason: string({ min: 0, max: REASON_CHARS_MAX * 4, what: "reason" }),
  nonce: fixedHex(16, "nonce"),
  issuedAtMs: uint,
});

const voteStanding: Codec<BeaconVotes> = struct({
  service: name,
  votes: uint,
  reason: string({ min: 0, max: REASON_CHARS_MAX * 4, what: "reason" }),
  nonce: fixedHex(16, "nonce"),
  issuedAtMs: uint,
});

const beaconForecast: Codec<BeaconForecast> = struct({ exhaustionProbability: unit, metric: name, anomaly: unit });

const beaconWarm: Codec<BeaconWarm> = struct({ service: name, epoch: uint, seq: uint, hosts: list(host, { max: VOTES_MAX, what: "warm hosts" }) });

// ---------------------------------------------------------------- messages

/** Tag and body of every message, fields in wire order. Tags are part of the protocol: never renumber, only add. */
export const MESH_CODEC = taggedUnion<WireMsg>(
  {
    beacon: [1, struct({ sentAtWallMs: f64, metrics: optional(sample), forecast: trailing(beaconForecast), unhealthy: trailing(list(name, { max: SERVICES_ON_WIRE_MAX, what: "unhealthy services" })), standings: trailing(list(standing, { max: STANDINGS_MAX, what: "standings" })), votes: trailing(list(voteStanding, { max: SERVICES_ON_WIRE_MAX, what: "lowered quorums" })), safe: trailing(list(name, { max: SERVICES_ON_WIRE_MAX, what: "safe-mode services" })), warm: trailing(list(beaconWarm, { max: SERVICES_ON_WIRE_MAX, what: "warm sets" })) })],
    ping: [2, struct({ seq: uint, updates })],
    ack: [3, struct({ seq: uint, updates })],
    "ping-req": [4, struct({ seq: uint, target: host, updates })],
    propose: [10, struct({ service: name, epoch: uint, holder: host, from: optHost, reason, proposer: host, basis: optional(cert), boot: uint })],
    vote: [11, struct({ service: name, epoch: uint, holder: host, from: optHost, reason, voter: host, sig, boot: uint })],
    reject: [12, struct({ service: name, epoch: uint, voter: host, votedEpoch: uint })],
    certificate: [13, struct({ cert, inPerson: bool })],
    renew: [14, struct({ service: name, epoch: uint, holder: host, seq: uint, boot: uint })],
    grant: [15, struct({ service: name, epoch: uint, seq: uint, voter: host, boot: uint })],
    "cert-request": [16, struct({ service: name, epoch: uint })],
    lapsed: [17, struct({ service: name, epoch: uint, holder: host, seq: uint, boot: uint })],
    "lapsed-ack": [18, struct({ service: name, epoch: uint, seq: uint, voter: host, boot: uint })],
    statement: [20, struct({ statement })],
  },
  { maxBytes: FRAME_BYTES_MAX, tag: "uint", what: "message" },
);

/** Encodes one frame; asserts the message is well-formed (a bug otherwise). */
export const encodeMsg = (msg: WireMsg): Buffer => MESH_CODEC.encode(msg);

/** Decodes one frame; throws UmbraError("frame_malformed") on anything off. */
export const decodeMsg = (buf: Uint8Array): WireMsg => MESH_CODEC.decode(buf);

/** The bytes a vote's signature covers: everything that makes it this vote. */
export function voteSigningBytes(v: { service: string; epoch: number; holder: string; from: string | null; reason: Reason }): Buffer {
  return Buffer.from(JSON.stringify(["umbra-vote-1", v.service, v.epoch, v.holder, v.from, v.reason]));
}
