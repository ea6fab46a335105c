// Blob replication bench (issue 5), to be merged into bench/replication.ts.
//
//   node bench/replication-blobs.ts [--size-mib 256] [--runs 5] [--dir /tmp]
//
// 1. Chunker throughput: FastCDC over the blob in memory, fed in 1 MiB pieces
//    (streaming) and in one go; median MB/s (10^6 bytes) over --runs.
// 2. A 1 MiB edit inside the blob: a shadow holding the old version fetches
//    the new one over loopback; bytes of chunks moved and bytes on the wire
//    (goal: <= 2 MiB moved).
// 3. A cold transfer of the whole blob over loopback TCP (secret-stream +
//    protomux, every chunk verified and written durably to the store) against
//    a plain node:net pipe of the same file over the same loopback into a
//    file (the `cat file | nc` anchor, fsynced once at the end), as a ratio.
//    Medians over --runs.
//
// The source side (umbra's blob server, or the anchor's sender) runs in a
// child Node process, as it would on another host: in one process the
// encryption and hashing of both ends would share one thread.

import { spawn } from "node:child_process";
import { randomFillSync } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import Protomux from "protomux";
import { chunkEnds, createChunker } from "../src/state/cdc.ts";
import { type ChunkStore, openChunkStore } from "../src/state/chunks.ts";
import { assemble, type BlobManifest, ingestFile } from "../src/state/manifest.ts";
import { fetchBlob, serveBlobs } from "../src/state/blobs/index.ts";

const SecretStream = createRequire(import.meta.url)("@hyperswarm/secret-stream");

function arg(name: string, dflt: number | string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : String(dflt);
}
const SIZE_BYTES = Number(arg("size-mib", 256)) * 1024 * 1024;
const RUNS = Number(arg("runs", 5));
const BASE = arg("dir", os.tmpdir());
const EDIT_BYTES = 1024 * 1024;
const MB = 1e6;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
const fmt = (x: number, d = 1) => x.toFixed(d);

async function writeRandomFile(file: string, size: number): Promise<void> {
  const h = await fsp.open(file, "w");
  const piece = Buffer.allocUnsafe(1024 * 1024);
  for (let off = 0; off < size; off += piece.length) {
    randomFillSync(piece);
    await h.write(piece, 0, Math.min(piece.length, size - off));
  }
  await h.close();
}

async function tcpConnect(port: number): Promise<net.Socket> {
  const sock = net.connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    sock.once("connect", () => resolve());
    sock.once("error", reject);
  });
  return sock;
}

/** The source host: a child Node process serving the store (blobs) or piping the file (plain) to whoever connects. */
async function startSource(dir: string, storeDir: string, file: string): Promise<{ blobsPort: number; plainPort: number; stop(): void }> {
  const script = path.join(dir, "source.ts");
  const here = path.dirname(new URL(import.meta.url).pathname);
  const mod = (p: string) => JSON.stringify(path.resolve(here, p));
  await fsp.writeFile(
    script,
    `import net from "node:net";
import fs from "node:fs";
import { createRequire } from "node:module";
import { openChunkStore } from ${mod("../src/state/chunks.ts")};
import { serveBlobs } from ${mod("../src/state/blobs/index.ts")};
const req = createRequire(${mod("./replication-blobs.ts")});
const SecretStream = req("@hyperswarm/secret-stream");
const Protomux = req("protomux");
const store = await openChunkStore(process.argv[2]);
const blobs = net.createServer((sock) => {
  const s = new SecretStream(false, sock);
  s.on("error", () => {});
  serveBlobs(new Protomux(s), store, { label: "shadow" });
});
const plain = net.createServer((sock) => {
  sock.on("error", () => {});
  fs.createReadStream(process.argv[3], { highWaterMark: 1024 * 1024 }).pipe(sock);
});
await new Promise((r) => blobs.listen(0, "127.0.0.1", r));
await new Promise((r) => plain.listen(0, "127.0.0.1", r));
process.stdout.write(JSON.stringify({ blobsPort: blobs.address().port, plainPort: plain.address().port }) + "\\n");
`,
  );
  const child = spawn(process.execPath, [script, storeDir, file], { stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("source did not start in 30 s")), 30_000);
    child.stdout.once("data", (d: Buffer) => {
      clearTimeout(t);
      resolve(d.toString());
    });
    child.once("exit", (code) => reject(new Error(`source exited with ${code}`)));
  });
  const ports = JSON.parse(line) as { blobsPort: number; plainPort: number };
  return { ...ports, stop: () => child.kill("SIGKILL") };
}

/** A secret-stream connection to the source, protomux, the blob channel (served on our side too, as the agent does). */
async function blobLink(port: number, dst: ChunkStore) {
  const sock = await tcpConnect(port);
  const a = new SecretStream(true, sock);
  a.on("error", () => {});
  const peer = serveBlobs(new Protomux(a), dst, { label: "source" })!;
  return { peer, sock, close: () => sock.destroy() };
}

/** The anchor: the file through a plain socket into a file, fsynced at the end. Seconds. */
async function plainCopy(port: number, out: string, size: number): Promise<number> {
  const t0 = performance.now();
  const sock = await tcpConnect(port);
  const fd = fs.openSync(out, "w");
  const ws = fs.createWriteStream(out, { fd, autoClose: false });
  const done = new Promise<void>((resolve, reject) => {
    ws.on("finish", () => resolve());
    ws.on("error", reject);
  });
  sock.pipe(ws);
  await done;
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  const s = (performance.now() - t0) / 1000;
  if (fs.statSync(out).size !== size) throw new Error("plain copy came up short");
  return s;
}

/** A chunk store in memory (for the diagnostic only: no durability). */
function memoryStore(): ChunkStore {
  const mem = new Map<string, Uint8Array>();
  return {
    root: "(memory)",
    async put() {
      throw new Error("not used");
    },
    async putVerified(hash, bytes) {
      mem.set(hash, bytes);
    },
    async get(hash) {
      return mem.get(hash) ?? null;
    },
    async has(hash) {
      return mem.has(hash);
    },
    async flush() {},
    async sweep() {
      return 0;
    },
    async list() {
      return [...mem.keys()];
    },
  };
}

async function main() {
  const dir = await fsp.mkdtemp(path.join(BASE, "umbra-bench-blobs-"));
  let stopSource = () => {};
  const cleanup = () => {
    stopSource();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.on("SIGINT", () => {
    cleanup();
    process.exit(130);
  });
  try {
    const results: Record<string, unknown> = { sizeMiB: SIZE_BYTES / 1048576, runs: RUNS, node: process.version, cpus: os.cpus().length };
    const original = path.join(dir, "blob.v1");
    await writeRandomFile(original, SIZE_BYTES);

    // 1. Chunker throughput.
    const data = await fsp.readFile(original);
    const streamMBs: number[] = [];
    const wholeMBs: number[] = [];
    let nChunks = 0;
    for (let r = 0; r < RUNS; r++) {
      let t = performance.now();
      const ch = createChunker();
      nChunks = 0;
      for (let off = 0; off < data.length; off += 1024 * 1024) nChunks += ch.push(data.subarray(off, off + 1024 * 1024)).length;
      nChunks += ch.end().length;
      streamMBs.push(data.length / MB / ((performance.now() - t) / 1000));
      t = performance.now();
      chunkEnds(data);
      wholeMBs.push(data.length / MB / ((performance.now() - t) / 1000));
    }
    results.chunkerStreamingMBps = Math.round(median(streamMBs));
    results.chunkerWholeMBps = Math.round(median(wholeMBs));
    results.chunks = nChunks;
    results.chunkMeanKiB = Number(fmt(data.length / nChunks / 1024));
    console.log(`chunker: streaming ${results.chunkerStreamingMBps} MB/s, one-shot ${results.chunkerWholeMBps} MB/s (median of ${RUNS}); ${nChunks} chunks, mean ${results.chunkMeanKiB} KiB`);

    // 2. The 1 MiB edit.
    const edited = path.join(dir, "blob.v2");
    const editAt = Math.floor(SIZE_BYTES / 2) + 12_345;
    const patch = randomFillSync(Buffer.allocUnsafe(EDIT_BYTES));
    patch.copy(data, editAt);
    await fsp.writeFile(edited, data);
    const src = await openChunkStore(path.join(dir, "src"));
    let t = performance.now();
    const m1 = await ingestFile(original, src);
    results.ingestMBps = Math.round(SIZE_BYTES / MB / ((performance.now() - t) / 1000));
    const m2 = await ingestFile(edited, src);
    const source = await startSource(dir, src.root, original);
    stopSource = source.stop;
    const shadow = await openChunkStore(path.join(dir, "shadow"));
    await ingestFile(original, shadow); // the shadow holds v1
    {
      const link = await blobLink(source.blobsPort, shadow);
      const before = link.sock.bytesRead + link.sock.bytesWritten; // the Noise handshake
      const r = await fetchBlob(m2, shadow, [link.peer]);
      const wire = link.sock.bytesRead + link.sock.bytesWritten - before;
      link.close();
      results.editChunksMoved = r.chunksFetched;
      results.editBytesMoved = r.bytesFetched;
      results.editWireBytes = wire;
      console.log(`1 MiB edit in ${SIZE_BYTES / 1048576} MiB: ${r.chunksFetched} chunks, ${fmt(r.bytesFetched / 1048576, 3)} MiB moved, ${fmt(wire / 1048576, 3)} MiB on the wire (goal <= 2 MiB)`);
    }
    await fsp.rm(path.join(dir, "shadow"), { recursive: true, force: true });

    // 3. Cold transfer vs the plain pipe.
    const umbraSecs: number[] = [];
    const plainSecs: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      // As the agent stores a fetched blob: no fsync per chunk, one syncfs at the end (counted).
      const dst = await openChunkStore(path.join(dir, `dst${r}`), { syncEach: false });
      t = performance.now();
      const link = await blobLink(source.blobsPort, dst);
      await fetchBlob(m1, dst, [link.peer]);
      await dst.flush();
      umbraSecs.push((performance.now() - t) / 1000);
      link.close();
      if (r === 0) {
        t = performance.now();
        await assemble(m1 as BlobManifest, dst, path.join(dir, "assembled"));
        results.assembleMBps = Math.round(SIZE_BYTES / MB / ((performance.now() - t) / 1000));
        await fsp.rm(path.join(dir, "assembled"));
      }
      await fsp.rm(path.join(dir, `dst${r}`), { recursive: true, force: true });
      plainSecs.push(await plainCopy(source.plainPort, path.join(dir, "plain.out"), SIZE_BYTES));
      await fsp.rm(path.join(dir, "plain.out"));
      console.log(`  run ${r + 1}: umbra ${fmt(SIZE_BYTES / MB / umbraSecs[r]!)} MB/s, plain TCP ${fmt(SIZE_BYTES / MB / plainSecs[r]!)} MB/s`);
    }
    // Diagnostic: the same fetch into a store kept in memory, so no fsync: what the protocol, Noise and hashing cost alone.
    const memSecs: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const mem = memoryStore();
      t = performance.now();
      const link = await blobLink(source.blobsPort, mem);
      await fetchBlob(m1, mem, [link.peer]);
      memSecs.push((performance.now() - t) / 1000);
      link.close();
    }
    results.coldNoDiskMBps = Math.round(SIZE_BYTES / MB / median(memSecs));
    const umbraMBps = SIZE_BYTES / MB / median(umbraSecs);
    const plainMBps = SIZE_BYTES / MB / median(plainSecs);
    results.coldUmbraMBps = Math.round(umbraMBps);
    results.coldPlainTcpMBps = Math.round(plainMBps);
    results.coldRatio = Number((umbraMBps / plainMBps).toFixed(3));
    console.log(`cold ${SIZE_BYTES / 1048576} MiB: umbra ${fmt(umbraMBps)} MB/s vs plain TCP ${fmt(plainMBps)} MB/s: ratio ${results.coldRatio} (medians of ${RUNS}); assemble ${results.assembleMBps} MB/s, ingest ${results.ingestMBps} MB/s`);
    console.log(`diagnostic: the same fetch into an in-memory store (no disk writes): ${results.coldNoDiskMBps} MB/s`);
    console.log(JSON.stringify(results));
  } finally {
    cleanup();
  }
}

await main();
