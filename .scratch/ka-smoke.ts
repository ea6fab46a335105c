import { runKeepalivedSustained } from "../bench/keepalived.ts";
import { HOSTS, sleep } from "../src/demo/cluster.ts";
const PROBES = HOSTS.map((h, i) => ({ name: `p${i + 1}`, ipv4: `198.51.100.${61 + i}`, host: h.name }));
console.log(await runKeepalivedSustained({ advertIntMs: 50, during: () => sleep(3000), clientRt: 5, probes: PROBES }));
