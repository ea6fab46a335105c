// The replication machine (decide/replication.ts) run by the replicator
// itself, for a replicator without a host core (tests, benches): the same
// events in and, translated to the host core's names, the same effects out
// that the agent's host core would give (decide/host.ts does the same
// routing for the agent).

import type { HostId } from "../shared/ids.ts";
import { initialReplication, stepReplicas, type ReplicationState } from "../decide/index.ts";
import type { Replica, ReplicaEffect, ReplicaEvent, ReplicationCore } from "./replica.ts";

export type OwnCore = ReplicationCore & { tick(): void };

export type OwnCoreOptions = { self: HostId; writeTimeoutMs: number; staleAfterMs: number; now(): number };

/** One machine per replica; `carryOut` takes each effect as the machine gives it. */
export function ownCore(replicas: Iterable<Replica>, o: OwnCoreOptions, carryOut: (fx: ReplicaEffect) => void): OwnCore {
  let machines: Record<string, ReplicationState> = {};
  for (const r of replicas) {
    machines[r.cfg.name] = initialReplication({ service: r.cfg.name, self: o.self, replicas: r.others, ackShadows: r.ackNeeded, writeTimeoutMs: o.writeTimeoutMs, staleAfterMs: o.staleAfterMs }, o.now());
  }
  const run = (ev: ReplicaEvent | { type: "tick" }): void => {
    const out = stepReplicas(machines, ev, o.now());
    machines = out.replicas;
    for (const fx of out.effects) carryOut(fx);
  };
  return {
    feed: run,
    peers: (service) => machines[service]?.peers ?? null,
    tick: () => run({ type: "tick" }),
  };
}
