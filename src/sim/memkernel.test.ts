// Proves the in-memory VIP kernel is a VIP kernel: the acceptance suite the
// real runners pass in a network namespace (test/adapters/vip-runner.ts)
// runs against it. Then proves what only the twin shows: what it holds per
// interface, and that a command it does not know cannot run at all (a
// rejection, as a missing binary is for the real runner).

import { expect, test } from "bun:test";
import { vipRunnerAcceptance } from "../../test/adapters/vip-runner.ts";
import { memKernel } from "./memkernel.ts";

/** The twin's one interface. */
const IFACE = "eth0";

vipRunnerAcceptance("in-memory twin", async () => ({ run: memKernel([IFACE]).run, iface: IFACE, dispose: async () => {} }));

test("the twin holds each interface's addresses: added in order, removed exactly, none on a missing interface", async () => {
  const k = memKernel([IFACE, "eth1"]);
  for (const argv of [
    ["ip", "addr", "add", "198.51.100.30/24", "dev", IFACE],
    ["ip", "-6", "addr", "add", "2001:db8::30/64", "dev", IFACE],
    ["ip", "addr", "add", "198.51.100.31/24", "dev", "eth1"],
    ["ip", "addr", "del", "198.51.100.30/24", "dev", IFACE],
  ]) expect((await k.run(argv)).code).toBe(0);
  expect([k.addresses(IFACE), k.addresses("eth1"), k.addresses("nope0")]).toEqual([["2001:db8::30/64"], ["198.51.100.31/24"], null]);
});

test("a command the twin does not have cannot run: the runner rejects, as the real one does for a missing binary", async () => {
  await expect(memKernel([IFACE]).run(["nft", "list", "ruleset"])).rejects.toThrow(/nft could not run/);
});
