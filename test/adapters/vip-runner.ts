// The acceptance suite of a VIP kernel behind a Runner (actuate/vip.ts):
// the behaviours addVip, removeVip and vipPresent rely on, written once and
// run against the real runners in a network namespace
// (src/actuate/vip-kernel.test.ts: a forked command each time, and one
// `ip -batch` process) and against the in-memory twin (src/sim/memkernel.ts,
// in src/sim/memkernel.test.ts). For an IPv4 and an IPv6 VIP it proves: an
// add makes the VIP present, an add of a present VIP is "already so" and
// leaves it present, a del makes it absent, a del of an absent VIP is
// "already so"; and that a failing command is an outcome the runner
// resolves with (its exit code and stderr), which the VIP functions turn
// into actuate_failed carrying it — never a crash of the runner.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { addVip, removeVip, vipPresent, type Runner, type Vip } from "../../src/actuate/index.ts";
import { UmbraError } from "../../src/shared/errors.ts";
import type { Logger } from "../../src/shared/log.ts";

/** A kernel under test: a runner whose commands reach it, an interface it has, and how to tear it down. */
export type KernelAdapter = {
  run: Runner;
  /** An interface present and up, holding none of the suite's VIPs. */
  iface: string;
  dispose(): Promise<void>;
};

/** Documentation addresses (RFC 5737, RFC 3849), as the namespace tests use. */
const VIPS = { IPv4: "198.51.100.30/24", IPv6: "2001:db8::30/64" } as const;
/** An interface no host of the suite has. */
const MISSING_IFACE = "nope0";
/** A test or hook may take this long (a namespace takes a second or two to build on a loaded machine). */
const TIMEOUT_MS = 30_000;
/** The gratuitous ARPs addVip leaves running are logged; the suite does not look at them. */
const quiet: Logger = () => {};

/** Registers the suite for one kernel, made by `make` before the first test and disposed after the last, failing or not. */
export function vipRunnerAcceptance(name: string, make: () => Promise<KernelAdapter>): void {
  describe(`VIP kernel acceptance: ${name}`, () => {
    let adapter: KernelAdapter | null = null;
    /** Commands still running (addVip's background arping): disposing waits for them. */
    const running = new Set<Promise<unknown>>();
    const run: Runner = (argv) => {
      const p = adapter!.run(argv);
      running.add(p);
      void p.finally(() => running.delete(p)).catch(() => {});
      return p;
    };

    beforeAll(async () => {
      adapter = await make();
    }, TIMEOUT_MS);

    afterAll(async () => {
      await Promise.allSettled([...running]);
      await adapter?.dispose();
    }, TIMEOUT_MS);

    for (const [family, cidr] of Object.entries(VIPS)) {
      const vip = (): Vip => ({ cidr, iface: adapter!.iface });

      test(`${family}: an add makes the VIP present`, async () => {
        expect(await vipPresent(vip(), run)).toBe(false);
        expect(await addVip(vip(), run, quiet)).toMatchObject({ ok: true, detail: "done" });
        expect(await vipPresent(vip(), run)).toBe(true);
      }, TIMEOUT_MS);

      test(`${family}: an add of a present VIP is "already so", and it stays present`, async () => {
        expect((await addVip(vip(), run, quiet)).detail).toBe("already so");
        expect(await vipPresent(vip(), run)).toBe(true);
      }, TIMEOUT_MS);

      test(`${family}: a del makes it absent`, async () => {
        expect(await removeVip(vip(), run)).toMatchObject({ ok: true, detail: "done" });
        expect(await vipPresent(vip(), run)).toBe(false);
      }, TIMEOUT_MS);

      test(`${family}: a del of an absent VIP is "already so", and it stays absent`, async () => {
        expect((await removeVip(vip(), run)).detail).toBe("already so");
        expect(await vipPresent(vip(), run)).toBe(false);
      }, TIMEOUT_MS);
    }

    test("a failing command is an outcome, not a throw: the runner resolves with its exit and stderr, which the VIP functions report as actuate_failed", async () => {
      const argv = ["ip", "addr", "add", VIPS.IPv4, "dev", MISSING_IFACE];
      const r = await run(argv);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(MISSING_IFACE);
      const err = await addVip({ cidr: VIPS.IPv4, iface: MISSING_IFACE }, run, quiet).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UmbraError);
      expect((err as UmbraError).code).toBe("actuate_failed");
      expect((err as UmbraError).message).toContain(`${argv.join(" ")} failed (exit ${r.code}): ${r.stderr.trim()}`);
      await expect(vipPresent({ cidr: VIPS.IPv4, iface: MISSING_IFACE }, run)).rejects.toThrow(MISSING_IFACE);
      // An interface that is gone holds no address: its removal is "already so".
      expect((await removeVip({ cidr: VIPS.IPv4, iface: MISSING_IFACE }, run)).detail).toBe("already so");
    }, TIMEOUT_MS);
  });
}
