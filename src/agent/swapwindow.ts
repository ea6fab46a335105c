// The swap windows' clock: for each service with [services.swap], whether
// this host's local time of day is inside its window, told to the core when
// it changes (and at start). The core decides whether and with whom to swap
// (decide/quorum.ts); this only reads the wall clock, which the core never
// does. Local time, as operators write off-peak hours: a DST change makes
// the night's window an hour shorter or longer (a window inside the skipped
// hour does not open that night), a clock step (NTP) moves it, and a new
// time zone counts from the agent's next start. Each only delays or hastens
// a planned handover.
//
// window = "auto": the window is the quietest stretch of this host's day
// (decide/offpeak.ts, from the profile dayload.ts keeps), chosen again every
// OFFPEAK_RECHOOSE_MS while closed (an open window is not moved under a
// swap), and said when it changes. Until the day is learned it stays closed.

import { inWindow, type AutoWindow, type Config, type DayWindow } from "../shared/config.ts";
import type { HostMetric } from "../shared/metrics.ts";
import type { Logger } from "../shared/log.ts";
import { clockText, windowText } from "../shared/dayslots.ts";
import { daySeenShare, quietestWindow, type HostEvent, type LoadProfile, type OffPeakWindow } from "../decide/index.ts";

/** How often the clock is read: a window opens within this of its minute. */
export const SWAP_WINDOW_CHECK_MS = 1_000;
/** A chosen auto window is chosen again this often: a week's profile moves little in an hour. */
export const OFFPEAK_RECHOOSE_MS = 3_600_000;
/** Until one is chosen, the profile is asked this often: the last slot seen opens the window within a minute. */
export const OFFPEAK_LEARNING_CHECK_MS = 60_000;

/** A service's window as this host uses it now, for status. */
export type SwapWindowView = {
  /** The window in use; null while an auto window has none yet. */
  window: DayWindow | null;
  open: boolean;
  /** An auto window's config; null for a fixed one. */
  auto: AutoWindow | null;
  /** An auto window's predicted load: the mean of its slots over the days kept. */
  load: number | null;
  /** Why there is no window yet. */
  why: string | null;
};

export type SwapWindows = {
  stop(): void;
  /** The window of a service with [services.swap]; null for one without. */
  view(service: string): SwapWindowView | null;
};

export type SwapWindowDeps = {
  /** This host's day by a metric (dayload.ts); null before its first sample. */
  profile(metric: HostMetric): LoadProfile | null;
  log: Logger;
};

/** Starts watching; `feed` gets a swap-window event per service at start and at each change. */
export function startSwapWindows(config: Config, feed: (e: HostEvent) => void, deps: SwapWindowDeps, now: () => Date = () => new Date()): SwapWindows {
  const w = swapWindowWatch(config, feed, deps);
  if (config.services.every((s) => s.swap === undefined)) return { stop: () => undefined, view: w.view };
  w.look(now());
  const timer = setInterval(() => w.look(now()), SWAP_WINDOW_CHECK_MS);
  timer.unref();
  return { stop: () => clearInterval(timer), view: w.view };
}

/** The windows' state, and one look at the clock's reading `d`: each window chosen or not, open or not, the core told of each change. */
export function swapWindowWatch(config: Config, feed: (e: HostEvent) => void, deps: SwapWindowDeps): { look(d: Date): void; view(service: string): SwapWindowView | null } {
  const watched = config.services.filter((s) => s.swap !== undefined);
  const views = new Map<string, SwapWindowView>(watched.map((s) => [s.name, initialView(s.swap!.window)]));
  /** Wall ms each auto window was last chosen at (absent: not yet). */
  const asked = new Map<string, number>();
  /** What the core was last told of each window. */
  const told = new Map<string, boolean>();
  const look = (d: Date) => {
    const t = d.getTime();
    const minute = d.getHours() * 60 + d.getMinutes();
    for (const s of watched) {
      let v = views.get(s.name)!;
      if (v.auto !== null && !v.open && due(asked.get(s.name), t, v.window === null)) {
        const chosen = choose(s.name, v, deps);
        if (chosen !== null) asked.set(s.name, t); // before the first sample: asked again at the next look
        v = chosen ?? v;
      }
      const isOpen = v.window !== null && inWindow(v.window, minute);
      views.set(s.name, { ...v, open: isOpen });
      if (told.get(s.name) === isOpen) continue;
      told.set(s.name, isOpen);
      feed({ type: "swap-window", service: s.name, open: isOpen });
    }
  };
  return { look, view: (service) => views.get(service) ?? null };
}

function initialView(w: DayWindow | AutoWindow): SwapWindowView {
  if (!("auto" in w)) return { window: w, open: false, auto: null, load: null, why: null };
  return { window: null, open: false, auto: w, load: null, why: "waiting for this host's first sample" };
}

/** Whether an auto window is due to be chosen (again): never asked, its interval past, or the clock stepped back. */
function due(last: number | undefined, t: number, learning: boolean): boolean {
  return last === undefined || t < last || t - last >= (learning ? OFFPEAK_LEARNING_CHECK_MS : OFFPEAK_RECHOOSE_MS);
}

/** The auto window from the profile now: the one in use kept unless another is clearly quieter (offpeak.ts), each change said; null before the first sample. */
function choose(service: string, v: SwapWindowView, deps: SwapWindowDeps): SwapWindowView | null {
  const auto = v.auto!;
  const p = deps.profile(auto.metric);
  if (p === null) return null;
  const next: OffPeakWindow | null = quietestWindow(p, auto.lengthMin, v.window?.fromMin ?? null);
  if (next === null) {
    const why = `learning the day's load: ${Math.floor(daySeenShare(p) * 100)} % of the day seen`;
    if (v.window !== null) deps.log("warn", "swap", "swap-window-dropped", { service, metric: auto.metric, why });
    return { ...v, window: null, load: null, why };
  }
  if (v.window === null || v.window.fromMin !== next.fromMin) {
    deps.log("info", "swap", "swap-window-chosen", { service, from: clockText(next.fromMin), to: clockText(next.toMin), metric: auto.metric, load: next.load, before: v.window === null ? null : windowText(v.window) });
  }
  return { ...v, window: { fromMin: next.fromMin, toMin: next.toMin }, load: next.load, why: null };
}
