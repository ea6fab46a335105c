// `umbra release`: removes this host's VIPs after its agent stopped.
import { EXIT, fail, parse, loadConfigOrExit } from "../args.ts";

export const HELP = `usage: umbra release --config FILE [--json]

Removes every VIP the config names from this host, if present. A running
agent enforces leases; one killed with SIGKILL (or crashed) leaves its VIPs
in the kernel with nobody enforcing them, so run this after the agent stops,
whatever the reason (systemd: ExecStopPost=, see contrib/umbra.service).
Then removes the kernel-side lease's nftables tables (umbra_fence), only
when every VIP is gone: while one is still up, the fence keeps the host from
answering for it. Idempotent. Exits 1 if a present VIP could not be removed
or the fence could not be.
  --config FILE   the agent's configuration
  --json          one JSON object: {"removed": [...], "absent": [...], "failed": [...], "fence": "removed" | "kept" | "off" | "failed: ..."}
`;

export async function run(rest: string[]): Promise<void> {
  const v = parse("release", rest, { config: { type: "string" }, json: { type: "boolean", default: false } });
  if (v.help) return void process.stdout.write(HELP);
  if (typeof v.config !== "string") fail(EXIT.usage, ["release: --config FILE is required", "run 'umbra release --help' for usage"]);
  const config = loadConfigOrExit(v.config);
  const { removeFence, removeVip, vipPresent } = await import("../../actuate/index.ts");
  const out = { removed: [] as string[], absent: [] as string[], failed: [] as Array<{ vip: string; error: string }> };
  for (const s of config.services) {
    const vip = { cidr: s.vip, iface: s.interface };
    try {
      if (!(await vipPresent(vip))) {
        out.absent.push(s.vip);
        continue;
      }
      await removeVip(vip);
      out.removed.push(s.vip);
    } catch (err) {
      // No such interface here: it holds no address either.
      if (/does not exist|Cannot find device/i.test((err as Error).message)) out.absent.push(s.vip);
      else out.failed.push({ vip: s.vip, error: (err as Error).message });
    }
  }
  let fence = "off";
  if (config.fence && out.failed.length > 0) fence = "kept";
  else if (config.fence) fence = await removeFence().then(() => "removed", (err: Error) => `failed: ${err.message}`);
  if (v.json) process.stdout.write(JSON.stringify({ ...out, fence }) + "\n");
  else {
    for (const x of out.removed) process.stdout.write(`removed ${x}\n`);
    for (const x of out.absent) process.stdout.write(`absent ${x}\n`);
    for (const x of out.failed) process.stderr.write(`umbra: release: could not remove ${x.vip}: ${x.error}\n`);
    if (fence.startsWith("failed")) process.stderr.write(`umbra: release: could not remove the fence: ${fence.slice("failed: ".length)}\n`);
    else process.stdout.write(`fence ${fence}\n`);
  }
  process.exitCode = out.failed.length > 0 || fence.startsWith("failed") ? EXIT.failure : 0;
  return;
}
