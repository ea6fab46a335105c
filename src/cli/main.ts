// umbra: one entry point. argv -> config -> the same functions the API calls.
// Exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 70 a bug.

import { parseArgs } from "node:util";
import { isUmbraError, UmbraError } from "../shared/errors.ts";
import { formatConfigError, loadConfig } from "../shared/config.ts";
import { generateKeyPair, writeKeyFile } from "../shared/identity.ts";
import { AssertionError } from "../shared/assert.ts";

const USAGE = `umbra — predictive failover for bare-metal and edge hosts

usage: umbra <command> [options]

commands:
  agent --config FILE          run the agent on this host
  keygen --out FILE            write an ed25519 key pair (mode 0600), print the public key
  bootstrap [--host H] [--port P]
                               run a hyperdht bootstrap node (for sites without internet)
  status [--api HOST:PORT] [--json]
                               show what the local agent sees
  release --config FILE        remove this host's VIPs (after a crash: systemd ExecStopPost)
  state set|get|history SERVICE ...
                               read or change a service's replicated deployment state
  demo                         a failover in network namespaces, on this machine (root)
  simulate [--seed N] [--seeds M] [--profile lan|wan|chaos] ...
                               the whole cluster on a virtual clock and a hostile network

Run 'umbra <command> --help' for a command's options.
`;

const HELP: Record<string, string> = {
  release: `usage: umbra release --config FILE [--json]

Removes every VIP the config names from this host, if present. A running
agent enforces leases; one killed with SIGKILL (or crashed) leaves its VIPs
in the kernel with nobody enforcing them, so run this after the agent stops,
whatever the reason (systemd: ExecStopPost=, see contrib/umbra.service).
Idempotent. Exits 1 if a present VIP could not be removed.
  --config FILE   the agent's configuration
  --json          one JSON object: {"removed": [...], "absent": [...], "failed": [...]}
`,
  state: "see 'umbra state --help'",
  simulate: `usage: umbra simulate [--seed 1] [--seeds 1] [--nodes 3] [--services 1] [--steps 2000]
                      [--profile lan|wan|chaos] [--timing lan|wan|edge] [--trace] [--json]

Runs the agent's own host core (src/decide/host.ts) for every host on a
virtual clock (one agent tick a step) and a network that drops, delays,
duplicates and partitions, with crashes, lost disks, restarts, clock drift
and jumps, operator and predicted moves, and VIP changes that take time and
fail, all drawn from the seed. Safety is checked after every step; then the
network heals, a minority of hosts may stay dead, and every service must
have a holder again.
The same seed gives the same trace. A violation prints a reproduction
command and the seed's fault schedule shrunk to the fewest faults that
still fail, and exits 1.
  --seed N       first seed (default 1)
  --seeds M      run M seeds from N (default 1)
  --nodes K      hosts, 2 to 128, all candidates and voters (default 3)
  --services S   services, one quorum per service (default 1)
  --steps T      agent ticks of virtual time (default 2000: 10 s at lan timing)
  --profile P    lan, wan or chaos: the ranges the seed draws faults from (default chaos)
  --timing T     lan, wan or edge: the agent's timing profile every host runs (default lan)
  --variant V    run a deliberately broken core to see the checker catch it:
                 double-vote, ignore-lease, no-grant-wait, planned-vote (signs a
                 planned move while a rival's grant runs), ignore-failed-drop (takes
                 a failed VIP removal for done) or local-ack (a writer that
                 acknowledges state writes no shadow holds) (default correct)
  --trace        print the event log of each run
  --json         one JSON object per run
example: umbra simulate --seed 1 --seeds 500 --nodes 5 --services 3
`,
  agent: `usage: umbra agent --config FILE

Runs the agent: joins the mesh, probes this host, votes, holds VIPs.
  --config FILE   TOML configuration (see README.md); a bad file exits 2
example: umbra agent --config /etc/umbra/umbra.toml
`,
  keygen: `usage: umbra keygen --out FILE [--force] [--json]

Writes an ed25519 key pair as JSON, mode 0600, and prints the public key to
list under [[hosts]] in every host's config.
  --out FILE   where to write it (refuses to overwrite)
  --force      overwrite an existing file
  --json       print {"publicKey": ..., "file": ...}
example: umbra keygen --out /etc/umbra/h1.key
`,
  bootstrap: `usage: umbra bootstrap [--host 0.0.0.0] [--port 49737]

Runs a hyperdht bootstrap node: agents list it under bootstrap = ["host:port"].
Runs until SIGINT/SIGTERM.
  --host ADDR   address to bind (default 0.0.0.0)
  --port N      UDP port (default 49737)
`,
  status: `usage: umbra status [--api 127.0.0.1:7070] [--config FILE] [--json]

Asks the local agent what it sees: members, services, holders, leases.
  --api HOST:PORT   the agent's API (default 127.0.0.1:7070, or the config's api)
  --config FILE     read the API address from this config
  --json            print the raw JSON
`,
  demo: `usage: umbra demo [--json] [--verbose]

Builds namespaces h1, h2, h3, a client and a bootstrap node on a bridge
(198.51.100.0/24), runs three agents, cuts h1's link and shows the failover:
a timeline and the downtime the client saw. Needs root. Cleans up on exit.
  --json      print the result as JSON as well
  --verbose   copy every agent log line to stderr
`,
};

function fail(code: number, lines: string[]): never {
  for (const l of lines) process.stderr.write(`umbra: ${l}\n`);
  process.exit(code);
}

function parse(cmd: string, argv: string[], options: Record<string, { type: "string" | "boolean"; default?: string | boolean }>) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (err) {
    fail(2, [`${cmd}: ${(err as Error).message}`, `run 'umbra ${cmd} --help' for usage`]);
  }
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined) {
    process.stderr.write(USAGE); // no command is a usage error: the text goes where errors go
    process.exitCode = 2;
    return;
  }
  if (cmd === "--help" || cmd === "-h" || cmd === "help") return void process.stdout.write(USAGE);
  if (!(cmd in HELP)) fail(2, [`unknown command "${cmd}"`, "run 'umbra --help' for the list"]);
  switch (cmd) {
    case "agent": {
      const v = parse(cmd, rest, { config: { type: "string" } });
      if (v.help) return void process.stdout.write(HELP.agent!);
      if (typeof v.config !== "string") fail(2, ["agent: --config FILE is required", "run 'umbra agent --help' for usage"]);
      let config;
      try {
        config = loadConfig(v.config);
      } catch (err) {
        if (isUmbraError(err) && (err.code === "config_invalid" || err.code === "config_unreadable")) fail(2, formatConfigError(err));
        throw err;
      }
      const { runAgent } = await import("../agent/index.ts");
      await runAgent(config);
      return;
    }
    case "keygen": {
      const v = parse(cmd, rest, { out: { type: "string" }, force: { type: "boolean", default: false }, json: { type: "boolean", default: false } });
      if (v.help) return void process.stdout.write(HELP.keygen!);
      if (typeof v.out !== "string") fail(2, ["keygen: --out FILE is required", "run 'umbra keygen --help' for usage"]);
      const kp = generateKeyPair();
      writeKeyFile(v.out, kp, { force: v.force === true });
      const pk = kp.publicKey.toString("hex");
      process.stdout.write(v.json ? JSON.stringify({ publicKey: pk, file: v.out }) + "\n" : `${pk}\n`);
      if (!v.json) process.stderr.write(`wrote ${v.out} (mode 0600); list the public key above under [[hosts]] in every host's config\n`);
      return;
    }
    case "bootstrap": {
      const v = parse(cmd, rest, { host: { type: "string", default: "0.0.0.0" }, port: { type: "string", default: "49737" } });
      if (v.help) return void process.stdout.write(HELP.bootstrap!);
      const port = Number(v.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535) fail(2, [`bootstrap: --port must be 1-65535, got "${v.port}"`]);
      const { default: DHT } = await import("hyperdht");
      const node = DHT.bootstrapper(port, v.host as string);
      try {
        await node.ready();
      } catch (err) {
        // A taken port is an operating error, not a bug. No destroy(): dht-rpc
        // closed the socket when the bind failed, and destroy() rethrows that.
        fail(1, [`bootstrap: cannot listen on ${v.host}:${port}: ${(err as Error).message}`]);
      }
      process.stdout.write(JSON.stringify({ event: "listening", host: v.host, port }) + "\n");
      await new Promise<void>((res) => {
        const stop = () => res();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      await node.destroy();
      return;
    }
    case "status": {
      const v = parse(cmd, rest, { api: { type: "string" }, config: { type: "string" }, json: { type: "boolean", default: false } });
      if (v.help) return void process.stdout.write(HELP.status!);
      let api = typeof v.api === "string" ? v.api : "127.0.0.1:7070";
      if (typeof v.config === "string" && typeof v.api !== "string") {
        try {
          api = loadConfig(v.config).api;
        } catch (err) {
          if (isUmbraError(err) && (err.code === "config_invalid" || err.code === "config_unreadable")) fail(2, formatConfigError(err));
          throw err;
        }
      }
      const { runStatus } = await import("./status.ts");
      await runStatus({ api, json: v.json === true });
      return;
    }
    case "simulate": {
      const v = parse(cmd, rest, {
        seed: { type: "string", default: "1" },
        seeds: { type: "string", default: "1" },
        nodes: { type: "string", default: "3" },
        services: { type: "string", default: "1" },
        steps: { type: "string", default: "2000" },
        profile: { type: "string", default: "chaos" },
        timing: { type: "string", default: "lan" },
        variant: { type: "string", default: "correct" },
        trace: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
      });
      if (v.help) return void process.stdout.write(HELP.simulate!);
      const int = (k: string, lo: number, hi: number): number => {
        const n = Number(v[k]);
        if (!Number.isInteger(n) || n < lo || n > hi) fail(2, [`simulate: --${k} must be a whole number from ${lo} to ${hi}, got "${v[k]}"`]);
        return n;
      };
      const { simulate, shrink, PROFILES, TIMING_PROFILES, NODES_MIN, NODES_MAX } = await import("../sim/simulate.ts");
      const { VARIANTS } = await import("../sim/cluster.ts");
      const profile = v.profile as (typeof PROFILES)[number];
      if (!PROFILES.includes(profile)) fail(2, [`simulate: --profile must be one of ${PROFILES.join(", ")}, got "${v.profile}"`]);
      const timing = v.timing as (typeof TIMING_PROFILES)[number];
      if (!TIMING_PROFILES.includes(timing)) fail(2, [`simulate: --timing must be one of ${TIMING_PROFILES.join(", ")}, got "${v.timing}"`]);
      const variant = v.variant as (typeof VARIANTS)[number];
      if (!VARIANTS.includes(variant)) fail(2, [`simulate: --variant must be one of ${VARIANTS.join(", ")}, got "${v.variant}"`]);
      const a = { seed: int("seed", 0, 2 ** 31 - 1), seeds: int("seeds", 1, 1_000_000), nodes: int("nodes", NODES_MIN, NODES_MAX), services: int("services", 1, 32), steps: int("steps", 10, 10_000_000) };
      let failed = 0;
      const t0 = performance.now();
      for (let seed = a.seed; seed < a.seed + a.seeds; seed++) {
        const r = simulate({ seed, nodes: a.nodes, services: a.services, steps: a.steps, profile, timing, variant });
        const repro = `umbra simulate --seed ${seed} --nodes ${a.nodes} --services ${a.services} --steps ${a.steps} --profile ${profile}${timing === "lan" ? "" : ` --timing ${timing}`}${variant === "correct" ? "" : ` --variant ${variant}`}`;
        if (v.json) process.stdout.write(JSON.stringify({ ...r, trace: v.trace ? r.trace : undefined, reproduce: repro }) + "\n");
        else {
          if (v.trace) for (const e of r.trace) process.stdout.write(`${e.atMs.toFixed(3).padStart(12)} ${e.host.padEnd(4)} ${e.what}\n`);
          if (a.seeds === 1 || !r.ok) process.stdout.write(`seed ${seed}: ${r.ok ? "ok" : "VIOLATION"}  failovers ${r.failovers}  availability ${(r.availability * 100).toFixed(1)}%  messages ${r.messages}  faults ${r.faults}  trace ${r.traceHash}\n`);
        }
        if (!r.ok) {
          failed += 1;
          process.stderr.write(`umbra: seed ${seed}: ${r.violation}\nreproduce: ${repro} --trace\n`);
          const sh = shrink({ seed, nodes: a.nodes, services: a.services, steps: a.steps, profile, timing, variant });
          if (sh !== null) {
            process.stderr.write(`shrunk to ${sh.schedule.length} of ${sh.of} faults (${sh.runs} runs), still: ${sh.violation}\n`);
            for (const f of sh.schedule) process.stderr.write(`  ${f.atMs.toFixed(1).padStart(9)} ms  ${JSON.stringify({ ...f, atMs: undefined })}\n`);
          }
        }
        if (!v.json && a.seeds > 1 && (seed - a.seed + 1) % 1000 === 0) process.stderr.write(`  ${seed - a.seed + 1}/${a.seeds} seeds...\n`);
      }
      if (!v.json && a.seeds > 1) process.stdout.write(`${a.seeds} seeds, ${failed} with violations, ${((a.seeds * 1000) / (performance.now() - t0)).toFixed(1)} seeds/s\n`);
      process.exitCode = failed > 0 ? 1 : 0;
      return;
    }
    case "release": {
      const v = parse(cmd, rest, { config: { type: "string" }, json: { type: "boolean", default: false } });
      if (v.help) return void process.stdout.write(HELP.release!);
      if (typeof v.config !== "string") fail(2, ["release: --config FILE is required", "run 'umbra release --help' for usage"]);
      let config;
      try {
        config = loadConfig(v.config);
      } catch (err) {
        if (isUmbraError(err) && (err.code === "config_invalid" || err.code === "config_unreadable")) fail(2, formatConfigError(err));
        throw err;
      }
      const { removeVip, vipPresent } = await import("../actuate/vip.ts");
      const out = { removed: [] as string[], absent: [] as string[], failed: [] as Array<{ vip: string; error: string }> };
      for (const s of config.services) {
        const vip = { cidr: s.vip, iface: s.interface };
        try {
          if (!(await vipPresent(vip))) {
            out.absent.push(s.vip);
            continue;
          }
          await removeVip(vip);
          out.removed.push(s.vip);
        } catch (err) {
          // No such interface here: it holds no address either.
          if (/does not exist|Cannot find device/i.test((err as Error).message)) out.absent.push(s.vip);
          else out.failed.push({ vip: s.vip, error: (err as Error).message });
        }
      }
      if (v.json) process.stdout.write(JSON.stringify(out) + "\n");
      else {
        for (const x of out.removed) process.stdout.write(`removed ${x}\n`);
        for (const x of out.absent) process.stdout.write(`absent ${x}\n`);
        for (const x of out.failed) process.stderr.write(`umbra: release: could not remove ${x.vip}: ${x.error}\n`);
      }
      process.exitCode = out.failed.length > 0 ? 1 : 0;
      return;
    }
    case "state": {
      const { runState, parseStateArgs, STATE_HELP } = await import("./state.ts");
      const { values } = parseStateArgs(rest);
      if (values.help) return void process.stdout.write(STATE_HELP);
      let api = typeof values.api === "string" ? values.api : "127.0.0.1:7070";
      if (typeof values.config === "string" && typeof values.api !== "string") {
        try {
          api = loadConfig(values.config).api;
        } catch (err) {
          if (isUmbraError(err) && (err.code === "config_invalid" || err.code === "config_unreadable")) fail(2, formatConfigError(err));
          throw err;
        }
      }
      await runState(rest, { api });
      return;
    }
    case "demo": {
      const v = parse(cmd, rest, { json: { type: "boolean", default: false }, verbose: { type: "boolean", default: false } });
      if (v.help) return void process.stdout.write(HELP.demo!);
      const { runDemo } = await import("../demo/index.ts");
      await runDemo({ json: v.json === true, verbose: v.verbose === true });
      return;
    }
    default:
      throw new UmbraError("usage", `unknown command ${cmd}`);
  }
}

// `umbra simulate --trace | head` closes the pipe early: that is not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

main(process.argv.slice(2)).catch((err: unknown) => {
  if (isUmbraError(err)) fail(err.code === "usage" || err.code === "config_invalid" ? 2 : 1, [err.message]);
  process.stderr.write(`umbra: internal error (a bug; please report it):\n${err instanceof AssertionError || err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(70);
});
