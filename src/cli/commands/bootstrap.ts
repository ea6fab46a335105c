// `umbra bootstrap`: runs a hyperdht bootstrap node for sites without internet.
import { EXIT, fail, parse } from "../args.ts";

export const HELP = `usage: umbra bootstrap [--host 0.0.0.0] [--port 49737]

Runs a hyperdht bootstrap node: agents list it under bootstrap = ["host:port"].
Runs until SIGINT/SIGTERM.
  --host ADDR   address to bind (default 0.0.0.0)
  --port N      UDP port (default 49737)
`;

export async function run(rest: string[]): Promise<void> {
  const v = parse("bootstrap", rest, { host: { type: "string", default: "0.0.0.0" }, port: { type: "string", default: "49737" } });
  if (v.help) return void process.stdout.write(HELP);
  const port = Number(v.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(EXIT.usage, [`bootstrap: --port must be 1-65535, got "${v.port}"`]);
  const { default: DHT } = await import("hyperdht");
  const node = DHT.bootstrapper(port, v.host as string);
  try {
    await node.ready();
  } catch (err) {
    // A taken port is an operating error, not a bug. No destroy(): dht-rpc
    // closed the socket when the bind failed, and destroy() rethrows that.
    fail(EXIT.failure, [`bootstrap: cannot listen on ${v.host}:${port}: ${(err as Error).message}`]);
  }
  process.stdout.write(JSON.stringify({ event: "listening", host: v.host, port }) + "\n");
  await new Promise<void>((res) => {
    const stop = () => res();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await node.destroy();
  return;
}
