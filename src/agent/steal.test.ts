// Proves the steal meter: /proc/stat's steal per CPU in ms; a reading at
// most once a second from the side turn; at a stall, the most one CPU lost
// since the last reading and over how long; nothing (and no more reading)
// where /proc/stat has no steal or cannot be read. And that it reads this
// machine's /proc/stat.
import { expect, test } from "bun:test";
import { parseSteal, StealMeter, STEAL_READ_MS } from "./steal.ts";

const stat = (cpu0: number, cpu1: number) => `cpu  1 0 1 9 0 0 0 ${cpu0 + cpu1} 0 0\ncpu0 1 0 1 9 0 0 0 ${cpu0} 0 0\ncpu1 1 0 1 9 0 0 0 ${cpu1} 0 0\nintr 5\n`;

test("parseSteal: each cpuN line's 8th value in ms; null without CPU lines or without the field", () => {
  expect(parseSteal(stat(3, 4))).toEqual([30, 40]);
  expect(parseSteal("intr 1\n")).toBeNull();
  expect(parseSteal("cpu0 1 2 3\n")).toBeNull();
});

test("the meter: the side turn reads once a second; a stall gets the most one CPU lost since, and over how long", () => {
  let text = stat(0, 0);
  let reads = 0;
  const m = new StealMeter(() => (reads++, text));
  expect(m.since(0)).toBeNull(); // no reading before: nothing to tell (this one is the first)
  m.mark(500); // under a second after: no read
  expect(reads).toBe(1);
  m.mark(STEAL_READ_MS);
  expect(reads).toBe(2);
  text = stat(6, 9); // 60 ms and 90 ms lost
  expect(m.since(STEAL_READ_MS + 120)).toEqual({ stolenMs: 90, overMs: 120 });
  expect(m.since(STEAL_READ_MS + 200)).toEqual({ stolenMs: 0, overMs: 80 }); // the stall's reading replaced the last
});

test("the meter falls silent where /proc/stat tells nothing, and reads no more", () => {
  let reads = 0;
  const m = new StealMeter(() => {
    reads++;
    throw new Error("ENOENT");
  });
  m.mark(0);
  expect(m.since(10)).toBeNull();
  m.mark(5_000);
  expect(reads).toBe(1);
  const noField = new StealMeter(() => "cpu0 1 2 3\n");
  noField.mark(0);
  expect(noField.since(10)).toBeNull();
});

test("this machine's /proc/stat has a steal field for each CPU", () => {
  const m = new StealMeter();
  m.mark(0);
  const s = m.since(1);
  expect(s).not.toBeNull();
  expect(s!.stolenMs).toBeGreaterThanOrEqual(0);
});
