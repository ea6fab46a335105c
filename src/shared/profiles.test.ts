// Proves the one timing table: the simulator's profile is lan's timings but
// for its faster replication timeouts, operators may name every profile but
// the simulator's and the transcripts', and every profile, with the fence or
// without it, leaves the holder a lease that outlasts two renewals (the
// relation the config check and the quorum machine need).
import { expect, test } from "bun:test";
import { holderLeaseMs } from "./lease.ts";
import { CONFIG_PROFILES, PROFILES, UNFENCED, type ProfileName } from "./profiles.ts";

test("sim is lan's timing, with a shorter write timeout and staleness", () => {
  const { writeTimeoutMs, syncStaleMs, ...rest } = PROFILES.sim;
  const { writeTimeoutMs: lanWrite, syncStaleMs: lanStale, ...lanRest } = PROFILES.lan;
  expect(rest).toEqual(lanRest);
  expect(writeTimeoutMs).toBeLessThan(lanWrite);
  expect(syncStaleMs).toBeLessThan(lanStale);
});

test("a config may name every profile but the simulator's and the transcripts'", () => {
  expect([...CONFIG_PROFILES, "sim", "story"].sort()).toEqual(Object.keys(PROFILES).sort());
});

test.each(Object.keys(PROFILES) as ProfileName[])("%s leaves the holder at least two renewals of lease, with the fence and without", (name) => {
  for (const p of [PROFILES[name], { ...PROFILES[name], ...UNFENCED[name] }]) {
    expect(holderLeaseMs(p)).toBeGreaterThanOrEqual(2 * p.renewIntervalMs);
    expect(p.renewIntervalMs).toBeGreaterThanOrEqual(4 * p.tickMs);
  }
});

test("without the fence the guard covers ip addr del and a stalled loop (at least 100 ms, as measured under load)", () => {
  for (const name of CONFIG_PROFILES) expect({ ...PROFILES[name], ...UNFENCED[name] }.actuationGuardMs).toBeGreaterThanOrEqual(100);
});
