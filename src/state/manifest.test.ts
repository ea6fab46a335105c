// Proves a blob's manifest: ingest then assemble gives back the same bytes,
// missing chunks are listed and refused, and the whole-content hash is
// checked.
import { afterEach, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { UmbraError } from "../shared/errors.ts";
import { hashBytes, openChunkStore, TEMP_PREFIX } from "./chunks.ts";
import { assemble, type BlobManifest, checkManifest, ingestFile, missingChunks, type Progress, sweepAssemblyTemps } from "./manifest.ts";

const NODE = path.resolve(import.meta.dir, "../../node_modules/.bin/node");
const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), "umbra-manifest-"));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

function randomBytes(n: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(n / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer, 0, n);
}

describe("manifest", () => {
  test("ingest then assemble gives the same bytes; the manifest describes them", async () => {
    const dir = await tempDir();
    const store = await openChunkStore(path.join(dir, "store"));
    const data = randomBytes(3 * 1024 * 1024 + 777, 5);
    await fs.writeFile(path.join(dir, "in.bin"), data);
    const seen: Progress[] = [];
    const m = await ingestFile(path.join(dir, "in.bin"), store, (p) => seen.push(p));
    checkManifest(m);
    expect(m.name).toBe("in.bin");
    expect(m.size).toBe(data.length);
    expect(m.hash).toBe(hashBytes(data));
    expect(m.chunks.length).toBeGreaterThan(10);
    expect(seen.at(-1)!.bytesDone).toBe(data.length);
    expect(await missingChunks(m, store)).toEqual([]);
    const out = path.join(dir, "out.bin");
    const done: Progress[] = [];
    await assemble(m, store, out, (p) => done.push(p));
    expect(Buffer.from(await fs.readFile(out)).equals(Buffer.from(data))).toBe(true);
    expect(done.at(-1)).toEqual({ bytesDone: m.size, bytesTotal: m.size, chunksDone: m.chunks.length, chunksTotal: m.chunks.length });
    expect((await fs.readdir(dir)).filter((n) => n.startsWith(TEMP_PREFIX))).toEqual([]);
  });

  test("an empty file and a file of repeated content (a chunk that repeats moves once)", async () => {
    const dir = await tempDir();
    const store = await openChunkStore(path.join(dir, "store"));
    await fs.writeFile(path.join(dir, "empty"), "");
    const e = await ingestFile(path.join(dir, "empty"), store);
    expect(e).toEqual({ name: "empty", size: 0, hash: hashBytes(new Uint8Array(0)), chunks: [] });
    await assemble(e, store, path.join(dir, "empty.out"));
    expect((await fs.stat(path.join(dir, "empty.out"))).size).toBe(0);
    await fs.writeFile(path.join(dir, "zeros"), new Uint8Array(2 * 1024 * 1024));
    const z = await ingestFile(path.join(dir, "zeros"), store);
    expect(z.chunks.length).toBe(8);
    expect(new Set(z.chunks.map((c) => c.hash)).size).toBe(1);
  });

  test("missingChunks lists what the store lacks; assemble refuses and leaves the old file when a chunk is missing", async () => {
    const dir = await tempDir();
    const store = await openChunkStore(path.join(dir, "store"));
    await fs.writeFile(path.join(dir, "in.bin"), randomBytes(1024 * 1024, 8));
    const m = await ingestFile(path.join(dir, "in.bin"), store);
    const gone = m.chunks[3]!;
    await fs.rm(path.join(store.root, gone.hash.slice(0, 2), gone.hash.slice(2)));
    expect(await missingChunks(m, store)).toEqual([gone]);
    const out = path.join(dir, "out.bin");
    await fs.writeFile(out, "old");
    const err = await assemble(m, store, out).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UmbraError);
    expect((err as UmbraError).code).toBe("state_corrupt");
    expect(await fs.readFile(out, "utf8")).toBe("old");
    expect(await sweepAssemblyTemps(dir)).toBe(0);
  });

  test("assemble checks the whole-content hash", async () => {
    const dir = await tempDir();
    const store = await openChunkStore(path.join(dir, "store"));
    await fs.writeFile(path.join(dir, "in.bin"), randomBytes(200_000, 9));
    const m = await ingestFile(path.join(dir, "in.bin"), store);
    const lying: BlobManifest = { ...m, hash: hashBytes(new Uint8Array([1, 2, 3])) };
    await expect(assemble(lying, store, path.join(dir, "out.bin"))).rejects.toThrow(/hash differs/);
    await expect(fs.access(path.join(dir, "out.bin"))).rejects.toThrow();
  });

  test.each([
    ["not an object", null],
    ["sizes that do not add up", { name: "x", size: 5, hash: "a".repeat(64), chunks: [{ hash: "b".repeat(64), size: 4 }] }],
    ["a bad chunk hash", { name: "x", size: 4, hash: "a".repeat(64), chunks: [{ hash: "B".repeat(64), size: 4 }] }],
    ["an oversized chunk", { name: "x", size: 1 << 20, hash: "a".repeat(64), chunks: [{ hash: "b".repeat(64), size: 1 << 20 }] }],
    ["no name", { name: "", size: 0, hash: "a".repeat(64), chunks: [] }],
  ])("checkManifest rejects %s", (_what, m) => {
    expect(() => checkManifest(m)).toThrow(UmbraError);
  });

  // Proves assemble is atomic under kill -9: a Node child assembles the blob
  // over the same path in a loop and is killed at a random moment; the path
  // then holds either nothing or the whole blob, and the temp files go.
  test(
    "kill -9 during assemble leaves the old file or the whole new one",
    async () => {
      const dir = await tempDir();
      const store = await openChunkStore(path.join(dir, "store"));
      await fs.writeFile(path.join(dir, "in.bin"), randomBytes(4 * 1024 * 1024, 12));
      const m = await ingestFile(path.join(dir, "in.bin"), store);
      await fs.writeFile(path.join(dir, "m.json"), JSON.stringify(m));
      const outDir = path.join(dir, "out");
      await fs.mkdir(outDir);
      const script = path.join(dir, "assembler.ts");
      await fs.writeFile(
        script,
        `import fs from "node:fs";
import { openChunkStore } from ${JSON.stringify(path.resolve(import.meta.dir, "chunks.ts"))};
import { assemble } from ${JSON.stringify(path.resolve(import.meta.dir, "manifest.ts"))};
const [storeDir, manifestFile, out] = process.argv.slice(2);
const store = await openChunkStore(storeDir);
const m = JSON.parse(fs.readFileSync(manifestFile, "utf8"));
process.stdout.write("ready\\n");
for (let i = 0; i < 10000; i++) await assemble(m, store, out);
`,
      );
      const out = path.join(outDir, "blob");
      for (let round = 0; round < 4; round++) {
        const child = spawn(NODE, [script, store.root, path.join(dir, "m.json"), out], { stdio: ["ignore", "pipe", "inherit"] });
        const exited = new Promise<void>((r) => child.once("exit", () => r()));
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error("assembler did not start in 20 s")), 20_000);
          child.stdout.once("data", () => {
            clearTimeout(t);
            resolve();
          });
        });
        await new Promise((r) => setTimeout(r, 50 + Math.floor(Math.random() * 300)));
        child.kill("SIGKILL");
        await exited;
        const present = await fs.access(out).then(() => true, () => false);
        if (present) expect(hashBytes(await fs.readFile(out))).toBe(m.hash);
      }
      const swept = await sweepAssemblyTemps(outDir);
      expect((await fs.readdir(outDir)).filter((n) => n !== "blob")).toEqual([]);
      console.log(`kill -9 during assemble: output whole, ${swept} temp files swept`);
    },
    60_000,
  );
});
