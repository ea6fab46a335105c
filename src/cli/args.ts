// What every command shares: failing with an exit code and a message on
// stderr, strict option parsing, and loading the config (a bad file is a
// usage error, exit 2, with every problem listed).

import { parseArgs } from "node:util";
import { isUmbraError, type ErrorCode } from "../shared/errors.ts";
import { formatConfigError, loadConfig, type Config } from "../shared/config.ts";
import { resolveTarget, type ApiTarget, type TargetOptions } from "../apiclient/index.ts";

/** The CLI's exit codes: 1 a runtime failure, 2 the operator's input (usage, config, a request the agent refused as malformed), 70 a bug (EX_SOFTWARE). */
export const EXIT = { failure: 1, usage: 2, bug: 70 } as const;

/** Expected failures the operator fixes by changing what they typed or wrote: exit 2. */
const USAGE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(["usage", "request_invalid", "config_invalid"]);

/** The exit code of an expected failure. */
export function exitCodeOf(code: ErrorCode): number {
  return USAGE_CODES.has(code) ? EXIT.usage : EXIT.failure;
}

export function fail(code: number, lines: string[]): never {
  for (const l of lines) process.stderr.write(`umbra: ${l}\n`);
  process.exit(code);
}

export function parse(cmd: string, argv: string[], options: Record<string, { type: "string" | "boolean"; default?: string | boolean; multiple?: boolean }>) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: false }).values as Record<string, string | boolean | string[] | undefined>;
  } catch (err) {
    fail(EXIT.usage, [`${cmd}: ${(err as Error).message}`, `run 'umbra ${cmd} --help' for usage`]);
  }
}

export function loadConfigOrExit(file: string): Config {
  try {
    return loadConfig(file);
  } catch (err) {
    if (isUmbraError(err) && (err.code === "config_invalid" || err.code === "config_unreadable")) fail(EXIT.usage, formatConfigError(err));
    throw err;
  }
}

/** The agent's API from --api, --token-file, --config (client.ts); a bad config exits as loadConfigOrExit does. */
export function apiTargetOf(v: TargetOptions): ApiTarget {
  return resolveTarget(v, loadConfigOrExit);
}

/** The options every command that talks to the agent takes. */
export const TARGET_OPTIONS = { api: { type: "string" }, "token-file": { type: "string" }, config: { type: "string" } } as const;
