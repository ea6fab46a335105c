// Scenario (slow): operators' signed orders on real agents in network
// namespaces. A table of bad statements (unsigned, forged, expired,
// replayed, an unknown operator's key, another cluster's, an oversized body)
// is refused by the agent's API, each with its reason, and nothing moves.
// Then `umbra move web --to h3` moves the VIP, `umbra maintenance h3` drains
// it off h3 and keeps h3 out, `umbra unstandby h3` ends that, and `umbra
// audit web` lists each order with what the hosts it concerns did. And with
// a majority killed for good, `umbra override web --expect-votes 1` (refused
// while they live) lets the survivor hold web again.
//
// Run alone: bun test test/operators.slow.test.ts   (needs root; CI is root)

import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { startDemoCluster, withDigest, sleep, NODE, type DemoCluster } from "../src/demo/cluster.ts";
import { cleanupStale } from "../src/demo/topology.ts";
import { apiRequest, jsonOf, type ApiTarget, type StatusDoc } from "../src/api/index.ts";
import { generateKeyPair, readKeyFile, sign } from "../src/shared/identity.ts";
import { canonicalBytes, signStatement, type SignedStatement } from "../src/shared/statements.ts";

const PREFIX = "uo-";
const MAIN = join(resolve(import.meta.dirname, ".."), "src/cli/main.ts");
const isRoot = process.getuid?.() === 0;
let cluster: DemoCluster | null = null;

afterAll(async () => {
  await cluster?.destroy();
  await cleanupStale(PREFIX);
});

/** The umbra CLI against h1's API socket; its exit code and output. */
function umbra(c: DemoCluster, args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(NODE, [MAIN, ...args, "--api", c.apiSocketOf("h1")], { encoding: "utf8", timeout: 20_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

async function post(t: ApiTarget, body: string): Promise<{ status: number; json: Record<string, unknown> | null }> {
  const a = await apiRequest(t, "POST", "/statements", { body, contentType: "application/json", timeoutMs: 5_000 });
  return { status: a.status, json: (await jsonOf(a)) as Record<string, unknown> | null };
}

describe.skipIf(!isRoot)("operators' signed orders on real agents (slow)", () => {
  test("bad statements are refused with their reason; move, maintenance and unstandby act; audit lists them", withDigest(async () => {
    await cleanupStale(PREFIX);
    cluster = await startDemoCluster({ prefix: PREFIX });
    const c = cluster;
    expect(await c.waitForHolders((h) => h.length === 1, 30_000)).toEqual(["h1"]);
    const api: ApiTarget = { socket: c.apiSocketOf("h1") };
    const key = readKeyFile(c.operatorKey);
    const now = Date.now();
    const good = (fields: Partial<SignedStatement> = {}, k = key, at = now, ttl = 60_000): SignedStatement => signStatement({ cluster: "demo", action: "move", service: "web", target: "h2", expectVotes: null, reason: "attack table", ...fields }, k, at, ttl);
    const forged = { ...good(), target: "h3" }; // signed for h2
    const unsigned = { ...good(), sig: "" };
    const replayed = good({ action: "unstandby", service: null, target: "h3" });
    const refusals: Array<[string, string, string]> = [
      ["unsigned", JSON.stringify(unsigned), "malformed"],
      ["forged", JSON.stringify(forged), "forged"],
      ["expired", JSON.stringify(good({}, key, now - 10 * 60_000, 60_000)), "expired"],
      ["unknown operator", JSON.stringify(good({}, generateKeyPair())), "unknown-operator"],
      ["another cluster's", JSON.stringify(good({ cluster: "prod" })), "wrong-cluster"],
      ["not a host of the cluster", JSON.stringify(good({ target: "h9" })), "unknown-name"],
    ];
    for (const [what, body, reason] of refusals) {
      const a = await post(api, body);
      expect({ what, status: a.status, reason: a.json?.reason }).toEqual({ what, status: 403, reason });
    }
    // The same statement twice: the second is a replay.
    expect((await post(api, JSON.stringify(replayed))).status).toBe(202);
    expect(await post(api, JSON.stringify(replayed))).toMatchObject({ status: 403, json: { reason: "replayed" } });
    // A body far past the limit never reaches the check.
    expect((await post(api, JSON.stringify({ ...good(), reason: "x".repeat(2 * 1024 * 1024) }))).status).toBe(413);
    // A forged signature over a statement's bytes by a key that is not the operator's.
    const other = generateKeyPair();
    const { sig: _, ...fields } = good();
    expect((await post(api, JSON.stringify({ ...fields, sig: sign(other.secretKey, canonicalBytes(fields)).toString("hex") }))).json?.reason).toBe("forged");
    await sleep(500);
    expect(await c.vipHolders()).toEqual(["h1"]);

    const move = umbra(c, ["move", "web", "--to", "h3", "--key", c.operatorKey, "--reason", "rebalance"]);
    expect(move).toMatchObject({ code: 0 });
    expect(await c.waitForHolders((h) => h.length === 1 && h[0] === "h3", 5_000)).toEqual(["h3"]);

    const maint = umbra(c, ["maintenance", "h3", "--reason", "disk swap", "--key", c.operatorKey]);
    expect(maint).toMatchObject({ code: 0 });
    const drained = await c.waitForHolders((h) => h.length === 1 && h[0] !== "h3", 5_000);
    expect(["h1", "h2"]).toContain(drained[0]!);
    // Out of candidacy: a move to it changes nothing.
    expect(umbra(c, ["move", "web", "--to", "h3", "--key", c.operatorKey]).code).toBe(0);
    await sleep(1_000);
    expect(await c.vipHolders()).toEqual(drained);
    expect(umbra(c, ["unstandby", "h3", "--key", c.operatorKey]).code).toBe(0);
    expect(umbra(c, ["maintenance", "h3", "--key", c.operatorKey]).code).toBe(2); // no --reason

    await sleep(2_000); // the audit entries are written after the orders act, and replicate
    const audit = umbra(c, ["audit", "web", "--json"]);
    expect(audit.code).toBe(0);
    const entries = (JSON.parse(audit.out) as { entries: Array<{ action: string; host: string; outcome: string; reason: string }> }).entries;
    const actions = [...new Set(entries.map((e) => e.action))];
    expect(actions).toEqual(["unstandby", "move", "maintenance"]);
    // The move is on record once: h1 took it from its API and held web; it says it handed over.
    const moves = entries.filter((e) => e.action === "move" && e.reason === "rebalance");
    expect(moves.map((e) => ({ host: e.host, outcome: e.outcome }))).toEqual([{ host: "h1", outcome: "handing web over to h3 in person" }]);
    // The maintenance: from h1 (which took it) and h3 (the host it is about, which handed web over).
    const onRecord = entries.filter((e) => e.action === "maintenance");
    expect(onRecord.map((e) => e.host).sort()).toEqual(["h1", "h3"]);
    expect(onRecord.find((e) => e.host === "h3")!.outcome).toStartWith("h3 in maintenance; handing over web");
    const text = umbra(c, ["audit", "web"]).out;
    expect(text).toContain("maintenance h3  by demo-operator");
    expect(text).toContain(": disk swap");
  }), 120_000);

  test("override: with h2 and h3 killed for good, h1 holds web again on a lowered quorum; the warning first, a refusal while they live", withDigest(async () => {
    await cluster?.destroy();
    await cleanupStale(PREFIX);
    cluster = await startDemoCluster({ prefix: PREFIX });
    const c = cluster;
    expect(await c.waitForHolders((h) => h.length === 1, 30_000)).toEqual(["h1"]);
    const override = (yes: boolean) => umbra(c, ["override", "web", "--expect-votes", "1", "--reason", "h2 and h3 lost in the fire", "--key", c.operatorKey, ...(yes ? ["--yes"] : [])]);
    // Without --yes: the warning, and nothing signed.
    const unsure = override(false);
    expect(unsure.code).toBe(2);
    expect(unsure.err).toContain("two hosts answer for one VIP");
    expect(unsure.err).toContain("not signed: add --yes to go ahead");
    // While h2 and h3 are alive, h1 does not take it on (nor do they).
    const early = override(true);
    expect(early.code).toBe(1);
    expect(early.err).toContain("refused: 3 of web's voters are alive as this host sees them");
    c.signalAgent("h2", "SIGKILL");
    c.signalAgent("h3", "SIGKILL");
    // h1 alone is no majority of three: its lease runs out, and nobody answers for the VIP.
    expect(await c.waitForHolders((h) => h.length === 0, 5_000)).toEqual([]);
    const statusOf = () => JSON.parse(umbra(c, ["status", "--json"]).out) as StatusDoc;
    for (let i = 0; i < 100 && statusOf().members.filter((m) => m.status === "dead").length < 2; i++) await sleep(100);
    expect(statusOf().members.filter((m) => m.status === "dead").map((m) => m.id)).toEqual(["h2", "h3"]);
    const taken = override(true);
    expect(taken.code).toBe(0);
    expect(taken.out).toContain("here: web: a majority of 1 expected vote counts in");
    expect(await c.waitForHolders((h) => h.length === 1 && h[0] === "h1", 5_000)).toEqual(["h1"]);
    expect(statusOf().services[0]!.quorum).toMatchObject({ expectedVotes: 1, needed: 1, override: { votes: 1, reason: "h2 and h3 lost in the fire", heard: ["h1"] } });
    await sleep(1_000); // the audit entry is written after the order acts
    const entries = (JSON.parse(umbra(c, ["audit", "web", "--json"]).out) as { entries: Array<{ action: string; host: string; outcome: string }> }).entries;
    expect(entries.filter((e) => e.action === "override").map((e) => [e.host, e.outcome.split(":")[0]])).toEqual([
      ["h1", "refused"],
      ["h1", "web"],
    ]);
  }), 120_000);
});
