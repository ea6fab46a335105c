// Proves the one timing table: the simulator's profile is lan's timings but
// for its faster replication timeouts, operators may name every profile but
// the simulator's, and every profile leaves the holder a lease that outlasts
// two renewals (the relation the config check and the quorum machine need).
import { expect, test } from "bun:test";
import { holderLeaseMs } from "./lease.ts";
import { CONFIG_PROFILES, PROFILES, type ProfileName } from "./profiles.ts";

test("sim is lan's timing, with a shorter write timeout and staleness", () => {
  const { writeTimeoutMs, syncStaleMs, ...rest } = PROFILES.sim;
  const { writeTimeoutMs: lanWrite, syncStaleMs: lanStale, ...lanRest } = PROFILES.lan;
  expect(rest).toEqual(lanRest);
  expect(writeTimeoutMs).toBeLessThan(lanWrite);
  expect(syncStaleMs).toBeLessThan(lanStale);
});

test("a config may name every profile but the simulator's", () => {
  expect([...CONFIG_PROFILES, "sim"].sort()).toEqual(Object.keys(PROFILES).sort());
});

test.each(Object.keys(PROFILES) as ProfileName[])("%s leaves the holder at least two renewals of lease", (name) => {
  const p = PROFILES[name];
  expect(holderLeaseMs(p)).toBeGreaterThanOrEqual(2 * p.renewIntervalMs);
});
