// Operators' orders: `umbra move`, `failover`, `standby`, `unstandby`,
// `maintenance`, `rejoin`, `override`. Each signs a statement with the operator's key (umbra keygen
// --operator; its public key under [[operators]] in every host's config)
// and gives it to the local agent, which checks it as every host does and
// passes it on to every peer; each host's core then acts on its part (the
// holder hands over in person; every voter keeps a host in standby out of
// candidacy; an override lowers the votes a service's majority is counted
// over, for a majority gone for good). Nothing moves outside the quorum's
// rules.
import { parseArgs } from "node:util";
import { apiTargetOf, EXIT, fail, TARGET_OPTIONS } from "../args.ts";
import { apiJson, TARGET_HELP, type ApiTarget } from "../../apiclient/index.ts";
import type { StatusDoc } from "../../api/index.ts";
import { readKeyFile } from "../../shared/identity.ts";
import { signStatement, STATEMENT_LIFETIME_MS_MAX, type Action, type SignedStatement } from "../../shared/statements.ts";

/** The agent answers from memory: well under a second. */
const REQUEST_TIMEOUT_MS = 5_000;
/** A statement is good for this long by default: long enough for every host to get it, short enough that a copied one is soon worthless. */
const LIFETIME_S_DEFAULT = 60;
const ENV_KEY = "UMBRA_OPERATOR_KEY";
/** Rolling maintenance waits this long, at most, for each host to drain, for its command, and for it to come back. */
const ROLLING_WAIT_S_DEFAULT = 600;

type Spec = {
  action: Exclude<Action, "release">;
  /** What the one positional names. */
  names: "service" | "host";
  usage: string;
  about: string;
  reasonRequired?: boolean;
};

const SPECS: Record<string, Spec> = {
  move: { action: "move", names: "service", usage: "move SERVICE --to HOST", about: "The holder of SERVICE hands it over in person to HOST (its primary or a shadow): the certificate first, the VIP dropped, then taken at once on HOST; the service is away for about one message." },
  failover: { action: "failover", names: "service", usage: "failover SERVICE", about: "The holder of SERVICE hands it over in person to its best other candidate (alive, not in standby)." },
  standby: { action: "standby", names: "host", usage: "standby HOST", about: "HOST is no candidate for any service until 'umbra unstandby HOST': no voter votes for it, and what it holds it hands over in person." },
  unstandby: { action: "unstandby", names: "host", usage: "unstandby HOST", about: "Ends standby or maintenance of HOST: a candidate again (nothing moves back by itself)." },
  rejoin: { action: "rejoin", names: "host", usage: "rejoin HOST", about: "Ends HOST's safe mode for every service without waiting for its diagnostics to pass: a host demoted by a failover runs its diagnose hook and is no candidate until they pass or this order comes ('umbra status' shows why, and the bundle)." },
  maintenance: {
    action: "maintenance",
    names: "host",
    usage: "maintenance HOST --reason TEXT",
    about: `As standby, with the reason on record: HOST hands over every service it holds, in person, and stays out of candidacy until 'umbra unstandby HOST'.

umbra maintenance --rolling --reason TEXT [--hosts h1,h2,h3] [--run CMD] [--wait-seconds N]
walks the hosts one at a time (default: every host, in the agent's order): maintenance,
a wait until what the host held is held elsewhere, CMD (sh -c, UMBRA_HOST set: an upgrade,
a reboot), unstandby, and a wait until the host is alive, in sync and a candidate again
(each wait and CMD at most N seconds, default ${ROLLING_WAIT_S_DEFAULT}). It starts only with every host alive
and every service held; a failed CMD leaves its host in maintenance and stops the walk.`,
    reasonRequired: true,
  },
  override: {
    action: "override",
    names: "service",
    usage: "override SERVICE --expect-votes N --reason TEXT --yes",
    about: `For a majority of SERVICE's voters gone for good: a majority of N votes
(raised by every voter heard again) certifies its holder and renews the
lease, a restart wait after each host takes it on. A host takes it on only
while it sees no more than N of the voters alive. N = the number of voters
ends it.`,
    reasonRequired: true,
  },
};

/** What an override risks, said before it is signed. */
const overrideWarning = (service: string, votes: number, voters: number): string =>
  `warning: from now on a majority of ${votes} vote${votes === 1 ? "" : "s"}, not of the ${voters} voters, certifies a holder of ${service}.
If the voters counted gone are not gone for good (powered off, wiped or fenced), but only cut off and
still running, or come back where they cannot reach the hosts that took this on, they can make a
majority of their own, and two hosts answer for one VIP. Before you bring one back, end this with
'umbra override ${service} --expect-votes ${voters}' (the configured majority): a returning host
can vote before the others hear it.
`;

const help = (cmd: string, s: Spec) => `usage: umbra ${s.usage}${cmd === "override" ? "" : " [--reason TEXT]"} [--key FILE] [--ttl-seconds N] [--api PATH|HOST:PORT] [--token-file FILE] [--config FILE] [--json]

${s.about}
The statement is signed with the operator's key; every host checks it
against [[operators]] in its own config, and the local agent passes it on.
'umbra status' shows what changed; 'umbra audit SERVICE' what each host did.
  --reason TEXT      why, for the audit trail${s.reasonRequired ? " (required)" : ""}${cmd === "override" ? "\n  --expect-votes N   the votes a majority is counted over (1 to the number of voters)\n  --yes              go ahead after the warning of what it risks (without it: the warning, exit 2)" : ""}
  --key FILE         the operator's key (umbra keygen --operator; default $${ENV_KEY})
  --ttl-seconds N    the statement is good for N seconds (default ${LIFETIME_S_DEFAULT}, at most ${STATEMENT_LIFETIME_MS_MAX / 1000})
${TARGET_HELP}
  --json             print the agent's answer as JSON
exit: 0 accepted and passed on; 1 refused by the agent (key, signature,
cluster, time, or this host's core: an override while more voters are alive)
or the agent did not answer; 2 a usage error or unknown name.
example: umbra ${EXAMPLES[cmd] ?? `${s.usage.replace("SERVICE", "web").replace("HOST", "h1")}`} --key ~/.umbra/ops.key
`;

const EXAMPLES: Record<string, string> = {
  move: "move web --to h2 --reason 'kernel update on h1'",
  maintenance: "maintenance h1 --reason 'disk swap'",
  override: "override web --expect-votes 1 --reason 'h2 and h3 lost in the fire' --yes",
};

/** The command `cmd` (a key of SPECS), as main.ts loads it. */
export function command(cmd: string): { run(rest: string[]): Promise<void> } {
  const spec = SPECS[cmd];
  if (spec === undefined) throw new Error(`no order command ${cmd}`);
  return { run: (rest) => run(cmd, spec, rest) };
}

async function run(cmd: string, spec: Spec, rest: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { rolling: { type: "boolean", default: false }, hosts: { type: "string" }, run: { type: "string" }, "wait-seconds": { type: "string", default: String(ROLLING_WAIT_S_DEFAULT) }, to: { type: "string" }, "expect-votes": { type: "string" }, yes: { type: "boolean", default: false }, reason: { type: "string", default: "" }, key: { type: "string" }, "ttl-seconds": { type: "string", default: String(LIFETIME_S_DEFAULT) }, ...TARGET_OPTIONS, json: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: true });
  } catch (err) {
    fail(EXIT.usage, [`${cmd}: ${(err as Error).message}`, `run 'umbra ${cmd} --help' for usage`]);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return void process.stdout.write(help(cmd, spec));
  const usage = (why: string): never => fail(EXIT.usage, [`${cmd}: ${why}`, `run 'umbra ${cmd} --help' for usage`]);
  if (v.rolling) return rollingFrom(cmd, v, positionals, usage);
  if (v.hosts !== undefined || v.run !== undefined || rest.some((a) => a.startsWith("--wait-seconds"))) usage("--hosts, --run and --wait-seconds are for 'umbra maintenance --rolling' only");
  if (positionals.length !== 1) usage(`name exactly one ${spec.names}`);
  if (cmd === "move" && (typeof v.to !== "string" || v.to === "")) usage("--to HOST is required");
  if (cmd !== "move" && v.to !== undefined) usage("--to is for 'umbra move' only");
  if (cmd !== "override" && (v["expect-votes"] !== undefined || v.yes)) usage("--expect-votes and --yes are for 'umbra override' only");
  const expectVotes = cmd === "override" ? Number(v["expect-votes"]) : null;
  if (cmd === "override" && !(Number.isInteger(expectVotes) && expectVotes! >= 1)) usage("--expect-votes N is required: a whole number from 1 to the number of the service's voters");
  if (spec.reasonRequired && v.reason === "") usage("--reason TEXT is required: it goes on record in the audit trail");
  const ttl = Number(v["ttl-seconds"]);
  if (!(Number.isInteger(ttl) && ttl >= 1 && ttl * 1000 <= STATEMENT_LIFETIME_MS_MAX)) usage(`--ttl-seconds must be a whole number from 1 to ${STATEMENT_LIFETIME_MS_MAX / 1000}`);
  const keyFile = v.key ?? process.env[ENV_KEY];
  if (keyFile === undefined || keyFile === "") usage(`--key FILE is required (or $${ENV_KEY}): the operator's key, made by 'umbra keygen --operator'`);
  const key = readKeyFile(keyFile!);
  const target = apiTargetOf({ api: v.api, tokenFile: v["token-file"], config: v.config });
  const name = positionals[0]!;
  const status = (await apiJson(target, "GET", "/status", undefined, REQUEST_TIMEOUT_MS)) as StatusDoc;
  checkNames(status, spec, name, v.to);
  if (expectVotes !== null) confirmOverride(status, name, expectVotes, v.yes!);
  const statement = signStatement(
    { cluster: status.cluster, action: spec.action, service: spec.names === "service" ? name : null, target: spec.names === "host" ? name : (v.to ?? null), expectVotes, reason: v.reason! },
    key,
    Date.now(),
    ttl * 1000,
  );
  const answer = await submit(target, statement);
  if (v.json) process.stdout.write(JSON.stringify(answer) + "\n");
  else process.stdout.write(`${describe(statement)}: accepted by ${status.host} and passed on to every host; here: ${answer.outcome ?? "no outcome yet"}. 'umbra status' shows the change, 'umbra audit' what each host did\n`);
  if (spec.action === "rejoin" && answer.outcome?.startsWith("noted") === true && !v.json) process.stdout.write(`${name} acts on it if it is connected now: 'umbra status' on ${name} shows whether it left safe mode (or run this against ${name}'s own API)\n`);
  if (answer.outcome?.startsWith("refused") === true) fail(EXIT.failure, [`${status.host} did not take it on: ${answer.outcome}`]);
}

/** `maintenance --rolling`: its options checked, then the walk (rolling.ts). */
async function rollingFrom(cmd: string, v: Record<string, string | boolean | undefined>, positionals: string[], usage: (why: string) => never): Promise<void> {
  if (cmd !== "maintenance") usage("--rolling is for 'umbra maintenance' only");
  if (positionals.length !== 0) usage("--rolling walks the hosts itself: name none (--hosts h1,h2,h3 picks them and their order)");
  if (v.reason === "") usage("--reason TEXT is required: it goes on record in the audit trail");
  const waitS = Number(v["wait-seconds"]);
  if (!(Number.isInteger(waitS) && waitS >= 1 && waitS <= 86_400)) usage("--wait-seconds must be a whole number from 1 to 86400");
  const ttl = Number(v["ttl-seconds"]);
  if (!(Number.isInteger(ttl) && ttl >= 1 && ttl * 1000 <= STATEMENT_LIFETIME_MS_MAX)) usage(`--ttl-seconds must be a whole number from 1 to ${STATEMENT_LIFETIME_MS_MAX / 1000}`);
  const keyFile = (v.key as string | undefined) ?? process.env[ENV_KEY];
  if (keyFile === undefined || keyFile === "") usage(`--key FILE is required (or $${ENV_KEY}): the operator's key, made by 'umbra keygen --operator'`);
  const hosts = typeof v.hosts === "string" ? v.hosts.split(",").map((h) => h.trim()).filter((h) => h !== "") : null;
  if (hosts !== null && (hosts.length === 0 || new Set(hosts).size !== hosts.length)) usage("--hosts names each host once, comma-separated (h1,h2,h3)");
  const { rolling } = await import("./rolling.ts");
  await rolling({ target: apiTargetOf({ api: v.api, tokenFile: v["token-file"], config: v.config }), keyFile: keyFile!, reason: v.reason as string, hosts, run: (v.run as string | undefined) ?? null, waitMs: waitS * 1000, ttlMs: ttl * 1000, json: v.json === true });
}

/** An override's count fits the service, and the operator has read what it risks. */
function confirmOverride(status: StatusDoc, service: string, votes: number, yes: boolean): void {
  const voters = status.services.find((s) => s.name === service)!.voters.length;
  if (votes > voters) fail(EXIT.usage, [`--expect-votes ${votes}: ${service} has ${voters} voters, so 1-${voters}`]);
  process.stderr.write(overrideWarning(service, votes, voters));
  if (!yes) fail(EXIT.usage, ["not signed: add --yes to go ahead"]);
}

/** The names the statement gives exist in the cluster the agent knows: a typo is the operator's input (exit 2), caught before signing. */
function checkNames(status: StatusDoc, spec: Spec, name: string, to: string | undefined): void {
  const hosts = status.members.map((m) => m.id);
  const services = status.services.map((s) => s.name);
  const bad = (what: string, x: string, known: string[]) => fail(EXIT.usage, [`no ${what} "${x}" in cluster "${status.cluster}" (${what}s: ${known.join(", ") || "none"})`]);
  if (spec.names === "service" && !services.includes(name)) bad("service", name, services);
  if (spec.names === "host" && !hosts.includes(name)) bad("host", name, hosts);
  if (to !== undefined) {
    const svc = status.services.find((s) => s.name === name)!;
    const candidates = [svc.primary, ...svc.shadows, ...(svc.spares ?? [])];
    if (!candidates.includes(to)) fail(EXIT.usage, [`"${to}" is not a candidate for "${name}" (candidates: ${candidates.join(", ")})`]);
  }
}

/** The agent's answer to a statement it accepted. */
export type Accepted = { accepted: true; order: { nonce: string; action: string; service: string | null; target: string | null }; /** What the agent's own core did with it; null if it did not say in time. */ outcome: string | null };

/** POST /statements: the agent's answer, or its refusal as an UmbraError (statement_refused, exit 1, with the reason). */
export async function submit(t: ApiTarget, statement: SignedStatement): Promise<Accepted> {
  return (await apiJson(t, "POST", "/statements", statement, REQUEST_TIMEOUT_MS)) as Accepted;
}

function describe(s: SignedStatement): string {
  switch (s.action) {
    case "move":
      return `move of ${s.service} to ${s.target}`;
    case "failover":
      return `failover of ${s.service}`;
    case "override":
      return `override of ${s.service}'s expected votes to ${s.expectVotes}`;
    default:
      return `${s.action} of ${s.target}`;
  }
}

