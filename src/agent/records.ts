// Vote records: what a voter must not forget across a restart, one file per
// service (`quorum-SERVICE.json` in the state directory). Written
// synchronously and durably (file fsync, rename, directory fsync) before the
// vote it guards is sent; read once at start. A missing file is a first
// start or a lost disk (the host core treats both alike); an unreadable or
// corrupt one stops the agent, for guessing could sign a second vote.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { assert } from "../shared/assert.ts";
import { UmbraError } from "../shared/errors.ts";
import type { Logger } from "../shared/log.ts";
import type { Persisted } from "../decide/index.ts";

export const recordFile = (stateDir: string, service: string): string => join(stateDir, `quorum-${service}.json`);

/** The record of a service, or null when there is none. */
export function loadRecord(stateDir: string, service: string, log: Logger): Persisted | null {
  const file = recordFile(stateDir, service);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new UmbraError("vote_record_unreadable", `cannot read ${file}: ${(err as Error).message}`, { file }, err);
  }
  let p: Persisted;
  try {
    p = JSON.parse(text) as Persisted;
  } catch (err) {
    throw new UmbraError("vote_record_corrupt", `${file} is corrupt (${(err as Error).message}); it holds this host's votes, so umbra will not guess: move it away only if this host has been down for longer than a lease`, { file }, err);
  }
  if (!wellFormed(p)) throw new UmbraError("vote_record_corrupt", `${file} is not a vote record (epoch, holder, cert, votedEpoch, votedHolder); it holds this host's votes, so umbra will not guess`, { file });
  log("info", "agent", "state-loaded", { service, epoch: p.epoch, holder: p.holder, votedEpoch: p.votedEpoch });
  return p;
}

/** Writes a service's record durably; throws (an operating error, not a bug) when the disk refuses. */
export function writeRecord(stateDir: string, service: string, record: Persisted): void {
  const file = recordFile(stateDir, service);
  const tmp = `${file}.tmp`;
  const text = JSON.stringify(record);
  const back = JSON.parse(text) as Persisted;
  assert(wellFormed(back) && sameRecord(back, record), "a vote record round-trips: what is written parses back to the same record");
  writeFileSync(tmp, text);
  const fd = openSync(tmp, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  // The rename itself must survive a power cut: sync the directory too.
  const dfd = openSync(stateDir, "r");
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/** The fields a voter must not forget, equal in both (a NaN or an undefined would not survive JSON). */
function sameRecord(a: Persisted, b: Persisted): boolean {
  const certOf = (p: Persisted) => (p.cert === null ? null : { epoch: p.cert.epoch, holder: p.cert.holder, from: p.cert.from, votes: p.cert.votes.map((v) => `${v.voter}:${v.sig}`).join() });
  const ca = certOf(a);
  const cb = certOf(b);
  const certsEqual = ca === null || cb === null ? ca === cb : ca.epoch === cb.epoch && ca.holder === cb.holder && ca.from === cb.from && ca.votes === cb.votes;
  return a.epoch === b.epoch && a.holder === b.holder && a.votedEpoch === b.votedEpoch && a.votedHolder === b.votedHolder && certsEqual;
}

function wellFormed(p: Persisted): boolean {
  const epoch = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0;
  const host = (x: unknown) => x === null || typeof x === "string";
  return typeof p === "object" && p !== null && epoch(p.epoch) && epoch(p.votedEpoch) && host(p.holder) && host(p.votedHolder) && (p.cert === null || (typeof p.cert === "object" && p.cert.epoch === p.epoch));
}
