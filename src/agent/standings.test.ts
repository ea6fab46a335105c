// Proves the standings on disk: written (the latest of quick writes wins)
// and read back; a damaged file or entry is said and ignored, not fatal.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadStandings, loadVoteStandings, standingsWriter, STANDINGS_FILE, voteStandingsWriter, VOTES_FILE } from "./standings.ts";

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

test("overrides: written with whether each was taken on and who was heard, the latest winning, and read back; a count below 1 is ignored", async () => {
  const logged: string[] = [];
  const log = (_l: string, _p: string, event: string) => void logged.push(event);
  const write = voteStandingsWriter(dir, log);
  write({ web: { votes: 2, reason: "a", nonce: "n1", issuedAtMs: 1 } }, { web: { taken: true, heard: ["h1"] as never } });
  write({ web: { votes: 1, reason: "h2, h3 burned", nonce: "n2", issuedAtMs: 2 } }, { web: { taken: true, heard: ["h1", "h2"] as never } });
  for (let i = 0; i < 100 && loadVoteStandings(dir, log).votes["web"]?.nonce !== "n2"; i++) await new Promise((r) => setTimeout(r, 10));
  expect(loadVoteStandings(dir, log)).toEqual({ votes: { web: { votes: 1, reason: "h2, h3 burned", nonce: "n2", issuedAtMs: 2 } }, kept: { web: { taken: true, heard: ["h1", "h2"] as never } } });
  writeFileSync(join(dir, VOTES_FILE), '{"web": {"votes": 0, "reason": "", "nonce": "n3", "issuedAtMs": 3}, "db": {"votes": 3, "reason": "", "nonce": "n4", "issuedAtMs": 4, "taken": false}}');
  expect(loadVoteStandings(dir, log)).toEqual({ votes: { db: { votes: 3, reason: "", nonce: "n4", issuedAtMs: 4 } }, kept: { db: { taken: false, heard: [] } } } as never);
  expect(logged).toEqual([]);
});
