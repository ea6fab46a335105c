// Proves the real VIP runners keep the VIP kernel contract, by running the
// acceptance suite every VIP kernel passes (test/adapters/vip-runner.ts;
// the in-memory twin passes it in src/sim/memkernel.test.ts) against the
// kernel of a network namespace: once through runCommand (a fork of `ip`
// per command, as `ip netns exec NS ...`), once through one long-lived
// `ip -batch` process (ipBatch). Needs root; each run builds its own
// namespaces (198.51.100.0/24) and destroys them afterwards, failing or not.

import { createTopology, cleanupStale, type Topology } from "../demo/index.ts";
import { vipRunnerAcceptance, type KernelAdapter } from "../../test/adapters/vip-runner.ts";
import { runCommand, type Runner } from "./vip.ts";
import { ipBatch } from "./ipbatch.ts";

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("vip-kernel.test.ts: skipping: the real kernel needs root (network namespaces)");

/** The host whose kernel the suite drives; its interface. */
const HOST = "k";
const IFACE = "eth0";

/** A namespace of its own (prefixes differ per run, so the two runs never share one) and the runner `via` makes for it. */
async function inNamespace(prefix: string, via: (ns: string) => { run: Runner; close(): void }): Promise<KernelAdapter> {
  await cleanupStale(prefix);
  const topo: Topology = await createTopology({ prefix, subnet: "198.51.100.0/24", hosts: [{ name: HOST, ipv4: "198.51.100.51", ipv6: "2001:db8::51" }] });
  const r = via(topo.ns(HOST));
  return {
    run: r.run,
    iface: IFACE,
    async dispose() {
      r.close();
      await topo.destroy();
    },
  };
}

if (isRoot) {
  vipRunnerAcceptance("real kernel in a namespace, a forked command each time (runCommand)", () =>
    inNamespace("uka-", (ns) => ({ run: (argv) => runCommand(["ip", "netns", "exec", ns, ...argv]), close: () => {} })),
  );
  vipRunnerAcceptance("real kernel in a namespace, through one ip -batch process (ipBatch)", () =>
    inNamespace("ukb-", (ns) => {
      const fallback: Runner = (argv) => runCommand(["ip", "netns", "exec", ns, ...argv]);
      return ipBatch({ prefix: ["ip", "netns", "exec", ns], fallback });
    }),
  );
}
