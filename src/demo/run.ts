// `umbra demo`: a local cluster in network namespaces that shows a failover.
// It cuts the primary's link (the switch side, like pulling its cable),
// shows a shadow taking the VIP, prints a timeline and the downtime the
// client saw, then brings h1 back and shows it does not take the VIP back.

import { join, resolve } from "node:path";
import { UmbraError } from "../shared/errors.ts";
import { downtimeFrom, type Sample } from "./downtime.ts";
import { CLIENT, HOSTS, NODE, startDemoCluster, sleep, VIP, type DemoCluster, type LogLine } from "./cluster.ts";
import { cleanupStale } from "./topology.ts";

const MAIN = join(resolve(import.meta.dirname, ".."), "cli", "main.ts");

export const DEMO_PREFIX = "ud-";
/** The client polls the VIP this often (the issue asks for 20 ms). */
export const POLL_INTERVAL_MS = 20;
/** A poll unanswered this long counts as a miss. */
export const POLL_TIMEOUT_MS = 60;
/** How long the first holder may take. */
const FIRST_HOLDER_TIMEOUT_MS = 30_000;
/** How long a shadow may take to hold the VIP after the cut. */
const FAILOVER_TIMEOUT_MS = 10_000;
/** The client polls this long before the cut, so the answers before it show who held the VIP. */
const POLL_BEFORE_CUT_MS = 1_500;
/** The cut lands at a random point within this much, between renewals, as a real failure would. */
const CUT_JITTER_MS = 50;
/** The client keeps polling this long after the new holder appears. */
const POLL_AFTER_FAILOVER_MS = 1_000;
/** After h1 comes back, how long the demo watches that it does not take the VIP back. */
const REJOIN_WATCH_MS = 3_000;
/** Timeline entries this long before the cut are shown too. */
const TIMELINE_BEFORE_CUT_MS = 100;
/** The exit code of a demo interrupted by a signal (128 + SIGINT). */
const EXIT_INTERRUPTED = 130;
/** Width of the timeline's "who" column. */
const WHO_COLUMN = 6;
/** Width of the "+s.mmms" stamp. */
const STAMP_COLUMN = 9;

export type DemoOptions = { json?: boolean; verbose?: boolean };

type TimelineEntry = { at: number; who: string; what: string };

/** What the demo prints as it goes, and the timeline it prints at the end. */
type Report = { say(s: string): void; stamp(ms: number): string; timeline: TimelineEntry[] };

/** An agent's log line, as a timeline entry; null for what is not worth showing. */
function timelineText(l: LogLine): string | null {
  switch (l.event) {
    case "certified":
      return `certificate: epoch ${l.epoch} makes ${l.holder} the holder (${l.reason}; votes ${(l.voters as string[]).join(", ")})`;
    case "vip-added":
      return `VIP ${l.vip} added (ip addr add + gratuitous ARP, ${l.ms} ms)`;
    case "drop-vip":
      return l.why === "lease-expired" ? "lease expired: VIP dropped, safe mode" : `VIP dropped (${l.why})`;
    case "member-changed":
      return `sees ${l.member} ${l.status} (incarnation ${l.incarnation})`;
    case "peer-connected":
      return null;
    case "crash":
      return `CRASH ${l.error}`;
    default:
      return l.level === "error" ? `${l.part}/${l.event}: ${JSON.stringify(l)}` : null;
  }
}

export async function runDemo(opts: DemoOptions = {}): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new UmbraError("netns_unavailable", "umbra demo needs root: it creates network namespaces, a bridge and veth pairs (run it as root, e.g. sudo npm run demo)");
  }
  const t0 = Date.now();
  const r: Report = {
    say: (s) => {
      if (!opts.json) process.stdout.write(s + "\n");
    },
    stamp: (ms) => `+${((ms - t0) / 1000).toFixed(3)}s`.padStart(STAMP_COLUMN),
    timeline: [],
  };
  await cleanupStale(DEMO_PREFIX);
  r.say(`umbra demo: three hosts (h1 primary; h2, h3 shadows; all voters) and a client on a bridge, VIP ${VIP}`);
  r.say("  creating namespaces, keys, configs; starting the DHT bootstrap, the services and the agents...");
  // Installed before anything is created: exiting runs the topology's exit
  // hook, which kills the processes and deletes the namespaces synchronously.
  const onSignal = () => {
    process.stderr.write("\numbra demo: interrupted, cleaning up namespaces and processes...\n");
    process.exit(EXIT_INTERRUPTED);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const cluster = await startDemoCluster({
    prefix: DEMO_PREFIX,
    onLog: (l) => {
      const what = timelineText(l);
      if (what !== null) r.timeline.push({ at: Date.parse(l.ts), who: l.host, what });
      if (opts.verbose) process.stderr.write(JSON.stringify(l) + "\n");
    },
  });
  try {
    await demoScript(cluster, r, opts);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    r.say("cleaning up namespaces and processes...");
    await cluster.destroy();
  }
}

/** The demo itself, on a running cluster: a write, the cut, the failover, h1 back. */
async function demoScript(cluster: DemoCluster, r: Report, opts: DemoOptions): Promise<void> {
  const first = await cluster.waitForHolders((h) => h.length === 1, FIRST_HOLDER_TIMEOUT_MS);
  r.say(`${r.stamp(Date.now())}  ${first[0]} holds the VIP (first certificate)`);
  // Replicated state (well before the cut: starting a CLI process is a CPU burst): an operator changes the deployment on the primary;
  // the write returns once a shadow holds it on disk.
  const set = await cluster.topo.exec("h1", [NODE, MAIN, "state", "set", "web", "image=registry.local/web:2.4", "--message", "roll out 2.4", "--config", cluster.configOf("h1")]);
  r.say(`${r.stamp(Date.now())}  on h1: umbra state set web image=registry.local/web:2.4 -> ${set.code === 0 ? set.stdout.trim() : `FAILED: ${set.stderr.trim()}`}`);
  const { cutAt, newHolder, samples } = await cutAndFailOver(cluster, r, first[0]!);
  const d = downtimeFrom(samples, cutAt, newHolder);
  const holdersNow = await cluster.vipHolders();
  printTimeline(r, cutAt, newHolder, samples);
  r.say(`client-visible downtime: ${d.downtimeMs === null ? "n/a" : `${Math.round(d.downtimeMs)} ms`} (from the cut to the first answer from ${newHolder})`);
  r.say(`VIP now held by: ${holdersNow.join(", ")} (checked with ip -n NS addr in ${HOSTS.map((h) => h.name).join(", ")})`);
  await printState(cluster, r, newHolder);

  // The old primary comes back: it must not take the VIP from a host with a lease.
  await cluster.topo.restoreLink("h1");
  r.say(`${r.stamp(Date.now())}  h1's link restored; waiting ${REJOIN_WATCH_MS / 1000} s...`);
  await sleep(REJOIN_WATCH_MS);
  const finalHolders = await cluster.vipHolders();
  r.say(`${r.stamp(Date.now())}  VIP held by: ${finalHolders.join(", ")} — h1 rejoined as a shadow and did not take the VIP back`);
  if (opts.json) {
    process.stdout.write(JSON.stringify({ cutAtMs: cutAt, newHolder, downtimeMs: d.downtimeMs, maxGapMs: d.maxGapMs, holdersAfterCut: holdersNow, holdersAfterRestore: finalHolders, timeline: r.timeline }) + "\n");
  }
  if (finalHolders.length !== 1 || holdersNow.length !== 1) {
    throw new UmbraError("actuate_failed", `expected exactly one VIP holder, saw [${finalHolders.join(", ")}]`);
  }
}

/** The client polls, h1's link is cut, a shadow takes the VIP; the client's samples span it all. */
async function cutAndFailOver(cluster: DemoCluster, r: Report, firstHolder: string): Promise<{ cutAt: number; newHolder: string; samples: Sample[] }> {
  const poller = cluster.startPoller({ intervalMs: POLL_INTERVAL_MS, timeoutMs: POLL_TIMEOUT_MS });
  await sleep(POLL_BEFORE_CUT_MS);
  const before = poller.samples.filter((s) => s.ok).length;
  r.say(`${r.stamp(Date.now())}  client polls http://${VIP}:8080/ every ${POLL_INTERVAL_MS} ms: ${before} answers so far, all from ${firstHolder}`);
  // Cut at a random point between renewals, as a real failure would be.
  await sleep(Math.floor(Math.random() * CUT_JITTER_MS));
  const cutAt = Date.now();
  await cluster.topo.cutLink("h1");
  r.timeline.push({ at: cutAt, who: "demo", what: "h1's link CUT (switch port down)" });
  r.say(`${r.stamp(cutAt)}  cut h1's link`);
  const after = await cluster.waitForHolders((h) => h.length === 1 && h[0] !== "h1", FAILOVER_TIMEOUT_MS);
  await sleep(POLL_AFTER_FAILOVER_MS);
  await poller.stop();
  return { cutAt, newHolder: after[0]!, samples: poller.samples };
}

function printTimeline(r: Report, cutAt: number, newHolder: string, samples: Sample[]): void {
  r.say("");
  r.say("timeline (wall clock, from the start of the demo):");
  const firstNew = samples.find((s) => s.ok && s.t >= cutAt && s.body?.trim() === newHolder);
  if (firstNew !== undefined) r.timeline.push({ at: firstNew.done ?? firstNew.t, who: CLIENT.name, what: `first answer from ${newHolder}` });
  for (const e of r.timeline.filter((e) => e.at >= cutAt - TIMELINE_BEFORE_CUT_MS).sort((a, b) => a.at - b.at)) {
    r.say(`  ${r.stamp(e.at)}  ${e.who.padEnd(WHO_COLUMN)} ${e.what}`);
  }
  r.say("");
}

/** The replicated state on the new holder, and its reconciliation after the failover. */
async function printState(cluster: DemoCluster, r: Report, newHolder: string): Promise<void> {
  const got = await cluster.topo.exec(newHolder, [NODE, MAIN, "state", "get", "web", "image", "--config", cluster.configOf(newHolder)]);
  const rec = cluster.logs.find((l) => l.host === newHolder && l.event === "reconciled");
  r.say(`state on ${newHolder}: image = ${got.stdout.trim() || got.stderr.trim()}${rec ? `; reconciled after the failover (${rec.incomplete ? "INCOMPLETE" : "nothing missing"}, ${(rec.conflicts as unknown[]).length} conflicts, waited ${rec.waitedMs} ms)` : ""}`);
}
