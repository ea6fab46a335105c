export * as quorum from "./quorum.ts";
export type { QuorumConfig, QuorumState, QuorumEvent, QuorumEffect, QuorumMsg, Certificate, Persisted, Reason } from "./quorum.ts";
