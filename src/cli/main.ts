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
  demo                         a failover in network namespaces, on this machine (root)

Run 'umbra <command> --help' for a command's options.
`;

const HELP: Record<string, string> = {
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
  if (cmd === undefined || cmd === "--help" || cmd === "-h" || cmd === "help") {
    process.stdout.write(USAGE);
    if (cmd === undefined) process.exitCode = 2;
    return;
  }
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
      await node.ready();
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

main(process.argv.slice(2)).catch((err: unknown) => {
  if (isUmbraError(err)) fail(err.code === "usage" || err.code === "config_invalid" ? 2 : 1, [err.message]);
  process.stderr.write(`umbra: internal error (a bug; please report it):\n${err instanceof AssertionError || err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(70);
});
