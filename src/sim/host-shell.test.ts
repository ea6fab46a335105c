// Proves the simulated host's shell (host-shell.ts) carries a real host
// core's effects as the agent's shell does: a lone host elects itself, its
// vote records reach the disk and its VIP the kernel from the moment the add
// starts; a crash takes the VIP, and a restart takes the next boot and
// starts a core from what the disk kept, which then holds again; a vote
// waits for the record written before it, and a kill loses both.
import { expect, test } from "bun:test";
import type { HostId } from "../shared/ids.ts";
import { PROFILES } from "../shared/profiles.ts";
import { host, type HostEffect, type HostMsg } from "../decide/index.ts";
import { carryEffects, kernelLeased, recordLanded, SimHost, simHostConfig, vipChanged, type ShellPorts } from "./host-shell.ts";

const n1 = "n1" as HostId;
const SERVICE = "web";
const t = PROFILES.sim;
const services = { names: [SERVICE], candidates: [n1], voters: [n1], ackShadows: 0, moveBackAfterMs: 0 };
const configFor = (id: HostId, boot: number) => simHostConfig(id, [n1], boot, services, t, t);

/** Runs a lone host for `ms` of its clock: sends to itself come back at once, VIP changes succeed at once. */
function run(h: SimHost, fromMs: number, ms: number, seen: string[]): void {
  const inbox: HostMsg[] = [];
  const done: Array<{ op: "add" | "del"; epoch: number }> = [];
  const leased: number[] = [];
  const ports: ShellPorts<SimHost> = {
    send: (_from, to, msg) => {
      expect(to).toBe(n1);
      inbox.push(msg);
    },
    persist: (h, service) => recordLanded(h, service, ports),
    kernelLease: (h, service, untilMs, seq) => {
      if (untilMs === null) h.kernelLease.delete(service);
      else h.kernelLease.set(service, untilMs);
      leased.push(seq);
    },
    actuate: (_h, service, op, epoch) => {
      seen.push(`${op} ${service} e=${epoch}`);
      done.push({ op, epoch });
    },
    runHook: () => {},
    diagnose: () => {},
    migrate: () => {},
    note: (_h, fx) => seen.push(fx.type === "run-hook" ? `run-hook ${fx.hook}${fx.state === undefined ? "" : ` ${fx.state}`}` : fx.type),
  };
  for (let now = fromMs; now < fromMs + ms; now += t.tickMs) {
    carryEffects(h, h.step({ type: "tick", rand: 0.5 }, now).effects, ports);
    while (inbox.length > 0 || done.length > 0 || leased.length > 0) {
      const msg = inbox.shift();
      if (msg !== undefined) carryEffects(h, h.step({ type: "received", from: n1, msg }, now).effects, ports);
      const seq = leased.shift();
      if (seq !== undefined) carryEffects(h, h.step(kernelLeased(SERVICE, seq), now).effects, ports);
      const d = done.shift();
      if (d === undefined) continue;
      h.kernelDone(SERVICE, d.op, true);
      carryEffects(h, h.step(vipChanged(SERVICE, d.op, d.epoch, true, "unused"), now).effects, ports);
    }
  }
}

test("a lone host elects itself: its vote record reaches the disk, its VIP the kernel", () => {
  const h = new SimHost(n1, configFor, host.step, 0);
  const seen: string[] = [];
  run(h, 0, 2 * t.initialGraceMs, seen);
  expect(seen).toContain("add web e=1");
  expect(seen).toContain("persist");
  expect(seen).toContain("run-hook notify MASTER"); // keepalived's notify state, once the add is done
  expect(h.vip.has(SERVICE)).toBe(true);
  expect(h.disk.get(SERVICE)?.epoch).toBe(1);
  expect(h.core.services[SERVICE]!.vipUp).toBe(true);
});

test("a crash takes the VIP; a restart takes the next boot and starts from what the disk kept", () => {
  const h = new SimHost(n1, configFor, host.step, 0);
  run(h, 0, 2 * t.initialGraceMs, []);
  const at = 2 * t.initialGraceMs;
  h.crash();
  expect(h.up).toBe(false);
  expect(h.vip.size).toBe(0);
  h.restart(at);
  expect(h.up).toBe(true);
  expect(h.boot).toBe(2);
  expect(h.core.config.boot).toBe(2);
  expect(h.core.services[SERVICE]!.epoch).toBe(1); // from the disk, not a fresh start
  expect(h.core.services[SERVICE]!.vipUp).toBe(false);
  // After the restart wait the new process takes the VIP again.
  const seen: string[] = [];
  run(h, at, 4 * t.leaseMs + t.initialGraceMs, seen);
  expect(seen.filter((s) => s.startsWith("add web"))).toHaveLength(1);
  expect(h.vip.has(SERVICE)).toBe(true);
});

test("a vote waits for the record before it; a kill loses both, a landed record lets it go", () => {
  const sent: string[] = [];
  const ports: ShellPorts<SimHost> = {
    send: (_from, to, msg) => sent.push(`${msg.type}->${to}`),
    persist: () => {}, // the disk is slow: the test lands records itself
    kernelLease: () => {},
    actuate: () => {},
    runHook: () => {},
    diagnose: () => {},
    migrate: () => {},
    note: () => {},
  };
  const record = { epoch: 1, holder: n1, cert: null, votedEpoch: 2, votedHolder: n1 };
  const vote: HostEffect = { type: "send", to: n1, msg: { type: "vote", service: SERVICE, epoch: 2, holder: n1, from: null, reason: "initial", voter: n1, boot: 1 } };
  const request: HostEffect = { type: "send", to: n1, msg: { type: "cert-request", service: SERVICE, epoch: 1 } };
  const h = new SimHost(n1, configFor, host.step, 0);
  carryEffects(h, [{ type: "persist", service: SERVICE, record }, vote, request], ports);
  expect(sent).toEqual(["cert-request->n1"]); // only the vote waits
  recordLanded(h, SERVICE, ports);
  expect(h.disk.get(SERVICE)).toEqual(record);
  expect(sent).toEqual(["cert-request->n1", "vote->n1"]);
  carryEffects(h, [{ type: "persist", service: SERVICE, record: { ...record, votedEpoch: 3 } }, vote], ports);
  h.kill();
  recordLanded(h, SERVICE, ports); // nothing left to land: the kill took it
  expect(h.disk.get(SERVICE)).toEqual(record);
  expect(sent).toHaveLength(2);
});
