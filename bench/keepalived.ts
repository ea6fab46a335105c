// The benchmark's anchor: keepalived VRRPv3 in the same namespace layout as
// umbra's trials (hosts on one bridge in a switch namespace, a client polling
// the VIP every 5 ms with a 30 ms timeout). h1 (priority 150) is master, h2
// (100) backup; h1's link is cut (switch side down) at a random point within
// one advert interval; downtime runs from the cut to the first answer from h2.
// With the link cut, h1 never hears h2 and stays master too: keepalived has
// no quorum, so both hold the VIP. That is recorded, as expected.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { createTopology } from "../src/demo/topology.ts";
import { cleanupStale } from "../src/demo/topology.ts";
import { downtimeFrom, type Sample } from "../src/demo/downtime.ts";
import { CLIENT, HOSTS, NODE, SERVICE_PORT, SUBNET, VIP, sleep } from "../src/demo/cluster.ts";
import { rng } from "../src/shared/rng.ts";
import type { TrialResult } from "./umbra.ts";

export const KEEPALIVED_PREFIX = "uk-";
const ROOT = resolve(import.meta.dirname, "..");

function conf(o: { name: string; priority: number; advertIntMs: number; peer: string; self: string }): string {
  return `global_defs {
  router_id ${o.name}
  enable_script_security
  vrrp_garp_master_delay 0
  vrrp_garp_master_repeat 1
}
vrrp_instance VI_1 {
  state ${o.priority > 100 ? "MASTER" : "BACKUP"}
  interface eth0
  virtual_router_id 51
  priority ${o.priority}
  advert_int ${o.advertIntMs / 1000}
  version 3
  unicast_src_ip ${o.self}
  unicast_peer {
    ${o.peer}
  }
  virtual_ipaddress {
    ${VIP}/24 dev eth0
  }
}
`;
}

/** cut: "link" takes the switch port down (the host loses carrier); "partition" disables the bridge port (carrier stays up). */
export async function runKeepalivedTrial(o: { advertIntMs: number; seed: number; cut?: "link" | "partition" }): Promise<TrialResult> {
  await cleanupStale(KEEPALIVED_PREFIX);
  const r = rng(o.seed);
  const dir = mkdtempSync(join(tmpdir(), "umbra-keepalived-"));
  const [h1, h2] = [HOSTS[0], HOSTS[1]];
  const topo = await createTopology({
    prefix: KEEPALIVED_PREFIX,
    subnet: SUBNET,
    hosts: [{ name: h1.name, ipv4: h1.ipv4 }, { name: h2.name, ipv4: h2.ipv4 }, { name: CLIENT.name, ipv4: CLIENT.ipv4 }],
  });
  try {
    for (const [h, prio, peer] of [[h1, 150, h2], [h2, 100, h1]] as const) {
      writeFileSync(join(dir, `${h.name}.conf`), conf({ name: h.name, priority: prio, advertIntMs: o.advertIntMs, peer: peer.ipv4, self: h.ipv4 }));
      topo.spawn(h.name, [NODE, join(ROOT, "src/demo/service.ts"), "--name", h.name, "--port", String(SERVICE_PORT)], {});
      topo.spawn(h.name, ["keepalived", "--dont-fork", "--log-console", "--vrrp", "-f", join(dir, `${h.name}.conf`), "-p", join(dir, `${h.name}.pid`), "-r", join(dir, `${h.name}.vrrp.pid`)], {});
    }
    // Wait until h1 holds the VIP alone (bounded).
    const holders = async () => {
      const out: string[] = [];
      for (const h of [h1, h2]) if ((await topo.addrs(h.name)).includes(VIP)) out.push(h.name);
      return out;
    };
    const deadline = Date.now() + 30_000;
    for (;;) {
      const hs = await holders();
      if (hs.length === 1 && hs[0] === "h1") break;
      if (Date.now() > deadline) throw new Error(`keepalived: h1 never became sole master (holders: ${hs.join(",")})`);
      await sleep(50);
    }
    const poller = topo.spawn(CLIENT.name, [NODE, join(ROOT, "src/demo/poller.ts"), "--url", `http://${VIP}:${SERVICE_PORT}/`, "--interval-ms", "5", "--timeout-ms", "30", "--duration-ms", "600000"], {});
    const samples: Sample[] = [];
    createInterface({ input: poller.stdout! }).on("line", (l) => {
      try {
        samples.push(JSON.parse(l));
      } catch {
        // partial line at exit
      }
    });
    await sleep(1_000 + Math.floor(r.next() * o.advertIntMs));
    const cutAt = Date.now();
    if (o.cut === "partition") await topo.partition("h1");
    else await topo.cutLink("h1");
    // Wait for h2 to answer (bounded), watching for two holders meanwhile.
    let dual = false;
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      const hs = await holders();
      if (hs.length > 1) dual = true;
      if (samples.some((s) => s.ok && s.t >= cutAt && s.body === "h2")) break;
      await sleep(10);
    }
    await sleep(300);
    const finalHolders = await holders();
    if (finalHolders.length > 1) dual = true;
    if (process.env.UMBRA_BENCH_DEBUG) process.stderr.write(`keepalived holders after the cut: ${finalHolders.join(",")}\n`);
    await new Promise<void>((res) => {
      poller.once("exit", () => res());
      poller.kill("SIGTERM");
    });
    const d = downtimeFrom(samples, cutAt, "h2");
    return { downtimeMs: d.downtimeMs, maxGapMs: d.maxGapMs, dualHolderObserved: dual, newHolder: d.downtimeMs === null ? null : "h2" };
  } finally {
    await topo.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main || process.argv[1]?.endsWith("keepalived.ts")) {
  const { parseArgs } = await import("node:util");
  const { values } = parseArgs({ options: { trials: { type: "string", default: "3" }, "advert-ms": { type: "string", default: "1000" }, partition: { type: "boolean", default: false } } });
  for (let i = 0; i < Number(values.trials); i++) {
    const res = await runKeepalivedTrial({ advertIntMs: Number(values["advert-ms"]), seed: i, cut: values.partition ? "partition" : "link" });
    process.stdout.write(JSON.stringify(res) + "\n");
  }
}
