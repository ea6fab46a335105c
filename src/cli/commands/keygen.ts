// `umbra keygen`: writes an ed25519 key pair for a host.
import { EXIT, fail, parse } from "../args.ts";
import { generateKeyPair, writeKeyFile } from "../../shared/identity.ts";

export const HELP = `usage: umbra keygen --out FILE [--operator] [--force] [--json]

Writes an ed25519 key pair as JSON, mode 0600, and prints the public key to
list under [[hosts]] in every host's config; with --operator, an operator's
key, whose public key goes under [[operators]] (name, publicKey) in every
host's config, and which signs umbra move, failover, standby, maintenance.
  --out FILE   where to write it (refuses to overwrite)
  --operator   an operator's key (keep it on the operator's machine, not on the hosts)
  --force      overwrite an existing file
  --json       print {"publicKey": ..., "file": ...}
example: umbra keygen --out /etc/umbra/h1.key
         umbra keygen --operator --out ~/.umbra/ops.key
`;

export async function run(rest: string[]): Promise<void> {
  const v = parse("keygen", rest, { out: { type: "string" }, operator: { type: "boolean", default: false }, force: { type: "boolean", default: false }, json: { type: "boolean", default: false } });
  if (v.help) return void process.stdout.write(HELP);
  if (typeof v.out !== "string") fail(EXIT.usage, ["keygen: --out FILE is required", "run 'umbra keygen --help' for usage"]);
  const kp = generateKeyPair();
  writeKeyFile(v.out, kp, { force: v.force === true });
  const pk = kp.publicKey.toString("hex");
  process.stdout.write(v.json ? JSON.stringify({ publicKey: pk, file: v.out }) + "\n" : `${pk}\n`);
  const where = v.operator ? '[[operators]] (with name = "...")' : "[[hosts]]";
  if (!v.json) process.stderr.write(`wrote ${v.out} (mode 0600); list the public key above under ${where} in every host's config\n`);
  return;
}
