// systemd's notification protocol (sd_notify(3)), for a unit of Type=notify
// with a watchdog: READY=1 once the agent has started (its loop runs, its
// API listens), WATCHDOG=1 every half WatchdogSec while its loop is alive,
// STOPPING=1 when it stops. The messages are datagrams on $NOTIFY_SOCKET,
// which Node cannot send (its dgram module has no Unix sockets), so
// systemd's own `systemd-notify` sends them, naming the agent's PID
// (NotifyAccess=all in the unit: the sender is the helper). Without
// $NOTIFY_SOCKET (not under systemd, or Type=simple) nothing is sent.
import { spawn } from "node:child_process";
import type { Logger } from "../shared/log.ts";

/** The helper that sends a notification; on every systemd host (the systemd package). */
export const SYSTEMD_NOTIFY = "systemd-notify";
/** A notification that has not gone in this long is given up (systemd-notify waits for systemd to take it). */
const SEND_TIMEOUT_MS = 5_000;

export type Notifier = {
  ready(status: string): void;
  stopping(): void;
  /** Stops the watchdog's timer. */
  close(): void;
};

export type NotifyOptions = {
  env: NodeJS.ProcessEnv;
  pid: number;
  log: Logger;
  /** Whether the agent is well enough to pet the watchdog: its loop runs and has not crashed. */
  alive(): boolean;
  /** Prefix for the helper (`chrt --other 0` once the agent runs real-time); read at each send. */
  prefix?: readonly string[];
};

/** A notifier for systemd, or null when the agent does not run under a unit of Type=notify. */
export function systemdNotifier(o: NotifyOptions): Notifier | null {
  if ((o.env["NOTIFY_SOCKET"] ?? "") === "") return null;
  const send = (fields: string[]) => {
    const argv = [...(o.prefix ?? []), SYSTEMD_NOTIFY, `--pid=${o.pid}`, ...fields];
    const p = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "ignore", "pipe"], env: o.env, timeout: SEND_TIMEOUT_MS });
    let err = "";
    p.stderr!.on("data", (d: Buffer) => void (err += d.toString()));
    p.on("error", (e) => o.log("warn", "agent", "sd-notify-failed", { fields, error: e.message, effect: "systemd does not hear it (is systemd-notify installed?)" }));
    p.on("close", (code) => {
      if (code !== 0 && code !== null) o.log("warn", "agent", "sd-notify-failed", { fields, code, error: err.trim().slice(-300), effect: "systemd does not hear it" });
    });
  };
  const watchdogMs = watchdogIntervalMs(o.env, o.pid);
  let timer: NodeJS.Timeout | null = null;
  if (watchdogMs !== null) {
    timer = setInterval(() => {
      if (o.alive()) send(["WATCHDOG=1"]);
    }, watchdogMs);
    timer.unref();
  }
  return {
    ready: (status) => send(["--ready", `--status=${status}`]),
    stopping: () => send(["STOPPING=1"]),
    close: () => {
      if (timer !== null) clearInterval(timer);
      timer = null;
    },
  };
}

/** Half the watchdog's timeout (sd_watchdog_enabled(3): WATCHDOG_USEC, for this PID if WATCHDOG_PID names one), or null when there is none. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid: number): number | null {
  const usec = Number(env["WATCHDOG_USEC"] ?? "");
  if (!Number.isFinite(usec) || usec <= 0) return null;
  const forPid = env["WATCHDOG_PID"];
  if (forPid !== undefined && forPid !== "" && Number(forPid) !== pid) return null;
  return Math.max(1, Math.floor(usec / 1000 / 2));
}
