// Proves openFramedChannel over a real connection (loopback TCP, Noise via
// secret-stream, protomux): frames arrive decoded; a malformed frame is
// logged as frame-dropped {peer, why, bytes} and answered by the handler's
// choice of close (the state channel closes only itself and the connection
// lives on; the mesh's choice destroys the connection); a second open of the
// same protocol on one connection gives null.

import { afterEach, describe, expect, test } from "bun:test";
import c from "compact-encoding";
import { createRequire } from "node:module";
import net from "node:net";
import Protomux from "protomux";
import { MESH_CODEC, type WireMsg } from "../mesh/index.ts";
import { attachStateChannel, type StateLink, STATE_PROTOCOL, type StateWire } from "../state/index.ts";
import { openFramedChannel } from "./framed.ts";
import { hostId } from "./ids.ts";
import type { Logger } from "./log.ts";

// The mesh's transport: Noise over the socket, which also frames messages for protomux.
const SecretStream = createRequire(import.meta.url)("@hyperswarm/secret-stream");

/** A protocol of this test only, carrying mesh frames. */
const TEST_PROTOCOL = "umbra-test/framed/1";
/** How long a test waits for something to happen on loopback. */
const WAIT_MS = 5_000;

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const f of cleanups.splice(0).reverse()) f();
});

type End = { stream: any; mux: any };

/** Both ends of a real loopback TCP connection through secret-stream, a protomux on each. */
async function connect(): Promise<{ a: End; b: End }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((r) => server.once("connection", r));
  const sock = net.connect(port, "127.0.0.1");
  const serverSock = await accepted;
  server.close();
  const a = new SecretStream(true, sock);
  const b = new SecretStream(false, serverSock);
  for (const s of [a, b]) s.on("error", () => {}); // a destroyed connection errors; its close is what we check
  cleanups.push(() => {
    sock.destroy();
    serverSock.destroy();
  });
  return { a: { stream: a, mux: new Protomux(a) }, b: { stream: b, mux: new Protomux(b) } };
}

async function until(pred: () => boolean, what: string): Promise<void> {
  const end = Date.now() + WAIT_MS;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A logger that keeps what it is given. */
function recorder(): { log: Logger; lines: Array<{ part: string; event: string; fields: Record<string, unknown> }> } {
  const lines: Array<{ part: string; event: string; fields: Record<string, unknown> }> = [];
  return { lines, log: (_level, part, event, fields = {}) => lines.push({ part, event, fields }) };
}

/** A raw channel of `protocol` that sends whatever bytes it is given: a misbehaving peer. */
function rawSender(mux: any, protocol: string): { opened: () => boolean; send(b: Uint8Array): void } {
  let opened = false;
  const ch = mux.createChannel({ protocol, onopen: () => (opened = true) });
  const m = ch.addMessage({ encoding: c.raw });
  ch.open();
  return { opened: () => opened, send: (b) => m.send(b) };
}

type StateEvents = { opened: StateLink[]; closed: StateLink[]; got: StateWire[] };

function stateEnd(mux: any, peer: string, log: Logger): { link: StateLink | null; ev: StateEvents } {
  const ev: StateEvents = { opened: [], closed: [], got: [] };
  const link = attachStateChannel(mux, hostId(peer), {
    log,
    onOpen: (_p, l) => ev.opened.push(l),
    onMessage: (_p, m) => ev.got.push(m),
    onClose: (_p, l) => ev.closed.push(l),
  });
  return { link, ev };
}

describe("openFramedChannel", () => {
  test("the state channel: frames arrive decoded; the same link opens and closes; a second open is null", async () => {
    const { a, b } = await connect();
    const log = recorder().log;
    const ea = stateEnd(a.mux, "b", log);
    const eb = stateEnd(b.mux, "a", log);
    await until(() => ea.ev.opened.length === 1 && eb.ev.opened.length === 1, "both ends open");
    expect(ea.ev.opened[0]).toBe(ea.link!);
    expect(stateEnd(a.mux, "b", log).link).toBeNull();
    expect(ea.link!.send({ type: "heads", service: "web", heads: ["ab".repeat(32)] })).toBe(true);
    await until(() => eb.ev.got.length === 1, "the frame");
    expect(eb.ev.got[0]).toEqual({ type: "heads", service: "web", heads: ["ab".repeat(32)] });
    ea.link!.close();
    await until(() => ea.ev.closed.length === 1 && eb.ev.closed.length === 1, "both ends closed");
    expect(ea.ev.closed[0]).toBe(ea.link!);
    expect(ea.link!.send({ type: "durable", service: "web", id: "w" })).toBe(false);
  });

  test("a malformed state frame closes only the state channel, with a logged reason", async () => {
    const { a, b } = await connect();
    const rec = recorder();
    const eb = stateEnd(b.mux, "a", rec.log);
    const bad = rawSender(a.mux, STATE_PROTOCOL);
    await until(() => bad.opened() && eb.ev.opened.length === 1, "the channel open");
    bad.send(Buffer.from([9, 0]));
    await until(() => eb.ev.closed.length === 1, "the state channel closed");
    expect(rec.lines).toEqual([{ part: "state", event: "frame-dropped", fields: { peer: "a", why: "unknown state tag 9", bytes: 2 } }]);
    expect(eb.ev.got).toEqual([]);
    expect(b.stream.destroyed).toBe(false);
    // The connection lives on: another channel still opens on it.
    const again = rawSender(a.mux, TEST_PROTOCOL);
    const other = openFramedChannel<WireMsg>(b.mux, TEST_PROTOCOL, MESH_CODEC, { log: rec.log, part: "mesh", peer: hostId("a"), onMessage: () => {}, onMalformed: () => {} });
    await until(() => again.opened(), "another channel open");
    expect(other?.closed).toBe(false);
  });

  test("the mesh's choice: a malformed frame destroys the connection, after the good frames before it", async () => {
    const { a, b } = await connect();
    const rec = recorder();
    const got: WireMsg[] = [];
    const link = openFramedChannel<WireMsg>(b.mux, TEST_PROTOCOL, MESH_CODEC, {
      log: rec.log,
      part: "mesh",
      peer: hostId("a"),
      onMessage: (m) => got.push(m),
      onMalformed: () => b.stream.destroy(),
    });
    expect(link).not.toBeNull();
    const bad = rawSender(a.mux, TEST_PROTOCOL);
    await until(() => bad.opened(), "the channel open");
    bad.send(MESH_CODEC.encode({ type: "cert-request", service: "web", epoch: 3 }));
    bad.send(Buffer.from([99]));
    await until(() => b.stream.destroyed === true, "the connection destroyed");
    expect(got).toEqual([{ type: "cert-request", service: "web", epoch: 3 }]);
    expect(rec.lines).toEqual([{ part: "mesh", event: "frame-dropped", fields: { peer: "a", why: "unknown message tag 99", bytes: 1 } }]);
  });
});
