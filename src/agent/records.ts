// Vote records: what a voter must not forget across a restart, one file per
// service (`quorum-SERVICE.json` in the state directory). Written durably
// (file fsync, rename, directory fsync) off the loop, one at a time per
// service in the order the core emitted them (RecordWriter); a vote goes out
// only once every record emitted before it is on disk. Read once at start. A
// missing file is a first start or a lost disk (the host core treats both
// alike); an unreadable or corrupt one stops the agent, for guessing could
// sign a second vote.

import { readFileSync } from "node:fs";
import { open, rename } from "node:fs/promises";
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

/** A record as its file holds it; asserts that it reads back the same (a NaN or an undefined would not: a bug). */
function encodeRecord(record: Persisted): string {
  const text = JSON.stringify(record);
  const back = JSON.parse(text) as Persisted;
  assert(wellFormed(back) && sameRecord(back, record), "a vote record round-trips: what is written parses back to the same record");
  return text;
}

/** Writes a service's record durably; rejects (an operating error, not a bug) when the disk refuses. */
export async function writeRecord(stateDir: string, service: string, record: Persisted): Promise<void> {
  await writeRecordText(stateDir, service, encodeRecord(record));
}

async function writeRecordText(stateDir: string, service: string, text: string): Promise<void> {
  const file = recordFile(stateDir, service);
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, "w");
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  // The rename itself must survive a power cut: sync the directory too.
  const dh = await open(stateDir, "r");
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/**
 * The vote records of every service, written off the loop: an fsync takes
 * milliseconds (tens on an SD card), and a handover's certificate, renewals
 * and grants must not wait behind one. Per service the writes go one at a
 * time, in the order emitted, so the file ends as the latest record. Only a
 * vote waits for them: a vote is a promise the record keeps across a
 * restart, so it goes out once every record emitted before it is on disk
 * (its own among them), and not at all while the service's latest write
 * failed. Nothing else a host sends depends on its record (grants are
 * covered by the restart wait, certificates carry their own signatures), so
 * a crash before a record lands loses only what no sent vote needed.
 */
export class RecordWriter {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly failed = new Set<string>();
  private readonly stateDir: string;
  private readonly onError: (service: string, err: Error) => void;

  constructor(stateDir: string, onError: (service: string, err: Error) => void) {
    this.stateDir = stateDir;
    this.onError = onError;
  }

  /** Queues a record after those of its service already queued. */
  write(service: string, record: Persisted): void {
    const text = encodeRecord(record); // a bug asserts here, on the loop
    const prev = this.tails.get(service) ?? Promise.resolve();
    const next = prev.then(async () => {
      try {
        await writeRecordText(this.stateDir, service, text);
        this.failed.delete(service);
      } catch (err) {
        this.failed.add(service);
        this.onError(service, err as Error);
      }
    });
    this.tails.set(service, next);
    void next.then(() => {
      if (this.tails.get(service) === next) this.tails.delete(service);
    });
  }

  /** Runs `f` once every record of the service queued so far is written (at once if none is queued): with true if the latest is on disk. */
  afterWrites(service: string, f: (onDisk: boolean) => void): void {
    const tail = this.tails.get(service);
    if (tail === undefined) f(!this.failed.has(service));
    else void tail.then(() => f(!this.failed.has(service)));
  }

  /** Every record queued so far written, or refused (the agent's stop). */
  async drained(): Promise<void> {
    await Promise.all(this.tails.values());
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
