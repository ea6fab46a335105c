// The pure core's front door. The shells (agent, simulator) step one
// machine, the host core (`host`), and route nothing themselves; the
// replicator runs the replication routing itself when it has no host core
// (stepReplicas), and steps its own sync decisions (replicasync). The other
// machines are reachable only through the host core: their types are here,
// their step functions are not.

export * as host from "./host.ts";
export { stepReplicas, type ReplicaEvent as HostReplicaEvent, type ReplicaEffect, type OperatorOrder, type OrderAction, type Standing, type VoteStanding, type VoteStandings, type VotesKept, type HookName, type NotifyState, type HostConfig, type HostEffect, type HostEvent, type HostMsg, type HostOut, type HostState, type HostStep, type HostTiming } from "./host.ts";
export type { QuorumConfig, QuorumState, QuorumEvent, QuorumEffect, QuorumMsg, QuorumOut, SignedVote, UnsignedVote, Certificate, Persisted, Reason, Vote } from "./quorum.ts";
export type { MemberStatus, MemberUpdate, SwimMsg } from "./membership.ts";
export * as replicasync from "./replicasync.ts";
export { blobsToFetch, type ReplicaSyncEvent, type ReplicaSyncState } from "./replicasync.ts";
export { initialReplication, PENDING_WRITES_MAX, type PeerSync, type ReplicationState, type SyncStatus } from "./replication.ts";
export { forecastStaleMs } from "./proactive.ts";
export type { Labels } from "./placement.ts";
export type { WarmWord } from "./shadowcount.ts";
export { planReconcile, type Conflict, type UnackedChange } from "./reconcile.ts";
// No machine: the auto swap window is chosen by the shell, which reads the clock and tells the core when it opens.
export { daySeenShare, quietestWindow, type LoadProfile, type OffPeakWindow } from "./offpeak.ts";
