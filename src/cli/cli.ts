// umbra: the CLI (main.ts loads it). argv -> config -> the same functions the API calls.
// Exit codes: 0 ok, 1 runtime failure, 2 usage or config error, 70 a bug.

import { isUmbraError } from "../shared/errors.ts";
import { AssertionError } from "../shared/assert.ts";
import { EXIT, exitCodeOf, fail } from "./args.ts";
import { VERSION } from "../shared/version.ts";
import { COMMANDS } from "./commands.ts";

const USAGE = `umbra — predictive failover for bare-metal and edge hosts

usage: umbra <command> [options]

commands:
  agent --config FILE          run the agent on this host
  keygen --out FILE            write an ed25519 key pair (mode 0600), print the public key
  bootstrap --host IP [--port P] [--nodes 4]
                               run the DHT nodes agents bootstrap from (sites without the public DHT)
  status [--config FILE | --api PATH|HOST:PORT] [--json]
                               show what the local agent sees (exit 1 if a service has no holder)
  keygen --operator --out FILE an operator's key pair: list its public key under [[operators]]
  move SERVICE --to HOST --key FILE [--reason TEXT]
                               a signed order: the holder hands SERVICE over to HOST in person
  failover SERVICE --key FILE  a signed order: the holder hands SERVICE to its best other candidate
  standby HOST --key FILE      a signed order: HOST is no candidate (it hands over what it holds)
  maintenance HOST --reason TEXT --key FILE
                               as standby, with the reason on record
  unstandby HOST --key FILE    ends standby or maintenance
  rejoin HOST --key FILE       ends HOST's safe mode (a demoted host's diagnostics failed)
  override SERVICE --expect-votes N --reason TEXT --key FILE --yes
                               a signed order: a majority of N votes certifies SERVICE's holder
                               (a majority of its voters gone for good; read the warning)
  audit SERVICE [--json]       every operator's order on SERVICE and what each host did
  release --config FILE        remove this host's VIPs (after a crash: systemd ExecStopPost)
  state set|get|history SERVICE ...
                               read or change a service's replicated deployment state
  demo                         a failover in network namespaces, on this machine (root)
  install [--bin-dir DIR]      (the built executable) put umbra, its user and its systemd unit in place
  simulate [--seed N] [--seeds M] [--profile lan|wan|chaos] ...
                               the whole cluster on a virtual clock and a hostile network
  completion bash              a bash completion script (source <(umbra completion bash))

Run 'umbra <command> --help' for a command's options; 'umbra --version' for the version.
`;

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined) {
    process.stderr.write(USAGE); // no command is a usage error: the text goes where errors go
    process.exitCode = EXIT.usage;
    return;
  }
  if (cmd === "--help" || cmd === "-h" || cmd === "help") return void process.stdout.write(USAGE);
  if (cmd === "--version" || cmd === "-V" || cmd === "version") return void process.stdout.write(`umbra ${VERSION}\n`);
  const load = COMMANDS[cmd];
  if (load === undefined) fail(EXIT.usage, [`unknown command "${cmd}"`, "run 'umbra --help' for the list"]);
  await (await load()).run(rest);
}

// `umbra simulate --trace | head` closes the pipe early: that is not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

main(process.argv.slice(2)).catch((err: unknown) => {
  if (isUmbraError(err)) fail(exitCodeOf(err.code), [err.message]);
  process.stderr.write(`umbra: internal error (a bug; please report it):\n${err instanceof AssertionError || err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(EXIT.bug);
});
