// The leader-free quorum of DESIGN.md, for one service, as a pure machine.
//
// Every agent runs one of these per service and plays every part at once:
// voter (signs at most one proposal per epoch, grants leases), proposer
// (asks for epoch+1 when the holder is lost), and holder (keeps the VIP only
// while a majority renews its lease). Safety rests on one promise: a voter
// never votes for a new epoch while a lease it granted is still running. A
// certificate needs a majority, the holder's lease needs a majority, the two
// intersect, so a certificate is itself proof that the old lease expired —
// unless the old holder handed over in person, which it does only after it
// has dropped the VIP.
//
// Messages to self go through the shell like any other (it loops them back),
// so the self-vote and the self-grant follow the same rules as everyone's.

import { assert, assertNever } from "../shared/assert.ts";
import type { HostId } from "../shared/ids.ts";
import * as lease from "../shared/lease.ts";

/** Why a proposal asks for a new holder. */
export type Reason =
  | "initial" // no holder has ever been certified
  | "holder-lost" // the holder stopped renewing its lease
  | "handover" // the holder asked to hand over in person (planned move)
  | "predicted"; // the holder's forecast sees a resource running out: a planned move, signed only by voters whose own forecast agrees

/** A move the holder itself starts, handing over in person (no lease wait). */
export const isPlanned = (r: Reason): boolean => r === "handover" || r === "predicted";

export type Vote = { voter: HostId; sig: string };

export type Certificate = {
  service: string;
  epoch: number;
  holder: HostId;
  /** The holder this one replaces (null before the first). */
  from: HostId | null;
  reason: Reason;
  /** A majority of the configured voters; signatures are checked by the shell. */
  votes: Vote[];
};

/** A vote as this core casts it. The shell signs it on its way out (the core never sees a key). */
export type UnsignedVote = { type: "vote"; service: string; epoch: number; holder: HostId; from: HostId | null; reason: Reason; voter: HostId; /** Echoes the proposal's boot. */ boot: number };
/** A vote as it travels and as the core receives it: signed by its voter over voteSigningBytes; the shell checked the signature before it got here. */
export type SignedVote = UnsignedVote & { sig: string };

/** Messages as they travel and as the core receives them (votes signed). */
export type QuorumMsg = QuorumMsgCommon | SignedVote;
/** Messages as the core sends them (votes not yet signed). */
export type QuorumOut = QuorumMsgCommon | UnsignedVote;

type QuorumMsgCommon =
  | {
      type: "propose"; service: string; epoch: number; holder: HostId; from: HostId | null; reason: Reason; proposer: HostId;
      /** The proposer's process incarnation: a vote counts as a grant only toward the process that asked for it. */
      boot: number;
      /** The certificate that made `from` the holder: a voter that missed it learns it here. */
      basis: Certificate | null;
    }
  | { type: "reject"; service: string; epoch: number; voter: HostId; votedEpoch: number }
  | { type: "certificate"; cert: Certificate; inPerson: boolean }
  | { type: "renew"; service: string; epoch: number; holder: HostId; seq: number; /** The holder's incarnation: its seq restarts when it does. */ boot: number }
  | { type: "grant"; service: string; epoch: number; seq: number; voter: HostId; /** Echoes the renewal's boot, so a grant from before a restart counts for nothing. */ boot: number }
  /**
   * A renewal from a holder that has heard no grant for lapsedAfterMs (a deaf
   * holder): its lease and its kernel's are over, and it takes no grant for
   * this renewal or any before it. Voters forget their grants to it, count
   * it lost, and answer lapsed-ack so that a holder that can hear again
   * renews as before.
   */
  | { type: "lapsed"; service: string; epoch: number; holder: HostId; seq: number; boot: number }
  | { type: "lapsed-ack"; service: string; epoch: number; seq: number; voter: HostId; boot: number }
  | { type: "cert-request"; service: string; epoch: number }; // "I lack your certificate of this epoch"

export type QuorumConfig = {
  service: string;
  self: HostId;
  /** This process's incarnation, drawn by the shell at start (a restart draws another): renewals, grants, proposals and votes carry it. */
  boot: number;
  /** Who may be holder, best first: the primary, then its shadows. */
  candidates: HostId[];
  /** A majority of these signs a certificate and renews a lease. */
  voters: HostId[];
  /** Every host of the cluster: certificates go to all of them. */
  hosts: HostId[];
  leaseMs: number;
  renewIntervalMs: number;
  /** Bound on the clock rate difference between two hosts, in parts per million. */
  driftMaxPpm: number;
  /** The holder gives up its lease this much early, to cover the time `ip addr del` takes. */
  actuationGuardMs: number;
  /** A proposal is re-sent this often; a lower-ranked candidate waits rank × this before it proposes. */
  proposalTimeoutMs: number;
  /** Before the first certificate, a candidate other than the best waits this much longer: mesh connections take a while to form at start-up, and the primary should win the first election when it is up. */
  initialGraceMs: number;
  /**
   * The host has the kernel-side lease (the fence): kernel-lease effects are
   * carried out and answered with kernel-leased. A VIP whose kernel lease
   * has ended, acknowledged, answers nothing even while its address is still
   * configured, so the old holder of a planned move hands over as soon as
   * its kernel says so, before its `ip addr del` is done. Without the fence
   * no kernel-lease effect goes out and the handover waits for the removal.
   */
  fenced: boolean;
  /**
   * A holder other than the primary, certified by a failover, a predicted
   * move or the first election, hands the service back in person to the
   * primary once it has been alive, kept in, not predicted to run out and
   * in sync with this host's state for this long (keepalived's
   * preempt_delay). Where an operator's move or a drain put it (a handover),
   * it stays. A move back that the service soon leaves again doubles the
   * next wait (up to 2^MOVE_BACK_BACKOFF_MAX times). 0: never.
   */
  moveBackAfterMs: number;
  /**
   * Swaps (rolling role changes, DESIGN "swap"): a holder that has held the
   * service this long in this process, while the shell says the service's
   * swap window is open (its off-peak hours), hands it over in person to
   * another candidate fit to take it: the primary if this host is not it,
   * else the best shadow. 0: never.
   */
  swapEveryMs?: number;
  /** A move back waits, once the primary has been fit moveBackAfterMs, for the swap window (the service's off-peak hours) to be open. */
  moveBackInWindow?: boolean;
};

/** What a voter must not forget across a restart (the shell writes it before sending). */
export type Persisted = {
  epoch: number;
  holder: HostId | null;
  /** The proof of epoch/holder, to show hosts that missed it. */
  cert: Certificate | null;
  votedEpoch: number;
  votedHolder: HostId | null;
};

export const Role = {
  follower: "follower", // holds nothing
  acquiring: "acquiring", // certified holder, waiting for the first majority of grants
  holding: "holding", // certified holder with a valid lease: the VIP is up here
  safeMode: "safe-mode", // certified holder whose lease ran out: VIP dropped until a majority renews
  handingOver: "handing-over", // holder that asked the voters to move the service in person
} as const;
export type Role = (typeof Role)[keyof typeof Role];

/** Renewals kept in flight; older ones can no longer extend the lease anyway. */
export const RENEWALS_IN_FLIGHT_MAX = 8;
/**
 * A certified holder that has gone this many leases without one stops
 * renewing for a lease: with an even split of live voters, its self-grant
 * and one loyal voter's grant would otherwise keep every majority apart for
 * ever (seed 500014, 4 nodes).
 */
export const STAND_ASIDE_AFTER_LEASES = 2;
/** A failed VIP removal is tried again after this long, doubling up to VIP_RETRY_MS_MAX: never given up, the VIP must go. */
export const VIP_RETRY_MS_MIN = 5;
export const VIP_RETRY_MS_MAX = 1_000;
/** This many failed removals in a row raise an alarm (cleared by the first success). */
export const VIP_DROP_ALARM_AFTER = 3;

type Renewal = {
  seq: number;
  sentAtMs: number;
  /** Distinct voters that granted it; a majority extends the lease. */
  grantedBy: HostId[];
};

type Proposal = {
  epoch: number;
  holder: HostId;
  from: HostId | null;
  reason: Reason;
  /** When first sent: the new holder's lease counts from here. */
  firstSentAtMs: number;
  lastSentAtMs: number;
  /** Distinct voters' signed votes; a majority is a certificate. */
  votes: Vote[];
};

export type QuorumState = {
  config: QuorumConfig;
  /** Highest certified epoch seen; only grows. */
  epoch: number;
  /** Holder named by that certificate (null before the first). */
  holder: HostId | null;
  /** The certificate for `epoch`, kept to re-send to voters that lag. */
  cert: Certificate | null;
  /** Highest epoch this host voted in: one vote per (service, epoch). */
  votedEpoch: number;
  /** Whom it voted for in votedEpoch, so a lost vote can be re-sent identically. */
  votedHolder: HostId | null;
  /** The proposal it voted for, to re-send an identical vote. */
  votedProposal: Extract<QuorumMsg, { type: "propose" }> | null;
  /**
   * As voter: this host promised grantHolder, holder of grantEpoch, not to
   * vote for a newer epoch before grantUntilMs, nor to grant anyone else.
   * The running grant goes to one (epoch, holder) at a time: any two leases
   * need two majorities of running grants, which share a voter. That holds
   * even where two certificates of one epoch exist (a voter that lost its
   * vote record may sign twice in an epoch; model/README.md).
   */
  grantUntilMs: number;
  grantEpoch: number;
  grantHolder: HostId | null;
  /** The process (boot) of grantHolder the running grant is for; null when unknown (a vote for a planned move names a holder that is not the proposer). */
  grantBoot: number | null;
  /**
   * The newest renewal of that process the running grant covers (0: none,
   * as after a vote). A lapsed renewal voids the grant only if it is at
   * least as new: datagrams reorder, and a lapsed renewal that arrives after
   * the grant of a later renewal must not void what that grant promised
   * (sim seed 174, 3 nodes, 2 services: two VIP holders).
   */
  grantSeq: number;
  /**
   * A planned vote signed while a grant to the proposing holder still ran
   * (the exemption of mayVoteNow): that grant, which the slot above no longer
   * names. Until it runs out, the new holder is granted only through the
   * planned certificate itself, whose old holder drops its VIP first; a
   * certificate of the same epoch and holder from another election is not
   * that (spin, session 6: two VIP holders).
   */
  exemptFrom: { epoch: number; holder: HostId; untilMs: number } | null;
  /** The holder renewed (to us, voter or not) recently enough to count as alive until then. */
  holderSeenUntilMs: number;
  /** After a restart the promises made before it are forgotten: no vote before this. */
  noVoteBeforeMs: number;
  /**
   * After this host's own loop stalled, it judges no holder lost before
   * this (stallGraceMs). A stall of the voters past a lease costs the holder
   * its lease and makes it say so (a lapsed renewal), yet the holder is
   * alive and heard: once told, it renews at once. Voters that woke
   * together would otherwise vote it out in the turn they read its lapse
   * (a move for a stall of the machine, not of the holder). Not voting is
   * always safe; a truly lost holder costs the grace more.
   */
  stalledUntilMs: number;
  /** Replicas in sync with this host's state or catching up (its replication's word): a holder moves back only to one of them. */
  inSync: HostId[];
  /** As holder other than the primary: the primary, fit to take the service back, and since when it has been (moveBackAfterMs). */
  betterSince: { host: HostId; sinceMs: number } | null;
  /** This host's moves back in a row (each within twice its wait of the one before), and when it made the last: the next wait doubles per one. */
  movedBack: { count: number; atMs: number } | null;
  /** The service's swap window is open now (the shell's word, from the wall clock). */
  swapWindow: boolean;
  /** As holder: the epoch it holds and since when this process has (a swap waits swapEveryMs from then). */
  heldSince: { epoch: number; ms: number } | null;
  /** As holder: its swap's handover, by epoch, until the word in person goes out (then: swapped); null when none. */
  swapping: number | null;
  /** As holder: a swap that found no majority is tried again no earlier than this; swapFailures in a row (0 after one went through) double the wait. */
  swapRetryAtMs: number;
  swapFailures: number;
  /** As voter: a proposal it could not vote for yet (a grant still runs); it votes when the grant expires. */
  pendingProposal: Extract<QuorumMsg, { type: "propose" }> | null;
  /** Hosts the membership view says are alive, for choosing a new holder. */
  alive: HostId[];
  /**
   * An operator's lowered quorum (`umbra override --expect-votes`), for a
   * majority gone for good: from fromMs on (a restart wait after it was
   * taken on, so every lease the lost voters granted has run out), a
   * majority of `votes` certifies and renews, raised by every voter heard
   * since (`heard`, self included): a voter that comes back counts again,
   * and the count never falls (a later override and a restart keep who was
   * heard: the shell keeps it on disk). Null: a majority of the configured
   * voters.
   */
  expect: { votes: number; fromMs: number; heard: HostId[] } | null;
  /**
   * The latest override this host knows of, taken on here or not (null:
   * none, or one that names every voter): certificates with a majority of
   * its count are accepted, so that a voter that refused it (it saw more
   * voters alive) still follows the holder the survivors certified, and
   * grants it. Accepting a certificate only moves the epoch and the holder:
   * every lease is still counted with this host's own count.
   */
  knownVotes: number | null;
  /** Hosts this host's own forecast (its samples, the beacons it got) says will exhaust a resource: it signs a "predicted" move only away from one of these. */
  predicted: HostId[];
  /** Hosts kept out (an operator's standby or maintenance, or the service unhealthy there): no candidacy, no vote for them; one holding the service hands it over in person. */
  excluded: HostId[];
  /**
   * Cold shadows (decide/shadowcount.ts), while a warm one is fit: no
   * candidacy of their own, no planned move to them, ranked after all. Not a
   * voter's veto: views of the warm set may differ (a lost beacon, a
   * restart), and a veto there could leave no one able to win a majority.
   */
  cold: HostId[];
  /** As holder kept out: the next handover is tried no earlier than this (one found no majority). */
  drainRetryAtMs: number;
  /** As holder kept out: handovers tried since it was kept out, and the host the last one named (the next tries another first). */
  drainAttempts: number;
  drainLastTo: HostId | null;
  /** When this host first saw the holder as lost (or no holder at all); ranks wait from here. */
  lostSinceMs: number | null;
  /** As proposer: the proposal it is gathering votes for. */
  proposal: Proposal | null;
  /** Highest epoch any voter told us it had voted in: a new proposal goes above it. */
  rejectedEpochMax: number;
  /** As holder. */
  role: Role;
  /** As holder: the lease is valid, by this host's clock, until then. */
  leaseUntilMs: number;
  renewals: Renewal[];
  renewSeq: number;
  /** As holder: when it sent the latest renewal another voter (or a majority) granted, or the proposal its certificate answered: no lease it has reaches past this plus holderLeaseMs. */
  answeredSentAtMs: number;
  /** As holder: when it sent its first renewal since it last heard a voter (a grant, a lapsed-ack); null when it has heard one since its last renewal. */
  askedSinceMs: number | null;
  /** As holder: its last lapsed renewal; grants for it or any earlier renewal are void (the voters were told to forget them). */
  lapsedSeq: number;
  lastRenewSentMs: number;
  /** As new holder via handover from someone else: the VIP waits until this unless handed over in person. */
  takeNotBeforeMs: number;
  /** Where this host is the VIP's holder: whether the lease says the VIP should be up here (what the shell is told follows). */
  vipUp: boolean;
  /** The VIP may be configured in the kernel: from the moment an add is asked for until a removal is confirmed. */
  vipPresent: boolean;
  /**
   * The kernel-side lease last given to the shell (0: none): the kernel lets
   * the host answer for the VIP until then, by this host's clock, and stops
   * on its own when it ends, whether or not any process of ours still runs.
   * It follows the holder's lease while the VIP is wanted up.
   */
  kernelLeaseUntilMs: number;
  /** kernel-lease effects sent so far (each carries its number; kernel-leased answers it). */
  kernelSeq: number;
  /** The kernel acknowledged the end of the lease (the latest kernel-lease effect, an end, applied): the VIP answers nothing here, whatever the address. */
  kernelQuiet: boolean;
  /** kernel-lease writes refused in a row (0 after one applied): the alarm goes by it. */
  kernelFailures: number;
  /** The VIP change the shell is carrying out, at most one at a time; its outcome comes back as vip-changed. */
  vipOp: { op: "add" | "del"; epoch: number } | null;
  /** Why the VIP is to go, for the drop-vip effect that removes it. */
  dropWhy: DropWhy;
  /** A failed removal is tried again no earlier than this. */
  vipRetryAtMs: number;
  /** Removals failed in a row (0 after a success): the retry backoff and the alarm go by it. */
  dropFailures: number;
  /** As old holder of a planned move: the in-person certificate, sent only once this host answers for the VIP no more (its removal, or with the fence its kernel lease's end, confirmed). */
  handoff: Certificate | null;
  /** This host could not add its VIP in this epoch: it renews no more in it, so a shadow takes over within a lease. */
  gaveUpEpoch: number;
  /** As certified holder without a lease (acquiring, safe mode): since when; STAND_ASIDE_AFTER_LEASES counts from here. */
  unleasedSinceMs: number | null;
  /** As certified holder without a lease: no renewals before this (standing aside lets every grant run out). */
  standAsideUntilMs: number;
  /** Last time the machine ran, to assert time moves forward. */
  nowMs: number;
};

export type QuorumEvent =
  | { type: "tick"; rand: number } // rand in [0,1), drawn by the caller
  | { type: "received"; from: HostId; msg: QuorumMsg }
  | { type: "membership"; alive: HostId[] }
  | { type: "handover-requested"; to: HostId | null; reason?: "handover" | "predicted" } // to: null, the best other candidate (an operator's failover)
  | { type: "expect-votes"; votes: number | null; heard?: HostId[] } // an operator's lowered quorum taken on here (null: the configured voters' again), with the voters heard before (kept on disk)
  | { type: "expect-known"; votes: number | null } // the latest override this host knows of, taken on or not
  | { type: "voter-heard"; voter: HostId } // a message came from this host: with a lowered quorum, a voter heard counts again
  | { type: "excluded"; hosts: HostId[] } // the hosts kept out of candidacy now (standby, maintenance, unhealthy)
  | { type: "cold"; hosts: HostId[] } // the cold shadows now, while a warm one is fit (none otherwise)
  | { type: "forecast"; predicted: HostId[] } // this host's view of who is predicted to exhaust
  | { type: "vip-changed"; op: "add" | "del"; epoch: number; ok: boolean; error: string | null } // the outcome of the take-vip or drop-vip in flight
  | { type: "kernel-leased"; seq: number; error: string | null } // the outcome of kernel-lease number seq: applied (null) or refused
  | { type: "stalled" } // this host's own loop ran late: what peers said meanwhile was not read (see stalledUntilMs)
  | { type: "swap-window"; open: boolean } // the service's swap window opened or closed (the shell reads the wall clock)
  | { type: "in-sync"; hosts: HostId[] }; // the replicas whose copy of the service's state this host's replication finds in sync with its own, or catching up (heard recently, not diverged)

/** Why a VIP is removed. */
export type DropWhy = "lease-expired" | "superseded" | "handover" | "add-failed";

export type VipAlarm = "vip-add-failed" | "vip-drop-failing" | "vip-drop-recovered" | "kernel-lease-failed" | "kernel-lease-recovered" | "redirect-failing" | "redirect-recovered" | "migrate-failing" | "migrate-recovered";

export type QuorumEffect =
  | { type: "persist"; record: Persisted } // write durably before the sends that follow
  | { type: "send"; to: HostId; msg: QuorumOut }
  | { type: "kernel-lease"; epoch: number; seq: number; untilMs: number | null } // let the kernel answer for the VIP until then (this host's clock), or stop now (null); goes before the take-vip it covers; answered by kernel-leased
  | { type: "take-vip"; epoch: number; reason: Reason } // start adding the VIP; the outcome comes back as vip-changed
  | { type: "drop-vip"; epoch: number; why: DropWhy } // start removing it; likewise
  | { type: "alarm"; alarm: VipAlarm; epoch: number; error: string | null; attempts: number }
  | { type: "certified"; cert: Certificate }
  | { type: "move-abandoned"; epoch: number } // a planned move found no majority; this host stays holder
  | { type: "swapped"; epoch: number; to: HostId }; // this host's swap handed the service over (the word in person sent): the shell runs the swap hook here

export type QuorumStep = { state: QuorumState; effects: QuorumEffect[] };

export function majority(voterCount: number): number {
  assert(voterCount >= 1, "at least one voter");
  return Math.floor(voterCount / 2) + 1;
}

/** The votes a majority is counted over now: the configured voters, or an operator's lowered count once its wait is over (raised by the voters heard since). */
export function expectedVotes(s: QuorumState): number {
  const n = s.config.voters.length;
  const x = s.expect;
  if (x === null || s.nowMs < x.fromMs) return n;
  return Math.min(n, Math.max(x.votes, x.heard.length));
}

/** Signatures that make a certificate, and grants that renew a lease, now. */
export const votesNeeded = (s: QuorumState): number => majority(expectedVotes(s));

/** Signatures a certificate from another host needs to be followed: this host's own count, or a majority of the latest override it knows of if lower. */
export const certificateVotesNeeded = (s: QuorumState): number => (s.knownVotes === null ? votesNeeded(s) : Math.min(votesNeeded(s), majority(s.knownVotes)));

/** Lease length as the holder must count it: shortened by the worst clock drift, twice, and the actuation guard. */
export const holderLeaseMs = (c: QuorumConfig): number => lease.holderLeaseMs(c);

/** A planned move (handover, predicted) that has not won a majority by then is given up. */
export function plannedMoveTimeoutMs(c: QuorumConfig): number {
  return 4 * c.proposalTimeoutMs;
}

/** After a restart, a voter neither votes nor grants for this long: every promise it made before has run out by then, by any clock within the drift bound. */
export const restartWaitMs = (c: QuorumConfig): number => lease.restartWaitMs(c);

/** After this host's loop stalled, no holder counts as lost for this long: the holder hears its lapsed renewal answered and renews within a renewal interval, the grace is two. */
export const stallGraceMs = (c: Pick<QuorumConfig, "renewIntervalMs">): number => 2 * c.renewIntervalMs;

/** A certified holder without a lease that has heard no voter this long sends lapsed renewals. */
export const lapsedAfterMs = (c: QuorumConfig): number => lease.lapsedAfterMs(c);

/** How long a new holder that was not handed over in person waits after a handover certificate. */
export const handoverWaitMs = (c: QuorumConfig): number => lease.handoverWaitMs(c);

export function validateQuorumConfig(c: QuorumConfig): void {
  assert(c.voters.length >= 1, "at least one voter");
  assert(new Set(c.voters).size === c.voters.length, "voters are distinct");
  assert(c.candidates.length >= 1, "at least one candidate");
  assert(new Set(c.candidates).size === c.candidates.length, "candidates are distinct");
  assert(c.hosts.includes(c.self), "self is a host");
  for (const v of c.voters) assert(c.hosts.includes(v), `voter ${v} is a host`);
  for (const v of c.candidates) assert(c.hosts.includes(v), `candidate ${v} is a host`);
  assert(c.renewIntervalMs * 2 < c.leaseMs, "renewals come at least twice per lease");
  assert(holderLeaseMs(c) >= 2 * c.renewIntervalMs, "the holder's lease outlasts two renewal intervals");
  assert(c.proposalTimeoutMs > 0, "proposalTimeoutMs is positive");
  assert(c.initialGraceMs >= 0, "initialGraceMs is non-negative");
  assert(Number.isSafeInteger(c.boot) && c.boot >= 0, "boot is a non-negative integer");
}

// long: one field of the state a line, each with why it starts as it does
export function initialQuorum(config: QuorumConfig, persisted: Persisted | null, nowMs: number): QuorumState {
  validateQuorumConfig(config);
  const p = persisted ?? { epoch: 0, holder: null, cert: null, votedEpoch: 0, votedHolder: null };
  assert(p.cert === null || (p.cert.epoch === p.epoch && p.cert.holder === p.holder), "the persisted certificate matches epoch and holder");
  assert(p.votedEpoch >= 0 && p.epoch >= 0, "epochs are non-negative");
  return {
    config,
    epoch: p.epoch,
    holder: p.holder,
    cert: p.cert,
    votedEpoch: p.votedEpoch,
    votedHolder: p.votedHolder,
    votedProposal: null,
    grantUntilMs: 0,
    grantEpoch: 0,
    grantHolder: null,
    grantBoot: null,
    grantSeq: 0,
    exemptFrom: null,
    holderSeenUntilMs: 0,
    // Grants made before a restart are not persisted (they change every
    // renewal), and the vote record may be gone with its disk: waiting one
    // lease (with drift) before any vote or grant makes sure every promise
    // made before the restart has run out.
    noVoteBeforeMs: nowMs + restartWaitMs(config),
    stalledUntilMs: 0,
    inSync: [],
    betterSince: null,
    movedBack: null,
    swapWindow: false,
    heldSince: null,
    swapping: null,
    swapRetryAtMs: 0,
    swapFailures: 0,
    pendingProposal: null,
    alive: [...config.hosts],
    expect: null,
    knownVotes: null,
    predicted: [],
    excluded: [],
    cold: [],
    drainRetryAtMs: 0,
    drainAttempts: 0,
    drainLastTo: null,
    lostSinceMs: null,
    proposal: null,
    rejectedEpochMax: 0,
    // A holder that restarts comes back without a lease: it must win renewals first.
    role: p.holder === config.self ? Role.acquiring : Role.follower,
    leaseUntilMs: 0,
    renewals: [],
    renewSeq: 0,
    answeredSentAtMs: nowMs,
    askedSinceMs: null,
    lapsedSeq: 0,
    lastRenewSentMs: -Infinity,
    // Named holder by a planned move before the restart: the old holder's word
    // in person is gone with that process, and the certificate now comes ahead
    // of it (onVote), so this process waits out the old lease like any host
    // that did not have the word (a restarted new holder took the VIP at once
    // while the old one still dropped: review of session 10).
    takeNotBeforeMs: p.cert !== null && p.holder === config.self && isPlanned(p.cert.reason) ? nowMs + handoverWaitMs(config) : 0,
    vipUp: false,
    vipPresent: false, // the shell removes a VIP left from before the restart before the machine starts
    kernelLeaseUntilMs: 0, // and starts with every VIP fenced
    kernelSeq: 0,
    kernelQuiet: true,
    kernelFailures: 0,
    vipOp: null,
    dropWhy: "lease-expired",
    vipRetryAtMs: 0,
    dropFailures: 0,
    handoff: null,
    gaveUpEpoch: 0,
    unleasedSinceMs: null,
    standAsideUntilMs: 0,
    nowMs,
  };
}

export function step(s0: QuorumState, e: QuorumEvent, nowMs: number): QuorumStep {
  assert(nowMs >= s0.nowMs, "time moves forward");
  const s: QuorumState = { ...s0, nowMs };
  const fx: QuorumEffect[] = [];
  expireLease(s, fx);
  switch (e.type) {
    case "tick":
      onTick(s, fx, e.rand);
      break;
    case "received":
      onReceived(s, fx, e.from, e.msg);
      break;
    case "membership":
      s.alive = [...e.alive];
      break;
    case "handover-requested":
      onHandoverRequested(s, fx, e.to, e.reason ?? "handover");
      break;
    case "forecast":
      s.predicted = [...e.predicted];
      break;
    case "expect-votes":
      onExpectVotes(s, e.votes, e.heard ?? []);
      break;
    case "expect-known":
      s.knownVotes = e.votes === null || e.votes >= s.config.voters.length ? null : e.votes;
      break;
    case "voter-heard":
      if (s.expect !== null && s.config.voters.includes(e.voter) && !s.expect.heard.includes(e.voter)) s.expect = { ...s.expect, heard: [...s.expect.heard, e.voter] };
      break;
    case "cold":
      s.cold = [...e.hosts];
      break;
    case "excluded":
      s.excluded = [...e.hosts];
      s.drainRetryAtMs = 0;
      s.drainAttempts = 0;
      s.drainLastTo = null;
      maybeDrain(s, fx);
      break;
    case "vip-changed":
      onVipChanged(s, fx, e);
      break;
    case "kernel-leased":
      onKernelLeased(s, fx, e);
      break;
    case "stalled":
      s.stalledUntilMs = Math.max(s.stalledUntilMs, nowMs + stallGraceMs(s.config));
      break;
    case "in-sync":
      s.inSync = [...e.hosts];
      break;
    case "swap-window":
      s.swapWindow = e.open;
      break;
    default:
      assertNever(e);
  }
  syncKernelLease(s, fx);
  syncVip(s, fx);
  trackUnleased(s);
  checkInvariants(s);
  return { state: s, effects: fx };
}

// ---------------------------------------------------------------- queries

/** This host holds a lease that is valid by its own clock (and so may keep the VIP). */
export function leaseValid(s: QuorumState, nowMs: number): boolean {
  return s.holder === s.config.self && (s.role === Role.holding || s.role === Role.handingOver) && nowMs < s.leaseUntilMs;
}

export function leaseRemainingMs(s: QuorumState, nowMs: number): number | null {
  return leaseValid(s, nowMs) ? s.leaseUntilMs - nowMs : null;
}

export function persisted(s: QuorumState): Persisted {
  return { epoch: s.epoch, holder: s.holder, cert: s.cert, votedEpoch: s.votedEpoch, votedHolder: s.votedHolder };
}

// ---------------------------------------------------------------- deadlines

/**
 * The earliest time at which a tick could do anything here (an effect, or
 * a change of state beyond the clock), with no other event in between:
 * the shell's timer wakes the core then and not before. Each part mirrors
 * one piece of the tick (and of expireLease, syncKernelLease and syncVip,
 * which run on every step) and must never be later than the truth; the
 * simulator checks that every tick that acted was due and that none is due
 * right after a tick. A time already past means at once; Infinity, that
 * only an event can make a tick act.
 */
export function nextTickMs(s: QuorumState): number {
  const due = { ms: Infinity };
  const at = (t: number): void => {
    if (t < due.ms) due.ms = t;
  };
  if (s.vipUp) at(s.leaseUntilMs); // expireLease
  if (leasedAwaitingTake(s)) at(Math.min(s.leaseUntilMs, s.takeNotBeforeMs)); // syncKernelLease's want falls to 0
  if (s.vipOp === null && !s.vipUp && s.vipPresent) at(s.vipRetryAtMs); // syncVip's retried removal
  if (s.expect !== null && s.nowMs < s.expect.fromMs) at(s.expect.fromMs); // the lowered count starts to count
  if (kernelLeaseWanted(s) > s.kernelLeaseUntilMs && s.kernelLeaseUntilMs > 0) at(s.kernelLeaseUntilMs - kernelRefreshMs(s.config)); // the kernel's lease runs low
  holderDue(s, at);
  drainDue(s, at);
  moveBackDue(s, at);
  swapDue(s, at);
  voterDue(s, at);
  proposerDue(s, at);
  return due.ms;
}

/** holderTick's deadline: standing aside, or the next renewal (or lapsed renewal). */
function holderDue(s: QuorumState, at: (t: number) => void): void {
  const c = s.config;
  if (s.holder !== c.self || s.role === Role.follower) return;
  const unleased = s.role === Role.acquiring || s.role === Role.safeMode;
  if (unleased && s.votedEpoch > s.epoch && s.grantEpoch === s.votedEpoch && s.nowMs < s.grantUntilMs) return at(s.grantUntilMs);
  if (s.gaveUpEpoch === s.epoch) return;
  if (unleased) {
    if (s.nowMs < s.standAsideUntilMs) return at(s.standAsideUntilMs);
    if (s.unleasedSinceMs !== null) at(s.unleasedSinceMs + STAND_ASIDE_AFTER_LEASES * c.leaseMs);
  }
  at(s.lastRenewSentMs + c.renewIntervalMs);
  if (unleased && s.askedSinceMs !== null && s.lapsedSeq !== s.renewSeq && !(votesNeeded(s) === 1 && c.voters.includes(c.self))) {
    const afterMs = lapsedAfterMs(c);
    at(Math.max(s.answeredSentAtMs + afterMs, s.askedSinceMs + afterMs - c.renewIntervalMs)); // lapsed: its first lapsed renewal goes at once
  }
}

/** maybeDrain's deadline: a holder kept out tries its next handover. */
function drainDue(s: QuorumState, at: (t: number) => void): void {
  const c = s.config;
  if (!s.excluded.includes(c.self) || s.holder !== c.self || s.role !== Role.holding || !s.vipUp || s.proposal !== null) return;
  if (successor(s, s.drainLastTo) !== null) at(s.drainRetryAtMs);
}

/** maybeMoveBack's deadline: the primary found fit (or no longer), or its wait over. */
function moveBackDue(s: QuorumState, at: (t: number) => void): void {
  const better = moveBackTarget(s);
  if (better !== (s.betterSince?.host ?? null)) return at(s.nowMs);
  if (s.betterSince !== null && s.proposal === null && !waitsForWindow(s)) at(s.betterSince.sinceMs + moveBackWaitMs(s, s.betterSince.sinceMs).waitMs);
}

/** voterTick's deadline: a proposal waiting for this voter's grant to run out (or to be dropped). */
function voterDue(s: QuorumState, at: (t: number) => void): void {
  const p = s.pendingProposal;
  if (p === null) return;
  if (p.epoch <= s.votedEpoch || p.epoch <= s.epoch || !reasonSupported(s, p)) return at(s.nowMs); // dropped at the next tick
  if (isPlanned(p.reason)) {
    const ownGrant = s.grantEpoch === s.epoch && s.grantHolder === p.proposer && s.grantBoot === p.boot;
    return at(Math.max(s.noVoteBeforeMs, ownGrant ? -Infinity : s.grantUntilMs));
  }
  at(p.reason === "holder-lost" ? lostAtMs(s) : Math.max(s.noVoteBeforeMs, s.grantUntilMs));
}

/** When holderLost turns true, with no event in between. */
const lostAtMs = (s: QuorumState): number => Math.max(s.noVoteBeforeMs, s.stalledUntilMs, s.grantUntilMs, s.holderSeenUntilMs);

/** proposerTick's deadline: this host's proposal re-sent, raised or given up; or its own proposal once the holder is lost and its rank's wait is over. */
function proposerDue(s: QuorumState, at: (t: number) => void): void {
  const c = s.config;
  if (s.expect !== null && s.proposal !== null && s.proposal.votes.length >= votesNeeded(s)) return at(s.nowMs); // maybeCertify
  const p = s.proposal;
  if (p !== null) {
    const planned = isPlanned(p.reason);
    if (p.epoch <= s.epoch) return at(s.nowMs);
    if (planned && s.rejectedEpochMax >= p.epoch) return at(s.nowMs); // raised now, or given up now
    if (planned) at(p.firstSentAtMs + plannedMoveTimeoutMs(c));
    if (!planned && p.from !== null && p.from === s.holder && s.nowMs < s.holderSeenUntilMs) return at(s.nowMs);
    return at(p.lastSentAtMs + c.proposalTimeoutMs);
  }
  if (!c.candidates.includes(c.self) || s.excluded.includes(c.self) || s.cold.includes(c.self)) return;
  const selfLost = s.holder === c.self;
  if (selfLost && s.gaveUpEpoch !== s.epoch) return;
  const lostAt = lostAtMs(s);
  if (s.nowMs < lostAt) {
    if (s.lostSinceMs !== null) return at(s.nowMs); // forgotten at the next tick
    return at(lostAt);
  }
  if (s.lostSinceMs === null) return at(s.nowMs); // counted from the next tick
  const ranked = c.candidates.filter((h) => h !== s.holder && (h === c.self || (s.alive.includes(h) && !s.excluded.includes(h) && !s.cold.includes(h))));
  const rank = selfLost ? ranked.length : ranked.indexOf(c.self);
  const graceMs = s.holder === null && c.candidates[0] !== c.self ? c.initialGraceMs : 0;
  let t = s.lostSinceMs + rank * c.proposalTimeoutMs + graceMs;
  if (s.votedEpoch > s.epoch && s.votedHolder !== c.self) t = Math.max(t, s.lostSinceMs + (rank + 2) * c.proposalTimeoutMs);
  at(t);
}

// ---------------------------------------------------------------- tick

function onTick(s: QuorumState, fx: QuorumEffect[], rand: number): void {
  assert(rand >= 0 && rand < 1, "rand in [0,1)");
  holderTick(s, fx, rand);
  maybeDrain(s, fx);
  maybeMoveBack(s, fx);
  maybeSwap(s, fx);
  voterTick(s, fx);
  proposerTick(s, fx, rand);
}

/** Runs before every event: a holder whose lease ran out drops the VIP at once. */
function expireLease(s: QuorumState, fx: QuorumEffect[]): void {
  if (!s.vipUp || s.nowMs < s.leaseUntilMs) return;
  // Cut off from the majority: drop the VIP before any voter can vote for a
  // new holder, and wait in safe mode for renewals to come back.
  s.vipUp = false;
  s.dropWhy = "lease-expired";
  if (s.role === Role.holding) s.role = Role.safeMode;
}

/**
 * Gives the kernel the holder's lease whenever it changes while the VIP is
 * wanted up, and ends it when the VIP is no longer wanted. It goes out before
 * the take-vip it covers (the address answers, and its announcement leaves,
 * only under a lease) and before the drop-vip that follows a lost lease. A
 * new holder with its lease that waits only for the old holder's word (or
 * the old lease's end) gives it already: without the address nothing
 * answers, and once the word comes the VIP answers as soon as its address
 * is up, not after an nft commit too.
 */
function syncKernelLease(s: QuorumState, fx: QuorumEffect[]): void {
  const want = kernelLeaseWanted(s);
  if (want === s.kernelLeaseUntilMs || kernelLeaseLongEnough(s, want)) return;
  s.kernelLeaseUntilMs = want;
  s.kernelQuiet = false; // until the kernel says so (without the fence, never)
  if (!s.config.fenced) return;
  s.kernelSeq += 1;
  fx.push({ type: "kernel-lease", epoch: s.epoch, seq: s.kernelSeq, untilMs: want === 0 ? null : want });
}

/** The lease the kernel should hold: the holder's while its VIP is wanted up (or waits only for its take), none otherwise. */
const kernelLeaseWanted = (s: QuorumState): number => (s.vipUp || leasedAwaitingTake(s) ? s.leaseUntilMs : 0);

/**
 * The kernel's lease is lengthened only once less than this share of a
 * lease is left of it: each write costs the nft process about 0.8 ms of CPU
 * (it reads its input a byte at a time), and lan renews every 20 ms: 4 % of
 * a core for the holder's nft when it wrote at every renewal. A lease
 * granted reaches ~70 ms ahead at lan, so the kernel's is refreshed about
 * every other renewal, by a tick when the grants in between were lost, and
 * never runs under 30 ms unless the loop stalls that long. A first lease, a
 * shorter one and an end go at once; the kernel's lease is never longer
 * than the holder's own.
 */
export const KERNEL_REFRESH_SHARE = 0.3;
const kernelRefreshMs = (c: QuorumConfig): number => c.leaseMs * KERNEL_REFRESH_SHARE;

/** A longer lease is wanted, but the kernel's still has more than kernelRefreshMs to run: it waits (nextTickMs wakes the core when it no longer has). */
const kernelLeaseLongEnough = (s: QuorumState, want: number): boolean => want > s.kernelLeaseUntilMs && s.kernelLeaseUntilMs > 0 && s.kernelLeaseUntilMs - s.nowMs > kernelRefreshMs(s.config);

/** The certified holder, leased in its epoch, held back only by takeNotBeforeMs, with no address of the VIP here. */
function leasedAwaitingTake(s: QuorumState): boolean {
  // No address of this host's for the VIP, nor one on its way: an older
  // epoch's address still being removed would answer under this lease while
  // the old holder may still answer too (review of session 10).
  return s.holder === s.config.self && s.role === Role.acquiring && s.nowMs < s.leaseUntilMs && s.nowMs < s.takeNotBeforeMs && s.gaveUpEpoch !== s.epoch && !s.vipPresent && s.vipOp === null;
}

/**
 * The kernel's answer to a kernel-lease. The end of the lease, applied as
 * the latest word, makes the host quiet for the VIP. A refused write is
 * loud: a lease that did not reach the kernel fences the VIP while this
 * host holds it (the next renewal writes again), an end that did not leaves
 * the old lease to run out on its own (and a handover waits for the
 * address's removal instead).
 */
function onKernelLeased(s: QuorumState, fx: QuorumEffect[], e: Extract<QuorumEvent, { type: "kernel-leased" }>): void {
  assert(e.seq >= 1 && e.seq <= s.kernelSeq, "an outcome answers a kernel-lease sent");
  if (e.error !== null) {
    s.kernelFailures += 1;
    if (s.kernelFailures === 1) fx.push({ type: "alarm", alarm: "kernel-lease-failed", epoch: s.epoch, error: e.error, attempts: 1 });
    return;
  }
  if (s.kernelFailures > 0) fx.push({ type: "alarm", alarm: "kernel-lease-recovered", epoch: s.epoch, error: null, attempts: s.kernelFailures + 1 });
  s.kernelFailures = 0;
  if (e.seq === s.kernelSeq && s.kernelLeaseUntilMs === 0) s.kernelQuiet = true;
}

/**
 * Hands the shell the next VIP change, one at a time: an add while the lease
 * wants the VIP up and the kernel may not have it, a removal while the kernel
 * may have it and the lease does not (again after a failure, with backoff).
 * The in-person certificate of a planned move goes out only once this host
 * answers for the VIP no more: its removal confirmed, or (fenced) the end of
 * its kernel lease. Before, the new holder could take a VIP still up here.
 */
function syncVip(s: QuorumState, fx: QuorumEffect[]): void {
  if (s.vipOp === null) {
    if (s.vipUp && !s.vipPresent) {
      s.vipOp = { op: "add", epoch: s.epoch };
      s.vipPresent = true;
      fx.push({ type: "take-vip", epoch: s.epoch, reason: s.cert?.reason ?? "holder-lost" });
    } else if (!s.vipUp && s.vipPresent && s.nowMs >= s.vipRetryAtMs) {
      s.vipOp = { op: "del", epoch: s.epoch };
      fx.push({ type: "drop-vip", epoch: s.epoch, why: s.dropWhy });
    }
  }
  const h = s.handoff;
  if (h !== null && (!s.vipPresent || (s.config.fenced && s.kernelQuiet && !s.vipUp))) {
    s.handoff = null;
    fx.push({ type: "send", to: h.holder, msg: { type: "certificate", cert: h, inPerson: true } });
    if (s.swapping === h.epoch) {
      fx.push({ type: "swapped", epoch: h.epoch, to: h.holder });
      s.swapFailures = 0;
    }
  }
  if (s.swapping !== null && s.handoff === null && s.proposal?.epoch !== s.swapping) s.swapping = null; // sent, or given up
}

function onVipChanged(s: QuorumState, fx: QuorumEffect[], e: Extract<QuorumEvent, { type: "vip-changed" }>): void {
  const op = s.vipOp;
  assert(op !== null && op.op === e.op && op.epoch === e.epoch, "an outcome answers the VIP change in flight");
  assert(e.ok === (e.error === null), "a failed change says why, a done one does not");
  s.vipOp = null;
  if (e.op === "add") {
    if (e.ok) return;
    // The VIP answers nowhere, yet this host would keep renewing a lease for
    // it and no shadow would ever take over: give the epoch up (no more
    // renewals in it), and remove whatever part of the add happened.
    fx.push({ type: "alarm", alarm: "vip-add-failed", epoch: e.epoch, error: e.error, attempts: 1 });
    if (s.holder === s.config.self && s.epoch === e.epoch) s.gaveUpEpoch = s.epoch;
    if (s.vipUp) {
      s.vipUp = false;
      s.dropWhy = "add-failed";
      if (s.role === Role.holding) s.role = Role.safeMode;
    }
    return;
  }
  if (e.ok) {
    s.vipPresent = false;
    if (s.dropFailures >= VIP_DROP_ALARM_AFTER) fx.push({ type: "alarm", alarm: "vip-drop-recovered", epoch: e.epoch, error: null, attempts: s.dropFailures + 1 });
    s.dropFailures = 0;
    s.vipRetryAtMs = 0;
    return;
  }
  // Still (maybe) up: try again, and again, with backoff; say so loudly.
  s.dropFailures += 1;
  s.vipRetryAtMs = s.nowMs + Math.min(VIP_RETRY_MS_MAX, VIP_RETRY_MS_MIN * 2 ** Math.min(20, s.dropFailures - 1));
  if (s.dropFailures === VIP_DROP_ALARM_AFTER) fx.push({ type: "alarm", alarm: "vip-drop-failing", epoch: e.epoch, error: e.error, attempts: s.dropFailures });
}

/** Keeps unleasedSinceMs: set while this host is the certified holder without a lease, null otherwise. */
function trackUnleased(s: QuorumState): void {
  const unleased = s.holder === s.config.self && (s.role === Role.acquiring || s.role === Role.safeMode);
  if (!unleased) s.unleasedSinceMs = null;
  else if (s.unleasedSinceMs === null) s.unleasedSinceMs = s.nowMs;
}

function holderTick(s: QuorumState, fx: QuorumEffect[], rand: number): void {
  const c = s.config;
  if (s.holder !== c.self || s.role === Role.follower) return;
  // A holder without a lease that has itself voted for a newer epoch stands
  // aside while that vote's grant runs: it cannot grant itself, and renewing
  // would keep a loyal minority of voters from joining its replacement (sim
  // seed 5618). After that it renews again: the replacement may be dead, and
  // its renewals are what teach a lagging voter the newer certificate (sim
  // seed 938, 2 nodes: both hosts holders of different epochs in their own
  // eyes, each having voted for the other, silent for ever).
  if ((s.role === Role.acquiring || s.role === Role.safeMode) && s.votedEpoch > s.epoch && s.grantEpoch === s.votedEpoch && s.nowMs < s.grantUntilMs) return;
  // Its VIP could not be added in this epoch: renewing would keep a lease for
  // a VIP that answers nowhere. Silence lets a shadow take over.
  if (s.gaveUpEpoch === s.epoch) return;
  if (s.role === Role.acquiring || s.role === Role.safeMode) {
    if (s.nowMs < s.standAsideUntilMs) return;
    if (s.unleasedSinceMs !== null && s.nowMs - s.unleasedSinceMs >= STAND_ASIDE_AFTER_LEASES * c.leaseMs) {
      // No majority renews it: stand aside for a lease (with drift), so the
      // grants it still gets run out, and then one to two proposal timeouts
      // more, so a rival's proposal, re-sent every timeout, finds those
      // voters (itself included) free to vote for it; then try again.
      s.standAsideUntilMs = s.nowMs + restartWaitMs(c) + Math.floor((1 + rand) * c.proposalTimeoutMs);
      s.unleasedSinceMs = s.standAsideUntilMs;
      return;
    }
  }
  // A holder handing over keeps renewing: voters that voted for the new
  // epoch refuse, the others keep its lease (and the VIP) up until the end.
  renewIfDue(s, fx);
}

/** A renewal (or a lapsed one) to every host, when one is due; the first lapsed renewal goes at once, not at the next interval. */
function renewIfDue(s: QuorumState, fx: QuorumEffect[]): void {
  const c = s.config;
  const isLapsed = lapsed(s);
  if (s.nowMs - s.lastRenewSentMs >= c.renewIntervalMs || (isLapsed && s.lapsedSeq !== s.renewSeq)) {
    s.renewSeq += 1;
    s.lastRenewSentMs = s.nowMs;
    if (isLapsed) {
      sendLapsed(s, fx);
      return;
    }
    s.askedSinceMs ??= s.nowMs;
    const renewal: Renewal = { seq: s.renewSeq, sentAtMs: s.nowMs, grantedBy: [] };
    s.renewals = [...s.renewals, renewal].slice(-RENEWALS_IN_FLIGHT_MAX);
    // To every host: voters grant, the others learn the holder is alive.
    for (const h of c.hosts) {
      fx.push({ type: "send", to: h, msg: { type: "renew", service: c.service, epoch: s.epoch, holder: c.self, seq: s.renewSeq, boot: c.boot } });
    }
  }
}

/**
 * A certified holder without a lease that has heard no voter while it
 * renewed: deaf, or cut off both ways. Its last answered renewal is
 * lapsedAfterMs old (what makes saying so safe), and it has been asking for
 * all but a renewal interval of that (after a start or a stall it asks
 * before it gives up).
 */
function lapsed(s: QuorumState): boolean {
  if (s.role !== Role.acquiring && s.role !== Role.safeMode) return false;
  const c = s.config;
  if (votesNeeded(s) === 1 && c.voters.includes(c.self)) return false; // its own voter it always hears (a lone host, or one an override counts alone: in a restart wait, it only waits)
  const afterMs = lapsedAfterMs(c);
  return s.askedSinceMs !== null && s.nowMs >= s.answeredSentAtMs + afterMs && s.nowMs >= s.askedSinceMs + afterMs - c.renewIntervalMs;
}

/**
 * Tells every host this holder can no longer hear the voters: its lease,
 * and so its kernel's, ran out at least an actuation guard ago (every lease
 * it had counts from a renewal sent no later than answeredSentAtMs), and
 * no grant for this renewal or an earlier one will count. The voters may
 * then forget their grants to it and move on without waiting them out:
 * without this, a holder that is heard but hears nothing keeps the voters
 * granting renewals nobody receives, and nobody takes over.
 */
function sendLapsed(s: QuorumState, fx: QuorumEffect[]): void {
  const c = s.config;
  assert(s.nowMs >= s.leaseUntilMs + c.actuationGuardMs && !s.vipUp, "a lapsed holder's lease ended an actuation guard ago");
  s.lapsedSeq = s.renewSeq;
  s.renewals = [];
  for (const h of c.hosts) {
    fx.push({ type: "send", to: h, msg: { type: "lapsed", service: c.service, epoch: s.epoch, holder: c.self, seq: s.renewSeq, boot: c.boot } });
  }
}

function voterTick(s: QuorumState, fx: QuorumEffect[]): void {
  const p = s.pendingProposal;
  if (p === null) return;
  if (p.epoch <= s.votedEpoch || p.epoch <= s.epoch) {
    s.pendingProposal = null;
    return;
  }
  // The view may have changed while the vote waited (a newer holder learned, a forecast withdrawn).
  if (!reasonSupported(s, p)) {
    s.pendingProposal = null;
    return;
  }
  if (mayVoteNow(s, p)) {
    s.pendingProposal = null;
    castVote(s, fx, p);
  }
}

function proposerTick(s: QuorumState, fx: QuorumEffect[], rand: number): void {
  if (s.expect !== null) maybeCertify(s, fx);
  if (s.proposal !== null) {
    advanceProposal(s, fx, rand);
    if (s.proposal !== null) return;
  }
  maybePropose(s, fx);
}

/** This host's own proposal: re-sent, raised above a rival epoch, or given up. */
function advanceProposal(s: QuorumState, fx: QuorumEffect[], rand: number): void {
  const c = s.config;
  if (s.proposal !== null) {
    const planned = isPlanned(s.proposal.reason);
    if (s.proposal.epoch <= s.epoch) {
      s.proposal = null; // a certificate for this epoch or a later one arrived
    } else if (planned && s.rejectedEpochMax >= s.proposal.epoch && s.nowMs - s.proposal.firstSentAtMs < plannedMoveTimeoutMs(c)) {
      // A voter had already voted in this epoch (an election this holder
      // never heard of, say two candidates at start-up): the same move, above
      // it. Giving up here would cost the lease: this host and the voters
      // that signed the move no longer renew the old epoch.
      if (s.swapping === s.proposal.epoch) s.swapping = s.rejectedEpochMax + 1; // the same swap, above it
      s.proposal = { ...s.proposal, epoch: s.rejectedEpochMax + 1, lastSentAtMs: s.nowMs, votes: [] };
      sendProposal(s, fx, s.proposal);
    } else if (planned && (s.rejectedEpochMax >= s.proposal.epoch || s.nowMs - s.proposal.firstSentAtMs >= plannedMoveTimeoutMs(c))) {
      // A planned move that no majority signs (voters whose forecast
      // disagrees, voters cut off, a rival epoch): give it up and stay
      // holder while the lease lasts. Without this the holder would wait
      // handing over for ever, its own vote for the move refusing its renewals.
      s.proposal = null;
      if (s.role === Role.handingOver) s.role = s.vipUp ? Role.holding : Role.safeMode;
      fx.push({ type: "move-abandoned", epoch: s.epoch });
      if (s.swapping !== null) {
        // A swap no majority signs: the next try waits 2^n planned moves' timeouts (as a drain's), so a window of failing swaps costs few epochs.
        s.swapRetryAtMs = s.nowMs + plannedMoveTimeoutMs(c) * 2 ** Math.min(s.swapFailures + 1, SWAP_BACKOFF_MAX);
        s.swapFailures += 1;
      }
    } else if (!planned && s.proposal.from !== null && s.proposal.from === s.holder && s.nowMs < s.holderSeenUntilMs) {
      // The holder it meant to replace renews again, and this host grants it
      // (its vote's grant ran out with no certificate): the move is off.
      s.proposal = null;
    } else if (s.nowMs - s.proposal.lastSentAtMs >= c.proposalTimeoutMs) {
      if (s.rejectedEpochMax >= s.proposal.epoch) {
        // Split vote: someone else's proposal took this epoch at some voters.
        // Back off a random part of a timeout, then go above it.
        s.proposal = null;
        s.lostSinceMs = s.nowMs - Math.floor(rand * c.proposalTimeoutMs);
      } else {
        s.proposal = { ...s.proposal, lastSentAtMs: s.nowMs };
        sendProposal(s, fx, s.proposal);
      }
    }
  }
}

/** With no proposal of its own: propose itself when the holder is lost and its rank's wait is over. */
function maybePropose(s: QuorumState, fx: QuorumEffect[]): void {
  const c = s.config;
  if (!c.candidates.includes(c.self) || s.excluded.includes(c.self) || s.cold.includes(c.self)) return;
  // A holder proposes only after it gave its epoch up (its VIP could not be
  // added): last of all candidates, itself again in a new epoch, or a failed
  // add everywhere would leave the service without a holder for good.
  const selfLost = s.holder === c.self;
  if (selfLost && s.gaveUpEpoch !== s.epoch) return;
  if (!holderLost(s)) {
    s.lostSinceMs = null;
    return;
  }
  if (s.lostSinceMs === null) s.lostSinceMs = s.nowMs;
  // Candidates the membership view sees alive, best first, the lost holder excluded.
  const ranked = c.candidates.filter((h) => h !== s.holder && (h === c.self || (s.alive.includes(h) && !s.excluded.includes(h) && !s.cold.includes(h))));
  const rank = selfLost ? ranked.length : ranked.indexOf(c.self);
  assert(rank >= 0, "self is ranked");
  // The membership view is no guide at start-up (a primary that has not
  // connected yet looks dead), so the grace goes by the configured order.
  const graceMs = s.holder === null && c.candidates[0] !== c.self ? c.initialGraceMs : 0;
  if (s.nowMs - s.lostSinceMs < rank * c.proposalTimeoutMs + graceMs) return;
  // Do not compete with a proposal this host already voted for and that may still win.
  if (s.votedEpoch > s.epoch && s.votedHolder !== c.self && s.nowMs - s.lostSinceMs < (rank + 2) * c.proposalTimeoutMs) return;
  const epoch = Math.max(s.epoch, s.votedEpoch, s.rejectedEpochMax) + 1;
  s.proposal = {
    epoch,
    holder: c.self,
    from: s.holder,
    reason: s.holder === null ? "initial" : "holder-lost",
    firstSentAtMs: s.nowMs,
    lastSentAtMs: s.nowMs,
    votes: [],
  };
  sendProposal(s, fx, s.proposal);
}

/** This host's own view says the holder is gone: no holder yet, or no renewal from it for a lease. */
function holderLost(s: QuorumState): boolean {
  if (s.nowMs < s.noVoteBeforeMs || s.nowMs < s.stalledUntilMs) return false;
  return s.nowMs >= s.grantUntilMs && s.nowMs >= s.holderSeenUntilMs;
}

function sendProposal(s: QuorumState, fx: QuorumEffect[], p: Proposal): void {
  const c = s.config;
  const msg: QuorumOut = { type: "propose", service: c.service, epoch: p.epoch, holder: p.holder, from: p.from, reason: p.reason, proposer: c.self, basis: s.cert, boot: c.boot };
  for (const v of c.voters) {
    if (p.votes.some((x) => x.voter === v)) continue;
    fx.push({ type: "send", to: v, msg });
  }
}

// ---------------------------------------------------------------- receive

function onReceived(s: QuorumState, fx: QuorumEffect[], from: HostId, msg: QuorumMsg): void {
  if (!s.config.hosts.includes(from)) return;
  switch (msg.type) {
    case "propose":
      if (msg.proposer !== from) return;
      if (msg.basis !== null) onCertificate(s, fx, from, msg.basis, false);
      onPropose(s, fx, msg);
      break;
    case "vote":
      if (msg.voter !== from) return;
      onVote(s, fx, msg);
      break;
    case "reject":
      if (msg.voter !== from) return;
      s.rejectedEpochMax = Math.max(s.rejectedEpochMax, msg.votedEpoch);
      break;
    case "certificate":
      onCertificate(s, fx, from, msg.cert, msg.inPerson);
      break;
    case "renew":
      if (msg.holder !== from) return;
      onRenew(s, fx, msg);
      break;
    case "grant":
      if (msg.voter !== from) return;
      onGrant(s, fx, msg);
      break;
    case "lapsed":
      if (msg.holder !== from) return;
      onLapsed(s, fx, msg);
      break;
    case "lapsed-ack":
      if (msg.voter !== from) return;
      if (answersOurRenewals(s, msg) && msg.voter !== s.config.self) s.askedSinceMs = null;
      break;
    case "cert-request":
      if (msg.service === s.config.service && s.cert !== null && s.cert.epoch >= msg.epoch) {
        fx.push({ type: "send", to: from, msg: { type: "certificate", cert: s.cert, inPerson: false } });
      }
      break;
    default:
      assertNever(msg);
  }
}

function onPropose(s: QuorumState, fx: QuorumEffect[], p: Extract<QuorumMsg, { type: "propose" }>): void {
  const c = s.config;
  if (p.service !== c.service || !c.voters.includes(c.self)) return;
  if (!c.candidates.includes(p.holder)) return;
  if (p.epoch <= s.epoch) {
    // A lagging proposer: tell it where we are.
    fx.push({ type: "send", to: p.proposer, msg: { type: "reject", service: c.service, epoch: p.epoch, voter: c.self, votedEpoch: Math.max(s.epoch, s.votedEpoch) } });
    if (s.cert !== null) fx.push({ type: "send", to: p.proposer, msg: { type: "certificate", cert: s.cert, inPerson: false } });
    return;
  }
  if (p.epoch === s.votedEpoch) {
    // One vote per epoch: re-send the same vote if this is what we voted for.
    // A vote is a grant, so not while a grant to someone else runs: this
    // voter may have granted the old holder again since (its vote's grant ran
    // out with no certificate), and that holder counts on it (sim seed 1425,
    // 3 nodes: the re-sent vote certified a second holder while the first
    // still held the VIP). The proposer re-sends; a later copy gets it.
    if (s.votedProposal !== null && sameProposal(s.votedProposal, p)) {
      if (s.nowMs >= s.grantUntilMs || (s.grantEpoch === p.epoch && s.grantHolder === p.holder)) castVote(s, fx, p);
    }
    else fx.push({ type: "send", to: p.proposer, msg: { type: "reject", service: c.service, epoch: p.epoch, voter: c.self, votedEpoch: s.votedEpoch } });
    return;
  }
  if (p.epoch < s.votedEpoch) {
    fx.push({ type: "send", to: p.proposer, msg: { type: "reject", service: c.service, epoch: p.epoch, voter: c.self, votedEpoch: s.votedEpoch } });
    return;
  }
  if (!reasonSupported(s, p)) {
    // A proposer that lags (it names an older holder) learns the newer
    // certificate, or it would propose the same stale move for ever (a
    // holder that stands aside sends no renewals to teach it).
    if (s.cert !== null && (p.basis === null || p.basis.epoch < s.epoch)) fx.push({ type: "send", to: p.proposer, msg: { type: "certificate", cert: s.cert, inPerson: false } });
    return;
  }
  if (mayVoteNow(s, p)) {
    castVote(s, fx, p);
    return;
  }
  // Our grant to the holder still runs: vote the moment it expires.
  if (s.pendingProposal === null || p.epoch > s.pendingProposal.epoch) s.pendingProposal = p;
}

function sameProposal(a: Extract<QuorumMsg, { type: "propose" }>, b: Extract<QuorumMsg, { type: "propose" }>): boolean {
  return a.epoch === b.epoch && a.holder === b.holder && a.from === b.from && a.reason === b.reason && a.proposer === b.proposer && a.boot === b.boot;
}

/** The voter's own view must support the reason given. */
function reasonSupported(s: QuorumState, p: Extract<QuorumMsg, { type: "propose" }>): boolean {
  // A host kept out (standby, maintenance, unhealthy) is no candidate, whatever the reason.
  if (s.excluded.includes(p.holder)) return false;
  switch (p.reason) {
    case "initial":
      return s.holder === null && p.from === null;
    case "holder-lost":
      // Another holder, or the holder itself again after it gave its epoch up.
      if (p.from === s.holder && s.holder !== null) return p.holder !== s.holder || p.proposer === s.holder;
      // Or the holder of a second certificate of our epoch, which the
      // proposal shows (a voter that lost its vote record signed twice):
      // either holder's loss is reason to move on, or a voter certain of
      // the other would refuse every proposal until a newer epoch came.
      return p.basis !== null && p.basis.epoch === s.epoch && p.basis.holder === p.from && p.from !== s.holder && p.holder !== p.from;
    case "handover":
      // Only the holder itself may hand over, and only from the epoch we know.
      return p.from === s.holder && p.proposer === s.holder && p.holder !== s.holder;
    case "predicted":
      // As a handover, and our own forecast must see the holder running out
      // (and not the host it hands over to).
      return p.from !== null && p.from === s.holder && p.proposer === s.holder && p.holder !== s.holder && s.predicted.includes(p.from) && !s.predicted.includes(p.holder);
    default:
      return assertNever(p.reason);
  }
}

/** Timing conditions for a vote: no live grant (except to a holder handing over), past the reboot wait. */
function mayVoteNow(s: QuorumState, p: Extract<QuorumMsg, { type: "propose" }>): boolean {
  if (s.nowMs < s.noVoteBeforeMs) return false;
  // A planned move comes from the holder this voter knows (reasonSupported):
  // its own grant to that holder does not stand in the way, for the holder
  // drops its VIP before the new one takes over in person. A grant from this
  // voter's vote in a newer epoch does: a rival's election it has not seen
  // decided may have a holder up already, counting on that very grant.
  // The grant must also be to the very process that proposes: a handover
  // still in flight from before the holder restarted is not (spin, with a
  // lost vote file: the restarted holder takes its VIP back while its old
  // process's move names another; model/README.md, BROKEN_PLANNED_BOOT).
  if (isPlanned(p.reason)) return s.nowMs >= s.grantUntilMs || (s.grantEpoch === s.epoch && s.grantHolder === p.proposer && s.grantBoot === p.boot);
  if (p.reason === "holder-lost" && !holderLost(s)) return false;
  return s.nowMs >= s.grantUntilMs;
}

function castVote(s: QuorumState, fx: QuorumEffect[], p: Extract<QuorumMsg, { type: "propose" }>): void {
  const c = s.config;
  assert(p.epoch > s.epoch, "votes only for a new epoch");
  assert(p.epoch >= s.votedEpoch, "never vote below an earlier vote");
  assert(p.epoch > s.votedEpoch || s.votedHolder === p.holder, "one vote per epoch");
  s.votedEpoch = p.epoch;
  s.votedHolder = p.holder;
  s.votedProposal = p;
  // The vote is also a grant to the new holder: its lease counts from its proposal.
  if (isPlanned(p.reason) && s.nowMs < s.grantUntilMs && s.grantHolder !== null && !(s.grantEpoch === p.epoch && s.grantHolder === p.holder)) {
    s.exemptFrom = { epoch: s.grantEpoch, holder: s.grantHolder, untilMs: s.grantUntilMs };
  }
  const boot = isPlanned(p.reason) ? null : p.boot; // a planned move's new holder is not the proposer
  if (!(s.grantEpoch === p.epoch && s.grantHolder === p.holder && s.grantBoot === boot)) s.grantSeq = 0;
  s.grantUntilMs = Math.max(s.grantUntilMs, s.nowMs + c.leaseMs);
  s.grantEpoch = p.epoch;
  s.grantHolder = p.holder;
  s.grantBoot = boot;
  fx.push({ type: "persist", record: persisted(s) });
  fx.push({ type: "send", to: p.proposer, msg: { type: "vote", service: c.service, epoch: p.epoch, holder: p.holder, from: p.from, reason: p.reason, voter: c.self, boot: p.boot } });
}

function onVote(s: QuorumState, fx: QuorumEffect[], v: Extract<QuorumMsg, { type: "vote" }>): void {
  const c = s.config;
  const p = s.proposal;
  if (p === null || v.service !== c.service) return;
  if (v.epoch !== p.epoch || v.holder !== p.holder || v.from !== p.from || v.reason !== p.reason) return;
  // A vote for this host's proposal from before its restart is a grant counted from a first send it no longer knows.
  if (v.boot !== c.boot) return;
  if (!c.voters.includes(v.voter) || p.votes.some((x) => x.voter === v.voter)) return;
  s.proposal = { ...p, votes: [...p.votes, { voter: v.voter, sig: v.sig }] };
  maybeCertify(s, fx);
}

/** This host's proposal has the votes it needs (a vote came, or an override's lowered count began to count): a certificate. */
function maybeCertify(s: QuorumState, fx: QuorumEffect[]): void {
  const c = s.config;
  const p = s.proposal;
  if (p === null || p.votes.length < votesNeeded(s)) return;
  const cert: Certificate = { service: c.service, epoch: p.epoch, holder: p.holder, from: p.from, reason: p.reason, votes: p.votes };
  const firstSentAtMs = p.firstSentAtMs;
  s.proposal = null;
  if (isPlanned(p.reason)) {
    // The old holder formed the certificate: drop the VIP first, then tell
    // the new holder in person (syncVip, once the removal is confirmed), so
    // it can take the VIP at once. The certificate itself goes to everyone
    // now, the new holder too: it renews while this host drops, and has its
    // lease by the time the word in person comes (the VIP waits for that
    // word, or the old lease's end: handoverWaitMs).
    assert(p.from === c.self, "only the holder hands over");
    adoptCertificate(s, fx, cert);
    s.handoff = cert;
    for (const h of c.hosts) {
      if (h === c.self) continue;
      fx.push({ type: "send", to: h, msg: { type: "certificate", cert, inPerson: false } });
    }
    return;
  }
  assert(p.holder === c.self, "a proposer proposes itself");
  adoptCertificate(s, fx, cert);
  // The votes were also grants, counted from the proposal's first send (a
  // vote that waited for a grant to run out may leave little of it: the
  // renewal sent on the next tick extends it).
  s.leaseUntilMs = firstSentAtMs + holderLeaseMs(c);
  s.answeredSentAtMs = firstSentAtMs;
  s.lastRenewSentMs = -Infinity;
  becomeHolderIfLeased(s, fx);
  for (const h of c.hosts) {
    if (h === c.self) continue;
    fx.push({ type: "send", to: h, msg: { type: "certificate", cert, inPerson: false } });
  }
  // Renew now, not at the next tick: a proposal that waited for the old
  // lease's grants to run out left little of its own lease, if any, and
  // after an unplanned failover these grants are what the VIP waits for.
  renewIfDue(s, fx);
}

function onCertificate(s: QuorumState, fx: QuorumEffect[], from: HostId, cert: Certificate, inPerson: boolean): void {
  const c = s.config;
  if (cert.service !== c.service) return;
  if (!certificateWellFormed(c, cert, certificateVotesNeeded(s))) return;
  if (cert.epoch === s.epoch && s.holder === c.self && cert.holder === c.self && isPlanned(cert.reason) && inPerson && from === cert.from && s.cert?.from === from) {
    // The old holder's word that it answers no more, after the certificate
    // itself came ahead (sent when it formed, so that this host's lease is
    // had by the time the old holder is quiet): the VIP goes up at once.
    s.takeNotBeforeMs = s.nowMs;
    becomeHolderIfLeased(s, fx);
    return;
  }
  if (cert.epoch <= s.epoch) return;
  adoptCertificate(s, fx, cert);
  if (cert.holder !== c.self) {
    // A holder this host just learned of is alive as far as it knows: a
    // voter that catches up through cert-request must not find it lost on
    // its next tick and propose against it (its renewal did not count yet).
    s.holderSeenUntilMs = Math.max(s.holderSeenUntilMs, s.nowMs + c.leaseMs);
    return;
  }
  // Named holder by someone else's proposal or by a handover.
  if (isPlanned(cert.reason) && !(inPerson && from === cert.from)) {
    s.takeNotBeforeMs = s.nowMs + handoverWaitMs(c);
  }
  if (isPlanned(cert.reason) && inPerson && from === cert.from) {
    // The old holder dropped the VIP before it sent this; our lease counts
    // from the voters' grants, which we renew at once.
    s.takeNotBeforeMs = s.nowMs;
  }
  // Renew now, not at the next tick: in a handover in person this renewal's
  // grants are what the VIP waits for.
  s.lastRenewSentMs = -Infinity;
  if (s.gaveUpEpoch !== s.epoch && s.nowMs >= s.standAsideUntilMs) renewIfDue(s, fx);
}

/** Counts distinct configured voters against the votes needed (a majority of the configured voters unless an override lowered it); the shell has checked each signature already. */
export function certificateWellFormed(c: QuorumConfig, cert: Certificate, needed = majority(c.voters.length)): boolean {
  const voters = new Set(cert.votes.map((v) => v.voter));
  if (voters.size !== cert.votes.length) return false;
  for (const v of voters) if (!c.voters.includes(v)) return false;
  if (!c.candidates.includes(cert.holder)) return false;
  return voters.size >= needed && cert.epoch >= 1;
}

function adoptCertificate(s: QuorumState, fx: QuorumEffect[], cert: Certificate): void {
  const c = s.config;
  assert(cert.epoch > s.epoch, "epochs only grow");
  const wasHolder = s.holder === c.self;
  s.epoch = cert.epoch;
  s.holder = cert.holder;
  s.cert = cert;
  s.lostSinceMs = null;
  s.handoff = null; // a newer certificate makes an in-person handover of an older one moot
  s.pendingProposal = s.pendingProposal !== null && s.pendingProposal.epoch > cert.epoch ? s.pendingProposal : null;
  // A proposal of ours made moot: its epoch is taken, or it replaces a holder
  // that is not the holder any more (re-sent, it would be refused for ever).
  if (s.proposal !== null && (s.proposal.epoch <= cert.epoch || s.proposal.from !== cert.holder)) s.proposal = null;
  if (s.votedEpoch < cert.epoch) {
    s.votedEpoch = cert.epoch;
    s.votedHolder = cert.holder;
    s.votedProposal = null;
  }
  // grantEpoch is left alone: it names the epoch of the grant that actually
  // runs (set only by castVote and onRenew). Relabelling it here let a voter
  // whose running grant was its vote for a rival in a newer epoch pass the
  // planned-vote rule as if the grant were to the holder it knows (spin,
  // epochs 1..3: two VIP holders; model/README.md, BROKEN_ADOPT_GRANT_EPOCH).
  fx.push({ type: "persist", record: persisted(s) });
  fx.push({ type: "certified", cert });
  if (wasHolder && cert.holder !== c.self) {
    if (s.vipUp) {
      s.vipUp = false;
      s.dropWhy = isPlanned(cert.reason) ? "handover" : "superseded";
    }
    s.role = Role.follower;
    s.leaseUntilMs = 0;
    s.renewals = [];
  }
  if (cert.holder === c.self) {
    s.answeredSentAtMs = s.nowMs; // a majority signed this certificate; it has no lease yet (a proposer's comes below)
    s.askedSinceMs = null;
    // Named again in a newer epoch (after a lost vote record this host may
    // hold an old epoch it re-won while the newer one, naming it too, was
    // certified before): the lease it has is of the old epoch. The VIP goes
    // until the new epoch's renewals come (sim seed 8291, 3 nodes).
    if (s.vipUp) {
      s.vipUp = false;
      s.dropWhy = "superseded";
    }
    s.role = Role.acquiring;
    s.renewals = [];
    s.leaseUntilMs = 0;
  } else {
    s.role = Role.follower;
  }
}

function onRenew(s: QuorumState, fx: QuorumEffect[], r: Extract<QuorumMsg, { type: "renew" }>): void {
  const c = s.config;
  if (r.service !== c.service) return;
  if (r.epoch < s.epoch) {
    // A deposed holder (back from a partition): show it the newer certificate.
    if (s.cert !== null) fx.push({ type: "send", to: r.holder, msg: { type: "certificate", cert: s.cert, inPerson: false } });
    return;
  }
  if (r.epoch > s.epoch) {
    // We missed its certificate: ask for it (a renewal comes every few ticks, so this is bounded).
    fx.push({ type: "send", to: r.holder, msg: { type: "cert-request", service: c.service, epoch: r.epoch } });
    return;
  }
  if (r.holder !== s.holder) return;
  // A voter that voted to replace this holder does not count it as alive
  // while that vote's grant runs: it keeps pushing the replacement (else a
  // split vote would stall). Once the grant has run out with no certificate
  // seen, refusing the holder for ever could leave the voters split between
  // it and a proposal that is dead (sim seeds 849 and 938, --services 2).
  // The one-grant rule below keeps that safe.
  if (c.voters.includes(c.self) && s.votedEpoch > r.epoch && s.grantEpoch === s.votedEpoch && s.nowMs < s.grantUntilMs) return;
  s.holderSeenUntilMs = Math.max(s.holderSeenUntilMs, s.nowMs + c.leaseMs);
  if (!c.voters.includes(c.self)) return;
  // After a restart, grants wait like votes: the promises made before it are forgotten.
  if (s.nowMs < s.noVoteBeforeMs) return;
  // A grant to another epoch or holder still runs (this voter learned the
  // newer certificate without voting in it, or voted in this epoch for
  // another holder): whoever holds it may still be counting on it. This one
  // waits for it, as a vote would.
  if ((s.grantEpoch !== r.epoch || s.grantHolder !== r.holder) && s.nowMs < s.grantUntilMs) return;
  const ex = s.exemptFrom;
  if (ex !== null && s.nowMs < ex.untilMs && !(s.cert !== null && isPlanned(s.cert.reason) && s.cert.from === ex.holder && s.cert.epoch === r.epoch)) return;
  const sameProcess = s.grantEpoch === r.epoch && s.grantHolder === r.holder && s.grantBoot === r.boot;
  s.grantSeq = sameProcess ? Math.max(s.grantSeq, r.seq) : r.seq;
  s.grantUntilMs = Math.max(s.grantUntilMs, s.nowMs + c.leaseMs);
  s.grantEpoch = r.epoch;
  s.grantHolder = r.holder;
  s.grantBoot = r.boot;
  s.pendingProposal = null;
  fx.push({ type: "send", to: r.holder, msg: { type: "grant", service: c.service, epoch: r.epoch, seq: r.seq, voter: c.self, boot: r.boot } });
}

/** A grant or lapsed-ack for this process's renewals in its current epoch, from a configured voter, while it is the certified holder. */
function answersOurRenewals(s: QuorumState, m: { service: string; epoch: number; voter: HostId; boot: number }): boolean {
  const c = s.config;
  if (m.service !== c.service || m.epoch !== s.epoch || s.holder !== c.self) return false;
  if (!c.voters.includes(m.voter)) return false;
  if (s.role === Role.follower) return false;
  return m.boot === c.boot; // not an answer to a renewal sent by this host's previous process
}

/**
 * A voter's answer to a lapsed renewal: the holder that sent it is lost in
 * this host's view, and as voter it forgets its running grant to that very
 * process (which takes no grant for any renewal up to that one), so it may
 * vote for a successor now. A grant to another process of the holder (or to
 * one it does not know, as after a vote for a planned move), or one that
 * covers a later renewal than the lapsed one, is waited out.
 */
function onLapsed(s: QuorumState, fx: QuorumEffect[], r: Extract<QuorumMsg, { type: "lapsed" }>): void {
  const c = s.config;
  if (r.service !== c.service) return;
  if (r.epoch !== s.epoch) {
    onRenew(s, fx, { ...r, type: "renew" }); // an older or newer epoch: answered as a renewal would be (a certificate, a cert-request)
    return;
  }
  if (r.holder !== s.holder) return;
  s.holderSeenUntilMs = Math.min(s.holderSeenUntilMs, s.nowMs);
  if (!c.voters.includes(c.self)) return;
  if (s.grantEpoch === r.epoch && s.grantHolder === r.holder && s.grantBoot === r.boot && s.grantSeq <= r.seq) s.grantUntilMs = Math.min(s.grantUntilMs, s.nowMs);
  if (r.holder !== c.self) fx.push({ type: "send", to: r.holder, msg: { type: "lapsed-ack", service: c.service, epoch: r.epoch, seq: r.seq, voter: c.self, boot: r.boot } });
}

function onGrant(s: QuorumState, fx: QuorumEffect[], g: Extract<QuorumMsg, { type: "grant" }>): void {
  const c = s.config;
  if (!answersOurRenewals(s, g)) return;
  if (g.voter !== c.self) s.askedSinceMs = null;
  if (g.seq <= s.lapsedSeq) return; // the voters were told to forget it
  const i = s.renewals.findIndex((r) => r.seq === g.seq);
  if (i < 0) return;
  const r = s.renewals[i]!;
  if (g.voter !== c.self) s.answeredSentAtMs = Math.max(s.answeredSentAtMs, r.sentAtMs);
  if (r.grantedBy.includes(g.voter)) return;
  const renewed: Renewal = { ...r, grantedBy: [...r.grantedBy, g.voter] };
  s.renewals = s.renewals.map((x, j) => (j === i ? renewed : x));
  if (renewed.grantedBy.length < votesNeeded(s)) return;
  s.leaseUntilMs = Math.max(s.leaseUntilMs, renewed.sentAtMs + holderLeaseMs(c));
  s.answeredSentAtMs = Math.max(s.answeredSentAtMs, renewed.sentAtMs); // a majority answered (with one voter, itself)
  becomeHolderIfLeased(s, fx);
}

/**
 * An operator's lowered quorum, taken on here: it counts after a restart
 * wait (the lost voters' grants, and the lease of a lost holder and its
 * kernel, have run out by then by any clock within the drift bound), over
 * the votes it names raised by the voters heard. Who was heard is never
 * forgotten while an override lasts: not by a later override, not by a
 * restart (`heard`: what the disk kept). Otherwise a survivor that heard a
 * lost voter come back, then restarted (or was ordered again) while cut
 * off from it, would count alone again beside a holder that voter made
 * (review of session 12: two holders). Null (or the configured count) ends
 * it, and with it what was heard.
 */
function onExpectVotes(s: QuorumState, votes: number | null, heardBefore: readonly HostId[]): void {
  const c = s.config;
  assert(votes === null || (Number.isSafeInteger(votes) && votes >= 1), "expected votes are a whole number ≥ 1");
  if (votes === null || votes >= c.voters.length) {
    s.expect = null;
    return;
  }
  const heard = new Set([...(c.voters.includes(c.self) ? [c.self] : []), ...(s.expect?.heard ?? []), ...heardBefore.filter((h) => c.voters.includes(h))]);
  s.expect = { votes, fromMs: s.nowMs + restartWaitMs(c), heard: [...heard] };
}

function becomeHolderIfLeased(s: QuorumState, fx: QuorumEffect[]): void {
  if (s.nowMs >= s.leaseUntilMs) return;
  if (s.nowMs < s.takeNotBeforeMs) return;
  if (s.role === Role.acquiring || s.role === Role.safeMode) s.role = Role.holding;
  if (s.role === Role.holding && !s.vipUp && s.gaveUpEpoch !== s.epoch) s.vipUp = true;
}

/** The best candidate to hand over to: alive, not kept out, not this host (nor `avoid`, unless it is the only one); null when there is none. */
export function successor(s: QuorumState, avoid: HostId | null = null): HostId | null {
  const c = s.config;
  const able = c.candidates.filter((h) => h !== c.self && s.alive.includes(h) && !s.excluded.includes(h) && !s.cold.includes(h));
  return able.find((h) => h !== avoid) ?? able[0] ?? null;
}

/** A drain's handovers back off: the n-th waits 2^n planned moves' timeouts (at most 2^DRAIN_BACKOFF_MAX), so a drain no majority signs does not cost a new epoch and a vote record every few hundred ms. */
const DRAIN_BACKOFF_MAX = 5;

/** A holder kept out (standby, maintenance, its service unhealthy here) hands the service over in person; a handover that found no majority is tried again after a planned move's timeout. */
function maybeDrain(s: QuorumState, fx: QuorumEffect[]): void {
  const c = s.config;
  if (!s.excluded.includes(c.self) || s.holder !== c.self || s.role !== Role.holding || !s.vipUp || s.proposal !== null || s.nowMs < s.drainRetryAtMs) return;
  const to = successor(s, s.drainLastTo);
  if (to === null) return;
  s.drainRetryAtMs = s.nowMs + plannedMoveTimeoutMs(c) * 2 ** Math.min(s.drainAttempts, DRAIN_BACKOFF_MAX);
  s.drainAttempts += 1;
  s.drainLastTo = to;
  onHandoverRequested(s, fx, to, "handover");
}

/**
 * The host a holder would move its service back to: the primary (the first
 * candidate), when it is alive, kept in (not standby, maintenance or
 * unhealthy), not predicted to run out, and in sync with this host's state
 * or catching up. Only the primary: a move back is a handover, after which
 * the service stays where it went, so a stop at a shadow ranked between
 * would keep it from the primary for good. Null when this host is the
 * primary or not holding, when an operator's move or a drain put the
 * service here, or moving back is off.
 */
function moveBackTarget(s: QuorumState): HostId | null {
  const c = s.config;
  const primary = c.candidates[0]!;
  if (c.moveBackAfterMs === 0 || primary === c.self || s.holder !== c.self || s.role !== Role.holding || !s.vipUp || s.excluded.includes(c.self)) return null;
  if (s.cert === null || !MOVES_BACK_AFTER.includes(s.cert.reason)) return null; // an operator's move or a drain put it here: it stays
  return fitToServe(s, primary) ? primary : null;
}

/** Where and when this holder will move the service back, as status shows it (inWindow: once the wait has run, it waits for the swap window too); null when it will not. */
export function moveBackPlan(s: QuorumState, nowMs: number): { to: HostId; inMs: number; inWindow: boolean } | null {
  if (s.betterSince === null || moveBackTarget(s) !== s.betterSince.host) return null;
  return { to: s.betterSince.host, inMs: Math.max(0, s.betterSince.sinceMs + moveBackWaitMs(s, s.betterSince.sinceMs).waitMs - nowMs), inWindow: waitsForWindow(s) };
}

/** A move back held for the swap window: configured so, and the window closed now (its opening is an event). */
const waitsForWindow = (s: QuorumState): boolean => s.config.moveBackInWindow === true && !s.swapWindow;

/** Whether another host is fit to take or share the service by a planned move (a move back, a swap, scaling): alive, kept in, not predicted to run out, in sync with this host's state or catching up. */
export function fitToServe(s: QuorumState, h: HostId): boolean {
  return s.alive.includes(h) && !s.excluded.includes(h) && !s.cold.includes(h) && !s.predicted.includes(h) && s.inSync.includes(h);
}

/** The certificates after which a holder moves the service back: it got there by a failover, a predicted move or the first election, not by anyone's choice. */
const MOVES_BACK_AFTER: readonly Reason[] = ["holder-lost", "predicted", "initial"];
/** A move back's wait doubles at most this many times. */
const MOVE_BACK_BACKOFF_MAX = 5;

/**
 * The wait before a move back whose target has been fit since `sinceMs`:
 * moveBackAfterMs, doubled for each move back this host made in a row, a
 * row broken when the target stayed fit for twice the wait after the last
 * (a predicted move the holder's own forecast does not share, an add that
 * keeps failing on the primary: without it the service would bounce back
 * and forth). `streak` is the row's length with this move counted.
 */
function moveBackWaitMs(s: QuorumState, sinceMs: number): { waitMs: number; streak: number } {
  const m = s.movedBack;
  const base = s.config.moveBackAfterMs;
  const k = m === null ? 0 : Math.min(m.count, MOVE_BACK_BACKOFF_MAX);
  if (m === null || sinceMs - m.atMs >= 2 * base * 2 ** k) return { waitMs: base, streak: 1 };
  return { waitMs: base * 2 ** k, streak: m.count + 1 };
}

/** A holder other than the primary, the primary fit for the wait (moveBackWaitMs), hands the service back to it in person; a handover that found no majority waits as long again. */
function maybeMoveBack(s: QuorumState, fx: QuorumEffect[]): void {
  const better = moveBackTarget(s);
  if (better === null) {
    s.betterSince = null;
    return;
  }
  if (s.betterSince?.host !== better) s.betterSince = { host: better, sinceMs: s.nowMs };
  const { waitMs, streak } = moveBackWaitMs(s, s.betterSince.sinceMs);
  if (s.proposal !== null || s.nowMs - s.betterSince.sinceMs < waitMs || waitsForWindow(s)) return;
  s.movedBack = { count: streak, atMs: s.nowMs };
  onHandoverRequested(s, fx, better, "handover");
}

/**
 * The host a holder would swap with now: the primary where this host is
 * not it (only the primary: a swap to another shadow would keep the service
 * from the primary for another `every`, past any move back), else the best
 * shadow; fit means alive, kept in, not predicted to run out, in sync or
 * catching up. Null: none, or no swap due (off, window closed, not holding,
 * kept out).
 */
function swapTarget(s: QuorumState): HostId | null {
  const c = s.config;
  if ((c.swapEveryMs ?? 0) === 0 || !s.swapWindow || s.holder !== c.self || s.role !== Role.holding || !s.vipUp || s.excluded.includes(c.self)) return null;
  const fit = (h: HostId) => h !== c.self && fitToServe(s, h);
  const primary = c.candidates[0]!;
  if (primary !== c.self) return fit(primary) ? primary : null;
  return c.candidates.find(fit) ?? null;
}

/** A swap's retry waits double at most this many times. */
const SWAP_BACKOFF_MAX = 5;

/** When a swap is due: held swapEveryMs in this epoch (by this process), and past a failed try's retry. */
function swapAtMs(s: QuorumState): number {
  if (s.heldSince === null || s.heldSince.epoch !== s.epoch) return s.nowMs; // not yet counted: at once (maybeSwap starts the count)
  return Math.max(s.heldSince.ms + (s.config.swapEveryMs ?? 0), s.swapRetryAtMs);
}

/** maybeSwap's deadline. */
function swapDue(s: QuorumState, at: (t: number) => void): void {
  if (s.holder === s.config.self && s.role === Role.holding && (s.heldSince === null || s.heldSince.epoch !== s.epoch)) return at(s.nowMs);
  if (swapTarget(s) !== null && s.proposal === null) at(swapAtMs(s));
}

/** A holder counts how long it has held; with its swap window open and held long enough, it hands over in person to the one it swaps with. */
function maybeSwap(s: QuorumState, fx: QuorumEffect[]): void {
  const c = s.config;
  if (s.holder !== c.self || s.role !== Role.holding) return; // heldSince names its epoch: a later holding counts afresh
  if (s.heldSince === null || s.heldSince.epoch !== s.epoch) s.heldSince = { epoch: s.epoch, ms: s.nowMs };
  const to = swapTarget(s);
  if (to === null || s.proposal !== null || s.nowMs < swapAtMs(s)) return;
  onHandoverRequested(s, fx, to, "handover");
  const p = proposalOf(s); // onHandoverRequested may have started one
  if (p?.holder === to) s.swapping = p.epoch;
}

const proposalOf = (s: QuorumState): Proposal | null => s.proposal;

/** Where and when this holder will swap, as status shows it (null: it will not now: off, window closed, no one fit). */
export function swapPlan(s: QuorumState, nowMs: number): { to: HostId; inMs: number } | null {
  const to = swapTarget(s);
  return to === null ? null : { to, inMs: Math.max(0, swapAtMs(s) - nowMs) };
}

function onHandoverRequested(s: QuorumState, fx: QuorumEffect[], target: HostId | null, reason: "handover" | "predicted"): void {
  const c = s.config;
  const to = target ?? successor(s);
  if (to === null || s.holder !== c.self || s.role !== Role.holding || !c.candidates.includes(to) || to === c.self || s.excluded.includes(to)) return;
  if (s.proposal !== null) return;
  s.role = Role.handingOver;
  s.proposal = {
    epoch: Math.max(s.epoch, s.votedEpoch, s.rejectedEpochMax) + 1,
    holder: to,
    from: c.self,
    reason,
    firstSentAtMs: s.nowMs,
    lastSentAtMs: s.nowMs,
    votes: [],
  };
  sendProposal(s, fx, s.proposal);
}

// ---------------------------------------------------------------- invariants

function checkInvariants(s: QuorumState): void {
  assert(s.epoch >= 0 && s.votedEpoch >= s.epoch, "a certified epoch counts as voted");
  if (s.vipUp) {
    assert(s.holder === s.config.self, "only the certified holder has the VIP up");
    assert(s.role === Role.holding || s.role === Role.handingOver, "the VIP is up only while holding");
    assert(s.nowMs < s.leaseUntilMs, "no VIP without a valid lease");
  }
  if (s.proposal !== null) assert(s.proposal.epoch > s.epoch, "a proposal is for a new epoch");
  if (s.vipUp || s.vipOp?.op === "add") assert(s.vipPresent, "a VIP wanted or being added counts as present");
  const want = kernelLeaseWanted(s);
  assert(want === 0 ? s.kernelLeaseUntilMs === 0 : s.kernelLeaseUntilMs > 0 && s.kernelLeaseUntilMs <= want, "the kernel holds a lease no longer than the holder's while the VIP is wanted (or waits only for its take), and none otherwise");
  assert(s.leaseUntilMs === 0 || s.leaseUntilMs <= s.answeredSentAtMs + holderLeaseMs(s.config), "every lease counts from an answered renewal (what makes a lapsed renewal safe)");
  if (s.handoff !== null) assert(s.handoff.from === s.config.self && s.handoff.epoch === s.epoch, "a pending handoff is this host's own, of the current epoch");
  if (s.kernelQuiet) assert(s.kernelLeaseUntilMs === 0, "a quiet kernel has no lease");
}
