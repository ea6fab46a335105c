// `umbra move SERVICE --to HOST`: a planned move, asked of the local agent,
// which must hold the service (POST /services/SERVICE/move). An agent that
// does not hold it says which host does; the operator runs the command there.
import { parseArgs } from "node:util";
import { apiTargetOf, EXIT, fail, TARGET_OPTIONS } from "../args.ts";
import { apiRequest, jsonOf, targetText, TARGET_HELP, type ApiTarget } from "../../api/index.ts";
import { UmbraError } from "../../shared/errors.ts";

export const HELP = `usage: umbra move SERVICE --to HOST [--api PATH|HOST:PORT] [--token-file FILE] [--config FILE] [--json]

A planned move: asks the local agent, which must hold SERVICE, to hand it
over in person to HOST (another of its candidates: its primary or a shadow).
The holder asks the voters for a certificate naming HOST, drops the VIP, then
hands HOST the certificate itself, and HOST takes the VIP at once: the
service is away for about one message, not a lease. The command returns once
the agent has queued the move; 'umbra status' shows the new holder. If this
agent does not hold SERVICE, it says which host does: run the command there.
  --to HOST             the host to move the service to
${TARGET_HELP}
  --json                print the agent's answer as JSON (refusals too)
exit: 0 the move is queued; 1 this agent does not hold SERVICE, a move is
already under way, or the agent did not answer; 2 no such service or host.
example: umbra move web --to h2
`;

/** The agent queues the move and answers from memory: well under a second. */
export const MOVE_TIMEOUT_MS = 5_000;

/** The agent's answer: 202 accepted, or a refusal with its code (and, for not_holder, the holder). */
export type MoveAnswer = { status: number; body: { accepted?: boolean; service?: string; to?: string; error?: string; code?: string; holder?: string | null } };

/** POSTs the move to the agent; an agent that cannot be reached is an api_unreachable error. */
export async function requestMove(t: ApiTarget, service: string, to: string, timeoutMs = MOVE_TIMEOUT_MS): Promise<MoveAnswer> {
  const a = await apiRequest(t, "POST", `/services/${encodeURIComponent(service)}/move`, { body: JSON.stringify({ to }), contentType: "application/json", timeoutMs });
  const body = (await jsonOf(a)) as MoveAnswer["body"] | null;
  if (body === null) throw new UmbraError("api_unreachable", `${targetText(t)} answered ${a.status} without JSON: is it an umbra agent API? (see --api)`, { status: a.status });
  return { status: a.status, body };
}

/** The agent's answer to a move it queued. */
const HTTP_ACCEPTED = 202;
/** Refusals the operator fixes by changing what they typed: exit 2. */
const INPUT_CODES: ReadonlySet<string> = new Set(["service_unknown", "request_invalid"]);

/** What the operator reads, and the exit code: 0 queued, 2 their input, 1 anything else. */
export function describeAnswer(a: MoveAnswer, service: string, to: string): { text: string; exit: number } {
  if (a.status === HTTP_ACCEPTED) return { text: `move of ${service} to ${to} queued; 'umbra status' shows the new holder`, exit: 0 };
  const why = `not moved: ${a.body.error ?? `the agent answered ${a.status}`}`;
  const holder = a.body.holder;
  if (a.body.code === "not_holder" && typeof holder === "string") return { text: `${why}; run 'umbra move ${service} --to ${to}' on ${holder}`, exit: EXIT.failure };
  return { text: why, exit: a.body.code !== undefined && INPUT_CODES.has(a.body.code) ? EXIT.usage : EXIT.failure };
}

export async function run(rest: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { to: { type: "string" }, ...TARGET_OPTIONS, json: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: true });
  } catch (err) {
    fail(EXIT.usage, [`move: ${(err as Error).message}`, "run 'umbra move --help' for usage"]);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return void process.stdout.write(HELP);
  if (positionals.length !== 1) fail(EXIT.usage, ["move: name exactly one service", "run 'umbra move --help' for usage"]);
  if (typeof v.to !== "string" || v.to === "") fail(EXIT.usage, ["move: --to HOST is required", "run 'umbra move --help' for usage"]);
  const target = apiTargetOf({ api: v.api, tokenFile: v["token-file"], config: v.config });
  const service = positionals[0]!;
  const answer = await requestMove(target, service, v.to);
  const { text, exit } = describeAnswer(answer, service, v.to);
  if (v.json) process.stdout.write(JSON.stringify(answer.body) + "\n");
  else if (exit === 0) process.stdout.write(text + "\n");
  else process.stderr.write(`umbra: move: ${text}\n`);
  process.exitCode = exit;
}
