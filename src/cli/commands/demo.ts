// `umbra demo`: a failover in network namespaces, on this machine.
import { parse } from "../args.ts";

export const HELP = `usage: umbra demo [--json] [--verbose]

Builds namespaces h1, h2, h3, a client and a bootstrap node on a bridge
(198.51.100.0/24), runs three agents, cuts h1's link and shows the failover:
a timeline and the downtime the client saw. Needs root. Cleans up on exit.
  --json      print the result as JSON as well
  --verbose   copy every agent log line to stderr
`;

export async function run(rest: string[]): Promise<void> {
  const v = parse("demo", rest, { json: { type: "boolean", default: false }, verbose: { type: "boolean", default: false } });
  if (v.help) return void process.stdout.write(HELP);
  const { runDemo } = await import("../../demo/index.ts");
  await runDemo({ json: v.json === true, verbose: v.verbose === true });
  return;
}
