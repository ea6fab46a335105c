// `umbra status`: shows what the local agent sees.
import { parse, loadConfigOrExit } from "../args.ts";

export const HELP = `usage: umbra status [--api 127.0.0.1:7070] [--config FILE] [--json]

Asks the local agent what it sees: members, services, holders, leases.
  --api HOST:PORT   the agent's API (default 127.0.0.1:7070, or the config's api)
  --config FILE     read the API address from this config
  --json            print the raw JSON
`;

export async function run(rest: string[]): Promise<void> {
  const v = parse("status", rest, { api: { type: "string" }, config: { type: "string" }, json: { type: "boolean", default: false } });
  if (v.help) return void process.stdout.write(HELP);
  let api = typeof v.api === "string" ? v.api : "127.0.0.1:7070";
  if (typeof v.config === "string" && typeof v.api !== "string") {
    api = loadConfigOrExit(v.config).api;
  }
  const { runStatus } = await import("../status.ts");
  await runStatus({ api, json: v.json === true });
  return;
}
