import { spawn } from "node:child_process";
import { runKeepalivedSustained } from "../bench/keepalived.ts";
import { HOSTS } from "../src/demo/cluster.ts";
const PROBES = HOSTS.map((h, i) => ({ name: `p${i + 1}`, ipv4: `198.51.100.${61 + i}`, host: h.name }));
const s = Number(process.argv[2] ?? 600);
const load = () => new Promise<void>((res) => spawn("stress-ng", ["--cpu", "2", "--timeout", `${s}s`, "--quiet"], { stdio: "ignore" }).once("exit", () => res()));
console.log(JSON.stringify(await runKeepalivedSustained({ advertIntMs: 50, during: load, clientRt: 5, probes: PROBES })));
