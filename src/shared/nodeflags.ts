// The flags Node runs the agent with (bin/umbra passes them for `umbra
// agent`; the demo cluster and the benches spawn agents with them too). The
// agent allocates little and steadily: V8's young generation, sized for
// throughput (semi-spaces growing to 16 MB and more), kept about 20 MB
// resident for nothing (bench/footprint: 173 -> 154 MB RSS for one agent).
// One megabyte costs more frequent scavenges of a small heap. It must be
// given at start: set from inside, the heap has grown already (every module
// of the static graph is loaded before the first one runs).
export const AGENT_NODE_FLAGS = ["--max-semi-space-size=1"] as const;
