// The contract of a mesh link, the one adapter both shells speak through:
// the agent's real mesh (hyperswarm, src/mesh/swarm.ts) and the simulator's
// in-memory twin (src/sim/memnet.ts). One acceptance suite
// (test/adapters/mesh-link.ts) holds both to it. It lives here, in the base
// every part stands on, so that mesh/ and sim/ share it without importing
// each other.

import type { HostId } from "./ids.ts";

/** One host's end of the mesh: frames of type M to the peers it is connected to. */
export type MeshLink<M> = {
  /** False when the peer is not connected or its send buffer is full (the frame is dropped). */
  send(to: HostId, msg: M): boolean;
  connected(): HostId[];
  close(): Promise<void>;
};

/** What a link tells its owner: a frame from a peer, a peer connected or gone. */
export type MeshLinkEvents<M> = {
  onMessage(from: HostId, msg: M): void;
  onPeer(id: HostId, connected: boolean): void;
};
