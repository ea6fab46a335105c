// `umbra state`: reads or changes a service's replicated deployment state.
import { loadConfigOrExit } from "../args.ts";

export const HELP = "see 'umbra state --help'";

export async function run(rest: string[]): Promise<void> {
  const { runState, parseStateArgs, STATE_HELP } = await import("../state.ts");
  const { values } = parseStateArgs(rest);
  if (values.help) return void process.stdout.write(STATE_HELP);
  let api = typeof values.api === "string" ? values.api : "127.0.0.1:7070";
  if (typeof values.config === "string" && typeof values.api !== "string") {
    api = loadConfigOrExit(values.config).api;
  }
  await runState(rest, { api });
  return;
}
