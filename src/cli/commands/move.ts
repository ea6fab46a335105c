// `umbra move SERVICE --to HOST`: a planned move, asked of the local agent,
// which must hold the service (POST /services/SERVICE/move). An agent that
// does not hold it says which host does; the operator runs the command there.
import { parseArgs } from "node:util";
import { EXIT, fail, loadConfigOrExit } from "../args.ts";
import { UmbraError } from "../../shared/errors.ts";

export const HELP = `usage: umbra move SERVICE --to HOST [--api 127.0.0.1:7070] [--config FILE] [--json]

A planned move: asks the local agent, which must hold SERVICE, to hand it
over in person to HOST (another of its candidates: its primary or a shadow).
The holder asks the voters for a certificate naming HOST, drops the VIP, then
hands HOST the certificate itself, and HOST takes the VIP at once: the
service is away for about one message, not a lease. The command returns once
the agent has queued the move; 'umbra status' shows the new holder. If this
agent does not hold SERVICE, it says which host does: run the command there.
  --to HOST         the host to move the service to
  --api HOST:PORT   the agent's API (default 127.0.0.1:7070, or the config's api)
  --config FILE     read the API address from this config
  --json            print the agent's answer as JSON (refusals too)
exit: 0 the move is queued; 1 this agent does not hold SERVICE, a move is
already under way, or the agent did not answer; 2 no such service or host.
example: umbra move web --to h2
`;

/** The agent queues the move and answers from memory: well under a second. */
export const MOVE_TIMEOUT_MS = 5_000;

/** The agent's answer: 202 accepted, or a refusal with its code (and, for not_holder, the holder). */
export type MoveAnswer = { status: number; body: { accepted?: boolean; service?: string; to?: string; error?: string; code?: string; holder?: string | null } };

/** POSTs the move to the agent at `api`; an agent that cannot be reached is an api_unreachable error. */
export async function requestMove(api: string, service: string, to: string, timeoutMs = MOVE_TIMEOUT_MS): Promise<MoveAnswer> {
  const url = `http://${api}/services/${encodeURIComponent(service)}/move`;
  let res: Response;
  try {
    res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ to }), signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new UmbraError("api_unreachable", `cannot reach the umbra agent API at ${api} (is the agent running? see --api)`, { url }, err);
  }
  const body = (await res.json().catch(() => null)) as MoveAnswer["body"] | null;
  if (body === null) throw new UmbraError("api_unreachable", `${api} answered ${res.status} without JSON: is it an umbra agent API? (see --api)`, { url, status: res.status });
  return { status: res.status, body };
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
    parsed = parseArgs({ args: rest, options: { to: { type: "string" }, api: { type: "string" }, config: { type: "string" }, json: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: true });
  } catch (err) {
    fail(EXIT.usage, [`move: ${(err as Error).message}`, "run 'umbra move --help' for usage"]);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return void process.stdout.write(HELP);
  if (positionals.length !== 1) fail(EXIT.usage, ["move: name exactly one service", "run 'umbra move --help' for usage"]);
  if (typeof v.to !== "string" || v.to === "") fail(EXIT.usage, ["move: --to HOST is required", "run 'umbra move --help' for usage"]);
  const api = typeof v.api === "string" ? v.api : typeof v.config === "string" ? loadConfigOrExit(v.config).api : "127.0.0.1:7070";
  const service = positionals[0]!;
  const answer = await requestMove(api, service, v.to);
  const { text, exit } = describeAnswer(answer, service, v.to);
  if (v.json) process.stdout.write(JSON.stringify(answer.body) + "\n");
  else if (exit === 0) process.stdout.write(text + "\n");
  else process.stderr.write(`umbra: move: ${text}\n`);
  process.exitCode = exit;
}
