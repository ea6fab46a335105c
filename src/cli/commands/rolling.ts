// `umbra maintenance --rolling`: every host in turn, one at a time. For each
// host: a signed `maintenance HOST` (it hands what it holds over in person
// and stays out of candidacy), a wait until every service it is a candidate
// of is held elsewhere, the operator's command for that host (`--run`: an
// upgrade, a reboot; UMBRA_HOST names the host), a signed `unstandby HOST`,
// and a wait until the host is back: alive, kept out of nothing, its
// replicas in sync, every service held. Only then the next host, and only
// while the rest of the cluster is fit (every host alive, every service
// held). A step that fails or runs out of time stops the walk where it is,
// says why and which host it leaves in maintenance, and exits 1: nothing is
// left half-known. CMD must return once the host is back up: "back" is
// judged by what the host says after CMD returned, and a host whose restart
// comes later (`ssh h reboot` returns at once) would look back before it
// went. The decisions stay the quorum's: this only signs orders and watches
// the local agent's status.

import { spawn } from "node:child_process";
import os from "node:os";
import { apiJson, type ApiTarget } from "../../apiclient/index.ts";
import type { StatusDoc } from "../../api/index.ts";
import { readKeyFile } from "../../shared/identity.ts";
import { signStatement, type Action } from "../../shared/statements.ts";
import { EXIT, fail } from "../args.ts";
import { submit } from "./order.ts";

/** Between two looks at the status. */
const POLL_MS = 500;
/** The status answers from memory; an agent restarting answers nothing for a while, which is waited out. */
const STATUS_TIMEOUT_MS = 2_000;
/** "Back" must hold this many looks in a row: a host just restarted flickers between alive and suspect. */
const SETTLED_LOOKS = 3;

export type RollingOptions = {
  target: ApiTarget;
  keyFile: string;
  reason: string;
  /** The hosts in order; null: every member, as the agent lists them. */
  hosts: string[] | null;
  /** A shell command run for each host once it is drained (sh -c, UMBRA_HOST set); null: none. */
  run: string | null;
  /** Each wait (drained, back) and the command give up after this long. */
  waitMs: number;
  ttlMs: number;
  json: boolean;
};

type Step = { host: string; drainedMs: number; ranMs: number | null; backMs: number };

export async function rolling(o: RollingOptions): Promise<void> {
  const key = readKeyFile(o.keyFile);
  const first = await status(o.target);
  if (first === null) fail(EXIT.failure, ["the agent's API does not answer: nothing was done"]);
  const members = first.members.map((m) => m.id);
  const hosts = o.hosts ?? members;
  const unknown = hosts.filter((h) => !members.includes(h));
  if (unknown.length > 0) fail(EXIT.usage, [`no host ${unknown.map((h) => `"${h}"`).join(", ")} in cluster "${first.cluster}" (hosts: ${members.join(", ")})`]);
  const say = (line: string) => (o.json ? undefined : process.stdout.write(`${line}\n`));
  say(`rolling maintenance of ${hosts.join(", ")}, one at a time${o.run === null ? "" : `; for each, once drained: ${o.run}`}`);
  if (o.run !== null && hosts.includes(first.host)) process.stderr.write(`umbra: note: ${first.host} is the agent this walk asks, and one of the hosts; while its command runs the walk waits for its API to answer again\n`);
  const order = async (action: Action, host: string) => {
    // The agent asked may be the host just restarted: its API answers again first.
    await waitFor(o, "the agent's API to answer", () => null, 1);
    const st = signStatement({ cluster: first.cluster, action, service: null, target: host, expectVotes: null, reason: `rolling maintenance: ${o.reason}` }, key, Date.now(), o.ttlMs);
    const answer = await submit(o.target, st).catch((err: Error) => fail(EXIT.failure, [`${action} ${host}: the agent did not take the order: ${err.message}`]));
    if (answer.outcome?.startsWith("refused") === true || answer.outcome?.startsWith("superseded") === true) fail(EXIT.failure, [`${action} ${host}: ${answer.outcome}`]);
  };
  const steps: Step[] = [];
  // Whatever ends the walk early (a failure, Ctrl-C) says which host it leaves in maintenance.
  let out: string | null = null;
  process.on("exit", () => {
    if (out !== null) process.stderr.write(`umbra: ${out} is still in maintenance: 'umbra unstandby ${out}' ends it\n`);
  });
  process.once("SIGINT", () => process.exit(130));
  for (const [i, h] of hosts.entries()) {
    // Checked before each host, not once: a host lost meanwhile must not be joined by the next one taken out.
    const unfit = whyNotReady(await waitAnswer(o), h);
    if (unfit !== null) {
      say(`[${i + 1}/${hosts.length}] waiting for the cluster to be fit before ${h}: ${unfit}`);
      await waitFor(o, `the cluster to be fit before ${h} (rolling maintenance takes one host out at a time and needs the rest fit)`, (s) => whyNotReady(s, h));
    }
    say(`[${i + 1}/${hosts.length}] ${h}: maintenance`);
    const t0 = Date.now();
    out = h;
    await order("maintenance", h);
    await waitFor(o, `${h} to hand over what it holds`, (s) => drainedWhy(s, h));
    const drainedMs = Date.now() - t0;
    say(`[${i + 1}/${hosts.length}] ${h}: drained in ${(drainedMs / 1000).toFixed(1)} s${o.run === null ? "" : "; running the command"}`);
    let ranMs: number | null = null;
    if (o.run !== null) {
      const t1 = Date.now();
      const code = await runFor(o.run, h, o.waitMs);
      if (code !== 0) fail(EXIT.failure, [`${h}: the command exited ${code}; ${h} stays in maintenance ('umbra unstandby ${h}' ends it), the hosts after it were not touched`]);
      ranMs = Date.now() - t1;
    }
    const t2 = Date.now();
    await order("unstandby", h);
    await waitFor(o, `${h} to be back (heard since, alive, in sync, a candidate again)`, (s) => backWhy(s, h, Date.now() - t2));
    out = null;
    steps.push({ host: h, drainedMs, ranMs, backMs: Date.now() - t2 });
    say(`[${i + 1}/${hosts.length}] ${h}: back in ${((Date.now() - t2) / 1000).toFixed(1)} s`);
  }
  if (o.json) process.stdout.write(JSON.stringify({ ok: true, hosts: steps }) + "\n");
  else say(`rolling maintenance done: ${hosts.length} host(s), one at a time`);
}

/** The local agent's status, waited for (it may be restarting); past waitMs, the walk stops. */
async function waitAnswer(o: RollingOptions): Promise<StatusDoc> {
  await waitFor(o, "the agent's API to answer", () => null, 1);
  const s = await status(o.target);
  return s ?? fail(EXIT.failure, ["the agent's API stopped answering"]);
}

/** The local agent's status, or null while it does not answer (restarting). */
async function status(t: ApiTarget): Promise<StatusDoc | null> {
  try {
    return (await apiJson(t, "GET", "/status", undefined, STATUS_TIMEOUT_MS)) as StatusDoc;
  } catch {
    return null;
  }
}

/**
 * Why the cluster is not fit to lose host `next` now (null: it is), as the
 * agent asked sees it: a member not alive; alive but with no connection to
 * the agent asked (SWIM holds it alive through the others' probes: take one
 * of those out and the two hosts lose each other, a holder its lease), or
 * connected through `next`'s relay; a service without a holder.
 */
export function whyNotReady(s: StatusDoc, next: string): string | null {
  const down = s.members.filter((m) => m.status !== "alive").map((m) => `${m.id} is ${m.status}`);
  down.push(...s.members.filter((m) => m.status === "alive" && !m.connected).map((m) => throughOthers(s, m.id)));
  down.push(...s.members.filter((m) => m.connected && m.via === next).map((m) => `${m.id} is reached through ${next}'s relay`));
  if (down.length > 0) return down.join(", ");
  const orphan = s.services.filter((sv) => sv.holder === null).map((sv) => `${sv.name} has no holder`);
  return orphan.length > 0 ? orphan.join(", ") : null;
}

/** A member alive with no connection to the agent asked: SWIM holds it alive through the others' probes. */
function throughOthers(s: StatusDoc, id: string): string {
  return `${id} is reached only through others (no connection to ${s.host})`;
}

/** Why `h` is not drained yet (null: it is): a service of its still held by it, or by nobody. */
export function drainedWhy(s: StatusDoc, h: string): string | null {
  const held = s.services.filter((sv) => sv.holder === h || sv.holder === null);
  return held.length === 0 ? null : held.map((sv) => (sv.holder === null ? `${sv.name} has no holder` : `${h} holds ${sv.name}`)).join(", ");
}

/**
 * Why `h` is not back yet (null: it is): not alive, not connected to the
 * agent asked, not heard in the last `sinceMs` (what was said before its
 * command ran proves nothing: a restart is quicker than its peers notice),
 * kept out, a replica not in sync or not heard since, a service without a
 * holder.
 */
export function backWhy(s: StatusDoc, h: string, sinceMs: number): string | null {
  const m = s.members.find((x) => x.id === h);
  if (m === undefined || m.status !== "alive") return `${h} is ${m?.status ?? "unknown"}`;
  if (!m.connected) return throughOthers(s, h);
  // The agent asked is h itself: that it answers is news enough.
  if (s.host !== h && (m.lastBeaconAgoMs === null || m.lastBeaconAgoMs >= sinceMs)) return `no beacon from ${h} since it was taken out of maintenance`;
  const out = s.services.filter((sv) => (sv.excluded ?? []).includes(h)).map((sv) => `${h} is kept out of ${sv.name}`);
  // This host's rows name its peers: where this host is h, every row; else the rows about h.
  const rows = s.replication.filter((r) => s.host === h || r.peer === h);
  out.push(...rows.filter((r) => r.syncStatus !== "in-sync" || r.lastHeardAgoMs === null || r.lastHeardAgoMs >= sinceMs).map((r) => `${r.service} on ${r.peer} is ${r.syncStatus}${r.syncStatus === "in-sync" ? ", not heard since" : ""}`));
  out.push(...s.services.filter((sv) => sv.holder === null).map((sv) => `${sv.name} has no holder`));
  return out.length === 0 ? null : out.join(", ");
}

/** Polls until `why` says nothing SETTLED_LOOKS times in a row; past waitMs, fails with its last word. */
async function waitFor(o: RollingOptions, what: string, why: (s: StatusDoc) => string | null, looks = SETTLED_LOOKS): Promise<void> {
  const t0 = Date.now();
  let last = "the agent did not answer";
  let settled = 0;
  for (let i = 0; i < Math.ceil(o.waitMs / POLL_MS) + 1 && Date.now() - t0 <= o.waitMs; i++) {
    const s = await status(o.target);
    const w = s === null ? "the agent did not answer" : why(s);
    settled = w === null ? settled + 1 : 0;
    if (settled >= looks) return;
    if (w !== null) last = w;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  fail(EXIT.failure, [`gave up after ${Math.round(o.waitMs / 1000)} s waiting for ${what}: ${last}`]);
}

/** After SIGTERM at a command's timeout, SIGKILL follows this much later. */
const KILL_GRACE_MS = 5_000;

/** Runs the operator's command for a host (sh -c in its own process group, output passed through, UMBRA_HOST set); its exit code (our timeout: 124, with everything it started ended). */
function runFor(cmd: string, host: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn("sh", ["-c", cmd], { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, UMBRA_HOST: host }, detached: true });
    let timedOut = false;
    const group = (sig: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      group("SIGTERM");
      setTimeout(() => group("SIGKILL"), KILL_GRACE_MS).unref();
    }, timeoutMs);
    child.on("error", () => resolve(127));
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve(timedOut ? 124 : (code ?? 128 + (signal === null ? 0 : os.constants.signals[signal] ?? 0)));
    });
  });
}
