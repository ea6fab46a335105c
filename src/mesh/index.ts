// The mesh's front door: the agent opens one mesh (hyperswarm, one
// protomux channel of typed frames per peer) and speaks the wire messages
// of codec.ts over it; votes are signed over voteSigningBytes.
export { openMesh, parseHostPort, type Mesh, type MeshOptions } from "./swarm.ts";
export { MESH_CODEC, voteSigningBytes, type BeaconForecast, type BeaconStanding, type BeaconVotes, type BeaconWarm, type WireMsg } from "./codec.ts";
export { bootstrapRelayKeyPair, startRelay } from "./relay.ts";
