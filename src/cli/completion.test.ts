// The bash completion, run by bash itself: command names, a command's
// options from its own --help, files after --config, the state verbs.
import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bashCompletion } from "./completion.ts";
import { COMMAND_NAMES } from "./commands.ts";
import { NODE } from "../demo/index.ts";

const MAIN = join(resolve(import.meta.dir, "../.."), "src/cli/main.ts");
const dir = mkdtempSync(join(tmpdir(), "umbra-completion-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What bash completes for the words typed so far (the last one being completed). */
function complete(words: string[]): string[] {
  const script = join(dir, "umbra.bash");
  writeFileSync(script, bashCompletion(COMMAND_NAMES));
  writeFileSync(join(dir, "cluster.toml"), "");
  // `umbra` is this checkout's CLI, as a function bash runs for a command's --help.
  const program = [`umbra() { ${JSON.stringify(NODE)} ${JSON.stringify(MAIN)} "$@"; }`, `source ${JSON.stringify(script)}`, `cd ${JSON.stringify(dir)}`, `COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(" ")})`, `COMP_CWORD=${words.length - 1}`, "_umbra", 'printf "%s\\n" "${COMPREPLY[@]}"'].join("\n");
  const r = spawnSync("bash", ["-c", program], { encoding: "utf8", timeout: 20_000 });
  expect(r.status).toBe(0);
  return r.stdout.split("\n").filter((l) => l !== "");
}

test("completes commands, options from the command's help, files after --config, and state verbs", () => {
  expect(complete(["umbra", "boot"])).toEqual(["bootstrap"]);
  expect(complete(["umbra", "m"]).sort()).toEqual(["maintenance", "move"]);
  expect(complete(["umbra", "bootstrap", "--no"]).sort()).toEqual(["--no-relay", "--nodes"]);
  expect(complete(["umbra", "status", "--config", "clu"])).toEqual(["cluster.toml"]);
  expect(complete(["umbra", "state", "h"])).toEqual(["history"]);
});
