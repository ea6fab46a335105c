// The swap windows' clock: for each service with [services.swap], whether
// this host's local time of day is inside its window, told to the core when
// it changes (and at start). The core decides whether and with whom to swap
// (decide/quorum.ts); this only reads the wall clock, which the core never
// does. Local time, as operators write off-peak hours: a DST change makes
// the night's window an hour shorter or longer (a window inside the skipped
// hour does not open that night), a clock step (NTP) moves it, and a new
// time zone counts from the agent's next start. Each only delays or hastens
// a planned handover.

import { inWindow, type Config } from "../shared/config.ts";
import type { HostEvent } from "../decide/index.ts";

/** How often the clock is read: a window opens within this of its minute. */
export const SWAP_WINDOW_CHECK_MS = 1_000;

/** Starts watching; `feed` gets a swap-window event per service at start and at each change. */
export function startSwapWindows(config: Config, feed: (e: HostEvent) => void, now: () => Date = () => new Date()): { stop(): void } {
  const watched = config.services.filter((s) => s.swap !== undefined);
  if (watched.length === 0) return { stop: () => undefined };
  const open = new Map<string, boolean>();
  const look = () => {
    const d = now();
    const minute = d.getHours() * 60 + d.getMinutes();
    for (const s of watched) {
      const w = s.swap!.window;
      const isOpen = !("auto" in w) && inWindow(w, minute); // auto: closed until the day's load is learned
      if (open.get(s.name) === isOpen) continue;
      open.set(s.name, isOpen);
      feed({ type: "swap-window", service: s.name, open: isOpen });
    }
  };
  look();
  const timer = setInterval(look, SWAP_WINDOW_CHECK_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
