// bench/replication: what one state change costs between two replicas on
// loopback, over the real mesh (hyperswarm, protomux, Noise) and the real
// durable store (fsync on both sides).
//   - bytes on the wire for a one-key config change (state channel frames,
//     the Automerge sync round plus the durability request and answer);
//   - replication lag: a write on the primary to durable on the shadow, as
//     the time until the primary holds the shadow's acknowledgement (an upper
//     bound: it includes the way back), median and p95 over --writes changes;
//   - the anchor, side by side in the same run: a bare TCP round trip on the
//     same loopback with one fsync'ed append on the far side, i.e. the floor
//     any durable replication pays.
//
//   node bench/replication.ts [--writes 100] [--runs 3] [--json]
import { parseArgs } from "node:util";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, openSync, writeSync, fsyncSync, closeSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import DHT from "hyperdht";
import { generateKeyPair } from "../src/shared/identity.ts";

const { values } = parseArgs({ options: { writes: { type: "string", default: "100" }, runs: { type: "string", default: "3" }, json: { type: "boolean", default: false }, help: { type: "boolean", short: "h" } } });
if (values.help) {
  process.stdout.write("usage: node bench/replication.ts [--writes 100] [--runs 3] [--json]\n");
  process.exit(0);
}
const writes = Number(values.writes);
const runs = Number(values.runs);
if (!Number.isInteger(writes) || writes < 1 || writes > 10_000 || !Number.isInteger(runs) || runs < 1 || runs > 20) {
  process.stderr.write("bench/replication: --writes must be 1-10000 and --runs 1-20\n");
  process.exit(2);
}
const ROOT = resolve(import.meta.dirname, "..");
const NODE = process.execPath;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};
const median = (xs: number[]) => pct(xs, 0.5);

async function umbraRun(): Promise<{ lat: number[]; perWrite: Array<{ sync: number; other: number }>; loopMaxMs: number; loopP99Ms: number }> {
  const dir = mkdtempSync(join(tmpdir(), "umbra-bench-repl-"));
  const port = 45000 + Math.floor(Math.random() * 5000);
  const boot = DHT.bootstrapper(port, "127.0.0.1");
  await boot.ready();
  const keys: Record<string, { publicKey: string; secretKey: string }> = {};
  for (const h of ["a", "b"]) {
    const kp = generateKeyPair();
    keys[h] = { publicKey: kp.publicKey.toString("hex"), secretKey: kp.secretKey.toString("hex") };
  }
  writeFileSync(join(dir, "keys.json"), JSON.stringify(keys));
  const peer = (self: string, n: number) => spawn(NODE, [join(ROOT, "bench/replication-peer.ts"), "--self", self, "--keys", join(dir, "keys.json"), "--bootstrap", `127.0.0.1:${port}`, "--dir", join(dir, self), "--writes", String(n)], { stdio: ["ignore", "pipe", "inherit"] });
  const b = peer("b", 0);
  const a = peer("a", writes);
  try {
    const line = await new Promise<string>((res, rej) => {
      const timer = setTimeout(() => rej(new Error("the writer did not finish within 120 s")), 120_000);
      createInterface({ input: a.stdout! }).once("line", (l) => {
        clearTimeout(timer);
        res(l);
      });
      a.once("exit", (code) => code !== 0 && rej(new Error(`the writer exited with ${code}`)));
    });
    const r = JSON.parse(line);
    if (r.error) throw new Error(r.error);
    return r;
  } finally {
    for (const p of [a, b]) if (p.exitCode === null) p.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 200));
    for (const p of [a, b]) if (p.exitCode === null) p.kill("SIGKILL");
    await boot.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The floor: a 100-byte message over TCP on loopback, appended and fsynced on the far side, answered. */
async function anchorRun(): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), "umbra-bench-anchor-"));
  const fd = openSync(join(dir, "log"), "a");
  const server = createServer((s) => {
    s.on("data", (buf) => {
      writeSync(fd, buf);
      fsyncSync(fd);
      s.write("k");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  const sock = connect(port, "127.0.0.1");
  sock.setNoDelay(true);
  await new Promise<void>((r) => sock.once("connect", () => r()));
  const lat: number[] = [];
  const msg = Buffer.alloc(100, 7);
  for (let i = 0; i < writes; i++) {
    const t0 = performance.now();
    await new Promise<void>((r) => {
      sock.once("data", () => r());
      sock.write(msg);
    });
    lat.push(performance.now() - t0);
  }
  sock.destroy();
  await new Promise((r) => server.close(() => r(null)));
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
  return lat;
}

const umbraMedians: number[] = [];
const umbraP95s: number[] = [];
const anchorMedians: number[] = [];
const bytes: number[] = [];
const syncBytes: number[] = [];
const loopMax: number[] = [];
const loopP99: number[] = [];
for (let run = 1; run <= runs; run++) {
  const u = await umbraRun();
  const anc = await anchorRun();
  umbraMedians.push(median(u.lat));
  umbraP95s.push(pct(u.lat, 0.95));
  anchorMedians.push(median(anc));
  bytes.push(median(u.perWrite.map((w) => w.sync + w.other)));
  syncBytes.push(median(u.perWrite.map((w) => w.sync)));
  loopMax.push(u.loopMaxMs);
  loopP99.push(u.loopP99Ms);
  process.stderr.write(`  run ${run}/${runs}: umbra lag median ${median(u.lat).toFixed(2)} ms p95 ${pct(u.lat, 0.95).toFixed(2)} ms, bytes/change ${bytes.at(-1)}, writer loop delay p99 ${u.loopP99Ms.toFixed(1)} ms max ${u.loopMaxMs.toFixed(1)} ms; anchor ${median(anc).toFixed(2)} ms\n`);
}
const result = {
  writes,
  runs,
  lagMedianMs: median(umbraMedians),
  lagP95Ms: median(umbraP95s),
  anchorMedianMs: median(anchorMedians),
  ratio: median(umbraMedians) / median(anchorMedians),
  bytesPerOneKeyChange: median(bytes),
  syncBytesPerOneKeyChange: median(syncBytes),
  writerLoopDelayP99Ms: median(loopP99),
  writerLoopDelayMaxMs: Math.max(...loopMax),
};
if (values.json) process.stdout.write(JSON.stringify(result) + "\n");
else {
  process.stdout.write(`state replication, 2 replicas on loopback, ${writes} one-key changes x ${runs} runs (medians of run medians)\n`);
  process.stdout.write(`  replication lag (write -> durable on shadow, acked back): median ${result.lagMedianMs.toFixed(2)} ms, p95 ${result.lagP95Ms.toFixed(2)} ms   (goal <= 50 ms)\n`);
  process.stdout.write(`  writer's event loop held up (saves run off it): p99 ${result.writerLoopDelayP99Ms.toFixed(1)} ms (median of runs), max ${result.writerLoopDelayMaxMs.toFixed(1)} ms (all runs)\n`);
  process.stdout.write(`  anchor: TCP round trip + one fsync'ed append: ${result.anchorMedianMs.toFixed(2)} ms   umbra/anchor ${result.ratio.toFixed(2)}\n`);
  process.stdout.write(`  bytes on the wire per one-key change: ${result.bytesPerOneKeyChange} (Automerge sync ${result.syncBytesPerOneKeyChange}, durability request/answer and heads the rest; plus Noise/protomux framing)\n`);
}
