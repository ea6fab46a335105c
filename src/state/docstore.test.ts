// Proves the state document and its durable store: a shared genesis, bad
// edits named, saves off the loop that reload the same document, a kill -9
// mid-save that never leaves a torn change, and conflicts listed.
import { afterEach, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as A from "@automerge/automerge";
import { applyEdit, genesis, history, toJson } from "./doc.ts";
import { INCREMENTS_MAX, openDocStore } from "./docstore.ts";

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "umbra-docstore-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("state document", () => {
  test("every host builds the same genesis, so replicas share their root objects", () => {
    const a = genesis("web");
    const b = genesis("web");
    expect(A.getHeads(a)).toEqual(A.getHeads(b));
    expect(A.getHeads(genesis("db"))).not.toEqual(A.getHeads(a));
    // Concurrent edits on the two replicas merge key by key: nothing hidden.
    const a2 = applyEdit(a, { set: { image: "web:2" } }, "a", 1);
    const b2 = applyEdit(b, { set: { replicas: 3 } }, "b", 1);
    expect(toJson(A.merge(a2, b2)).hostConfiguration.deploymentConfig).toEqual({ image: "web:2", replicas: 3 });
  });

  test("bad edits say which key is wrong", () => {
    expect(() => applyEdit(genesis("web"), {}, "m", 0)).toThrow("changes nothing");
    expect(() => applyEdit(genesis("web"), { set: { "": 1 } }, "m", 0)).toThrow('key ""');
    expect(() => applyEdit(genesis("web"), { set: { big: "x".repeat(70_000) } }, "m", 0)).toThrow('key "big"');
  });
});

describe("durable document store", () => {
  test("saves increments, reloads the same document, compacts without losing a change", async () => {
    const dir = tmp();
    const st = openDocStore(dir, "web");
    let doc = st.doc;
    for (let i = 1; i <= INCREMENTS_MAX + 5; i++) {
      doc = applyEdit(doc, { set: { [`k${i}`]: i } }, `write ${i}`, i);
      expect(await st.save(doc)).toBeGreaterThan(0);
    }
    expect(await st.save(doc)).toBe(0); // nothing new
    expect(st.stats().increments).toBeLessThan(INCREMENTS_MAX);
    const again = openDocStore(dir, "web");
    expect(toJson(again.doc)).toEqual(toJson(doc));
    expect(A.getHeads(again.doc)).toEqual(A.getHeads(doc));
    expect(history(again.doc).map((h) => h.message)).toEqual(["genesis", ...Array.from({ length: INCREMENTS_MAX + 5 }, (_, i) => `write ${i + 1}`)]);
  });

  test("a leftover temporary file is swept; a foreign or damaged file is refused with the directory named", async () => {
    const dir = tmp();
    const st = openDocStore(dir, "web");
    await st.save(applyEdit(st.doc, { set: { a: 1 } }, "m", 1));
    writeFileSync(join(dir, "docs", "web", "inc-99.am.tmp"), "half");
    openDocStore(dir, "web");
    expect(readdirSync(join(dir, "docs", "web")).some((f) => f.endsWith(".tmp"))).toBe(false);
    writeFileSync(join(dir, "docs", "web", "inc-100.am"), "not automerge");
    expect(() => openDocStore(dir, "web")).toThrow(join(dir, "docs", "web"));
  });

  test("a save reads the document at once and runs off the loop; heads become durable only when it ends; one save at a time", async () => {
    const st = openDocStore(tmp(), "web");
    let doc = applyEdit(st.doc, { set: { a: 1 } }, "a", 1);
    const heads = A.getHeads(doc);
    const saving = st.save(doc);
    expect(A.equals(st.durableHeads(), heads)).toBe(false);
    expect(st.save(doc)).rejects.toThrow("in flight");
    doc = applyEdit(doc, { set: { b: 2 } }, "b", 2); // the caller goes on editing meanwhile
    expect(await saving).toBeGreaterThan(0);
    expect(st.durableHeads()).toEqual(heads);
    expect(await st.save(doc)).toBeGreaterThan(0);
    expect(st.durableHeads()).toEqual(A.getHeads(doc));
  });

  test("kill -9 in the middle of saves leaves the last durable change, never a torn one", async () => {
    // A child process writes k1, k2, ... one save each; it is killed at a
    // moment of our choosing. What reloads must be exactly k1..kn for some n,
    // and at least every write the child reported durable before it died.
    const writer = join(import.meta.dir, "..", "..", "test", "fixtures", "docstore-writer.ts");
    const node = join(import.meta.dir, "..", "..", "node_modules", ".bin", "node");
    for (const killAfterMs of [40, 90, 160]) {
      const dir = tmp();
      const child = spawn(node, [writer, dir], { stdio: ["ignore", "pipe", "inherit"] });
      let reported = 0;
      child.stdout.on("data", (b: Buffer) => {
        const lines = b.toString().trim().split("\n");
        reported = Math.max(reported, Number(lines[lines.length - 1]));
      });
      await new Promise<void>((res) => {
        const first = () => setTimeout(() => { child.kill("SIGKILL"); res(); }, killAfterMs);
        child.stdout.once("data", first);
        setTimeout(res, 10_000).unref();
      });
      await new Promise((res) => child.once("exit", res));
      expect(reported).toBeGreaterThan(0);
      const st = openDocStore(dir, "web");
      const cfg = toJson(st.doc).hostConfiguration.deploymentConfig as Record<string, number>;
      const n = Object.keys(cfg).length;
      expect(n).toBeGreaterThanOrEqual(reported);
      for (let i = 1; i <= n; i++) expect(cfg[`k${i}`]).toBe(i);
    }
  }, 60_000);
});

describe("conflicts and versions", () => {
  test("a key written on both sides of a partition is listed with both values; configAt reads an old version", async () => {
    const { configAt, configConflicts } = await import("./doc.ts");
    const g = genesis("web");
    const v1 = applyEdit(g, { set: { image: "web:1" } }, "v1", 1);
    const a = applyEdit(v1, { set: { image: "web:2a" } }, "a", 2);
    const b = applyEdit(A.clone(v1), { set: { image: "web:2b" } }, "b", 2);
    const m = A.merge(a, b);
    const c = configConflicts(m);
    expect(c.length).toBe(1);
    expect(c[0]!.key).toBe("image");
    expect([c[0]!.chosen, ...c[0]!.others].sort()).toEqual(["web:2a", "web:2b"]);
    expect(configAt(m, A.getHeads(v1))).toEqual({ image: "web:1" });
  });
});
