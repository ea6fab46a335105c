// Proves the chunk store keeps chunks by hash, finds and removes a corrupt
// one, and sweeps leftovers without touching anything else.
import { afterEach, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { hashBytes, openChunkStore, TEMP_PREFIX } from "./chunks.ts";

const NODE = path.resolve(import.meta.dir, "../../node_modules/.bin/node");
const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), "umbra-chunks-"));
  dirs.push(d);
  return d;
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

function bytesOf(n: number, fill: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + fill) & 0xff;
  return b;
}

describe("chunk store", () => {
  test("put, has, get round trip, sharded by the first hash byte; puts are idempotent", async () => {
    const store = await openChunkStore(await tempDir());
    const bytes = bytesOf(70_000, 3);
    const h = await store.put(bytes);
    expect(h).toBe(hashBytes(bytes));
    expect(await store.has(h)).toBe(true);
    expect(Buffer.from((await store.get(h))!)).toEqual(Buffer.from(bytes));
    await fs.access(path.join(store.root, h.slice(0, 2), h.slice(2)));
    expect(await store.put(bytes)).toBe(h);
    await Promise.all([store.put(bytesOf(1000, 1)), store.put(bytesOf(1000, 1))]);
    expect((await store.list()).sort()).toEqual([h, hashBytes(bytesOf(1000, 1))].sort());
    const absent = hashBytes(new Uint8Array([1]));
    expect(await store.has(absent)).toBe(false);
    expect(await store.get(absent)).toBeNull();
  });

  test("a corrupt chunk is reported, removed, and treated as missing; a put then restores it", async () => {
    const corrupt: string[] = [];
    const store = await openChunkStore(await tempDir(), { onCorrupt: (h) => corrupt.push(h) });
    const bytes = bytesOf(20_000, 9);
    const h = await store.put(bytes);
    const file = path.join(store.root, h.slice(0, 2), h.slice(2));
    const bad = Buffer.from(bytes);
    bad[100] = bad[100]! ^ 0xff;
    await fs.writeFile(file, bad);
    expect(await store.get(h)).toBeNull();
    expect(corrupt).toEqual([h]);
    expect(await store.has(h)).toBe(false);
    await store.put(bytes);
    expect(Buffer.from((await store.get(h))!)).toEqual(Buffer.from(bytes));
  });

  test("sweep removes temp files and nothing else", async () => {
    const store = await openChunkStore(await tempDir());
    const h = await store.put(bytesOf(5000, 5));
    await fs.writeFile(path.join(store.root, "ab", `${TEMP_PREFIX}deadbeef-1-1`), "torn");
    await fs.writeFile(path.join(store.root, "00", `${TEMP_PREFIX}x`), "");
    expect(await store.sweep()).toBe(2);
    expect(await store.list()).toEqual([h]);
    expect(await store.sweep()).toBe(0);
  });

  // Proves a crash at any moment of a put leaves no torn chunk: a Node child
  // writes chunks in a loop and is SIGKILLed at a random moment; afterwards
  // every chunk file verifies, and sweep leaves no temp file behind.
  test(
    "kill -9 during chunk writes leaves only whole chunks",
    async () => {
      const root = await tempDir();
      const script = path.join(root, "writer.ts");
      const chunksTs = path.resolve(import.meta.dir, "chunks.ts");
      await fs.writeFile(
        script,
        `import { openChunkStore } from ${JSON.stringify(chunksTs)};
const store = await openChunkStore(process.argv[2]);
process.stdout.write("ready\\n");
// Four writers at once, so a kill often lands with temp files open.
await Promise.all([0, 1, 2, 3].map(async (w) => {
  for (let i = w; i < 100000; i += 4) {
    const n = 16384 + ((i * 7919) % 240000);
    const b = new Uint8Array(n);
    for (let j = 0; j < n; j += 4096) b[j] = (i + j) & 0xff;
    b[0] = i & 0xff; b[1] = (i >> 8) & 0xff; b[2] = (i >> 16) & 0xff;
    await store.put(b);
  }
}));
`,
      );
      const storeDir = path.join(root, "store");
      const rounds = 5;
      for (let round = 0; round < rounds; round++) {
        const child = spawn(NODE, [script, storeDir], { stdio: ["ignore", "pipe", "inherit"] });
        const exited = new Promise<void>((r) => child.once("exit", () => r()));
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error("writer did not start in 20 s")), 20_000);
          child.stdout.once("data", () => {
            clearTimeout(t);
            resolve();
          });
        });
        await new Promise((r) => setTimeout(r, 100 + Math.floor(Math.random() * 400)));
        child.kill("SIGKILL");
        await exited;
      }
      const store = await openChunkStore(storeDir);
      const names = await store.list();
      expect(names.length).toBeGreaterThan(0);
      for (const h of names) expect(await store.get(h)).not.toBeNull();
      const swept = await store.sweep();
      console.log(`kill -9: ${names.length} chunks verified, ${swept} temp files swept`);
      for (let i = 0; i < 256; i++) {
        for (const name of await fs.readdir(path.join(storeDir, i.toString(16).padStart(2, "0")))) expect(name.startsWith(TEMP_PREFIX)).toBe(false);
      }
    },
    60_000,
  );
});
