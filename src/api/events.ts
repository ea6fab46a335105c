// GET /events: server-sent events for the dashboard and for scripts. The
// agent's notable log lines (elections, VIP changes, health, operators'
// orders, membership) go to an EventHub, which keeps the latest few and
// passes each to every open stream; a stream starts with those kept, then
// follows live, and gets the status document every second.
//
//   event: log      data: one log line as JSON (ts, level, host, part, event, ...)
//   event: status   data: the status document (GET /status)
import type { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { Logger } from "../shared/log.ts";
import type { StatusDoc } from "./types.ts";

/** Log lines kept for a stream that opens later. */
export const EVENTS_KEPT = 200;
/** Streams open at once, at most: each costs a status document a second. */
export const STREAMS_MAX = 16;
/** Between two status documents on a stream. */
const STATUS_EVERY_MS = 1_000;
/** Parts whose info lines an operator watches; warnings and errors of every part go too. */
const PARTS_WATCHED: ReadonlySet<string> = new Set(["quorum", "actuate", "operators", "health", "membership", "forecast", "agent"]);

export type EventLine = { ts: string; level: string; host: string; part: string; event: string; [k: string]: unknown };

export class EventHub {
  private readonly kept: EventLine[] = [];
  private readonly subs = new Set<(e: EventLine) => void>();

  publish(e: EventLine): void {
    if (e.level === "debug" || (e.level === "info" && !PARTS_WATCHED.has(e.part))) return;
    this.kept.push(e);
    if (this.kept.length > EVENTS_KEPT) this.kept.shift();
    for (const f of this.subs) f(e);
  }

  recent(): EventLine[] {
    return [...this.kept];
  }

  get streams(): number {
    return this.subs.size;
  }

  subscribe(f: (e: EventLine) => void): () => void {
    this.subs.add(f);
    return () => this.subs.delete(f);
  }
}

/** A logger that also publishes each line it writes to the hub (at the logger's own level). */
export function publishingLogger(hub: EventHub, host: string, inner: Logger): Logger {
  return (level, part, event, fields = {}) => {
    inner(level, part, event, fields);
    hub.publish({ ts: new Date().toISOString(), level, host, part, event, ...fields });
  };
}

export function eventRoutes(app: Hono, hub: EventHub, status: () => StatusDoc): void {
  app.get("/events", (c) => {
    if (hub.streams >= STREAMS_MAX) return c.json({ error: `${STREAMS_MAX} event streams are open already: close one` }, 503);
    return streamSSE(c, async (stream) => {
      let open = true;
      const queue: EventLine[] = hub.recent();
      let wake: (() => void) | null = null;
      const unsubscribe = hub.subscribe((e) => {
        queue.push(e);
        if (queue.length > EVENTS_KEPT) queue.shift(); // a slow reader loses the oldest, not the agent's memory
        wake?.();
      });
      stream.onAbort(() => {
        open = false;
        wake?.();
      });
      let nextStatusAt = 0;
      try {
        while (open) {
          if (performance.now() >= nextStatusAt) {
            await stream.writeSSE({ event: "status", data: JSON.stringify(status()) });
            nextStatusAt = performance.now() + STATUS_EVERY_MS;
          }
          while (queue.length > 0 && open) await stream.writeSSE({ event: "log", data: JSON.stringify(queue.shift()) });
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, Math.max(0, nextStatusAt - performance.now()));
          });
          wake = null;
        }
      } finally {
        unsubscribe();
      }
    });
  });
}
