// The agent's surface: what the CLI and tests start. The assembly is in
// agent.ts, the loop that steps the host core in loop.ts, the effects in
// effects.ts and runners.ts.

export { runAgent, startAgent, VERSION, type Agent } from "./agent.ts";
export { INBOX_MAX, EVENTS_PER_TICK_MAX, LOOP_STALL_WARN_TICKS } from "./loop.ts";
export { RTT_SAMPLES_MAX } from "./observed.ts";
