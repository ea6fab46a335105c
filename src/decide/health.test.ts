// Proves keepalived's rise and fall on a service's checks: a passing check
// fails only after `fall` failures in a row (a success between resets the
// count), a failing one passes again only after `rise` successes in a row;
// the VIP's placement makes the service unhealthy whatever the checks say;
// and the host core keeps an unhealthy host out of the service's candidacy,
// its own or a peer's from its beacons.
import { describe, expect, test } from "bun:test";
import { checkResult, excluded, healthy, initialHealth, unhealthyWhy, withPlacement } from "./health.ts";
import * as host from "./host.ts";
import type { HostConfig } from "./host.ts";
import type { HostId } from "../shared/ids.ts";
import { PROFILES } from "../shared/config.ts";

describe("rise and fall", () => {
  test("a check fails after fall failures in a row, and passes after rise successes in a row", () => {
    let h = initialHealth([{ rise: 2, fall: 3 }]);
    expect(healthy(h)).toBe(true);
    for (const ok of [false, false, true, false, false]) h = checkResult(h, 0, ok, ok ? "HTTP 200" : "HTTP 503");
    expect(healthy(h)).toBe(true); // the success reset the count
    h = checkResult(h, 0, false, "HTTP 503");
    expect(healthy(h)).toBe(false);
    expect(unhealthyWhy(h)).toBe("check 1 failing: HTTP 503");
    h = checkResult(h, 0, true, "HTTP 200");
    expect(healthy(h)).toBe(false);
    h = checkResult(h, 0, true, "HTTP 200");
    expect(healthy(h)).toBe(true);
  });

  test("every check must pass, and the VIP must be able to answer here", () => {
    let h = initialHealth([{ rise: 1, fall: 1 }, { rise: 1, fall: 1 }]);
    h = checkResult(h, 1, false, "exit 1");
    expect(unhealthyWhy(h)).toBe("check 2 failing: exit 1");
    h = withPlacement(checkResult(h, 1, true, "exit 0"), "interface eth9 does not exist");
    expect(unhealthyWhy(h)).toBe("its VIP cannot answer from here: interface eth9 does not exist");
    expect(excluded(["c" as HostId], ["a" as HostId, "c" as HostId])).toEqual(["a", "c"] as HostId[]);
  });
});

describe("host core: health keeps a host out", () => {
  const H = (s: string) => s as HostId;
  const [a, b, c] = [H("a"), H("b"), H("c")];
  const config = (self: HostId): HostConfig => ({
    self,
    hosts: [a, b, c],
    boot: 1,
    services: [{ name: "web", candidates: [a, b, c], voters: [a, b, c], ackShadows: 1, checks: [{ rise: 1, fall: 2 }] }],
    timing: PROFILES.lan,
    replication: { writeTimeoutMs: 1_000, staleAfterMs: 500 },
    proactive: null,
    fenced: true,
  });

  test("its own failing check and a peer's beacon both exclude; healthy again, included", () => {
    let s = host.initialHost(config(a), {}, 0);
    s = host.step(s, { type: "check-result", service: "web", check: 0, ok: false, detail: "HTTP 503" }, 1).state;
    expect(s.services.web!.excluded).toEqual([]);
    const flipped = host.step(s, { type: "check-result", service: "web", check: 0, ok: false, detail: "HTTP 503" }, 2);
    expect(flipped.effects).toContainEqual({ type: "health-changed", service: "web", healthy: false, why: "check 1 failing: HTTP 503" });
    expect(flipped.state.services.web!.excluded).toEqual([a]);
    expect(host.unhealthyServices(flipped.state)).toEqual(["web"]);
    s = host.step(flipped.state, { type: "peer-health", host: b, unhealthy: ["web"] }, 3).state;
    expect(s.services.web!.excluded).toEqual([a, b]);
    s = host.step(s, { type: "check-result", service: "web", check: 0, ok: true, detail: "HTTP 200" }, 4).state;
    s = host.step(s, { type: "peer-health", host: b, unhealthy: [] }, 5).state;
    expect(s.services.web!.excluded).toEqual([]);
  });

  test("checks changed by a reload start afresh, passing; the VIP's placement stays", () => {
    let s = host.initialHost(config(a), {}, 0);
    for (let i = 0; i < 2; i++) s = host.step(s, { type: "check-result", service: "web", check: 0, ok: false, detail: "HTTP 503" }, 1 + i).state;
    expect(host.serviceHealthy(s, "web")).toBe(false);
    const reloaded = host.step(s, { type: "checks-configured", service: "web", checks: [{ rise: 1, fall: 5 }, { rise: 1, fall: 1 }] }, 3);
    expect(reloaded.effects).toContainEqual({ type: "health-changed", service: "web", healthy: true, why: null });
    expect(reloaded.state.health.web!.checks).toHaveLength(2);
    expect(reloaded.state.services.web!.excluded).toEqual([]);
  });

  test("a VIP that cannot answer here keeps this host out for good; a result for an unknown check changes nothing", () => {
    let s = host.initialHost(config(a), {}, 0);
    s = host.step(s, { type: "placement", service: "web", why: "no address of this host in 198.51.100.0/24 on eth0" }, 1).state;
    expect(s.services.web!.excluded).toEqual([a]);
    expect(host.step(s, { type: "check-result", service: "web", check: 5, ok: false, detail: "?" }, 2).effects).toEqual([]);
  });
});
