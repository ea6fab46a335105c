// A fixed status document for the API and CLI formatting tests: h2 took
// "web" over from a dead h1, h3 holds "db", h4 is suspected and never beaconed.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hono } from "hono";
import { logger } from "../shared/log.ts";
import { serveApi } from "./serve.ts";
import type { StatusDoc } from "./types.ts";

export const SAMPLE_STATUS: StatusDoc = {
  host: "h2",
  cluster: "demo",
  version: "0.1.0",
  nowMs: 1_000_000,
  uptimeMs: 125_000,
  role: "active",
  members: [
    { id: "h2", status: "alive", incarnation: 0, connected: true, rttMs: null, labels: {}, lastBeaconAgoMs: 0, metrics: { ts: 1, cpuLoad: 0.25, memoryUsage: 0.5, diskIO: 3, networkLatency: 0.4, storageUsage: 0.3, storageIOBytesPerSec: 10, networkBandwidthBytesPerSec: 100 } },
    { id: "h1", status: "dead", incarnation: 2, connected: false, rttMs: null, labels: { rack: "r1" }, lastBeaconAgoMs: 4000, metrics: null },
    { id: "h3", status: "alive", incarnation: 1, connected: true, rttMs: 0.42, labels: {}, lastBeaconAgoMs: 700, metrics: { ts: 1, cpuLoad: 0.07, memoryUsage: 0.31, diskIO: 0, networkLatency: 0.4, storageUsage: 0.3, storageIOBytesPerSec: 0, networkBandwidthBytesPerSec: 0 } },
    { id: "h4", status: "suspect", incarnation: 12, connected: false, rttMs: 31.6, labels: {}, lastBeaconAgoMs: null, metrics: null, standing: { mode: "maintenance", reason: "disk swap", issuedAtMs: 1_000_000 - 60_000 } },
  ],
  services: [
    { name: "web", vip: "198.51.100.10/24", primary: "h1", shadows: ["h2", "h3"], voters: ["h1", "h2", "h3"], epoch: 2, holder: "h2", holdsVipHere: true, leaseRemainingMs: 231, state: "holding", lastChange: { atMs: 1_000_000 - 42_000, reason: "holder-lost", fromHolder: "h1", toHolder: "h2" }, alarm: null, health: { healthy: true, why: null, checks: [{ ok: true, detail: "HTTP 200" }] }, excluded: [], quorum: { expectedVotes: 3, needed: 2, override: null }, moveBack: { to: "h1", inMs: 432_000 } },
    { name: "database", vip: "2001:db8::20/64", primary: "h3", shadows: ["h2"], voters: ["h2", "h3", "h4"], epoch: 17, holder: "h3", holdsVipHere: false, leaseRemainingMs: null, state: "follower", lastChange: null, alarm: null, health: { healthy: false, why: "check 1 failing: TCP [::1]:5432: ECONNREFUSED", checks: [{ ok: false, detail: "TCP [::1]:5432: ECONNREFUSED" }] }, excluded: ["h2"], quorum: { expectedVotes: 2, needed: 2, override: { votes: 2, reason: "h4 burned", issuedAtMs: 1_000_000 - 5_000, countsInMs: 120, heard: ["h2", "h3"] } } },
  ],
  replication: [
    { service: "web", primaryHostID: "h1", shadowHostID: "h2", peer: "h1", syncStatus: "stale", lagChanges: 3, lagBytes: 2_450, lastHeardAgoMs: 42_000 },
    { service: "web", primaryHostID: "h1", shadowHostID: "h3", peer: "h3", syncStatus: "in-sync", lagChanges: 0, lagBytes: 0, lastHeardAgoMs: 300 },
    { service: "database", primaryHostID: "h3", shadowHostID: "h2", peer: "h3", syncStatus: "syncing", lagChanges: 0, lagBytes: 0, lastHeardAgoMs: 120 },
  ],
};

/** An app served on a Unix socket in a fresh temporary directory, as the agent serves it (tests only): where to reach it, and how to close it. */
export async function serveOnTempSocket(app: Hono): Promise<{ target: { socket: string }; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "umbra-api-"));
  const socket = join(dir, "api.sock");
  const served = await serveApi(app, { socket, group: "root", listen: null, tokenFile: null, allowRemote: false }, logger("test", "error"));
  return {
    target: { socket },
    close: async () => {
      await served.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
