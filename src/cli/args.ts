// What every command shares: failing with an exit code and a message on
// stderr, strict option parsing, and loading the config (a bad file is a
// usage error, exit 2, with every problem listed).

import { parseArgs } from "node:util";
import { isUmbraError } from "../shared/errors.ts";
import { formatConfigError, loadConfig, type Config } from "../shared/config.ts";

export function fail(code: number, lines: string[]): never {
  for (const l of lines) process.stderr.write(`umbra: ${l}\n`);
  process.exit(code);
}

export function parse(cmd: string, argv: string[], options: Record<string, { type: "string" | "boolean"; default?: string | boolean }>) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (err) {
    fail(2, [`${cmd}: ${(err as Error).message}`, `run 'umbra ${cmd} --help' for usage`]);
  }
}

export function loadConfigOrExit(file: string): Config {
  try {
    return loadConfig(file);
  } catch (err) {
    if (isUmbraError(err) && (err.code === "config_invalid" || err.code === "config_unreadable")) fail(2, formatConfigError(err));
    throw err;
  }
}
