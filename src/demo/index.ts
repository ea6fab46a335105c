// `umbra demo`: a local cluster in network namespaces that shows a failover.
// It cuts the primary's link (the switch side, like pulling its cable),
// shows a shadow taking the VIP, prints a timeline and the downtime the
// client saw, then brings h1 back and shows it does not take the VIP back.

import { UmbraError } from "../shared/errors.ts";
import { downtimeFrom } from "./downtime.ts";
import { join, resolve } from "node:path";
import { CLIENT, HOSTS, NODE, startDemoCluster, sleep, VIP, type LogLine } from "./cluster.ts";

const MAIN = join(resolve(import.meta.dirname, ".."), "cli", "main.ts");
import { cleanupStale } from "./topology.ts";

export const DEMO_PREFIX = "ud-";
/** The client polls the VIP this often (the issue asks for 20 ms). */
export const POLL_INTERVAL_MS = 20;
export const POLL_TIMEOUT_MS = 60;

export type DemoOptions = { json?: boolean; verbose?: boolean };

export async function runDemo(opts: DemoOptions = {}): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new UmbraError("netns_unavailable", "umbra demo needs root: it creates network namespaces, a bridge and veth pairs (run it as root, e.g. sudo npm run demo)");
  }
  const say = (s: string) => {
    if (!opts.json) process.stdout.write(s + "\n");
  };
  const t0 = Date.now();
  const stamp = (ms: number) => `+${((ms - t0) / 1000).toFixed(3)}s`.padStart(9);
  await cleanupStale(DEMO_PREFIX);
  say(`umbra demo: three hosts (h1 primary; h2, h3 shadows; all voters) and a client on a bridge, VIP ${VIP}`);
  say("  creating namespaces, keys, configs; starting the DHT bootstrap, the services and the agents...");
  const timeline: Array<{ at: number; who: string; what: string }> = [];
  const interesting = (l: LogLine): string | null => {
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
  };
  // Installed before anything is created: exiting runs the topology's exit
  // hook, which kills the processes and deletes the namespaces synchronously.
  const onSignal = () => {
    process.stderr.write("\numbra demo: interrupted, cleaning up namespaces and processes...\n");
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const cluster = await startDemoCluster({
    prefix: DEMO_PREFIX,
    onLog: (l) => {
      const what = interesting(l);
      if (what !== null) timeline.push({ at: Date.parse(l.ts), who: l.host, what });
      if (opts.verbose) process.stderr.write(JSON.stringify(l) + "\n");
    },
  });
  try {
    const first = await cluster.waitForHolders((h) => h.length === 1, 30_000);
    say(`${stamp(Date.now())}  ${first[0]} holds the VIP (first certificate)`);
    // Replicated state (well before the cut: starting a CLI process is a CPU burst): an operator changes the deployment on the primary;
    // the write returns once a shadow holds it on disk.
    const set = await cluster.topo.exec("h1", [NODE, MAIN, "state", "set", "web", "image=registry.local/web:2.4", "--message", "roll out 2.4"]);
    say(`${stamp(Date.now())}  on h1: umbra state set web image=registry.local/web:2.4 -> ${set.code === 0 ? set.stdout.trim() : `FAILED: ${set.stderr.trim()}`}`);
    const poller = cluster.startPoller({ intervalMs: POLL_INTERVAL_MS, timeoutMs: POLL_TIMEOUT_MS });
    await sleep(1_500);
    const before = poller.samples.filter((s) => s.ok).length;
    say(`${stamp(Date.now())}  client polls http://${VIP}:8080/ every ${POLL_INTERVAL_MS} ms: ${before} answers so far, all from ${first[0]}`);
    // Cut at a random point between renewals, as a real failure would be.
    await sleep(Math.floor(Math.random() * 50));
    const cutAt = Date.now();
    await cluster.topo.cutLink("h1");
    timeline.push({ at: cutAt, who: "demo", what: "h1's link CUT (switch port down)" });
    say(`${stamp(cutAt)}  cut h1's link`);
    const after = await cluster.waitForHolders((h) => h.length === 1 && h[0] !== "h1", 10_000);
    await sleep(1_000);
    await poller.stop();
    const d = downtimeFrom(poller.samples, cutAt, after[0]!);
    const holdersNow = await cluster.vipHolders();

    say("");
    say("timeline (wall clock, from the start of the demo):");
    const firstNew = poller.samples.find((s) => s.ok && s.t >= cutAt && s.body?.trim() === after[0]);
    if (firstNew !== undefined) timeline.push({ at: firstNew.done ?? firstNew.t, who: CLIENT.name, what: `first answer from ${after[0]}` });
    for (const e of timeline.filter((e) => e.at >= cutAt - 100).sort((a, b) => a.at - b.at)) {
      say(`  ${stamp(e.at)}  ${e.who.padEnd(6)} ${e.what}`);
    }
    say("");
    say(`client-visible downtime: ${d.downtimeMs === null ? "n/a" : `${Math.round(d.downtimeMs)} ms`} (from the cut to the first answer from ${after[0]})`);
    say(`VIP now held by: ${holdersNow.join(", ")} (checked with ip -n NS addr in ${HOSTS.map((h) => h.name).join(", ")})`);
    const got = await cluster.topo.exec(after[0]!, [NODE, MAIN, "state", "get", "web", "image"]);
    const rec = cluster.logs.find((l) => l.host === after[0] && l.event === "reconciled");
    say(`state on ${after[0]}: image = ${got.stdout.trim() || got.stderr.trim()}${rec ? `; reconciled after the failover (${rec.incomplete ? "INCOMPLETE" : "nothing missing"}, ${(rec.conflicts as unknown[]).length} conflicts, waited ${rec.waitedMs} ms)` : ""}`);

    // The old primary comes back: it must not take the VIP from a host with a lease.
    await cluster.topo.restoreLink("h1");
    say(`${stamp(Date.now())}  h1's link restored; waiting 3 s...`);
    await sleep(3_000);
    const finalHolders = await cluster.vipHolders();
    say(`${stamp(Date.now())}  VIP held by: ${finalHolders.join(", ")} — h1 rejoined as a shadow and did not take the VIP back`);
    if (opts.json) {
      process.stdout.write(JSON.stringify({ cutAtMs: cutAt, newHolder: after[0], downtimeMs: d.downtimeMs, maxGapMs: d.maxGapMs, holdersAfterCut: holdersNow, holdersAfterRestore: finalHolders, timeline }) + "\n");
    }
    if (finalHolders.length !== 1 || holdersNow.length !== 1) {
      throw new UmbraError("actuate_failed", `expected exactly one VIP holder, saw [${finalHolders.join(", ")}]`);
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    say("cleaning up namespaces and processes...");
    await cluster.destroy();
  }
}
