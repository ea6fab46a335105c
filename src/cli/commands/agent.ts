// `umbra agent`: runs the agent on this host.
import { EXIT, fail, parse, loadConfigOrExit } from "../args.ts";

export const HELP = `usage: umbra agent --config FILE

Runs the agent: joins the mesh, probes this host, votes, holds VIPs.
  --config FILE   TOML configuration (see README.md); a bad file exits 2
example: umbra agent --config /etc/umbra/umbra.toml
`;

export async function run(rest: string[]): Promise<void> {
  const v = parse("agent", rest, { config: { type: "string" } });
  if (v.help) return void process.stdout.write(HELP);
  if (typeof v.config !== "string") fail(EXIT.usage, ["agent: --config FILE is required", "run 'umbra agent --help' for usage"]);
  const config = loadConfigOrExit(v.config);
  const { runAgent } = await import("../../agent/index.ts");
  await runAgent(config);
  // Stopped: what is still open (a swarm still leaving the DHT) ends with the process, not seconds later.
  process.exit(process.exitCode ?? 0);
}
