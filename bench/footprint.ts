// What an idle cluster costs its hosts, umbra beside keepalived in one run
// and the same namespaces: three hosts on one bridge, one VIP, nothing
// failing. For each: memory per daemon (RSS and PSS, from
// /proc/PID/smaps_rollup, its child processes included: keepalived's VRRP
// child, umbra's helpers), CPU per daemon over a window (utime + stime from
// /proc/PID/stat, children included), the time from starting the daemons to
// the VIP's first holder, and the CLI's start-up (`umbra --help`, `umbra
// status` against a live agent; keepalived's `--version`). The install's
// size: node_modules and the Node binary, or with --executable the single
// executable (npm run build), which the agents and the CLI then run;
// keepalived's binary. Medians over --runs fresh clusters.
//
// keepalived runs twice: at its default 1 s adverts (what operators run,
// failover in ~3 s) and at 50 ms adverts, whose failover (~0.16 s) is of
// the order of umbra's lan profile: a daemon's idle cost grows with how
// often it must speak, so that is the like-for-like anchor.
//
//   node bench/footprint.ts [--runs 3] [--seconds 60] [--cli-runs 10] [--keepalived-fast-ms 50] [--executable dist/umbra] [--json]
//   (root; `bash scripts/ensure-system.sh --bench` installs keepalived)

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startDemoCluster, umbraArgv, HOSTS, NODE, SERVICE_PORT, SUBNET, VIP, CLIENT, sleep } from "../src/demo/cluster.ts";
import { createTopology, cleanupStale } from "../src/demo/topology.ts";
import { keepalivedConf, keepalivedPath, median } from "./keepalived.ts";

const ROOT = resolve(import.meta.dirname, "..");
const PREFIX = { umbra: "uf-", keepalived: "ufk-" };
/** Idle this long after the VIP has a holder before the window opens: start-up work (JIT, the first syncs) is not idle. */
const SETTLE_MS = 10_000;
/** keepalived's default advert interval: the anchor operators run. */
const KEEPALIVED_DEFAULT_ADVERT_MS = 1000;
/** The second anchor: keepalived at the advert interval whose failover (0.16 s, DESIGN.md "Where the bar is") is of umbra's lan order. */
const KEEPALIVED_FAST_ADVERT_MS = 50;
const HOLDER_WAIT_MS = 60_000;
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

type Reading = { cpuPercent: number; rssMB: number; pssMB: number };
type Run = { perDaemon: Reading[]; firstHolderMs: number };

/** A process and its descendants, from /proc's parent links. */
function tree(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [p, pp] of parent) if (pp === out[i]) out.push(p);
  return out;
}

/** CPU seconds (user + system) of the processes, own and waited-for children. */
function cpuSeconds(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]); // utime stime cutime cstime
    } catch {
      // exited within the window: its time is in its parent's cutime
    }
  }
  return ticks / CLK_TCK;
}

function memoryMB(pids: number[]): { rssMB: number; pssMB: number } {
  let rss = 0;
  let pss = 0;
  for (const pid of pids) {
    try {
      const t = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
      rss += Number(/^Rss:\s+(\d+)/m.exec(t)?.[1] ?? 0);
      pss += Number(/^Pss:\s+(\d+)/m.exec(t)?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return { rssMB: rss / 1024, pssMB: pss / 1024 };
}

/** Each daemon's CPU over the window and its memory at the end. */
async function measure(pids: number[], seconds: number): Promise<Reading[]> {
  const before = pids.map((p) => cpuSeconds(tree(p)));
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const wall = (performance.now() - t0) / 1000;
  return pids.map((p, i) => ({ cpuPercent: ((cpuSeconds(tree(p)) - before[i]!) / wall) * 100, ...memoryMB(tree(p)) }));
}

async function umbraRun(seconds: number, cliRuns: number, exe: string | undefined): Promise<Run & { help: number[]; status: number[] }> {
  await cleanupStale(PREFIX.umbra);
  const t0 = Date.now();
  const c = await startDemoCluster({ prefix: PREFIX.umbra, ...(exe === undefined ? {} : { umbra: [exe] }) });
  try {
    await c.waitForHolders((h) => h.length === 1, HOLDER_WAIT_MS);
    const certified = c.logs.find((l) => l.event === "certified");
    const firstHolderMs = certified === undefined ? Date.now() - t0 : Date.parse(certified.ts) - t0;
    await sleep(SETTLE_MS);
    const perDaemon = await measure(HOSTS.map((h) => c.pidOf(h.name)!), seconds);
    const time = (argv: string[]) => {
      const s = performance.now();
      const [cmd, ...args] = umbraArgv(exe === undefined ? {} : { umbra: [exe] }, argv);
      const r = spawnSync(cmd!, args, { encoding: "utf8", timeout: 20_000 });
      if (r.status !== 0) throw new Error(`umbra ${argv.join(" ")} exited ${r.status}: ${r.stderr}`);
      return performance.now() - s;
    };
    const help = Array.from({ length: cliRuns }, () => time(["--help"]));
    const status = Array.from({ length: cliRuns }, () => time(["status", "--api", c.apiSocketOf("h1")]));
    return { perDaemon, firstHolderMs, help, status };
  } finally {
    await c.destroy();
    await cleanupStale(PREFIX.umbra);
  }
}

async function keepalivedRun(seconds: number, cliRuns: number, advertIntMs: number): Promise<Run & { version: number[] }> {
  const bin = keepalivedPath();
  await cleanupStale(PREFIX.keepalived);
  const dir = mkdtempSync(join(tmpdir(), "umbra-footprint-"));
  const topo = await createTopology({ prefix: PREFIX.keepalived, subnet: SUBNET, hosts: [...HOSTS.map((h) => ({ name: h.name, ipv4: h.ipv4 })), { name: CLIENT.name, ipv4: CLIENT.ipv4 }] });
  try {
    const t0 = Date.now();
    const daemons = HOSTS.map((h, i) => {
      const cfg = join(dir, `${h.name}.conf`);
      writeFileSync(cfg, keepalivedConf({ name: h.name, priority: 150 - 25 * i, advertIntMs, peers: HOSTS.filter((x) => x !== h).map((x) => x.ipv4), self: h.ipv4 }));
      topo.spawn(h.name, [NODE, join(ROOT, "src/demo/service.ts"), "--name", h.name, "--port", String(SERVICE_PORT)], {});
      return topo.spawn(h.name, [bin, "--dont-fork", "--log-console", "--vrrp", "-f", cfg, "-p", join(dir, `${h.name}.pid`), "-r", join(dir, `${h.name}.vrrp.pid`)], {});
    });
    let firstHolderMs = -1;
    for (let i = 0; i < HOLDER_WAIT_MS / 20 && firstHolderMs < 0; i++) {
      for (const h of HOSTS) if ((await topo.addrs(h.name)).includes(VIP)) firstHolderMs = Date.now() - t0;
      if (firstHolderMs < 0) await sleep(20);
    }
    await sleep(SETTLE_MS);
    const perDaemon = await measure(daemons.map((d) => d.pid!), seconds);
    const version = Array.from({ length: cliRuns }, () => {
      const s = performance.now();
      spawnSync(bin, ["--version"], { stdio: "ignore" });
      return performance.now() - s;
    });
    return { perDaemon, firstHolderMs, version };
  } finally {
    await topo.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

function duBytes(path: string): number {
  return Number(execFileSync("du", ["-sb", path], { encoding: "utf8" }).split("\t")[0]);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: "string", default: "3" }, seconds: { type: "string", default: "60" }, "cli-runs": { type: "string", default: "10" }, "keepalived-fast-ms": { type: "string", default: String(KEEPALIVED_FAST_ADVERT_MS) }, executable: { type: "string" }, json: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } } });
  const usage = `usage: node bench/footprint.ts [--runs 3] [--seconds 60] [--cli-runs 10] [--keepalived-fast-ms ${KEEPALIVED_FAST_ADVERT_MS}] [--executable dist/umbra] [--json]\n  --executable: measure the single executable (npm run build) instead of this checkout's Node and sources\n  --keepalived-fast-ms: keepalived's advert interval in the second anchor, the one whose failover is umbra's order (0: none)\n` + "  needs root (network namespaces) and keepalived (bash scripts/ensure-system.sh --bench)\n";
  if (values.help) return void process.stdout.write(usage);
  const runs = Number(values.runs);
  const seconds = Number(values.seconds);
  const cliRuns = Number(values["cli-runs"]);
  const fastMs = Number(values["keepalived-fast-ms"]);
  if (![runs, seconds, cliRuns].every((x) => Number.isInteger(x) && x >= 1) || !Number.isInteger(fastMs) || fastMs < 0 || (fastMs > 0 && fastMs % 10 !== 0)) {
    process.stderr.write(usage);
    process.exit(2);
  }
  const exe = values.executable === undefined ? undefined : resolve(values.executable);
  const u: Awaited<ReturnType<typeof umbraRun>>[] = [];
  const k: Awaited<ReturnType<typeof keepalivedRun>>[] = [];
  const kf: Awaited<ReturnType<typeof keepalivedRun>>[] = [];
  for (let i = 0; i < runs; i++) {
    process.stderr.write(`run ${i + 1}/${runs}: umbra (${seconds} s idle)...\n`);
    u.push(await umbraRun(seconds, cliRuns, exe));
    process.stderr.write(`run ${i + 1}/${runs}: keepalived (${seconds} s idle)...\n`);
    k.push(await keepalivedRun(seconds, cliRuns, KEEPALIVED_DEFAULT_ADVERT_MS));
    if (fastMs > 0) {
      process.stderr.write(`run ${i + 1}/${runs}: keepalived at ${fastMs} ms adverts (${seconds} s idle)...\n`);
      kf.push(await keepalivedRun(seconds, cliRuns, fastMs));
    }
  }
  const per = (rs: Run[], f: (r: Reading) => number) => median(rs.flatMap((r) => r.perDaemon.map(f)));
  const out = {
    runs,
    seconds,
    umbra: {
      cpuPercent: per(u, (r) => r.cpuPercent),
      rssMB: per(u, (r) => r.rssMB),
      pssMB: per(u, (r) => r.pssMB),
      firstHolderMs: median(u.map((r) => r.firstHolderMs)),
      helpMs: median(u.flatMap((r) => r.help)),
      statusMs: median(u.flatMap((r) => r.status)),
      // a worktree's node_modules may be a link
      installMB: exe === undefined ? (duBytes(realpathSync(join(ROOT, "node_modules"))) + statSync(realpathSync(NODE)).size) / 1e6 : statSync(exe).size / 1e6,
    },
    keepalived: {
      cpuPercent: per(k, (r) => r.cpuPercent),
      rssMB: per(k, (r) => r.rssMB),
      pssMB: per(k, (r) => r.pssMB),
      firstHolderMs: median(k.map((r) => r.firstHolderMs)),
      versionMs: median(k.flatMap((r) => r.version)),
      installMB: statSync(keepalivedPath()).size / 1e6,
    },
    keepalivedFast: fastMs === 0 ? null : { advertIntMs: fastMs, cpuPercent: per(kf, (r) => r.cpuPercent), rssMB: per(kf, (r) => r.rssMB), pssMB: per(kf, (r) => r.pssMB), firstHolderMs: median(kf.map((r) => r.firstHolderMs)) },
  };
  if (values.json) return void process.stdout.write(JSON.stringify(out) + "\n");
  const f = (x: number, d = 1) => x.toFixed(d);
  const kfHead = out.keepalivedFast === null ? "" : `   keepalived ${out.keepalivedFast.advertIntMs} ms adverts`;
  const kfCell = (g: (x: NonNullable<typeof out.keepalivedFast>) => string) => (out.keepalivedFast === null ? "" : `   ${g(out.keepalivedFast).padStart(8)}`);
  process.stdout.write(
    [
      `bench/footprint: idle 3-host cluster, ${runs} run(s) × ${seconds} s, medians per daemon`,
      `                      umbra      keepalived${kfHead}`,
      `  CPU % of a core   ${f(out.umbra.cpuPercent, 2).padStart(8)}   ${f(out.keepalived.cpuPercent, 2).padStart(8)}${kfCell((x) => f(x.cpuPercent, 2))}`,
      `  RSS MB            ${f(out.umbra.rssMB).padStart(8)}   ${f(out.keepalived.rssMB).padStart(8)}${kfCell((x) => f(x.rssMB))}`,
      `  PSS MB            ${f(out.umbra.pssMB).padStart(8)}   ${f(out.keepalived.pssMB).padStart(8)}${kfCell((x) => f(x.pssMB))}`,
      `  first holder ms   ${f(out.umbra.firstHolderMs, 0).padStart(8)}   ${f(out.keepalived.firstHolderMs, 0).padStart(8)}${kfCell((x) => f(x.firstHolderMs, 0))}`,
      `  CLI ms            ${f(out.umbra.helpMs, 0).padStart(8)}   ${f(out.keepalived.versionMs, 0).padStart(8)}   (umbra --help; keepalived --version)`,
      `  umbra status ms   ${f(out.umbra.statusMs, 0).padStart(8)}`,
      `  install MB        ${f(out.umbra.installMB).padStart(8)}   ${f(out.keepalived.installMB).padStart(8)}   (node_modules + node; the keepalived binary)`,
      "",
    ].join("\n"),
  );
}

await main();
