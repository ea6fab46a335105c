// Timing profiles, in one table: the agent's config starts from one of them,
// and the simulator and the transcripts run their hosts on them too.

/**
 * Timing profiles. lan: hosts on one switch, RTT well under a millisecond;
 * the lease bounds unplanned downtime (a shadow takes over once the old lease
 * has run out), so it is short, and renewals come six times per lease so a
 * lost one or two do not cost the lease. wan and edge scale everything up for
 * slower, lossier links.
 *
 * lan's lease is short because the kernel holds it too (the fence,
 * src/actuate/fence.ts): a holder whose agent is frozen, killed or starved of
 * CPU stops answering when its kernel lease ends, whatever its process does,
 * so the actuation guard need only cover the time the kernel takes to apply
 * a lease (an nft write). Without the fence (`fence = false`) the guard must
 * cover `ip addr del` and a stalled loop, and lan falls back to UNFENCED's
 * timings.
 */
const LAN = {
  tickMs: 5, // the simulator's step, and the unit of the agent loop's stall warning: the agent itself wakes when its core has something due (host.nextTickMs), and steps messages in as they arrive
  probeIntervalMs: 50, // SWIM probe round: a dead peer is noticed within a few rounds
  probeTimeoutMs: 20, // direct ack wait before asking others to probe (ping-req)
  suspicionTimeoutMs: 150, // suspect -> dead: room for a refutation to arrive
  leaseMs: 100, // holder lease: the bound on unplanned downtime
  renewIntervalMs: 20, // five per lease, as datagrams sent twice (mesh/swarm.ts): under 30 % loss the holder still hears a grant within its lease nearly always
  driftMaxPpm: 1000, // 0.1 %: far above what NTP-less quartz clocks drift
  // The holder lets go this much before the voters' grants run out, to cover
  // the kernel applying its lease late (an nft write by a process of ours,
  // run under SCHED_RR with the agent). It costs no downtime: failover
  // waits on the voters' grants, not on the holder's own expiry.
  actuationGuardMs: 20,
  proposalTimeoutMs: 50, // re-send a proposal, or let the next candidate try
  initialGraceMs: 3000, // at start-up the primary gets this long to win the first election
  hookTimeoutMs: 5000, // user hooks are killed after this
  writeTimeoutMs: 5000, // a state write not durable on ackShadows shadows by then fails (it is not rolled back)
  syncStaleMs: 3000, // a replica not heard on the state channel this long is "stale"
  // A mesh connection whose peer has not opened the mesh channel this long
  // is dropped (mesh/swarm.ts): its other end is gone, and while it is held
  // the hosts' dials to each other are refused as duplicates. Well beyond a
  // round trip and a loop stall (800 ms seen under CPU steal).
  linkOpenTimeoutMs: 1500,
} as const;

/**
 * lan without the fence: the guard covers a stalled loop plus `ip addr del`
 * (measured under load: a 29 ms stall plus a 65 ms del), and the lease grows
 * to leave the holder two renewal intervals after it. These were lan's
 * timings before the fence.
 */
const LAN_UNFENCED = { leaseMs: 300, renewIntervalMs: 50, actuationGuardMs: 100, proposalTimeoutMs: 150 } as const;

export const PROFILES = {
  lan: LAN,
  // Links across sites: RTT in the tens of ms with jitter, so the network
  // timings are ×10 lan. The tick only ×4: it is local work, and a coarse tick
  // would add its whole length to every message. The guard ×3: `ip addr del`
  // costs the same everywhere, only loop stalls grow with the load.
  wan: {
    tickMs: 20,
    probeIntervalMs: 500,
    probeTimeoutMs: 200,
    suspicionTimeoutMs: 1500,
    leaseMs: 3000,
    renewIntervalMs: 500,
    driftMaxPpm: 1000, // clocks drift the same; only the links differ
    actuationGuardMs: 300,
    proposalTimeoutMs: 1500,
    initialGraceMs: 10000, // a DHT join across the internet takes seconds
    hookTimeoutMs: 10000, // hooks there often reach a remote service
    writeTimeoutMs: 15000,
    syncStaleMs: 10000,
    linkOpenTimeoutMs: 5000,
  },
  // Cellular or satellite links with loss bursts of seconds: network timings
  // ×20 lan. Small boxes run hot and cold without NTP: twice the drift bound.
  edge: {
    tickMs: 50,
    probeIntervalMs: 1000,
    probeTimeoutMs: 400,
    suspicionTimeoutMs: 3000,
    leaseMs: 6000,
    renewIntervalMs: 1000,
    driftMaxPpm: 2000,
    actuationGuardMs: 600, // slow CPUs stall longer under load
    proposalTimeoutMs: 3000,
    initialGraceMs: 20000,
    hookTimeoutMs: 15000,
    writeTimeoutMs: 30000,
    syncStaleMs: 20000,
    linkOpenTimeoutMs: 10000, // a handshake through loss bursts of seconds
  },
  // One machine (network namespaces, tests): the same as lan.
  local: LAN,
  // The deterministic simulator (src/sim): lan's timings, but a state write
  // fails and a silent replica goes stale sooner, so the short virtual runs
  // see writes fail and replicas lag. Not for a real agent's config.
  sim: {
    ...LAN,
    writeTimeoutMs: 2000,
    syncStaleMs: 1000,
  },
  // The transcripts' stories (src/sim/testdata): lan at the slower pace of
  // LAN_UNFENCED, so a story's steps of 50-100 ms do not skip over renewals.
  // Not for a real agent's config.
  story: { ...LAN, ...LAN_UNFENCED },
} as const;
export type ProfileName = keyof typeof PROFILES;

/** Timings that replace a profile's when the config turns the fence off; wan's and edge's guards cover `ip addr del` and a stall already. */
export const UNFENCED: Partial<Record<ProfileName, Partial<Timing>>> = { lan: LAN_UNFENCED, local: LAN_UNFENCED };
/** The profiles an agent's config may name (the simulator's is not one). */
export const CONFIG_PROFILES = ["lan", "wan", "edge", "local"] as const satisfies readonly ProfileName[];
export type ConfigProfileName = (typeof CONFIG_PROFILES)[number];
export type Timing = { [K in keyof (typeof PROFILES)["lan"]]: number };

/**
 * A turn of the agent's loop that starts this many tickMs after the core's
 * due time (and after the last turn) is a stall: logged, and told to the
 * core (loop-stalled). The simulator tells a paused host's core the same
 * only for a pause this long.
 */
export const LOOP_STALL_WARN_TICKS = 4;
