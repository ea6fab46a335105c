// `umbra install`: puts the single executable in place on a host, with what
// systemd needs to run it (README "Running it under systemd"):
//   BIN/umbra                          the executable (a copy of the one running)
//   the umbra group and system user    no home, no login shell
//   /etc/umbra                         0750 root:umbra (the config and keys go here)
//   /var/lib/umbra                     0750 umbra:umbra (state; systemd's StateDirectory keeps it so)
//   /etc/systemd/system/umbra.service  contrib/umbra.service, ExecStart/ExecStopPost naming BIN/umbra
//   /usr/share/bash-completion/completions/umbra   the bash completion (umbra completion bash)
// then `systemctl daemon-reload` when installing into the running system.
// Idempotent: what is already right is left alone; a unit that differs from
// ours (edited by hand) is kept beside it as umbra.service.bak.
// --root DIR installs into DIR as if it were / (a staged image; useradd and
// groupadd work on DIR/etc), and reloads nothing.

import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { dataFile } from "../shared/embedded.ts";
import { bashCompletion } from "./completion.ts";
import { COMMAND_NAMES } from "./commands.ts";

export type InstallOptions = {
  /** What / is: "/" for this system, or a staging folder. */
  root: string;
  /** Where the executable goes, as seen from inside root. */
  binDir: string;
  /** The executable to copy (the running one). */
  source: string;
  /** Runs a system command (groupadd, useradd, systemctl): its exit code and what it said. */
  exec(argv: string[]): { code: number; output: string };
  /** Reload systemd when done (installing into the running system). */
  reload: boolean;
};

export type InstallReport = { done: string[]; kept: string[] };

/** The shipped unit, with the executable's path where the unit names /usr/local/bin/umbra. */
export function unitFor(binDir: string, unit: string = dataFile("contrib/umbra.service").toString("utf8")): string {
  return unit.replaceAll("/usr/local/bin/umbra", join(binDir, "umbra"));
}

/** An entry's numeric id in an /etc/passwd- or /etc/group-style file under root; null when absent. */
function idOf(root: string, file: "passwd" | "group", name: string): number | null {
  const path = join(root, "etc", file);
  if (!existsSync(path)) return null;
  const line = readFileSync(path, "utf8").split("\n").find((l) => l.split(":")[0] === name);
  return line === undefined ? null : Number(line.split(":")[2]);
}

/** Writes `text` to `path` through a temporary file, unless it already holds exactly it; true when written. */
function writeIfChanged(path: string, text: string | Buffer, mode: number): boolean {
  const bytes = typeof text === "string" ? Buffer.from(text) : text;
  if (existsSync(path) && readFileSync(path).equals(bytes)) return false;
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
  return true;
}

function ensureAccount(o: InstallOptions, r: InstallReport): { uid: number; gid: number } {
  const prefix = o.root === "/" ? [] : ["--prefix", o.root];
  if (idOf(o.root, "group", "umbra") === null) {
    const g = o.exec(["groupadd", "--system", ...prefix, "umbra"]);
    if (g.code !== 0) throw new Error(`groupadd umbra failed (exit ${g.code}): ${g.output.trim()}`);
    r.done.push("group umbra");
  } else r.kept.push("group umbra");
  if (idOf(o.root, "passwd", "umbra") === null) {
    const u = o.exec(["useradd", "--system", ...prefix, "--gid", "umbra", "--no-create-home", "--home-dir", "/var/lib/umbra", "--shell", "/usr/sbin/nologin", "umbra"]);
    if (u.code !== 0) throw new Error(`useradd umbra failed (exit ${u.code}): ${u.output.trim()}`);
    r.done.push("user umbra");
  } else r.kept.push("user umbra");
  return { uid: idOf(o.root, "passwd", "umbra")!, gid: idOf(o.root, "group", "umbra")! };
}

/** A folder under root with this owner and mode, created or corrected. */
function ensureDir(o: InstallOptions, r: InstallReport, path: string, uid: number, gid: number, mode: number): void {
  const full = join(o.root, path);
  const existed = existsSync(full);
  mkdirSync(full, { recursive: true, mode });
  chownSync(full, uid, gid);
  chmodSync(full, mode);
  (existed ? r.kept : r.done).push(`${path} (${mode.toString(8)})`);
}

export function install(o: InstallOptions): InstallReport {
  const r: InstallReport = { done: [], kept: [] };
  const bin = join(o.root, o.binDir, "umbra");
  mkdirSync(join(o.root, o.binDir), { recursive: true });
  if (writeIfChanged(bin, readFileSync(o.source), 0o755)) r.done.push(join(o.binDir, "umbra"));
  else r.kept.push(join(o.binDir, "umbra"));
  const { uid, gid } = ensureAccount(o, r);
  ensureDir(o, r, "/etc/umbra", 0, gid, 0o750);
  ensureDir(o, r, "/var/lib/umbra", uid, gid, 0o750);
  const unitPath = join(o.root, "etc/systemd/system/umbra.service");
  mkdirSync(join(o.root, "etc/systemd/system"), { recursive: true });
  const unit = unitFor(o.binDir);
  if (existsSync(unitPath) && readFileSync(unitPath, "utf8") !== unit) {
    copyFileSync(unitPath, `${unitPath}.bak`);
    r.done.push("/etc/systemd/system/umbra.service.bak (the unit that was there)");
  }
  if (writeIfChanged(unitPath, unit, 0o644)) r.done.push("/etc/systemd/system/umbra.service");
  else r.kept.push("/etc/systemd/system/umbra.service");
  const completion = "/usr/share/bash-completion/completions/umbra";
  mkdirSync(join(o.root, dirname(completion)), { recursive: true });
  if (writeIfChanged(join(o.root, completion), bashCompletion(COMMAND_NAMES), 0o644)) r.done.push(completion);
  else r.kept.push(completion);
  if (o.reload) {
    const d = o.exec(["systemctl", "daemon-reload"]);
    if (d.code !== 0) throw new Error(`systemctl daemon-reload failed (exit ${d.code}): ${d.output.trim()}`);
    r.done.push("systemctl daemon-reload");
  }
  return r;
}
