// The replication machine (decide/replication.ts) run by the replicator
// itself, for a replicator without a host core (tests, benches): the same
// events in and, translated to the host core's names, the same effects out
// that the agent's host core would give (decide/host.ts does the same
// routing for the agent).

import { assertNever } from "../shared/assert.ts";
import type { HostId } from "../shared/ids.ts";
import * as replication from "../decide/replication.ts";
import type { Replica, ReplicaEffect, ReplicaEvent, ReplicationCore } from "./replica.ts";

export type OwnCore = ReplicationCore & { tick(): void };

export type OwnCoreOptions = { self: HostId; writeTimeoutMs: number; staleAfterMs: number; now(): number };

/** One machine per replica; `carryOut` takes each effect as the machine gives it. */
export function ownCore(replicas: Iterable<Replica>, o: OwnCoreOptions, carryOut: (fx: ReplicaEffect) => void): OwnCore {
  const machines = new Map<string, replication.ReplicationState>();
  for (const r of replicas) {
    machines.set(r.cfg.name, replication.initialReplication({ service: r.cfg.name, self: o.self, replicas: r.others, ackShadows: r.ackNeeded, writeTimeoutMs: o.writeTimeoutMs, staleAfterMs: o.staleAfterMs }, o.now()));
  }
  const run = (service: string, ev: replication.ReplicationEvent): void => {
    const m = machines.get(service);
    if (m === undefined) return;
    const out = replication.step(m, ev, o.now());
    machines.set(service, out.state);
    for (const fx of out.effects) carryOut(hostEffect(service, fx));
  };
  return {
    feed(ev: ReplicaEvent) {
      switch (ev.type) {
        case "write-durable":
          return run(ev.service, { type: "write-durable", id: ev.id });
        case "peer-durable":
          return run(ev.service, { type: "peer-durable", peer: ev.peer, id: ev.id });
        case "peer-synced":
          return run(ev.service, { type: "peer-sync", peer: ev.peer, lagChanges: ev.lagChanges, lagBytes: ev.lagBytes, theyLack: ev.theyLack, weLack: ev.weLack });
        case "state-link":
          for (const service of machines.keys()) run(service, { type: ev.up ? "peer-connected" : "peer-disconnected", peer: ev.peer });
          return;
        default:
          assertNever(ev);
      }
    },
    peers: (service) => machines.get(service)?.peers ?? null,
    tick() {
      for (const service of machines.keys()) run(service, { type: "tick" });
    },
  };
}

function hostEffect(service: string, fx: replication.ReplicationEffect): ReplicaEffect {
  switch (fx.type) {
    case "request-durable":
      return { type: "request-durable", service, id: fx.id, to: fx.to };
    case "acked":
      return { type: "write-acked", service, id: fx.id, durableOn: fx.durableOn, ms: fx.ms };
    case "write-failed":
      return { type: "write-failed", service, id: fx.id, why: fx.why, durableOn: fx.durableOn, ms: fx.ms };
    case "status-changed":
      return { type: "sync-status-changed", service, peer: fx.peer, from: fx.from, to: fx.to };
    default:
      return assertNever(fx);
  }
}
