// Proves the replicator end to end: writes reach the shadows and are
// acknowledged only when durable on enough of them, partitions heal, a lost
// sync message is recovered by a restarted session, reconcile reports what
// it did. Three replicators in one process, linked by queues that carry the
// real encoded frames (encodeState/decodeState) asynchronously. The
// agent-level test (test/state.slow.test.ts) does the same over hyperswarm.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HostId } from "../shared/ids.ts";
import { logger } from "../shared/log.ts";
import { startReplicator, type Replicator } from "./replicator.ts";
import { decodeState, encodeState } from "./wire.ts";
import { WRITES_IN_FLIGHT_MAX } from "./durability.ts";

const h = (s: string) => s as HostId;
const dirs: string[] = [];
const live: Replicator[] = [];
afterEach(async () => {
  await Promise.all(live.splice(0).map((n) => n.saved())); // no save left to find its directory gone
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function cluster(ackShadows: number, writeTimeoutMs = 2_000) {
  const ids = [h("a"), h("b"), h("c")];
  const nodes = new Map<HostId, Replicator>();
  const up = new Set<string>(); // "x>y" links that carry frames
  const lost = new Set<string>(); // "x>y" links that silently lose sync frames (the link stays up)
  const restarts: string[] = []; // "x>y": x restarted its sync session with y
  let t = 0;
  const link = (x: HostId, y: HostId, on: boolean) => {
    for (const [p, q] of [[x, y], [y, x]] as const) {
      if (on) up.add(`${p}>${q}`);
      else up.delete(`${p}>${q}`);
    }
    nodes.get(x)!.onPeer(y, on);
    nodes.get(y)!.onPeer(x, on);
  };
  const make = (self: HostId) => {
    const dir = mkdtempSync(join(tmpdir(), "umbra-repl-"));
    dirs.push(dir);
    return startReplicator({
      self,
      stateDir: dir,
      services: [{ name: "web", replicas: ids, primary: h("a"), ackShadows }],
      writeTimeoutMs,
      staleAfterMs: 1_000,
      log: (level, part, event, fields) => {
        if (event === "sync-restarted") restarts.push(`${self}>${String(fields?.["peer"])}`);
        if (level === "error") logger(self, "error")(level, part, event, fields);
      },
      now: () => t + performance.now(), // real time plus what the test advances: waits inside reconcile end
      send(to, msg) {
        if (!up.has(`${self}>${to}`)) return false;
        if (msg.type === "sync" && lost.has(`${self}>${to}`)) return true;
        const frame = encodeState(msg);
        setImmediate(() => {
          if (up.has(`${self}>${to}`)) nodes.get(to)!.onMessage(self, decodeState(frame));
        });
        return true;
      },
    });
  };
  for (const id of ids) nodes.set(id, make(id));
  live.push(...nodes.values());
  const advance = (ms: number) => {
    t += ms;
    for (const n of nodes.values()) n.tick();
  };
  // Saves run on the thread pool: a round of the test waits for them, so
  // the virtual time it advances does not outrun the disk.
  const settle = async (rounds = 50) => {
    for (let i = 0; i < rounds; i++) {
      advance(10);
      await new Promise((r) => setImmediate(r));
      await Promise.all([...nodes.values()].map((n) => n.saved()));
    }
  };
  return { nodes, link, advance, settle, lost, restarts, now: () => t };
}


describe("replicator", () => {
  test("a write on the primary reaches both shadows and is acknowledged once one holds it durably", async () => {
    const { nodes, link, settle } = cluster(1);
    link(h("a"), h("b"), true);
    link(h("a"), h("c"), true);
    const r = await nodes.get(h("a"))!.write("web", { set: { image: "web:2", replicas: 3 } }, "roll out web:2");
    expect(r.durableOn.length).toBeGreaterThanOrEqual(1);
    await settle();
    for (const id of ["b", "c"]) {
      expect(nodes.get(h(id))!.get("web").state.hostConfiguration.deploymentConfig).toEqual({ image: "web:2", replicas: 3 });
    }
    expect(nodes.get(h("c"))!.history("web").map((x) => x.message)).toEqual(["genesis", "roll out web:2"]);
    const st = nodes.get(h("a"))!.status();
    expect(st.map((x) => [x.shadowHostID, x.syncStatus])).toEqual([["b", "in-sync"], ["c", "in-sync"]]);
  });

  test("with ackShadows = 2 and one shadow cut off, the write fails and says where it is durable; it arrives after the link heals", async () => {
    const { nodes, link, settle } = cluster(2, 200);
    link(h("a"), h("b"), true);
    const pending = nodes.get(h("a"))!.write("web", { set: { k: 1 } }, "w");
    let err: unknown = null;
    pending.catch((e) => (err = e));
    await settle(40);
    expect(String(err)).toContain("durable on a and 1 other replica(s) (b), short of the 2 required");
    link(h("a"), h("c"), true);
    await settle();
    expect(nodes.get(h("c"))!.get("web").state.hostConfiguration.deploymentConfig).toEqual({ k: 1 });
  });

  test("concurrent writes on two sides of a partition both survive the heal, and the replicas end in-sync", async () => {
    const { nodes, link, settle } = cluster(0);
    link(h("a"), h("b"), true);
    await settle(5);
    link(h("a"), h("b"), false);
    await nodes.get(h("a"))!.write("web", { set: { x: 1 } }, "on a");
    await nodes.get(h("b"))!.write("web", { set: { y: 2 } }, "on b");
    link(h("a"), h("b"), true);
    await settle();
    for (const id of ["a", "b"]) expect(nodes.get(h(id))!.get("web").state.hostConfiguration.deploymentConfig).toEqual({ x: 1, y: 2 });
    expect(nodes.get(h("a"))!.status().find((x) => x.peer === "b")!.syncStatus).toBe("in-sync");
  });

  test("a write whose local save fails is refused with the disk's error; the change is saved once the disk takes it again", async () => {
    const { nodes, settle } = cluster(0);
    const a = nodes.get(h("a"))!;
    await a.write("web", { set: { k: 1 } }, "first");
    const docs = join(dirs.at(-3)!, "docs", "web"); // a's directory
    renameSync(docs, `${docs}.aside`);
    writeFileSync(docs, "not a directory"); // every save now fails
    expect(a.write("web", { set: { k: 2 } }, "second")).rejects.toThrow(/could not be saved on a \(.*ENOTDIR.*\); it is not rolled back/);
    await a.saved();
    rmSync(docs);
    renameSync(`${docs}.aside`, docs);
    await settle(120); // the next heads round (every staleAfterMs / 3) tries again
    const again = startReplicator({ self: h("a"), stateDir: dirs.at(-3)!, services: [{ name: "web", replicas: [h("a"), h("b"), h("c")], primary: h("a"), ackShadows: 0 }], writeTimeoutMs: 100, staleAfterMs: 1_000, log: logger("a", "error"), now: () => 0, send: () => false });
    expect(again.get("web").state.hostConfiguration.deploymentConfig).toEqual({ k: 2 });
  });

  test("a sync message lost on a live link: after two heads rounds in which the replicas differ, the session starts afresh and the change arrives", async () => {
    const { nodes, link, settle, lost, restarts } = cluster(0);
    link(h("a"), h("b"), true);
    await settle(5);
    lost.add("a>b");
    await nodes.get(h("a"))!.write("web", { set: { k: 1 } }, "lost on the way");
    await settle(3);
    lost.delete("a>b");
    expect(nodes.get(h("b"))!.get("web").state.hostConfiguration.deploymentConfig).toEqual({});
    await settle(120); // a heads round every staleAfterMs / 3
    expect(nodes.get(h("b"))!.get("web").state.hostConfiguration.deploymentConfig).toEqual({ k: 1 });
    expect(restarts.length).toBeGreaterThan(0);
  });

  test("the wall clock is injected: a change's timestamp and a reconcile report's time come from wallNow", async () => {
    const dir = mkdtempSync(join(tmpdir(), "umbra-repl-"));
    dirs.push(dir);
    const wallMs = 1_234_567_890_123;
    const r = startReplicator({ self: h("a"), stateDir: dir, services: [{ name: "web", replicas: [h("a")], primary: h("a"), ackShadows: 0 }], writeTimeoutMs: 100, staleAfterMs: 1_000, log: logger("a", "error"), now: () => performance.now(), wallNow: () => wallMs, send: () => false });
    live.push(r);
    await r.write("web", { set: { k: 1 } }, "at a known time");
    expect(r.history("web").at(-1)!.timeSec).toBe(Math.floor(wallMs / 1_000));
    expect((await r.reconcile("web", { reason: "operator" })).atWallMs).toBe(wallMs);
  });

  test("writes in flight are bounded: past WRITES_IN_FLIGHT_MAX (the disk behind) a write is refused and the document left as it was", async () => {
    const { nodes } = cluster(0);
    const a = nodes.get(h("a"))!;
    const accepted = Array.from({ length: WRITES_IN_FLIGHT_MAX }, (_, i) => a.write("web", { set: { k: i } }, `w${i}`)); // one save starts, the rest wait for the next
    const heads = a.get("web").heads;
    await expect(a.write("web", { set: { k: -1 } }, "one too many")).rejects.toThrow("too many writes");
    expect(a.get("web").heads).toEqual(heads);
    expect((await Promise.all(accepted)).length).toBe(WRITES_IN_FLIGHT_MAX);
  });

  test("a host that is no replica of a service says who is", () => {
    const { nodes } = cluster(1);
    expect(() => nodes.get(h("a"))!.get("db")).toThrow('no service "db"');
  });

  test("reconcile after a failover: the shadow knows the acknowledged heads, keeps a later unacknowledged change and lists it", async () => {
    const { nodes, link, settle } = cluster(1);
    link(h("a"), h("b"), true);
    const w = await nodes.get(h("a"))!.write("web", { set: { image: "web:2" } }, "acked");
    await settle(5);
    // b changes the config on its own (an operator on the wrong host, say), never acknowledged by anyone
    link(h("a"), h("b"), false);
    const b = nodes.get(h("b"))!;
    b.write("web", { set: { debug: true } }, "local, unacked").catch(() => {}); // durable here, never acknowledged
    const r = await b.reconcile("web", { reason: "failover" });
    expect(r.target).toEqual(w.heads);
    expect(r.incomplete).toBe(false);
    expect(r.rolledBack).toEqual([]);
    expect(r.kept.map((k) => k.message)).toEqual(["local, unacked"]);
    expect(b.get("web").state.hostConfiguration.deploymentConfig).toEqual({ image: "web:2", debug: true });
  });

  test("reconcile to a declared version rolls back as a new change and lists a conflict it did not resolve", async () => {
    const { nodes, link, settle } = cluster(0);
    link(h("a"), h("b"), true);
    const a = nodes.get(h("a"))!;
    const v1 = await a.write("web", { set: { image: "web:1" } }, "v1");
    await settle(5);
    link(h("a"), h("b"), false);
    await a.write("web", { set: { image: "web:2a", extra: 1 } }, "v2 on a");
    await nodes.get(h("b"))!.write("web", { set: { image: "web:2b" } }, "v2 on b");
    link(h("a"), h("b"), true);
    await settle();
    const before = a.reconcile("web", { reason: "operator" });
    expect((await before).conflicts.map((c) => c.key)).toEqual(["image"]);
    const r = await a.reconcile("web", { reason: "operator", to: v1.heads });
    expect(r.rolledBack).toEqual(["extra", "image"]);
    expect(r.change).not.toBeNull();
    expect(a.get("web").state.hostConfiguration.deploymentConfig).toEqual({ image: "web:1" });
    expect(a.history("web").at(-1)!.message).toContain("reconcile: back to");
    await settle();
    expect(nodes.get(h("b"))!.get("web").state.hostConfiguration.deploymentConfig).toEqual({ image: "web:1" });
  });

  test("reconcile to heads that never arrive reports incomplete after the write timeout and changes nothing", async () => {
    const { nodes } = cluster(0, 100);
    const r = await nodes.get(h("a"))!.reconcile("web", { reason: "operator", to: ["ab".repeat(32)] });
    expect(r.incomplete).toBe(true);
    expect(r.change).toBeNull();
  });
});

describe("workloads", () => {
  test("a workload set on the primary reaches the shadows as WorkloadData; a bad one says what is wrong", async () => {
    const { nodes, link, settle } = cluster(1);
    link(h("a"), h("b"), true);
    await nodes.get(h("a"))!.write("web", { workloads: { set: [{ workload_id: "web-1", resource_requirements: { cpu: 2, memoryMiB: 512 }, host_id: "a" }] } }, "place web-1");
    await settle(5);
    expect(nodes.get(h("b"))!.get("web").state.workloads).toEqual({ "web-1": { workload_id: "web-1", resource_requirements: { cpu: 2, memoryMiB: 512 }, host_id: "a" } });
    expect(() => nodes.get(h("a"))!.write("web", { workloads: { set: [{ workload_id: "w", resource_requirements: { cpu: -1 }, host_id: "a" }] } }, "bad")).toThrow("resource_requirements.cpu must be a non-negative number");
  });

  test("a move sets host_id only where the workload still is: a removal or another move meanwhile wins, other fields stay", async () => {
    const { nodes, link, settle } = cluster(1);
    link(h("a"), h("b"), true);
    const a = nodes.get(h("a"))!;
    await a.write("web", { workloads: { set: [{ workload_id: "w1", resource_requirements: { cpu: 1 }, host_id: "a" }, { workload_id: "w2", resource_requirements: { cpu: 1 }, host_id: "a" }] } }, "place");
    await settle(5);
    await a.write("web", { workloads: { move: [{ id: "w1", from: "a", to: "b" }, { id: "w2", from: "c", to: "b" }, { id: "w3", from: "a", to: "b" }] } }, "migrate");
    await settle(5);
    expect(nodes.get(h("b"))!.get("web").state.workloads).toEqual({ w1: { workload_id: "w1", resource_requirements: { cpu: 1 }, host_id: "b" }, w2: { workload_id: "w2", resource_requirements: { cpu: 1 }, host_id: "a" } });
  });

  test("a cold replica syncs with no one and takes no writes; it catches up once warm again", async () => {
    const { nodes, link, settle } = cluster(1);
    link(h("a"), h("b"), true);
    for (const n of nodes.values()) n.setCold("web", [h("b")]);
    await expect(nodes.get(h("b"))!.write("web", { set: { x: 1 } }, "on a cold host")).rejects.toThrow("is cold for");
    const w = nodes.get(h("a"))!.write("web", { set: { image: "v1" } }, "while b is cold"); // a cold replica answers no durability question: not acknowledged
    w.catch(() => undefined);
    await settle(5);
    expect(nodes.get(h("b"))!.get("web").state.hostConfiguration.deploymentConfig).toEqual({});
    for (const n of nodes.values()) n.setCold("web", []);
    await settle(10);
    expect(nodes.get(h("b"))!.get("web").state.hostConfiguration.deploymentConfig).toEqual({ image: "v1" });
  });
});
