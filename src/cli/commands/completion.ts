// `umbra completion bash`: prints the bash completion script (cli/completion.ts).
import { EXIT, fail, parse } from "../args.ts";

export const HELP = `usage: umbra completion bash

Prints a bash completion script: commands, each command's options, file
names after options that take one. Load it in the current shell with
  source <(umbra completion bash)
or for every shell: umbra completion bash > /usr/share/bash-completion/completions/umbra
('umbra install' puts it there).
`;

export async function run(rest: string[]): Promise<void> {
  const shell = rest.find((a) => !a.startsWith("-"));
  const v = parse("completion", rest.filter((a) => a !== shell), {});
  if (v.help) return void process.stdout.write(HELP);
  if (shell !== "bash") fail(EXIT.usage, [shell === undefined ? "completion: name the shell: umbra completion bash" : `completion: only bash is supported, not "${shell}"`]);
  const { COMMAND_NAMES } = await import("../commands.ts");
  const { bashCompletion } = await import("../completion.ts");
  process.stdout.write(bashCompletion(COMMAND_NAMES));
}
