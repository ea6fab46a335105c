// Proves the effect applier keeps the vote record's promise: a vote whose
// record could not be written is not sent (and only that service's
// messages are held back), a vote whose record is on disk goes out signed,
// and membership probes go out unsigned. Real record files, real keys.
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
import { loadRecord } from "./records.ts";
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
  const apply = effectApplier({
    self: a, stateDir, log: (_level, _part, event) => logged.push(event), sigs, send: (to, msg) => sent.push({ to, msg }),
    runners: { changeVip: () => undefined, kernelLease: () => undefined, startHook: () => undefined, reconcileAfterFailover: () => undefined },
    services: new Map(), observed: new Observed(), replicator: { onEffect: () => undefined }, forecasting: null, now: () => 0,
  });
  return { sent, logged, apply };
}

const record = { epoch: 1, holder: b, cert: null, votedEpoch: 2, votedHolder: b };
const vote = (service: string): HostEffect => ({ type: "send", to: b, msg: { type: "vote", service, epoch: 2, holder: b, from: null, reason: "initial", voter: a, boot: 7 } });
const pingMsg: WireMsg = { type: "ping", seq: 1, updates: [] };
const ping: HostEffect = { type: "send", to: b, msg: pingMsg };

test("a recorded vote goes out signed, after its record is on disk; a ping goes as it is", () => {
  const { sent, apply } = applier(dir);
  apply([{ type: "persist", service: "web", record }, vote("web"), ping]);
  expect(loadRecord(dir, "web", log)).toEqual(record);
  expect(sent.map((s) => s.msg.type)).toEqual(["vote", "ping"]);
  const signed = sent[0]!.msg as Extract<WireMsg, { type: "vote" }>;
  expect(signed.sig).toMatch(/^[0-9a-f]{128}$/);
  expect(sigs.verify(a, signed)).toBe(true);
  expect(sent[1]!.msg).toBe(pingMsg);
});

test("a vote whose record cannot be written is not sent; other services and probes still go", () => {
  const notADir = join(dir, "file");
  writeFileSync(notADir, "");
  const { sent, logged, apply } = applier(notADir);
  apply([{ type: "persist", service: "web", record }, vote("web"), vote("db"), ping]);
  expect(logged).toEqual(["vote-record-failed"]);
  expect(sent.map((s) => [s.msg.type, "service" in s.msg ? s.msg.service : null])).toEqual([["vote", "db"], ["ping", null]]);
});
