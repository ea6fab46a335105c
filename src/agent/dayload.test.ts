// Proves the day's load survives a restart through the state directory,
// that a file which does not parse is said and ignored, and that nothing is
// kept without an auto swap window.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../shared/config.ts";
import { logger } from "../shared/log.ts";
import type { HostSample } from "../probe/index.ts";
import { DAY_LOAD_FILE, startDayLoads } from "./dayload.ts";

const dir = mkdtempSync(join(tmpdir(), "umbra-dayload-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const K = (c: string) => c.repeat(64);
/** A config whose state directory exists (the agent makes it at start). */
function config(stateDir: string, swap: string) {
  mkdirSync(join(dir, stateDir), { recursive: true });
  return parseConfig(
    `cluster = "demo"\nhost = "h1"\nkeyFile = "h1.key"\nstateDir = "${stateDir}"\nbootstrap = ["198.51.100.2:49737"]\n` +
      `[[hosts]]\nid = "h1"\npublicKey = "${K("a")}"\n[[hosts]]\nid = "h2"\npublicKey = "${K("b")}"\n` +
      `[[services]]\nname = "web"\nvip = "198.51.100.10/24"\ninterface = "eth0"\nprimary = "h1"\nshadows = ["h2"]\n${swap}\n`,
    join(dir, "u.toml"),
  );
}
const AUTO = '[services.swap]\nevery = "7d"\nwindow = "auto"\nmetric = "memoryUsage"';
const sample = (ts: number, memoryUsage: number): HostSample => ({ ts, memoryUsage, cpuLoad: 0.9, diskIO: 0, networkLatency: null, storageUsage: 0, storageIOBytesPerSec: 0, networkBandwidthBytesPerSec: 0 });
const total = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

function logged() {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, log: logger("h1", "debug", (l) => void lines.push(JSON.parse(l))) };
}

test("samples are kept across a restart: written at stop, read at start, shown from the first sample of the run", async () => {
  const { lines, log } = logged();
  const a = startDayLoads(config("a", AUTO), log)!;
  expect(a.profile("memoryUsage")).toBeNull();
  const t0 = Date.UTC(2026, 2, 10, 3, 0);
  for (let i = 0; i < 600; i++) a.sample(sample(t0 + i * 1000, 0.25));
  expect(total(a.profile("memoryUsage")!.samples)).toBe(600);
  expect(a.profile("cpuLoad")).toBeNull(); // no auto window reads it
  await a.stop();
  a.sample(sample(t0 + 601_000, 0.25)); // after stop: not kept
  const doc = JSON.parse(readFileSync(join(dir, "a", DAY_LOAD_FILE), "utf8"));
  expect(Object.keys(doc.metrics)).toEqual(["memoryUsage"]);
  const b = startDayLoads(config("a", AUTO), log)!;
  expect(b.profile("memoryUsage")).toBeNull(); // days kept over a long stop may have aged out: wait for a sample
  b.sample(sample(t0 + 700_000, 0.25));
  const p = b.profile("memoryUsage")!;
  expect(total(p.samples)).toBe(601);
  expect(p.mean.filter((m) => m !== 0).every((m) => Math.abs(m - 0.25) < 1e-6)).toBe(true);
  await b.stop();
  expect(lines.filter((l) => l.level !== "debug")).toEqual([]);
});

test("a file that does not parse, or is not whole, is said and ignored: the day is learned again", async () => {
  for (const [sub, text] of [
    ["c1", "{ not json"],
    ["c2", JSON.stringify({ version: 99, metrics: {} })],
    ["c3", JSON.stringify({ version: 1, metrics: { memoryUsage: { days: [{ day: 1, mean: [1] }] } } })],
  ] as const) {
    const { lines, log } = logged();
    const c = config(sub, AUTO);
    writeFileSync(join(c.stateDir, DAY_LOAD_FILE), text);
    const d = startDayLoads(c, log)!;
    d.sample(sample(Date.UTC(2026, 2, 10, 3, 0), 0.5));
    expect(total(d.profile("memoryUsage")!.samples)).toBe(1);
    expect(lines).toEqual([expect.objectContaining({ level: "warn", part: "swap", event: "day-load-unreadable", path: join(c.stateDir, DAY_LOAD_FILE) })]);
    await d.stop();
  }
});

test("no auto swap window: nothing is kept", () => {
  const { log } = logged();
  expect(startDayLoads(config("n", ""), log)).toBeNull();
  expect(startDayLoads(config("n", '[services.swap]\nevery = "7d"\nwindow = "02:00-04:00"'), log)).toBeNull();
});
