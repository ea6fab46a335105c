// A real umbra cluster in network namespaces: a bootstrap node, three agents
// (h1 primary, h2 and h3 shadows, all three voters), a small HTTP service in
// each host answering its name, and a client. The demo, the scenario tests
// and the failover benchmark all start their clusters through this file.

import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { generateKeyPair, writeKeyFile } from "../shared/identity.ts";
import { createTopology, type Topology } from "./topology.ts";
import { AGENT_NODE_FLAGS } from "../shared/nodeflags.ts";
import type { Sample } from "./downtime.ts";
import { API_SOCKET_NAME } from "../shared/config.ts";

export const SUBNET = "198.51.100.0/24";
export const VIP = "198.51.100.10";
export const BOOTSTRAP = { name: "boot", ipv4: "198.51.100.2", port: 49737 };
/** Each agent's DHT node listens on its host's address at this port ([[hosts]] address): the agents bootstrap from one another too. */
export const AGENT_DHT_PORT = 49738;
export const CLIENT = { name: "client", ipv4: "198.51.100.100" };
export const HOSTS = [
  { name: "h1", ipv4: "198.51.100.11" },
  { name: "h2", ipv4: "198.51.100.12" },
  { name: "h3", ipv4: "198.51.100.13" },
] as const;
/**
 * The NAT lab (DemoOptions.nat): the switch is "the internet", 203.0.113.0/24,
 * with the bootstrap node and the client on it; a host behind a NAT has its
 * router there (INTERNET_HOSTS) and its own LAN behind it (NAT_LANS), and
 * no [[hosts]] address, since nobody can reach it first. A host left out of
 * DemoOptions.nat sits on the internet itself, reachable at its address.
 */
export const INTERNET = { subnet: "203.0.113.0/24", bootstrap: "203.0.113.2", client: "203.0.113.100" } as const;
export const INTERNET_HOSTS: Record<HostName, string> = { h1: "203.0.113.11", h2: "203.0.113.12", h3: "203.0.113.13" };
const NAT_LANS: Record<HostName, string> = { h1: "198.51.100.16/30", h2: "198.51.100.20/30", h3: "198.51.100.24/30" };
export type HostName = (typeof HOSTS)[number]["name"];
export const SERVICE_PORT = 8080;
/** How long we wait for the cluster to elect its first holder. */
export const FIRST_HOLDER_WAIT_MS = 20_000;

const ROOT = resolve(import.meta.dirname, "../..");
export const MAIN = join(ROOT, "src/cli/main.ts");
/**
 * Agents run on Node 24 (Bun cannot load hyperswarm's UDP addon). Under bun
 * test, process.execPath is Bun, so use the Node that npm install put in the repo.
 */
export const NODE = existsSync(join(ROOT, "node_modules/.bin/node")) ? join(ROOT, "node_modules/.bin/node") : process.execPath;

export type LogLine = { ts: string; level: string; host: string; part: string; event: string; [k: string]: unknown };

export type DemoCluster = {
  topo: Topology;
  dir: string;
  /** Every JSON log line of every agent, in arrival order. */
  logs: LogLine[];
  /** Which namespaces hold the VIP now (from `ip -n NS -j addr`); two or more only when confirmed to hold it at one moment. */
  vipHolders(): Promise<string[]>;
  waitForHolders(pred: (holders: string[]) => boolean, timeoutMs: number): Promise<string[]>;
  startPoller(opts: PollerOptions): { samples: Sample[]; stop(): Promise<void> };
  /** Stops a host's agent (SIGTERM), or the DHT bootstrap node (BOOTSTRAP.name). */
  stopAgent(name: string): Promise<void>;
  /** Starts a host's agent again with its config, key and state directory (after a kill); one still running is left alone. */
  restartAgent(name: string): void;
  /** The process id of a host's agent (or the bootstrap node's), for /proc readings; null when not running. */
  pidOf(name: string): number | null;
  /** Sends a signal to a host's agent process itself (SIGSTOP, SIGCONT, SIGKILL), not to its children. */
  signalAgent(name: string, signal: NodeJS.Signals): void;
  /** A host's config file, for the CLI run on that host (`umbra status --config ...`): its API is the socket in the host's state directory. */
  configOf(host: string): string;
  /** The demo operator's key file (listed under [[operators]] as "demo-operator"): what umbra move, standby... sign with. */
  operatorKey: string;
  /** Makes a host's demo service answer GET /health with 503 (sick) or 200 again. */
  setSick(host: string, sick: boolean): void;
  /** A host's API socket. */
  apiSocketOf(host: string): string;
  destroy(): Promise<void>;
};

export type DemoOptions = {
  /** Namespace name prefix; different prefixes let runs coexist. */
  prefix: string;
  /** Timing profile overrides written into every agent's config. */
  timing?: Record<string, number>;
  logLevel?: "debug" | "info";
  onLog?: (l: LogLine) => void;
  /** More top-level TOML for one host's config (e.g. a [probe] replay, a [forecast] section), placed before [timing]. */
  extraToml?: (host: string) => string;
  /** An HTTP health check of each host's own demo service for "web" (DEMO_CHECK); DemoCluster.setSick makes one fail. */
  checks?: boolean;
  /** Hook programs for the "web" service, as [services.hooks] in every agent's config. */
  hooks?: { activate?: string; demote?: string; reconcile?: string; diagnose?: string; swap?: string };
  /** The "web" service's [services.swap] (every, window), as the config writes them. */
  swap?: { every: string; window: string };
  /** The "web" service's VIP with its prefix (default: VIP/24, on the hosts' LAN); one off every host's subnet makes a redirect-only service. */
  vip?: string;
  /** The "web" service's [services.redirect]: its hook, and each host's address (default: its LAN address). */
  redirect?: { hook: string };
  /** The "web" service's [services.scaling], as TOML's inline table body (e.g. `threshold = 0.8, cooldownMs = 3000`). */
  scaling?: string;
  /** The "web" service's [services.migrate]: its hook (workloads follow the holder and its active shadows). */
  migrate?: { hook: string };
  /** Hosts of "web" listed as spares instead of shadows, and its [services.shadowCount] as TOML's inline table body (e.g. `min = 1, cooldownMs = 3000`). */
  spares?: HostName[];
  shadowCount?: string;
  /** Each host's rack label (default: r1, r2, r3: a rack each); [placement] goes in extraToml. */
  racks?: Partial<Record<HostName, string>>;
  /** The "web" service's moveBackAfterMs (default: the config's, 10 minutes). */
  moveBackAfterMs?: number;
  /** More namespaces on the bridge, running nothing (a benchmark's probes). */
  extraHosts?: Array<{ name: string; ipv4: string }>;
  /** A host's state directory other than the demo's own (undefined: the demo's, in its dir); the caller owns it (a benchmark's small filesystem). */
  stateDir?: (host: string) => string | undefined;
  /**
   * Runs each host's service under SCHED_RR at this priority (below the
   * agents' `realtime`, 10): a benchmark's measuring apparatus (services,
   * probes, client) shares this machine's cores with the hosts it measures,
   * where in a real network each is a machine of its own; at ordinary
   * priority its own load starves it and its timeouts read as outages.
   */
  apparatusRt?: number;
  /** The NAT lab: these hosts sit behind NAT routers of these kinds on a switch that is "the internet" (INTERNET); given, even empty, every address moves there. */
  nat?: Partial<Record<HostName, "preserving" | "random">>;
  /** false: the bootstrap node relays for no one (`--no-relay`), so only the agents' relays can link a pair. */
  bootstrapRelay?: boolean;
  /** The command that runs umbra (the bootstrap node and the agents), before its arguments: e.g. the single executable (dist/umbra), wrapped. Default: this checkout's Node and src/cli/main.ts. */
  umbra?: string[];
};

/** Where the cluster's parts sit: the demo's one LAN, or the NAT lab's internet. */
type Plan = { subnet: string; bootstrap: string; client: string; hosts: Array<{ name: HostName; ipv4: string; nat?: { kind: "preserving" | "random"; lan: string } }> };

function planOf(o: Pick<DemoOptions, "nat">): Plan {
  if (o.nat === undefined) return { subnet: SUBNET, bootstrap: BOOTSTRAP.ipv4, client: CLIENT.ipv4, hosts: HOSTS.map((h) => ({ name: h.name, ipv4: h.ipv4 })) };
  const nat = o.nat;
  return {
    subnet: INTERNET.subnet,
    bootstrap: INTERNET.bootstrap,
    client: INTERNET.client,
    hosts: HOSTS.map((h) => {
      const kind = nat[h.name];
      return { name: h.name, ipv4: INTERNET_HOSTS[h.name], ...(kind === undefined ? {} : { nat: { kind, lan: NAT_LANS[h.name] } }) };
    }),
  };
}

/** The argv that runs umbra with `args`: the option's command, or this checkout's Node and CLI (an agent with its Node flags). */
export function umbraArgv(o: Pick<DemoOptions, "umbra">, args: string[]): string[] {
  if (o.umbra !== undefined) return [...o.umbra, ...args];
  return [NODE, ...(args[0] === "agent" ? AGENT_NODE_FLAGS : []), MAIN, ...args];
}

/** The argv prefix that runs a piece of the apparatus under SCHED_RR at `rt` (none when undefined). */
export const rtPrefix = (rt: number | undefined): string[] => (rt === undefined ? [] : ["chrt", "--rr", String(rt)]);

/** While this file exists, the host's demo service answers GET /health with 503 (DemoCluster.setSick). */
const sickFileOf = (dir: string, host: string): string => join(dir, `${host}.sick`);

/** The health check DemoOptions.checks adds to "web": the host's own service, every 200 ms, failing after 3, passing after 2. */
export const DEMO_CHECK = { intervalMs: 200, timeoutMs: 200, fall: 3, rise: 2 } as const;

/** The demo operator's key file, in the demo's directory. */
const OPERATOR_KEY_FILE = "operator.key";

function tomlConfig(o: { plan: Plan; host: string; keyFile: string; stateDir: string; keys: Record<string, string>; operatorKey: string; checks?: boolean; timing: Record<string, number>; logLevel: string; hooks?: Record<string, string | undefined>; extra?: string; moveBackAfterMs?: number; racks?: Partial<Record<HostName, string>>; swap?: { every: string; window: string }; vip?: string; redirect?: { hook: string }; scaling?: string; migrate?: { hook: string }; spares?: HostName[]; shadowCount?: string }): string {
  const lines = [
    `cluster = "demo"`,
    `host = "${o.host}"`,
    `keyFile = "${o.keyFile}"`,
    `stateDir = "${o.stateDir}"`,
    `bootstrap = ["${o.plan.bootstrap}:${BOOTSTRAP.port}"]`,
    `profile = "lan"`,
    `logLevel = "${o.logLevel}"`,
    "",
    ...(o.extra === undefined ? [] : [o.extra, ""]),
    "[timing]",
    ...Object.entries(o.timing).map(([k, v]) => `${k} = ${v}`),
    "",
    ...o.plan.hosts.flatMap((h, i) => ["[[hosts]]", `id = "${h.name}"`, `publicKey = "${o.keys[h.name]}"`, ...(h.nat === undefined ? [`address = "${h.ipv4}:${AGENT_DHT_PORT}"`] : []), `labels = { rack = "${o.racks?.[h.name] ?? `r${i + 1}`}" }`, ""]),
    "[[operators]]",
    `name = "demo-operator"`,
    `publicKey = "${o.operatorKey}"`,
    "",
    "[[services]]",
    `name = "web"`,
    `vip = "${o.vip ?? `${VIP}/24`}"`,
    `interface = "eth0"`,
    `primary = "h1"`,
    `shadows = [${["h2", "h3"].filter((h) => !(o.spares ?? []).includes(h as HostName)).map((h) => `"${h}"`).join(", ")}]`,
    ...(o.spares === undefined ? [] : [`spares = [${o.spares.map((h) => `"${h}"`).join(", ")}]`]),
    `voters = ["h1", "h2", "h3"]`,
    ...(o.moveBackAfterMs === undefined ? [] : [`moveBackAfterMs = ${o.moveBackAfterMs}`]),
    "",
    ...(o.scaling === undefined ? [] : [`scaling = { ${o.scaling} }`]),
    ...(o.shadowCount === undefined ? [] : [`shadowCount = { ${o.shadowCount} }`]),
    ...(o.redirect === undefined ? [] : ["[services.redirect]", `hook = ${JSON.stringify(o.redirect.hook)}`, `addresses = { ${o.plan.hosts.map((h) => `${h.name} = "${h.ipv4}"`).join(", ")} }`, ""]),
    ...(o.migrate === undefined ? [] : ["[services.migrate]", `hook = ${JSON.stringify(o.migrate.hook)}`, ""]),
    ...(o.swap === undefined ? [] : ["[services.swap]", `every = "${o.swap.every}"`, `window = "${o.swap.window}"`, ""]),
    ...(o.hooks === undefined ? [] : ["[services.hooks]", ...Object.entries(o.hooks).filter(([, v]) => v !== undefined).map(([k, v]) => `${k} = ${JSON.stringify(v)}`), ""]),
    ...(o.checks ? ["[[services.checks]]", `http = "http://127.0.0.1:${SERVICE_PORT}/health"`, ...Object.entries(DEMO_CHECK).map(([k, v]) => `${k} = ${v}`), ""] : []),
  ];
  return lines.join("\n");
}

/** How long the DHT bootstrap node has to say it listens. */
const BOOTSTRAP_READY_MS = 10_000;
/** Between two looks at which namespaces hold the VIP. */
const HOLDERS_POLL_MS = 20;
/** A poller runs at most this long (the caller stops it well before: bench/chaos watches sustained faults of 10 minutes and more). */
const POLLER_DURATION_MS = 3_600_000;

export async function startDemoCluster(o: DemoOptions): Promise<DemoCluster> {
  const dir = mkdtempSync(join(tmpdir(), "umbra-demo-"));
  const plan = planOf(o);
  const topo = await createTopology({
    prefix: o.prefix,
    subnet: plan.subnet,
    hosts: [{ name: BOOTSTRAP.name, ipv4: plan.bootstrap }, ...plan.hosts, { name: CLIENT.name, ipv4: plan.client }, ...(o.extraHosts ?? [])],
  });
  const logs: LogLine[] = [];
  liveLogs.add(logs); // from the start: a cluster that fails to start says why in the digest too
  const agents = new Map<string, ChildProcess>();
  try {
    writeConfigs(dir, o);
    agents.set(BOOTSTRAP.name, await spawnCluster(topo, dir, logs, agents, o));
    await waitForStarted(logs, agents);
  } catch (err) {
    if (logs.length > 0) console.log(`--- agents' logs (digest) of the cluster that did not start ---\n${logDigest(logs)}\n--- end of digest ---`);
    liveLogs.delete(logs);
    await topo.destroy();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return clusterHandle(topo, dir, logs, agents, o);
}

/** Every agent says "started" within this (a loaded 2-core machine starts three agents in a few seconds). */
const AGENTS_STARTED_WAIT_MS = 60_000;
const STARTED_POLL_MS = 20;

/**
 * Resolves once every agent has logged "started" (its loop runs, it is
 * real-time, its API listens). A cluster handed out earlier let a test or a
 * benchmark fault the holder while a shadow was still starting: with the
 * apparatus real-time, a starting agent (ordinary until it has started) was
 * starved for seconds and the service had no quorum (bench/chaos, session 9).
 */
async function waitForStarted(logs: readonly LogLine[], agents: ReadonlyMap<string, ChildProcess>): Promise<void> {
  const deadline = Date.now() + AGENTS_STARTED_WAIT_MS;
  for (;;) {
    const started = new Set(logs.filter((l) => l.event === "started" && l.part === "agent").map((l) => l.host));
    const waiting = HOSTS.map((h) => h.name).filter((h) => !started.has(h));
    if (waiting.length === 0) return;
    const dead = waiting.filter((h) => agents.get(h)?.exitCode !== null && agents.get(h)?.exitCode !== undefined);
    if (dead.length > 0) throw new Error(`agent(s) ${dead.join(", ")} exited before they started; their logs say why`);
    if (Date.now() > deadline) throw new Error(`agent(s) ${waiting.join(", ")} did not start within ${AGENTS_STARTED_WAIT_MS} ms`);
    await sleep(STARTED_POLL_MS);
  }
}

/** A key and a config per host, in dir. */
function writeConfigs(dir: string, o: DemoOptions): void {
  const keys: Record<string, string> = {};
  for (const h of HOSTS) {
    const kp = generateKeyPair();
    writeKeyFile(join(dir, `${h.name}.key`), kp, { force: false });
    keys[h.name] = kp.publicKey.toString("hex");
  }
  const op = generateKeyPair();
  writeKeyFile(join(dir, OPERATOR_KEY_FILE), op, { force: false });
  const operatorKey = op.publicKey.toString("hex");
  for (const h of HOSTS) {
    writeFileSync(
      join(dir, `${h.name}.toml`),
      tomlConfig({ plan: planOf(o), host: h.name, keyFile: join(dir, `${h.name}.key`), stateDir: stateDirOf(dir, o, h.name), keys, operatorKey, checks: o.checks, timing: o.timing ?? {}, logLevel: o.logLevel ?? "info", hooks: o.hooks, extra: o.extraToml?.(h.name), moveBackAfterMs: o.moveBackAfterMs, racks: o.racks, swap: o.swap, vip: o.vip, redirect: o.redirect, scaling: o.scaling, migrate: o.migrate, spares: o.spares, shadowCount: o.shadowCount }),
    );
  }
}

/** The bootstrap node (waited for, and returned), then a service and an agent per host. */
async function spawnCluster(topo: Topology, dir: string, logs: LogLine[], agents: Map<string, ChildProcess>, o: DemoOptions): Promise<ChildProcess> {
  const boot = topo.spawn(BOOTSTRAP.name, umbraArgv(o, ["bootstrap", "--host", planOf(o).bootstrap, "--port", String(BOOTSTRAP.port), ...(o.bootstrapRelay === false ? ["--no-relay"] : [])]), {});
  await waitForLine(boot, /listening/i, BOOTSTRAP_READY_MS, "the DHT bootstrap node");
  for (const h of HOSTS) {
    topo.spawn(h.name, [...rtPrefix(o.apparatusRt), NODE, join(ROOT, "src/demo/service.ts"), "--name", h.name, "--port", String(SERVICE_PORT), "--sick-file", sickFileOf(dir, h.name)], {});
  }
  for (const h of HOSTS) spawnAgent(topo, dir, h.name, logs, agents, o);
  return boot;
}

/** A host's agent, from its config in dir; its log lines go to logs. */
function spawnAgent(topo: Topology, dir: string, host: string, logs: LogLine[], agents: Map<string, ChildProcess>, o: DemoOptions): void {
  const p = topo.spawn(host, umbraArgv(o, ["agent", "--config", join(dir, `${host}.toml`)]), {});
  agents.set(host, p);
  collectLogs(p, logs, o.onLog);
}

/** A host's state directory: the option's, or one in the cluster's directory. */
const stateDirOf = (dir: string, o: DemoOptions, host: string): string => o.stateDir?.(host) ?? join(dir, `${host}-state`);

/**
 * Which hosts hold the VIP. Every host is read at once, but reads that
 * start at once still end at different moments (on a busy machine tens of
 * ms apart), so a handover between two of them looks like two holders: two
 * or more are confirmed by reading them again forward then backward (a, b,
 * b, a). A host seen in both passes held the VIP from its first read to its
 * second, and those spans nest, so the hosts seen twice held it at one
 * moment together (assuming no host drops and retakes the VIP within one
 * pass, a few ms). Only they are reported: an overlap shorter than the
 * passes (tens of ms on a busy machine) is missed, and an unconfirmed read
 * is printed, so a run's output shows it.
 */
async function holdersOf(topo: Topology): Promise<string[]> {
  const holds = async (h: string): Promise<boolean> => (await topo.addrs(h)).includes(VIP);
  const seen = await Promise.all(HOSTS.map((h) => holds(h.name)));
  const held = HOSTS.filter((_, i) => seen[i]).map((h) => h.name);
  if (held.length < 2) return held;
  const forward: boolean[] = [];
  for (const h of held) forward.push(await holds(h));
  const backward: boolean[] = [];
  for (const h of [...held].reverse()) backward.unshift(await holds(h));
  const confirmed = held.filter((_, i) => forward[i] && backward[i]);
  if (confirmed.length < 2) console.log(`vipHolders: ${held.join(" and ")} read as holders at once, not confirmed by a second read (a handover between the reads)`);
  return confirmed;
}

function clusterHandle(topo: Topology, dir: string, logs: LogLine[], agents: Map<string, ChildProcess>, o: DemoOptions): DemoCluster {
  const stateDir = (h: string): string => stateDirOf(dir, o, h);
  const vipHolders = (): Promise<string[]> => holdersOf(topo);
  return {
    topo,
    dir,
    logs,
    vipHolders,
    async waitForHolders(pred, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let last: string[] = [];
      // Bounded by the deadline: one `ip` call per host per round.
      while (Date.now() < deadline) {
        last = await vipHolders();
        if (pred(last)) return last;
        await sleep(HOLDERS_POLL_MS);
      }
      throw new Error(`timed out after ${timeoutMs} ms waiting for VIP holders; last seen: [${last.join(", ")}]`);
    },
    startPoller: (opts) => startPoller(topo, opts),
    async stopAgent(name) {
      const p = agents.get(name);
      if (p === undefined || p.exitCode !== null) return;
      await new Promise<void>((res) => {
        p.once("exit", () => res());
        p.kill("SIGTERM");
      });
    },
    restartAgent(name) {
      const p = agents.get(name);
      if (p !== undefined && p.exitCode === null && p.signalCode === null) return;
      spawnAgent(topo, dir, name, logs, agents, o);
    },
    pidOf(name) {
      const p = agents.get(name);
      return p === undefined || p.pid === undefined || p.exitCode !== null || p.signalCode !== null ? null : p.pid;
    },
    signalAgent(name, signal) {
      const p = agents.get(name);
      if (p !== undefined) signalProcess(p, signal);
    },
    configOf: (host) => join(dir, `${host}.toml`),
    operatorKey: join(dir, OPERATOR_KEY_FILE),
    setSick: (host, sick) => (sick ? writeFileSync(sickFileOf(dir, host), "") : rmSync(sickFileOf(dir, host), { force: true })),
    apiSocketOf: (host) => join(stateDir(host), API_SOCKET_NAME),
    async destroy() {
      liveLogs.delete(logs);
      for (const p of agents.values()) signalProcess(p, "SIGCONT"); // a stopped agent cannot die of the SIGTERM that follows
      await topo.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The client polling the VIP; its samples arrive as JSON lines. */
/** A poller: every intervalMs, each request given up after timeoutMs; `rt` as DemoOptions.apparatusRt. */
export type PollerOptions = { intervalMs: number; timeoutMs: number; rt?: number; /** A failed attempt is sent again at once, this many times (default 0). */ retries?: number };

export function startPoller(topo: Topology, { intervalMs, timeoutMs, rt, retries }: PollerOptions, from: string = CLIENT.name): { samples: Sample[]; stop(): Promise<void> } {
  const p = topo.spawn(from, [...rtPrefix(rt), NODE, join(ROOT, "src/demo/poller.ts"), "--url", `http://${VIP}:${SERVICE_PORT}/`, "--interval-ms", String(intervalMs), "--timeout-ms", String(timeoutMs), "--duration-ms", String(POLLER_DURATION_MS), "--retries", String(retries ?? 0)], {});
  const samples: Sample[] = [];
  createInterface({ input: p.stdout! }).on("line", (line) => {
    try {
      samples.push(JSON.parse(line));
    } catch {
      // a partial line at exit: nothing to record
    }
  });
  return { samples, stop: () => terminate(p) };
}

/** SIGTERM to a child, resolved once it has exited (at once if it has). */
export function terminate(p: ChildProcess): Promise<void> {
  return new Promise<void>((res) => {
    if (p.exitCode !== null) return res();
    p.once("exit", () => res());
    p.kill("SIGTERM");
  });
}

/** The logs of every cluster not yet destroyed, for withDigest. */
const liveLogs = new Set<LogLine[]>();
/** Lines a digest keeps, the latest. */
const DIGEST_LINES = 120;
/** Events left out of a digest: each repeats the line just before it (vip-answering follows vip-added). */
const DIGEST_SKIP = new Set(["vip-answering"]);

/** The agents' log lines above debug, the latest `limit`, one short line each: what a failed scenario prints. */
function logDigest(logs: readonly LogLine[], limit = DIGEST_LINES): string {
  const kept = logs.filter((l) => l.level !== "debug" && !DIGEST_SKIP.has(l.event));
  return kept
    .slice(-limit)
    .map(({ ts, level, host, part, event, ...rest }) => `${ts.slice(11, 23)} ${host} ${level === "info" ? "" : `${level} `}${part}/${event} ${JSON.stringify(rest).slice(0, 240)}`)
    .join("\n");
}

/**
 * A scenario's body that, when it fails, prints a digest of the agents'
 * logs of every live cluster before failing: a scenario that fails once in
 * twenty runs on CI says why in the output CI keeps. (A body that runs past
 * the test's timeout is not rejected, so it prints nothing: the scenarios
 * bound their own waits well inside it.)
 */
export function withDigest(body: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await body();
    } catch (err) {
      for (const logs of liveLogs) console.log(`--- agents' logs (digest, ${DIGEST_LINES} latest lines above debug) ---\n${logDigest(logs)}\n--- end of digest ---`);
      throw err;
    }
  };
}

function collectLogs(p: ChildProcess, logs: LogLine[], onLog?: (l: LogLine) => void): void {
  createInterface({ input: p.stderr! }).on("line", (line) => {
    let l: LogLine;
    try {
      l = JSON.parse(line);
    } catch {
      l = { ts: new Date().toISOString(), level: "error", host: "?", part: "stderr", event: "raw", line };
    }
    logs.push(l);
    onLog?.(l);
  });
}

function waitForLine(p: ChildProcess, re: RegExp, timeoutMs: number, what: string): Promise<void> {
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`${what} did not start within ${timeoutMs} ms`)), timeoutMs);
    const onLine = (line: string) => {
      if (re.test(line)) {
        clearTimeout(timer);
        res();
      }
    };
    createInterface({ input: p.stdout! }).on("line", onLine);
    createInterface({ input: p.stderr! }).on("line", onLine);
    p.once("exit", (code) => {
      clearTimeout(timer);
      rej(new Error(`${what} exited with code ${code} before it was ready`));
    });
  });
}

/** Signals a child process; one already gone is fine. */
function signalProcess(p: ChildProcess, signal: NodeJS.Signals): void {
  if (p.pid === undefined || p.exitCode !== null || p.signalCode !== null) return;
  try {
    process.kill(p.pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
