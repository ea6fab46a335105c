// `umbra status`: shows what the local agent sees.
import { apiTargetOf, EXIT, parse, TARGET_OPTIONS } from "../args.ts";
import { TARGET_HELP } from "../../apiclient/index.ts";

export const HELP = `usage: umbra status [--api PATH|HOST:PORT] [--token-file FILE] [--config FILE] [--json]

Asks the local agent what it sees: members, services, holders, leases.
exit: 0; 1 when a service has no holder this agent knows of (said on stderr),
or the agent cannot be reached.
${TARGET_HELP}
  --json                print the raw JSON
`;

export async function run(rest: string[]): Promise<void> {
  const v = parse("status", rest, { ...TARGET_OPTIONS, json: { type: "boolean", default: false } });
  if (v.help) return void process.stdout.write(HELP);
  const target = apiTargetOf({ api: v.api, tokenFile: v["token-file"], config: v.config });
  const { runStatus } = await import("../status.ts");
  const orphans = await runStatus({ target, json: v.json === true });
  if (orphans.length > 0) {
    process.stderr.write(`umbra: status: no holder for ${orphans.join(", ")}\n`);
    process.exitCode = EXIT.failure;
  }
}
