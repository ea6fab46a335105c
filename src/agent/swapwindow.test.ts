// Proves the swap windows' shell tells the core of each window opening and
// closing by the local clock, and that an auto window stays closed (saying
// why) until the day is learned, is then the quietest stretch of it, said
// when chosen, and is not moved while open.
import { expect, test } from "bun:test";
import { parseConfig } from "../shared/config.ts";
import { logger } from "../shared/log.ts";
import type { HostEvent } from "../decide/index.ts";
import { DayProfile } from "../forecast/index.ts";
import { OFFPEAK_LEARNING_CHECK_MS, swapWindowWatch } from "./swapwindow.ts";

const K = (c: string) => c.repeat(64);
const config = (swap: string) =>
  parseConfig(
    `cluster = "demo"\nhost = "h1"\nkeyFile = "h1.key"\nbootstrap = ["198.51.100.2:49737"]\n` +
      `[[hosts]]\nid = "h1"\npublicKey = "${K("a")}"\n[[hosts]]\nid = "h2"\npublicKey = "${K("b")}"\n` +
      `[[services]]\nname = "web"\nvip = "198.51.100.10/24"\ninterface = "eth0"\nprimary = "h1"\nshadows = ["h2"]\n[services.swap]\nevery = "7d"\n${swap}\n`,
    "u.toml",
  );

/** A watch of `swap` with the events it feeds and the log lines it writes; `profile` is this host's day (null: no sample yet). */
function watch(swap: string, profile: () => DayProfile | null) {
  const events: HostEvent[] = [];
  const lines: Array<Record<string, unknown>> = [];
  const log = logger("h1", "debug", (l) => void lines.push(JSON.parse(l)));
  const w = swapWindowWatch(config(swap), (e) => void events.push(e), { profile: () => profile()?.profile() ?? null, log });
  const opens = () => events.map((e) => (e.type === "swap-window" ? e.open : null));
  return { w, events, opens, chosen: () => lines.filter((l) => l.event === "swap-window-chosen") };
}

/** 10 March 2026 (or a later day), hh:mm local. */
const at = (hh: number, mm = 0, day = 10) => new Date(2026, 2, day, hh, mm);
const DAY_MS = 86_400_000;
/** One day of samples, a minute apart, into `p` (local day `d`), with load(minute of day). */
function learn(p: DayProfile, d: number, load: (minute: number) => number, toMinute = 1440): void {
  for (let m = 0; m < toMinute; m++) p.add(d * DAY_MS + m * 60_000, load(m));
}
const night = (m: number) => (m >= 180 && m < 300 ? 0.1 : 0.6);

test("a fixed window: the core hears it at the first look and at each change, by the local time of day", () => {
  const { w, opens } = watch('window = "22:00-02:00"', () => null);
  for (const d of [at(21, 59), at(22, 0), at(23, 30), at(1, 59, 11), at(2, 0, 11), at(12, 0, 11)]) w.look(d);
  expect(opens()).toEqual([false, true, false]);
  expect(w.view("web")).toEqual({ window: { fromMin: 22 * 60, toMin: 120 }, open: false, auto: null, load: null, why: null });
  expect(w.view("db")).toBeNull();
});

test("auto: closed until every slot of the day was seen, saying how far it got; then the quietest stretch, said and opened by the clock", () => {
  let p: DayProfile | null = null;
  const { w, opens, chosen } = watch('window = "auto"', () => p);
  w.look(at(3, 30));
  expect(w.view("web")).toMatchObject({ window: null, open: false, auto: { auto: true, lengthMin: 120, metric: "cpuLoad" }, why: "waiting for this host's first sample" });
  p = new DayProfile();
  learn(p, 0, night, 9 * 60); // 00:00-09:00
  w.look(at(3, 30, 10));
  expect(w.view("web")).toMatchObject({ window: null, why: "learning the day's load: 37 % of the day seen" });
  learn(p, 0, night); // the whole day
  w.look(new Date(at(3, 30).getTime() + OFFPEAK_LEARNING_CHECK_MS - 1_000)); // not asked again within a minute
  expect(w.view("web")!.window).toBeNull();
  w.look(at(2, 59, 11));
  expect(w.view("web")).toMatchObject({ window: { fromMin: 180, toMin: 300 }, open: false, why: null });
  expect(w.view("web")!.load).toBeCloseTo(0.1, 9);
  expect(chosen()).toEqual([expect.objectContaining({ part: "swap", service: "web", from: "03:00", to: "05:00", metric: "cpuLoad", before: null })]);
  w.look(at(3, 0, 11));
  w.look(at(4, 59, 11));
  w.look(at(5, 0, 11));
  expect(opens()).toEqual([false, true, false]);
});

test("auto: an open window is not moved; closed, it is chosen again hourly, and a clearly quieter one replaces it", () => {
  const p = new DayProfile();
  learn(p, 0, night);
  const { w, opens, chosen } = watch('window = "auto"\nlength = "2h"', () => p);
  const sec = (d: Date, s: number) => new Date(d.getTime() + s * 1000);
  w.look(at(3, 0)); // chosen and open at once
  learn(p, 1, (m) => (m >= 780 && m < 900 ? 0 : m >= 180 && m < 300 ? 0.9 : 0.6)); // a day with the afternoon quiet and the night busy
  w.look(at(4, 30));
  expect(w.view("web")).toMatchObject({ window: { fromMin: 180, toMin: 300 }, open: true });
  w.look(at(5, 0)); // it closes
  expect(w.view("web")).toMatchObject({ window: { fromMin: 180, toMin: 300 }, open: false });
  w.look(sec(at(5, 0), 1)); // closed, chosen two hours ago: 13:00-15:00, pooled 0.3 against the night's 0.5
  expect(w.view("web")!.window).toEqual({ fromMin: 780, toMin: 900 });
  learn(p, 2, (m) => (m >= 180 && m < 300 ? 0 : 0.6)); // the night quiet again: 0.33 against 0.4
  w.look(sec(at(6, 0), 0));
  expect(w.view("web")!.window).toEqual({ fromMin: 780, toMin: 900 }); // within the hour
  w.look(sec(at(6, 0), 1));
  expect(w.view("web")!.window).toEqual({ fromMin: 180, toMin: 300 });
  expect(chosen().map((l) => [l.from, l.to, l.before])).toEqual([
    ["03:00", "05:00", null],
    ["13:00", "15:00", "03:00-05:00"],
    ["03:00", "05:00", "13:00-15:00"],
  ]);
  expect(opens()).toEqual([true, false]);
});
