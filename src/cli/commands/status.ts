// `umbra status`: shows what the local agent sees.
import { apiTargetOf, parse, TARGET_OPTIONS } from "../args.ts";
import { TARGET_HELP } from "../client.ts";

export const HELP = `usage: umbra status [--api PATH|HOST:PORT] [--token-file FILE] [--config FILE] [--json]

Asks the local agent what it sees: members, services, holders, leases.
${TARGET_HELP}
  --json                print the raw JSON
`;

export async function run(rest: string[]): Promise<void> {
  const v = parse("status", rest, { ...TARGET_OPTIONS, json: { type: "boolean", default: false } });
  if (v.help) return void process.stdout.write(HELP);
  const target = apiTargetOf({ api: v.api, tokenFile: v["token-file"], config: v.config });
  const { runStatus } = await import("../status.ts");
  await runStatus({ target, json: v.json === true });
}
