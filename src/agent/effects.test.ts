// Proves the effect applier keeps the vote record's promise: a vote goes
// out, signed, only once its record is on disk; a vote whose record could
// not be written is not sent, nor one re-sent while the latest write
// failed (only that service's votes are held back); every other message
// (renewals, membership probes) goes at once, before the record lands.
// Real record files, real keys.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeyPair } from "../shared/identity.ts";
import { logger } from "../shared/log.ts";
import type { HostId } from "../shared/ids.ts";
import type { HostEffect } from "../decide/index.ts";
import type { WireMsg } from "../mesh/index.ts";
import { effectApplier } from "./effects.ts";
import { Observed } from "./observed.ts";
import { loadRecord, RecordWriter } from "./records.ts";
import { signatures } from "./signatures.ts";

const dir = mkdtempSync(join(tmpdir(), "umbra-effects-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const log = logger("a", "error");
const a = "a" as HostId;
const b = "b" as HostId;
const keys = generateKeyPair();
const sigs = signatures(keys.secretKey, new Map([[a, keys.publicKey]]), log);

function applier(stateDir: string) {
  const sent: Array<{ to: HostId; msg: WireMsg }> = [];
  const logged: string[] = [];
  const records = new RecordWriter(stateDir, () => logged.push("vote-record-failed"));
  const apply = effectApplier({
    self: a, records, log: (_level, _part, event) => logged.push(event), sigs, send: (to, msg) => sent.push({ to, msg }),
    runners: { changeVip: () => undefined, kernelLease: () => undefined, startHook: () => undefined, reconcileAfterFailover: () => undefined, pool: () => undefined, migrate: () => undefined },
    services: new Map(), observed: new Observed(), replicator: { onEffect: () => undefined, setCold: () => undefined }, forecasting: null, now: () => 0, orderApplied: () => undefined, standingsChanged: () => undefined, votesChanged: () => undefined, diagnose: () => undefined, safeModeChanged: () => undefined,
  });
  return { sent, logged, apply, records };
}

const record = { epoch: 1, holder: b, cert: null, votedEpoch: 2, votedHolder: b };
const vote = (service: string): HostEffect => ({ type: "send", to: b, msg: { type: "vote", service, epoch: 2, holder: b, from: null, reason: "initial", voter: a, boot: 7 } });
const pingMsg: WireMsg = { type: "ping", seq: 1, updates: [] };
const ping: HostEffect = { type: "send", to: b, msg: pingMsg };

const renew = (service: string): HostEffect => ({ type: "send", to: b, msg: { type: "renew", service, epoch: 1, holder: a, seq: 3, boot: 7 } as never });

test("a recorded vote goes out signed, once its record is on disk; a renewal and a ping go at once, as they are", async () => {
  const { sent, apply, records } = applier(dir);
  apply([{ type: "persist", service: "web", record }, vote("web"), renew("web"), ping]);
  expect(sent.map((s) => s.msg.type)).toEqual(["renew", "ping"]); // the fsync is not done yet
  await records.drained();
  await Promise.resolve();
  expect(loadRecord(dir, "web", log)).toEqual(record);
  expect(sent.map((s) => s.msg.type)).toEqual(["renew", "ping", "vote"]);
  const signed = sent[2]!.msg as Extract<WireMsg, { type: "vote" }>;
  expect(signed.sig).toMatch(/^[0-9a-f]{128}$/);
  expect(sigs.verify(a, signed)).toBe(true);
  expect(sent[1]!.msg).toBe(pingMsg);
});

test("records of a service land in the order emitted: the file ends as the latest", async () => {
  const { apply, records } = applier(dir);
  const later = { ...record, votedEpoch: 3 };
  apply([{ type: "persist", service: "ordered", record }, { type: "persist", service: "ordered", record: later }]);
  await records.drained();
  expect(loadRecord(dir, "ordered", log)).toEqual(later);
});

test("a vote whose record cannot be written is not sent, nor one re-sent later; other services and probes still go", async () => {
  const notADir = join(dir, "file");
  writeFileSync(notADir, "");
  const { sent, logged, apply, records } = applier(notADir);
  apply([{ type: "persist", service: "web", record }, vote("web"), vote("db"), ping]);
  await records.drained();
  await Promise.resolve();
  apply([vote("web")]); // the core re-sends its vote: the record is still not on disk
  expect(logged).toEqual(["vote-record-failed", "vote-not-sent", "vote-not-sent"]);
  expect(sent.map((s) => [s.msg.type, "service" in s.msg ? s.msg.service : null])).toEqual([["vote", "db"], ["ping", null]]);
});
