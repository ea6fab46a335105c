// `umbra audit SERVICE`: the service's audit trail, as the local agent's
// replica holds it: every operator's order that concerned it, and what each
// host that keeps a replica did with it, oldest first.
import { parseArgs } from "node:util";
import { apiTargetOf, EXIT, fail, TARGET_OPTIONS } from "../args.ts";
import { apiJson, TARGET_HELP } from "../../apiclient/index.ts";
import type { AuditEntry } from "../../state/index.ts";

export const HELP = `usage: umbra audit SERVICE [--api PATH|HOST:PORT] [--token-file FILE] [--config FILE] [--json]

Every operator's order on SERVICE (umbra move, failover, standby, maintenance
of one of its hosts...), as recorded in its replicated state by each host
that keeps a replica, oldest first: when it was issued, by whom, why, and
what each host did.
${TARGET_HELP}
  --json   print {"service", "entries": [...]}
example: umbra audit web
`;

const REQUEST_TIMEOUT_MS = 5_000;

export async function run(rest: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { ...TARGET_OPTIONS, json: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: true });
  } catch (err) {
    fail(EXIT.usage, [`audit: ${(err as Error).message}`, "run 'umbra audit --help' for usage"]);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return void process.stdout.write(HELP);
  if (positionals.length !== 1) fail(EXIT.usage, ["audit: name exactly one service", "run 'umbra audit --help' for usage"]);
  const service = positionals[0]!;
  const target = apiTargetOf({ api: v.api, tokenFile: v["token-file"], config: v.config });
  const answer = (await apiJson(target, "GET", `/services/${encodeURIComponent(service)}/audit`, undefined, REQUEST_TIMEOUT_MS)) as { service: string; entries: AuditEntry[] };
  process.stdout.write(v.json ? JSON.stringify(answer) + "\n" : formatAudit(answer.entries));
}

/** One block per order: when, who, what and why, then each host's outcome. */
export function formatAudit(entries: readonly AuditEntry[]): string {
  if (entries.length === 0) return "no operator orders on record\n";
  const out: string[] = [];
  let last: string | null = null;
  for (const e of entries) {
    if (e.nonce !== last) {
      const what = `${e.action}${e.service === null ? "" : ` ${e.service}`}${e.target === null ? "" : `${e.action === "move" ? " --to" : ""} ${e.target}`}`;
      out.push(`${new Date(e.issuedAtMs).toISOString()}  ${what}  by ${e.operator} (${e.operatorKey}…)${e.reason === "" ? "" : `: ${e.reason}`}`);
      last = e.nonce;
    }
    out.push(`    ${e.host}: ${e.outcome}`);
  }
  return out.join("\n") + "\n";
}
