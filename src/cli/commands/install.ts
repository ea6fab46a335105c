// `umbra install`: the built executable puts itself in place (src/cli/install.ts).
import { spawnSync } from "node:child_process";
import { EXIT, fail, parse } from "../args.ts";
import { isExecutable } from "../../shared/embedded.ts";

export const HELP = `usage: umbra install [--bin-dir DIR] [--root DIR] [--json]

Run from the single executable (npm run build makes dist/umbra), as root.
Copies it to DIR/umbra (default /usr/local/bin), creates the umbra group
and system user, /etc/umbra (0750 root:umbra) and /var/lib/umbra (0750
umbra:umbra), writes /etc/systemd/system/umbra.service naming it and the bash completion
(/usr/share/bash-completion/completions/umbra), and runs systemctl
daemon-reload. What is already right is left alone; a unit edited
by hand is kept as umbra.service.bak. Next: umbra keygen, the config in
/etc/umbra/umbra.toml, systemctl enable --now umbra (README "Bringing up a
cluster of three hosts").
  --bin-dir DIR  where the executable goes (default /usr/local/bin)
  --root DIR     install into DIR as if it were / (an image being staged); no reload
  --json         {"done": [...], "kept": [...]}
`;

export async function run(rest: string[]): Promise<void> {
  const v = parse("install", rest, { "bin-dir": { type: "string", default: "/usr/local/bin" }, root: { type: "string", default: "/" }, json: { type: "boolean", default: false } });
  if (v.help) return void process.stdout.write(HELP);
  if (!isExecutable()) fail(EXIT.usage, ["install: run it from the built executable (npm run build, then dist/umbra install); a checkout runs from its folder (bin/umbra)"]);
  if (process.getuid?.() !== 0) fail(EXIT.usage, ["install: run it as root (it creates a system user and writes under /etc and /usr/local)"]);
  const binDir = String(v["bin-dir"]);
  if (!binDir.startsWith("/")) fail(EXIT.usage, [`install: --bin-dir ${binDir}: an absolute path, as the unit will name it`]);
  const root = String(v.root);
  const { install } = await import("../install.ts");
  const exec = (argv: string[]) => {
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8" });
    return { code: r.status ?? 1, output: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? r.error.message : ""}` };
  };
  const report = install({ root, binDir, source: process.execPath, exec, reload: root === "/" });
  if (v.json) return void process.stdout.write(JSON.stringify(report) + "\n");
  for (const d of report.done) process.stdout.write(`installed ${d}\n`);
  for (const k of report.kept) process.stdout.write(`already in place: ${k}\n`);
  process.stdout.write("next: umbra keygen --out /etc/umbra/HOST.key, write /etc/umbra/umbra.toml, systemctl enable --now umbra\n");
}
