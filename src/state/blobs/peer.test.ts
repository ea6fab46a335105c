// Proves the blob channel's answers to a misbehaving peer, over a real
// connection (loopback TCP, Noise via secret-stream, protomux, a chunk store
// on disk): a frame that does not decode is logged as frame-dropped {peer,
// why, bytes} under "blobs" and closes the blob channel only (its listeners
// hear the close, the connection lives on); an answer nobody asked for is
// counted and dropped; a want past the server's queue closes the channel.

import { afterEach, describe, expect, test } from "bun:test";
import c from "compact-encoding";
import { once } from "node:events";
import fs from "node:fs/promises";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import Protomux from "protomux";
import type { Logger } from "../../shared/log.ts";
import { openChunkStore } from "../chunks.ts";
import { BLOBS_PROTOCOL, encodeBlobMsg, WANT_HASHES_MAX } from "./codec.ts";
import { type BlobPeer, serveBlobs } from "./peer.ts";
import { SERVE_QUEUE_MAX } from "./server.ts";

// The mesh's transport: Noise over the socket, which also frames messages for protomux.
const SecretStream = createRequire(import.meta.url)("@hyperswarm/secret-stream");

/** How long a test waits for something to happen on loopback. */
const WAIT_MS = 5_000;
/** A chunk hash nobody holds. */
const HASH = "ab".repeat(32);

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

/** The two streams of a loopback TCP connection, Noise on top. */
async function loopback(): Promise<[any, any]> {
  const listener = net.createServer().listen(0, "127.0.0.1");
  await once(listener, "listening");
  const dialed = net.connect((listener.address() as net.AddressInfo).port, "127.0.0.1");
  const [accepted] = (await once(listener, "connection")) as [net.Socket];
  listener.close();
  cleanups.push(() => [dialed, accepted].forEach((s) => s.destroy()));
  const ends: [any, any] = [new SecretStream(true, dialed), new SecretStream(false, accepted)];
  for (const s of ends) s.on("error", () => {}); // a destroyed connection errors; the channel's close is what we check
  return ends;
}

async function until(pred: () => boolean, what: string): Promise<void> {
  for (const end = Date.now() + WAIT_MS; !pred(); await new Promise((r) => setTimeout(r, 10))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}

type Line = { level: string; part: string; event: string; fields: Record<string, unknown> };

/**
 * The blob channel served on one end (the peer labelled "remote", its log
 * kept, a listener counting closes) and, on the other, a raw channel of the
 * same protocol that sends whatever bytes it is given: a misbehaving remote.
 */
async function servedAgainstRaw(): Promise<{ peer: BlobPeer; stream: any; lines: Line[]; closes: () => number; send(b: Uint8Array): void }> {
  const [ours, theirs] = await loopback();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "umbra-blob-peer-"));
  cleanups.push(() => fs.rm(dir, { recursive: true, force: true }));
  const lines: Line[] = [];
  const log: Logger = (level, part, event, fields = {}) => lines.push({ level, part, event, fields });
  const peer = serveBlobs(new Protomux(ours), await openChunkStore(dir), { label: "remote", log })!;
  let closed = 0;
  peer.subscribe({ onChunk: () => {}, onNone: () => {}, onClose: () => closed++ });
  let opened = false;
  const raw = new Protomux(theirs).createChannel({ protocol: BLOBS_PROTOCOL, onopen: () => (opened = true) });
  const frame = raw.addMessage({ encoding: c.raw });
  raw.open();
  await until(() => opened, "the blob channel open");
  return { peer, stream: ours, lines, closes: () => closed, send: (b) => frame.send(b) };
}

describe("serveBlobs against a misbehaving peer", () => {
  test("a malformed frame is logged and closes the blob channel only", async () => {
    const s = await servedAgainstRaw();
    s.send(Buffer.from([9]));
    await until(() => s.peer.closed, "the blob channel closed");
    expect(s.lines).toEqual([{ level: "warn", part: "blobs", event: "frame-dropped", fields: { peer: "remote", why: "unknown blob tag 9", bytes: 1 } }]);
    expect(s.closes()).toBe(1);
    expect(s.stream.destroyed).toBe(false);
    expect(s.peer.want([HASH])).toBe(false);
  });

  test("an answer nobody asked for is counted and dropped; the channel stays open", async () => {
    const s = await servedAgainstRaw();
    s.send(encodeBlobMsg({ type: "none", hash: HASH }));
    s.send(encodeBlobMsg({ type: "chunk", hash: HASH, bytes: new Uint8Array([1, 2, 3]) }));
    await until(() => s.peer.stats.unsolicited === 2, "both answers counted");
    expect(s.lines.map((l) => [l.event, l.fields.type])).toEqual([["unsolicited-answer", "none"], ["unsolicited-answer", "chunk"]]);
    expect(s.peer.stats.chunksReceived).toBe(0);
    expect(s.peer.closed).toBe(false);
  });

  test("wants past the server's queue close the channel", async () => {
    const s = await servedAgainstRaw();
    const hashes = Array.from({ length: WANT_HASHES_MAX }, (_, i) => i.toString(16).padStart(64, "0"));
    for (let sent = 0; sent <= 2 * SERVE_QUEUE_MAX; sent += WANT_HASHES_MAX) s.send(encodeBlobMsg({ type: "want", hashes }));
    await until(() => s.peer.closed, "the blob channel closed");
    expect(s.lines.filter((l) => l.event === "want-queue-overflow").length).toBe(1);
    expect(s.closes()).toBe(1);
    expect(s.stream.destroyed).toBe(false);
  });
});
