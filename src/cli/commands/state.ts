// `umbra state`: reads or changes a service's replicated deployment state.
import { apiTargetOf } from "../args.ts";

export const HELP = "see 'umbra state --help'";

export async function run(rest: string[]): Promise<void> {
  const { runState, parseStateArgs, STATE_HELP } = await import("../state.ts");
  const { values } = parseStateArgs(rest);
  if (values.help) return void process.stdout.write(STATE_HELP);
  await runState(rest, { target: apiTargetOf({ api: values.api, tokenFile: values["token-file"], config: values.config }) });
}
