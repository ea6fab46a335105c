// Proves the blob transfer end to end over real loopback TCP (secret-stream
// + protomux, a real chunk store on disk at each end): a cold fetch moves and
// verifies every chunk, a cut fetch resumes with only what is missing, a
// corrupt or lacking source is routed around, and a silent source is dropped
// after the idle timeout (on the fetch's injected clock and timers, too), the
// fetch failing when no source is left.

import { afterEach, describe, expect, test } from "bun:test";
import fs from "node:fs/promises";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import Protomux from "protomux";
import { UmbraError } from "../../shared/errors.ts";
import { type ChunkStore, hashBytes, openChunkStore } from "../chunks.ts";
import { assemble, type BlobManifest, ingestFile, missingChunks } from "../manifest.ts";
import { fetchBlob, type FetchProgress, type Timers } from "./fetcher.ts";
import { type BlobPeer, serveBlobs } from "./peer.ts";
import { IDLE_TIMEOUT_MS } from "./scheduler.ts";

// The mesh's transport: Noise over the socket, which also frames messages for protomux.
const SecretStream = createRequire(import.meta.url)("@hyperswarm/secret-stream");

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function tempDir(): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), "umbra-transfer-"));
  cleanups.push(() => fs.rm(d, { recursive: true, force: true }));
  return d;
}

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

type Link = { client: BlobPeer; server: BlobPeer; cut(): void };

/** A real loopback TCP connection through secret-stream, a protomux on each end, and the blob channel served on both. */
async function connect(clientStore: ChunkStore, serverStore: ChunkStore): Promise<Link> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((r) => server.once("connection", r));
  const sock = net.connect(port, "127.0.0.1");
  const serverSock = await accepted;
  server.close();
  const a = new SecretStream(true, sock);
  const b = new SecretStream(false, serverSock);
  for (const s of [a, b]) s.on("error", () => {}); // a cut connection errors; the channel's close is what we act on
  const clientPeer = serveBlobs(new Protomux(a), clientStore, { label: "server" })!;
  const serverPeer = serveBlobs(new Protomux(b), serverStore, { label: "client" })!;
  const cut = () => {
    sock.destroy();
    serverSock.destroy();
  };
  cleanups.push(cut);
  return { client: clientPeer, server: serverPeer, cut };
}

async function blobIn(dir: string, store: ChunkStore, size: number, seed: number): Promise<{ m: BlobManifest; data: Uint8Array }> {
  const data = randomBytes(size, seed);
  const file = path.join(dir, `blob-${seed}`);
  await fs.writeFile(file, data);
  return { m: await ingestFile(file, store), data };
}

/** A store whose reads are recorded, and optionally altered. */
function spy(store: ChunkStore, alter: (hash: string, b: Uint8Array) => Uint8Array | null = (_, b) => b): ChunkStore & { reads: string[] } {
  const reads: string[] = [];
  return {
    ...store,
    reads,
    async get(hash) {
      reads.push(hash);
      const b = await store.get(hash);
      return b === null ? null : alter(hash, b);
    },
  };
}

describe("blob transfer over loopback TCP (secret-stream + protomux)", () => {
  test("a cold fetch brings every chunk, verified, with progress up to the total", async () => {
    const dir = await tempDir();
    const src = await openChunkStore(path.join(dir, "src"));
    const dst = await openChunkStore(path.join(dir, "dst"));
    const { m, data } = await blobIn(dir, src, 6 * 1024 * 1024 + 99, 1);
    const link = await connect(dst, src);
    const seen: FetchProgress[] = [];
    const r = await fetchBlob(m, dst, [link.client], (p) => seen.push(p));
    expect(r.bytesFetched).toBe(m.size);
    expect(r.badChunks).toBe(0);
    const last = seen.at(-1)!;
    expect(last.bytesDone).toBe(last.bytesTotal);
    expect(last.chunksDone).toBe(m.chunks.length);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.bytesDone).toBeGreaterThanOrEqual(seen[i - 1]!.bytesDone);
    await assemble(m, dst, path.join(dir, "out"));
    expect(hashBytes(await fs.readFile(path.join(dir, "out")))).toBe(hashBytes(data));
    // The window keeps the server's unsent data bounded; both ends agree on what moved.
    expect(link.server.stats.bytesSent).toBe(m.size);
  }, 30_000);

  // Proves the store is the resume point: the connection is cut mid-transfer,
  // the fetch fails, and a second fetch on a new connection asks only for the
  // chunks the first did not store.
  test("cut mid-transfer, then resume fetching only the missing chunks", async () => {
    const dir = await tempDir();
    const src = await openChunkStore(path.join(dir, "src"));
    const dst = await openChunkStore(path.join(dir, "dst"));
    const { m } = await blobIn(dir, src, 12 * 1024 * 1024, 2);
    const first = await connect(dst, src);
    const err = await fetchBlob(m, dst, [first.client], (p) => {
      if (p.chunksDone >= p.chunksTotal * 0.4) first.cut();
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UmbraError);
    const stored = new Set(await dst.list());
    const missing = await missingChunks(m, dst);
    expect(stored.size).toBeGreaterThan(0);
    expect(missing.length).toBeGreaterThan(0);

    const spied = spy(src);
    const second = await connect(dst, spied);
    const r = await fetchBlob(m, dst, [second.client]);
    expect(r.chunksSkipped).toBe(stored.size);
    expect(new Set(spied.reads)).toEqual(new Set(missing.map((c) => c.hash)));
    expect(spied.reads.length).toBe(missing.length);
    for (const h of spied.reads) expect(stored.has(h)).toBe(false);
    expect(r.bytesFetched).toBe(missing.reduce((n, c) => n + c.size, 0));
    await assemble(m, dst, path.join(dir, "out"));
    expect(hashBytes(await fs.readFile(path.join(dir, "out")))).toBe(m.hash);
  }, 30_000);

  test("a corrupt chunk is dropped and fetched from another source; with no other source the fetch fails", async () => {
    const dir = await tempDir();
    const src = await openChunkStore(path.join(dir, "src"));
    const { m } = await blobIn(dir, src, 2 * 1024 * 1024, 3);
    const victim = m.chunks[5]!.hash;
    const liar = spy(src, (h, b) => {
      if (h !== victim) return b;
      const x = Buffer.from(b);
      x[0] = x[0]! ^ 1;
      return x;
    });

    const alone = await openChunkStore(path.join(dir, "alone"));
    const onlyLiar = await connect(alone, liar);
    const err = await fetchBlob(m, alone, [onlyLiar.client]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UmbraError);
    expect((await missingChunks(m, alone)).map((c) => c.hash)).toEqual([victim]);

    const dst = await openChunkStore(path.join(dir, "dst"));
    const bad = await connect(dst, liar);
    const good = await connect(dst, spy(src));
    const r = await fetchBlob(m, dst, [bad.client, good.client]);
    expect(await missingChunks(m, dst)).toEqual([]);
    expect(await dst.get(victim)).not.toBeNull();
    expect(r.badChunks).toBeLessThanOrEqual(1);
    expect(bad.client.stats.badChunks + good.client.stats.badChunks).toBe(r.badChunks);
  }, 30_000);

  test("a source that lacks chunks answers none, and another source fills them in", async () => {
    const dir = await tempDir();
    const full = await openChunkStore(path.join(dir, "full"));
    const { m } = await blobIn(dir, full, 3 * 1024 * 1024, 4);
    const half = await openChunkStore(path.join(dir, "half"));
    for (const [i, c] of m.chunks.entries()) if (i % 2 === 0) await half.put((await full.get(c.hash))!);
    const dst = await openChunkStore(path.join(dir, "dst"));
    const a = await connect(dst, half);
    const b = await connect(dst, full);
    const r = await fetchBlob(m, dst, [a.client, b.client]);
    expect(r.bytesFetched).toBe(m.size);
    expect(await missingChunks(m, dst)).toEqual([]);
    // Both sources did work, since the scheduler spreads chunks over them.
    expect(a.server.stats.chunksSent).toBeGreaterThan(0);
    expect(b.server.stats.chunksSent).toBeGreaterThan(0);
  }, 30_000);

  test("a silent source is dropped after the idle timeout and its chunks go elsewhere", async () => {
    const dir = await tempDir();
    const src = await openChunkStore(path.join(dir, "src"));
    const { m } = await blobIn(dir, src, 1024 * 1024, 6);
    const stuck: ChunkStore = { ...src, get: () => new Promise(() => {}) };
    const dst = await openChunkStore(path.join(dir, "dst"));
    const a = await connect(dst, stuck);
    const b = await connect(dst, src);
    const r = await fetchBlob(m, dst, [a.client, b.client], () => {}, { idleTimeoutMs: 300 });
    expect(r.bytesFetched).toBe(m.size);
    const onlyStuck = await openChunkStore(path.join(dir, "dst2"));
    const c = await connect(onlyStuck, stuck);
    await expect(fetchBlob(m, onlyStuck, [c.client], () => {}, { idleTimeoutMs: 300 })).rejects.toThrow(UmbraError);
  }, 30_000);

  // Proves the fetch reads time only through what it is given: the real idle
  // timeout (the default, 30 s) never passes, yet the silent source is
  // dropped once the injected clock moves past it and the injected interval fires.
  test("the clock and the timers are injected: the idle drop follows them, not real time", async () => {
    const dir = await tempDir();
    const src = await openChunkStore(path.join(dir, "src"));
    const { m } = await blobIn(dir, src, 1024 * 1024, 7);
    const stuck: ChunkStore = { ...src, get: () => new Promise(() => {}) };
    const dst = await openChunkStore(path.join(dir, "dst"));
    const a = await connect(dst, stuck);
    const b = await connect(dst, src);
    let clock = 0;
    const ticks: Array<() => void> = [];
    const timers: Timers = {
      after: () => () => {},
      every: (_ms, fn) => {
        ticks.push(fn);
        return () => ticks.splice(ticks.indexOf(fn), 1);
      },
    };
    let settled = false;
    const fetching = fetchBlob(m, dst, [a.client, b.client], () => {}, { now: () => clock, timers }).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBe(false); // the stuck source holds its chunks; real time alone drops nothing
    expect(ticks.length).toBe(1);
    clock = IDLE_TIMEOUT_MS + 1;
    ticks[0]!();
    const r = await fetching;
    expect(r.bytesFetched).toBe(m.size);
    expect(ticks.length).toBe(0); // the finished fetch stopped its interval
  }, 30_000);
});
