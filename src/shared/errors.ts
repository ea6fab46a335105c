// Expected failures (a bad config, a peer gone, a missing tool) carry a code,
// context and the cause. Programmer errors are AssertionErrors instead.

export type ErrorCode =
  | "config_invalid"
  | "config_unreadable"
  | "key_invalid"
  | "key_unreadable"
  /** A message or signature names a host that is not in the cluster's [[hosts]]. */
  | "peer_unknown"
  /** A vote's signature does not check out against its voter's key. */
  | "signature_invalid"
  | "frame_malformed"
  | "actuate_failed"
  /** The kernel-side lease (nftables) cannot be installed: the agent does not start without it unless the config says fence = false. */
  | "fence_unavailable"
  | "hook_failed"
  | "trial_failed"
  | "netns_unavailable"
  | "usage"
  /** An API request whose path or body is malformed: the caller's fault, like a usage error. */
  | "request_invalid"
  /** An API request for blobs to an agent that keeps no chunk store. */
  | "chunk_store_absent"
  /** An API request names a service the config does not list. */
  | "service_unknown"
  /** A planned move asked of an agent that does not hold the service (the answer names the holder if known). */
  | "not_holder"
  /** A planned move asked while this holder is already handing the service over. */
  | "move_in_progress"
  /** An operator's statement the agent refused (its key, signature, cluster, time, nonce, or names): nothing changed. */
  | "statement_refused"
  | "api_unreachable"
  | "api_listen_failed"
  | "state_corrupt"
  | "vote_record_unreadable"
  | "vote_record_corrupt"
  /** The disk refused a vote record: the vote it guards is not sent. */
  | "vote_record_unwritable"
  | "state_unknown_service"
  /** This host is a cold shadow of the service (the shadow count): its replica syncs with no one, so it takes no writes. */
  | "state_cold"
  | "write_not_acknowledged"
  | "blob_unavailable"
  /** A service's state names no blob (or file) by that name. */
  | "blob_unknown";

export class UmbraError extends Error {
  override name = "UmbraError";
  readonly code: ErrorCode;
  readonly context: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, context: Record<string, unknown> = {}, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.context = context;
  }
}

export function isUmbraError(e: unknown): e is UmbraError {
  return e instanceof UmbraError;
}
