// Proves the standings on disk: written (the latest of quick writes wins)
// and read back; a damaged file or entry is said and ignored, not fatal.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadStandings, standingsWriter, STANDINGS_FILE } from "./standings.ts";

const dir = mkdtempSync(join(tmpdir(), "umbra-standings-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("written, the latest winning, and read back; damage is said and ignored", async () => {
  const logged: string[] = [];
  const log = (_l: string, _p: string, event: string) => void logged.push(event);
  const write = standingsWriter(dir, log);
  write({ h1: { mode: "standby", reason: "a", nonce: "n1", issuedAtMs: 1 } } as never);
  write({ h1: { mode: "maintenance", reason: "disk swap", nonce: "n2", issuedAtMs: 2 } } as never);
  for (let i = 0; i < 100 && loadStandings(dir, log)["h1"]?.nonce !== "n2"; i++) await new Promise((r) => setTimeout(r, 10));
  expect(loadStandings(dir, log)).toEqual({ h1: { mode: "maintenance", reason: "disk swap", nonce: "n2", issuedAtMs: 2 } });
  writeFileSync(join(dir, STANDINGS_FILE), '{"h1": {"mode": "asleep"}, "h2": {"mode": "active", "reason": "", "nonce": "n3", "issuedAtMs": 3}}');
  expect(loadStandings(dir, log)).toEqual({ h2: { mode: "active", reason: "", nonce: "n3", issuedAtMs: 3 } });
  writeFileSync(join(dir, STANDINGS_FILE), "{not json");
  expect(loadStandings(dir, log)).toEqual({});
  expect(logged).toEqual(["standings-unreadable"]);
});
