// Proves the vote record's file contract: what is written reads back the
// same; no file is "nothing known"; a corrupt, foreign or unreadable file
// stops the agent with a code that says so, rather than let it guess.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadRecord, recordFile, writeRecord } from "./records.ts";
import { logger } from "../shared/log.ts";
import type { HostId } from "../shared/ids.ts";

const dir = mkdtempSync(join(tmpdir(), "umbra-records-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const log = logger("t", "error");

test("a written record reads back the same, and leaves no temporary file", async () => {
  const rec = { epoch: 3, holder: "a" as HostId, cert: { service: "web", epoch: 3, holder: "a" as HostId, from: null, reason: "initial" as const, votes: [{ voter: "a" as HostId, sig: "00" }] }, votedEpoch: 4, votedHolder: "b" as HostId };
  await writeRecord(dir, "web", rec);
  expect(loadRecord(dir, "web", log)).toEqual(rec);
  expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
});

test("no file: nothing known (a first start or a lost disk)", () => {
  expect(loadRecord(dir, "none", log)).toBeNull();
});

test.each([
  ["not JSON", "{epoch:", /vote_record_corrupt|is corrupt/],
  ["not a record", JSON.stringify({ epoch: -1, holder: null, cert: null, votedEpoch: 0, votedHolder: null }), /is not a vote record/],
  ["a certificate of another epoch", JSON.stringify({ epoch: 2, holder: "a", cert: { epoch: 1 }, votedEpoch: 2, votedHolder: "a" }), /is not a vote record/],
])("a corrupt file (%s) stops the agent, named", (_, text, message) => {
  writeFileSync(recordFile(dir, "bad"), text);
  expect(() => loadRecord(dir, "bad", log)).toThrow(message);
  try {
    loadRecord(dir, "bad", log);
  } catch (e) {
    expect((e as { code: string }).code).toBe("vote_record_corrupt");
  }
});

test("an unreadable record (here a directory where the file should be) is vote_record_unreadable", () => {
  mkdirSync(recordFile(dir, "dir"));
  expect(() => loadRecord(dir, "dir", log)).toThrow(/cannot read/);
});

test("a record JSON would not carry faithfully (a NaN, an undefined) is a bug: the write asserts and leaves the old file", async () => {
  const good = { epoch: 1, holder: "a" as HostId, cert: null, votedEpoch: 1, votedHolder: "a" as HostId };
  await writeRecord(dir, "rt", good);
  await expect(writeRecord(dir, "rt", { ...good, votedEpoch: Number.NaN })).rejects.toThrow(/round-trips/);
  await expect(writeRecord(dir, "rt", { ...good, votedHolder: undefined as unknown as HostId })).rejects.toThrow(/round-trips/);
  const cert = { service: "web", epoch: 1, holder: "a" as HostId, from: null, reason: "initial" as const, votes: [{ voter: "a" as HostId, sig: Number.NaN as unknown as string }] };
  await expect(writeRecord(dir, "rt", { ...good, cert })).rejects.toThrow(/round-trips/); // well-formed once parsed, but not the same
  expect(loadRecord(dir, "rt", log)).toEqual(good);
});
