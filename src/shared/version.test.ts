// Proves the version the CLI and the status document say is package.json's.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { VERSION } from "./version.ts";

test("VERSION is package.json's version", () => {
  const pkg = JSON.parse(readFileSync(join(import.meta.dir, "../../package.json"), "utf8")) as { version: string };
  expect(VERSION).toBe(pkg.version);
});
