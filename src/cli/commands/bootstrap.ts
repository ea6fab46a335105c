// `umbra bootstrap`: runs the DHT nodes agents bootstrap from, for sites
// without the public DHT.
//
// Several nodes, not one: an agent behind NAT learns what kind of NAT it is
// (and so whether and how to punch through it) by asking at least three DHT
// nodes which address they see it at (hyperdht's lib/nat.js pings up to
// four). Agents behind NAT never become DHT nodes themselves, so a cluster
// whose hosts all sit behind NAT has only the nodes started here: with one,
// no agent ever classified its NAT and no pair connected (issue 16's lab).
//
// And a relay: two hosts behind NATs that draw random ports cannot punch
// through to each other, and this is the one host they both reach. It is
// blind (mesh/relay.ts): the pair's traffic stays end-to-end encrypted
// between their own keys. Its key follows from --host and --port, so agents
// listing this bootstrap entry know it.
import { EXIT, fail, parse } from "../args.ts";
import { isIPv4 } from "node:net";
import { readFileSync } from "node:fs";
import { parse as parseToml } from "smol-toml";
import { bootstrapRelayKeyPair, startRelay } from "../../mesh/index.ts";

/** DHT nodes run by default: hyperdht samples up to four for its NAT classification. */
export const BOOTSTRAP_NODES_DEFAULT = 4;
/** Most nodes one command runs. */
export const BOOTSTRAP_NODES_MAX = 16;

export const HELP = `usage: umbra bootstrap --host ADDR [--port 49737] [--nodes ${BOOTSTRAP_NODES_DEFAULT}] [--relay-for CONFIG]... [--no-relay]

Runs the DHT nodes agents bootstrap from, for sites without the public DHT.
Agents list the first under bootstrap = ["ADDR:PORT"] and find the others
through it. Runs until SIGINT/SIGTERM.
  --host ADDR   the IPv4 address agents reach this host at; the nodes listen there only
  --port N      the first node's UDP port (default 49737); node i listens on PORT+i
  --nodes N     nodes to run, 1-${BOOTSTRAP_NODES_MAX} (default ${BOOTSTRAP_NODES_DEFAULT}): an agent behind NAT needs replies
                from at least three to learn what kind of NAT it is behind
  --relay-for CONFIG
                relay only for the hosts listed under [[hosts]] in this cluster
                config (repeat it for several clusters); without it the relay
                links any two keys that ask
  --no-relay    relay for no one: by default this host relays (blind, end-to-end
                encrypted) for agents whose NATs cannot be punched through
`;

/** The public keys (hex) listed under [[hosts]] in each cluster config, or what is wrong with a file. */
export function relayAllowList(files: readonly string[]): { keys: Set<string> } | { errors: string[] } {
  const keys = new Set<string>();
  const errors: string[] = [];
  for (const f of files) {
    let doc: unknown;
    try {
      doc = parseToml(readFileSync(f, "utf8"));
    } catch (err) {
      errors.push(`bootstrap: --relay-for ${f}: ${(err as Error).message.split("\n")[0]}`);
      continue;
    }
    const hosts = (doc as { hosts?: unknown }).hosts;
    const found = Array.isArray(hosts) ? hosts.map((h) => (h as { publicKey?: unknown }).publicKey).filter((k): k is string => typeof k === "string" && /^[0-9a-f]{64}$/.test(k)) : [];
    if (found.length === 0) errors.push(`bootstrap: --relay-for ${f}: no [[hosts]] entry with a publicKey (64 hex characters)`);
    for (const k of found) keys.add(k);
  }
  return errors.length > 0 ? { errors } : { keys };
}


export async function run(rest: string[]): Promise<void> {
  const v = parse("bootstrap", rest, { host: { type: "string" }, port: { type: "string", default: "49737" }, nodes: { type: "string", default: String(BOOTSTRAP_NODES_DEFAULT) }, "no-relay": { type: "boolean", default: false }, "relay-for": { type: "string", multiple: true } });
  if (v.help) return void process.stdout.write(HELP);
  const host = v.host as string | undefined;
  const port = Number(v.port);
  const count = Number(v.nodes);
  const errors: string[] = [];
  if (host === undefined) errors.push("bootstrap: --host is required: the IPv4 address agents reach this host at (0.0.0.0 cannot be told to them)");
  else if (!isIPv4(host) || host === "0.0.0.0") errors.push(`bootstrap: --host must be this host's IPv4 address, got "${host}"`);
  if (!Number.isInteger(count) || count < 1 || count > BOOTSTRAP_NODES_MAX) errors.push(`bootstrap: --nodes must be 1-${BOOTSTRAP_NODES_MAX}, got "${v.nodes}"`);
  else if (!Number.isInteger(port) || port < 1 || port + count - 1 > 65535) errors.push(`bootstrap: --port must be 1-${65536 - (Number.isInteger(count) ? count : 1)} (${count} nodes from it), got "${v.port}"`);
  const allow = relayAllowList((v["relay-for"] as string[] | undefined) ?? []);
  if ("errors" in allow) errors.push(...allow.errors);
  if (errors.length > 0 || "errors" in allow) fail(EXIT.usage, errors);
  const { default: DHT } = await import("hyperdht");
  const nodes: Array<{ ready(): Promise<void>; destroy(): Promise<void> }> = [];
  for (let i = 0; i < count; i++) {
    // Each binds the given address only, so two commands on one machine (two
    // addresses) do not collide; each but the first joins the first.
    const node = DHT.bootstrapper(port + i, host!, { host, ...(i === 0 ? {} : { bootstrap: [{ host, port }] }) });
    try {
      await node.ready();
    } catch (err) {
      // A taken port is an operating error, not a bug. No destroy() of this
      // one: dht-rpc closed the socket when the bind failed, and destroy()
      // rethrows that.
      await Promise.all(nodes.map((n) => n.destroy()));
      fail(EXIT.failure, [`bootstrap: cannot listen on ${host}:${port + i}: ${(err as Error).message}`]);
    }
    nodes.push(node);
  }
  const ports = nodes.map((_, i) => port + i);
  process.stdout.write(JSON.stringify({ event: "listening", host, port, ports }) + "\n");
  const say = (level: string, _part: string, event: string, fields: Record<string, unknown> = {}) => {
    if (level !== "debug") process.stdout.write(JSON.stringify({ event, ...fields }) + "\n");
  };
  const relay =
    v["no-relay"] === true
      ? null
      : await startRelay(nodes[0], bootstrapRelayKeyPair(host!, port), (hex) => allow.keys.size === 0 || allow.keys.has(hex), say, (a, b, on) => say("info", "relay", on ? "relaying" : "relaying-ended", { between: [a.toString("hex"), b.toString("hex")] })).catch((err: Error) => {
          say("warn", "relay", "relay-failed", { error: err.message, effect: "no relay here: agents whose NATs cannot be punched through reach each other only through other hosts" });
          return null;
        });
  if (relay !== null) say("info", "relay", "relay-listening", { publicKey: relay.publicKey.toString("hex"), for: allow.keys.size === 0 ? "any key" : `${allow.keys.size} host key(s)` });
  await new Promise<void>((res) => {
    const stop = () => res();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  relay?.close();
  await Promise.all(nodes.map((n) => n.destroy()));
}
