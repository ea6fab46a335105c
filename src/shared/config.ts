// The agent's configuration: TOML, parsed and validated once at the edge,
// then passed down fully resolved. A bad file names the file, the key path
// and what is wrong, one issue a line, and nothing starts.

import { holderLeaseMs } from "./lease.ts";
import { HOST_METRICS, RATIO_METRICS, type HostMetric } from "./metrics.ts";
import { DAY_SLOT_MIN } from "./dayslots.ts";
import { CONFIG_PROFILES, PROFILES, UNFENCED, type Timing } from "./profiles.ts";
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { isIPv4, isIPv6 } from "node:net";
import { parse as parseToml, TomlError } from "smol-toml";
import { z } from "zod";
import { UmbraError } from "./errors.ts";
import { parseHostPort } from "./hostport.ts";
import { hostId, type HostId } from "./ids.ts";

export { PROFILES, CONFIG_PROFILES, type ProfileName, type ConfigProfileName, type Timing } from "./profiles.ts";

/** Membership tracks at most 256 peers (PEERS_MAX in decide/membership.ts), plus this host. */
export const HOSTS_MAX = 257;
/** runHook refuses longer (HOOK_TIMEOUT_MS_MAX in actuate/hooks.ts): a hook that needs more is a bug. */
const HOOK_TIMEOUT_MS_MAX = 10 * 60_000;
/** Operator keys a config may list. */
export const OPERATORS_MAX = 256;

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, "must be 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit");
/** Host ids are branded here, once: everything downstream takes them from the parsed config. */
const hostIdName = name.transform(hostId);
const labels = z.record(z.string(), z.string());
const ms = (min: number, max: number) => z.number().int().min(min).max(max);

/** A metric's limit as a table: a line above, below, or both (above over below). */
const LimitSchema = z
  .object({ above: z.number().finite().optional(), below: z.number().finite().optional() })
  .strict()
  .refine((l) => l.above !== undefined || l.below !== undefined, { message: "a limit names above, below or both" })
  .refine((l) => l.above === undefined || l.below === undefined || l.above > l.below, { message: "above must be greater than below" });

/** Swaps come at most this often: a service that changes holder more often is flapping by design. */
const SWAP_EVERY_MS_MIN = 10_000;
const DURATION_UNITS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** "7d", "12h", "30m", "45s": milliseconds. */
const durationMs = z
  .string()
  .regex(/^[1-9][0-9]{0,5}[smhd]$/, 'must be a duration: a whole number and a unit, s, m, h or d (e.g. "7d")')
  .transform((d) => Number(d.slice(0, -1)) * DURATION_UNITS[d.slice(-1)]!);
const DurationSchema = durationMs.refine((ms) => ms >= SWAP_EVERY_MS_MIN, { message: `at least ${SWAP_EVERY_MS_MIN / 1000}s` });
/** An auto window at most this long: half the day is the most that can be called off-peak. */
const AUTO_WINDOW_MIN_MAX = 12 * 60;
/** An auto window without `length`. */
const AUTO_WINDOW_MIN_DEFAULT = 2 * 60;
/** An auto window's length: whole slots of the day's grid (decide/offpeak.ts chooses among them), in minutes. */
const AutoLengthSchema = durationMs
  .transform((ms) => ms / 60_000)
  .refine((min) => Number.isInteger(min) && min % DAY_SLOT_MIN === 0 && min <= AUTO_WINDOW_MIN_MAX, { message: `must be whole ${DAY_SLOT_MIN}-minute slots, from ${DAY_SLOT_MIN}m to ${AUTO_WINDOW_MIN_MAX / 60}h (e.g. "2h", "90m")` });
/** Minutes of the day, 0-1440. */
const hhmm = (t: string): number => Number(t.slice(0, 2)) * 60 + Number(t.slice(3, 5));
/** "02:00-04:00" (local time; "22:00-02:00" spans midnight; "00:00-24:00" is always): from and to, in minutes of the day; or "auto". */
const WindowSchema = z
  .string()
  .regex(/^auto$|^([01][0-9]|2[0-3]):[0-5][0-9]-(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$/, 'must be "auto" or a window of the day, HH:MM-HH:MM (e.g. "02:00-04:00"; local time)')
  .transform((w) => (w === "auto" ? ("auto" as const) : { fromMin: hhmm(w.slice(0, 5)), toMin: hhmm(w.slice(6, 11)) }))
  .refine((w) => w === "auto" || w.fromMin !== w.toMin, { message: "an empty window: from and to are the same time" });
/** [services.swap] as written: `length` and `metric` only with window = "auto" (parseConfig folds them into the window). */
const SwapSchema = z
  .object({ every: DurationSchema.optional(), window: WindowSchema, length: AutoLengthSchema.optional(), metric: z.enum(HOST_METRICS).optional(), moveBackInWindow: z.boolean().default(false) })
  .strict()
  .refine((s) => s.every !== undefined || s.moveBackInWindow, { message: "give every (swap roles that often) or moveBackInWindow = true (moves back wait for the window), or both: alone, a window does nothing" })
  .refine((s) => s.window === "auto" || (s.length === undefined && s.metric === undefined), { message: 'length and metric are for window = "auto" (a fixed window has its own length, and measures nothing)' });

/** A fixed window of the day: minutes from 00:00 local, from inclusive, to exclusive (to < from: across midnight). */
export type DayWindow = { fromMin: number; toMin: number };
/** A swap window as the shells read it: fixed, or auto (the quietest `lengthMin` of this host's day by `metric`: decide/offpeak.ts). */
export type SwapWindow = DayWindow | AutoWindow;
export type AutoWindow = { auto: true; lengthMin: number; metric: HostMetric };
/** every: 0 when not given (no swaps; the window is for moves back). */
export type SwapConfig = { every: number; window: SwapWindow; moveBackInWindow: boolean };

/** Whether a time of day (minutes, 0-1439) falls in a window (from inclusive, to exclusive; across midnight when to < from). */
export function inWindow(w: DayWindow, minuteOfDay: number): boolean {
  return w.fromMin < w.toMin ? minuteOfDay >= w.fromMin && minuteOfDay < w.toMin : minuteOfDay >= w.fromMin || minuteOfDay < w.toMin;
}

/** One metric's limit, either way it is written. */
export type LimitSpec = number | { above?: number; below?: number };

/** A limit's lines: the value it must not rise above and the one it must not fall below (null: none). */
export function limitLines(l: LimitSpec): { above: number | null; below: number | null } {
  return typeof l === "number" ? { above: l, below: null } : { above: l.above ?? null, below: l.below ?? null };
}
const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, { message: "must be host:port (IPv6 as [addr]:port)", abort: true })
  .refine((s) => {
    const port = Number(s.slice(s.lastIndexOf(":") + 1));
    return port >= 1 && port <= 65535;
  }, "has a port outside 1-65535");

/** Checks a service may have. */
export const CHECKS_MAX = 16;

/** One health check: exactly one of http, tcp, command; how often, how long, and keepalived's rise and fall. */
const CheckSchema = z
  .object({
    /** GET this URL: a 2xx answer passes. */
    http: z.string().url().refine((u) => u.startsWith("http://"), "must be an http:// URL (a local check needs no TLS)").optional(),
    /** Connect to host:port: a connection passes. */
    tcp: hostPort.optional(),
    /** Run this program with these arguments (no shell): exit 0 passes. */
    command: z.array(z.string().min(1)).min(1, "names the program, then its arguments").optional(),
    intervalMs: ms(100, 3_600_000).default(1000),
    timeoutMs: ms(10, 600_000).default(1000),
    /** Successes in a row that make a failing check pass. */
    rise: z.number().int().min(1).max(100).default(2),
    /** Failures in a row that make a passing check fail. */
    fall: z.number().int().min(1).max(100).default(3),
  })
  .strict()
  .refine((c) => [c.http, c.tcp, c.command].filter((x) => x !== undefined).length === 1, "give exactly one of http, tcp, command")
  .refine((c) => c.timeoutMs <= c.intervalMs, "timeoutMs must not exceed intervalMs (one run at a time)");

const TimingSchema = z
  .object({
    tickMs: ms(1, 1000),
    probeIntervalMs: ms(5, 60_000),
    probeTimeoutMs: ms(1, 60_000),
    suspicionTimeoutMs: ms(10, 600_000),
    leaseMs: ms(20, 600_000),
    renewIntervalMs: ms(5, 300_000),
    driftMaxPpm: ms(0, 100_000),
    actuationGuardMs: ms(0, 600_000),
    proposalTimeoutMs: ms(5, 600_000),
    initialGraceMs: ms(0, 600_000),
    hookTimeoutMs: ms(100, HOOK_TIMEOUT_MS_MAX),
    writeTimeoutMs: ms(10, 600_000),
    syncStaleMs: ms(10, 3_600_000),
    linkOpenTimeoutMs: ms(500, 600_000),
  })
  .partial()
  .strict();

const FileSchema = z
  .object({
    cluster: name,
    host: hostIdName,
    keyFile: z.string().min(1),
    /** DHT bootstrap nodes (umbra bootstrap), beside every host's `address`. */
    bootstrap: z.array(hostPort).default([]),
    /** Look for the peers on the public internet DHT (hyperswarm's own bootstrap nodes): only when this says so. */
    publicDht: z.boolean().default(false),
    /** The local API (README "The API"): a Unix socket, root's and the operators' group's; TCP only when asked, and then with a token. */
    api: z.preprocess(
      (v, ctx) => {
        // The old form: api = "host:port" (a TCP listener with no token).
        if (typeof v === "string") ctx.addIssue({ code: "custom", message: `is a table now: [api] socket = "PATH" (the default: api.sock in stateDir), or listen = "${v}" with tokenFile = "FILE" for TCP` });
        return v;
      },
      z
        .object({
          /** The socket's path; default: api.sock in the state directory. */
          socket: z.string().min(1).optional(),
          /** The group whose members may use the socket (mode 0660); without such a group, root only (0600). */
          group: z.string().regex(/^[a-z_][a-z0-9_-]*\$?$/, "a group name").default("umbra"),
          /** A TCP listener too, host:port: every request must then carry the token of tokenFile. */
          listen: hostPort.optional(),
          /** The TCP listener's token: the file's first line, at least 32 characters. */
          tokenFile: z.string().min(1).optional(),
          /** A TCP listener on an address other than loopback: refused unless this is true. */
          allowRemote: z.boolean().default(false),
        })
        .strict(),
    ).default({ group: "umbra", allowRemote: false }),
    profile: z.enum(CONFIG_PROFILES).default("lan"),
    stateDir: z.string().min(1).optional(),
    logLevel: z.enum(["debug", "info", "warn", "error"]).default("info"),
    /** The kernel-side lease (nftables): off only where nftables cannot run, and then a frozen or killed agent's host keeps answering for its VIPs. */
    fence: z.boolean().default(true),
    /** The agent's nice value, which the ip and nft processes it starts inherit: above ordinary work, so a saturated CPU does not starve its renewals (keepalived's vrrp_priority, for the same reason). */
    nice: z.number().int().min(-20).max(19).default(-10),
    /** SCHED_RR priority of the agent's threads and of its nft and ip processes (0: off): a saturated CPU then delays a renewal by microseconds, not tens of milliseconds (corosync runs SCHED_RR for the same reason). What the agent starts otherwise (hooks) runs as ordinary work. */
    realtime: z.number().int().min(0).max(99).default(10),
    labels: labels.default({}),
    probe: z
      .object({
        intervalMs: ms(100, 3_600_000).default(1000),
        /** Play a recorded `timestamp,value` CSV into one metric instead of sampling this host (demos, tests, what-if runs). */
        replay: z
          .object({
            file: z.string().min(1),
            metric: z.enum(HOST_METRICS),
            speed: z.number().positive().max(1e7).default(300),
            scale: z.number().finite().default(1),
            loop: z.boolean().default(false),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({ intervalMs: 1000 }),
    timing: TimingSchema.default({}),
    /** Forecasting and proactive moves (see README "Forecasts"). */
    forecast: z
      .object({
        enabled: z.boolean().default(true),
        /** The model file; default: models/forecaster.onnx shipped with umbra. */
        model: z.string().min(1).optional(),
        /** How far ahead the exhaustion probability looks. */
        horizonMinutes: z.number().positive().max(7 * 24 * 60).default(15),
        /** Live samples are averaged into steps this long before the model sees them. */
        stepMs: ms(1_000, 3_600_000).default(60_000),
        /** A host whose exhaustion probability stays at or above this... */
        threshold: z.number().gt(0).max(1).default(0.8),
        /** ...for this long is predicted to run out: as holder, it hands its services over. */
        sustainMs: ms(0, 86_400_000).default(60_000),
        /** After asking for a predicted move, wait this long before asking again. */
        cooldownMs: ms(0, 86_400_000).default(300_000),
        /**
         * Off unless set: an anomaly score (the strongest of the limited
         * metrics') at or above this on the holder asks for a predicted move
         * too, and each voter signs it only if it holds the holder predicted
         * itself, by its own alarm or exhaustion forecast (README "Forecasts").
         */
        anomalyThreshold: z.number().gt(0).max(1).optional(),
        /**
         * Exhaustion limits per metric, in its units (ratios 0..1 for cpuLoad,
         * memoryUsage, storageUsage): a number is a line the metric must not
         * rise above; `{ below = x }` one it must not fall below (a failure
         * that is a drop: traffic collapsing, a temperature falling), and
         * `{ above = x, below = y }` both.
         */
        limits: z.partialRecord(z.enum(HOST_METRICS), z.union([z.number().finite(), LimitSchema])).default({ memoryUsage: 0.95, storageUsage: 0.95 }),
      })
      .strict()
      .default({ enabled: true, horizonMinutes: 15, stepMs: 60_000, threshold: 0.8, sustainMs: 60_000, cooldownMs: 300_000, limits: { memoryUsage: 0.95, storageUsage: 0.95 } }),
    /**
     * Failure domains: the [[hosts]] label keys that name them, widest first
     * (e.g. ["region", "zone", "rack"]; the host is the last level). Given,
     * each service's shadows take over in order of their distance from the
     * primary and from each other (README "Placement"), and every host that
     * is a service's primary or shadow must carry every one of these labels.
     */
    placement: z
      .object({ domains: z.array(z.string().regex(/^[A-Za-z0-9_.-]{1,63}$/, "must be a label key: 1-63 letters, digits, '_', '.' or '-'")).max(8, "at most 8 levels").default([]) })
      .strict()
      .default({ domains: [] }),
    /** Replicated state: how fast blob chunks may be fetched, so a big transfer leaves CPU and disk to the lease loop. */
    state: z.object({ blobRateMBps: z.number().positive().max(100_000).default(25) }).strict().default({ blobRateMBps: 25 }),
    hosts: z
      .array(
        z
          .object({
            id: hostIdName,
            // Lowercased, so comparing keys as strings (duplicates, the mesh allowlist) is sound.
            publicKey: z
              .string()
              .regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex characters (as printed by `umbra keygen`)")
              .transform((k) => k.toLowerCase()),
            labels: labels.default({}),
            /** Where this host's agent runs its DHT node (UDP, ip:port): it serves as a bootstrap node for the others, who look for it there first. */
            address: hostPort.optional(),
          })
          .strict(),
      )
      .min(1, "list at least one [[hosts]] entry")
      .max(HOSTS_MAX, `at most ${HOSTS_MAX} hosts`),
    /** Operators whose signed statements (umbra move, standby, maintenance...) this host obeys: the public keys `umbra keygen --operator` prints. */
    operators: z
      .array(
        z
          .object({
            name,
            publicKey: z
              .string()
              .regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex characters (as printed by `umbra keygen --operator`)")
              .transform((k) => k.toLowerCase()),
          })
          .strict(),
      )
      .max(OPERATORS_MAX, `at most ${OPERATORS_MAX} operators`)
      .default([]),
    services: z
      .array(
        z
          .object({
            name,
            vip: z.string(),
            interface: z.string().regex(/^[A-Za-z0-9_.@-]{1,15}$/, "must be an interface name (1-15 characters)"),
            primary: hostIdName,
            shadows: z.array(hostIdName).min(1, "list at least one shadow"),
            /** Hosts that may become shadows when the shadow count asks for more (README "Shadow count"): replicas and candidates only while warm; no voters unless listed. */
            spares: z.array(hostIdName).default([]),
            /**
             * The number of warm shadows follows the holder's forecast of
             * `metric`: `min`, one more at a p90 of `load` or more, one more
             * for a p10-p90 band `band` wide or more, at most `max` (default:
             * every shadow and spare). A host warms up only with `reserve`
             * free (1 - its utilization, per metric, by its beacons).
             */
            shadowCount: z
              .object({
                min: z.number().int().min(1).max(HOSTS_MAX).default(1),
                max: z.number().int().min(1).max(HOSTS_MAX).optional(),
                metric: z.enum(HOST_METRICS).default("cpuLoad"),
                load: z.number().gt(0).default(0.8),
                band: z.number().gt(0).default(0.3),
                cooldownMs: ms(1_000, 86_400_000).default(600_000),
                reserve: z.partialRecord(z.enum(RATIO_METRICS), z.number().min(0).max(1)).default({}),
              })
              .strict()
              .optional(),
            voters: z.array(hostIdName).min(1).optional(),
            /** A state write is acknowledged once durable here and on this many other replicas (default 1). */
            ackShadows: z.number().int().min(0).max(HOSTS_MAX).default(1),
            /**
             * After a failover or a predicted move, the service goes back to
             * the primary once it has been alive, healthy, not predicted to
             * run out and in sync this long: a planned handover in person.
             * 0: it stays where it is.
             */
            moveBackAfterMs: ms(0, 7 * 86_400_000)
              .refine((v) => v === 0 || v >= 1_000, { message: "0 (never) or at least 1000 ms: the primary must be seen fit for a while" })
              .default(600_000),
            hooks: z.object({ activate: z.string().min(1).optional(), demote: z.string().min(1).optional(), reconcile: z.string().min(1).optional(), notify: z.string().min(1).optional(), diagnose: z.string().min(1).optional(), swap: z.string().min(1).optional(), provision: z.string().min(1).optional() }).strict().optional(),
            /**
             * Swaps: the holder hands the service over in person to another
             * candidate (the primary, or the best shadow) once it has held it
             * `every` (e.g. "7d"), inside `window` ("02:00-04:00", this host's
             * local time; across midnight too): rolling role changes in
             * off-peak hours, the swap hook run on the host that left.
             * window = "auto": the quietest `length` (default 2h) of the day
             * by this host's own `metric` (default scaling's, else cpuLoad).
             * moveBackInWindow = true: a move back (moveBackAfterMs) waits
             * for the window too; `every` may then be left out (no swaps).
             */
            swap: SwapSchema.optional(),
            /**
             * Traffic by redirection (DNS records, a load balancer's pool):
             * each new holder runs `hook` once its VIP is up, or in its place
             * where the VIP cannot answer from this host (another site, another
             * subnet: the VIP is then not added here), with its own id and its
             * address from `addresses`. Without it, a host the VIP cannot
             * answer from is no candidate.
             */
            redirect: z.object({ hook: z.string().min(1), addresses: z.record(z.string(), z.string()).default({}) }).strict().optional(),
            /**
             * Scale out and in (README "Scaling"): the holder's forecast of
             * `metric` (its p90 at the forecaster's horizon) at `threshold` or
             * more makes a warm shadow active beside it, up to `maxActive`;
             * under `lowThreshold` for `cooldownMs`, one goes back. Changes
             * are `cooldownMs` apart. Traffic follows through the redirect hook.
             */
            scaling: z
              .object({
                metric: z.enum(HOST_METRICS).default("cpuLoad"),
                threshold: z.number().gt(0).default(0.8),
                lowThreshold: z.number().min(0).default(0.5),
                cooldownMs: ms(1_000, 86_400_000).default(600_000),
                maxActive: z.number().int().min(1).max(HOSTS_MAX).default(1),
              })
              .strict()
              .refine((x) => x.lowThreshold < x.threshold, { message: "lowThreshold must be below threshold (the gap is the hysteresis)" })
              .optional(),
            /**
             * Workload migration (README "Workloads"): the service's workloads
             * (its document's WorkloadData) follow the hosts that serve it,
             * the holder and its active shadows. The holder runs `hook` for
             * each move (SERVICE WORKLOAD FROM TO) and records it in the
             * document. `by`: the resource_requirements key that weighs a
             * workload when balancing (absent: each weighs 1).
             */
            migrate: z.object({ hook: z.string().min(1), by: z.string().regex(/^[A-Za-z0-9_.-]{1,63}$/, "must be a resource name: 1-63 letters, digits, '_', '.' or '-'").optional() }).strict().optional(),
            /** Health checks (keepalived's track_script, Consul's checks): each an HTTP GET, a TCP connect or a command. */
            checks: z.array(CheckSchema).max(CHECKS_MAX, `at most ${CHECKS_MAX} checks`).default([]),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

type FileConfig = z.infer<typeof FileSchema>;
export type ServiceConfig = Omit<FileConfig["services"][number], "voters" | "swap"> & { voters: HostId[]; swap?: SwapConfig };
/** The API as the agent listens: paths absolute, TCP (listen) null unless configured. */
export type ApiConfig = { socket: string; group: string; listen: string | null; tokenFile: string | null; allowRemote: boolean };
export type Config = Omit<FileConfig, "timing" | "stateDir" | "services" | "api"> & {
  /** The file it came from, for messages. */
  path: string;
  api: ApiConfig;
  stateDir: string;
  timing: Timing;
  services: ServiceConfig[];
};

export function loadConfig(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message;
    throw new UmbraError("config_unreadable", `${path}: cannot read: ${why}`, { path, issues: [`${path}: cannot read: ${why}`] }, err);
  }
  return parseConfig(text, path);
}

/** Without stateDir: the one systemd made for the unit (StateDirectory=umbra: $STATE_DIRECTORY, the first of a list), else "state" beside the config. */
const defaultStateDir = (env: NodeJS.ProcessEnv): string => (env["STATE_DIRECTORY"] ?? "").split(":")[0] || "state";

export function parseConfig(text: string, path: string, env: NodeJS.ProcessEnv = process.env): Config {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (err) {
    const e = err as TomlError;
    const where = e.line !== undefined ? `line ${e.line}, column ${e.column}` : "?";
    const first = String(e.message).split("\n")[0];
    const line = `${path}: TOML syntax error at ${where}: ${first}`;
    throw new UmbraError("config_invalid", line, { path, issues: [line] }, err);
  }
  const parsed = FileSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${path}: ${keyPath(i.path)}: ${describe(i)}`);
    throw new UmbraError("config_invalid", issues.join("\n"), { path, issues });
  }
  const f = parsed.data;
  const base = dirname(resolve(path));
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const cfg: Config = {
    ...f,
    path,
    keyFile: abs(f.keyFile),
    probe: f.probe.replay === undefined ? f.probe : { ...f.probe, replay: { ...f.probe.replay, file: abs(f.probe.replay.file) } },
    forecast: f.forecast.model === undefined ? f.forecast : { ...f.forecast, model: abs(f.forecast.model) },
    stateDir: abs(f.stateDir ?? defaultStateDir(env)),
    api: { socket: abs(f.api.socket ?? join(f.stateDir ?? defaultStateDir(env), API_SOCKET_NAME)), group: f.api.group, listen: f.api.listen ?? null, tokenFile: f.api.tokenFile === undefined ? null : abs(f.api.tokenFile), allowRemote: f.api.allowRemote },
    // Without the fence the guard must cover `ip addr del` and a stalled loop: the profile's unfenced timings.
    timing: { ...PROFILES[f.profile], ...(f.fence ? {} : UNFENCED[f.profile]), ...f.timing } as Timing,
    services: f.services.map((s) => ({
      ...s,
      voters: s.voters ?? [s.primary, ...s.shadows],
      // Hooks run without a shell: a relative path would depend on the agent's cwd.
      hooks: s.hooks && { activate: s.hooks.activate && abs(s.hooks.activate), demote: s.hooks.demote && abs(s.hooks.demote), reconcile: s.hooks.reconcile && abs(s.hooks.reconcile), notify: s.hooks.notify && abs(s.hooks.notify), diagnose: s.hooks.diagnose && abs(s.hooks.diagnose), swap: s.hooks.swap && abs(s.hooks.swap), provision: s.hooks.provision && abs(s.hooks.provision) },
      checks: s.checks.map((c) => (c.command === undefined ? c : { ...c, command: [abs(c.command[0]!), ...c.command.slice(1)] })),
      redirect: s.redirect && { hook: abs(s.redirect.hook), addresses: s.redirect.addresses },
      migrate: s.migrate && { hook: abs(s.migrate.hook), by: s.migrate.by },
      swap: s.swap && swapOf(s.swap, s.scaling?.metric),
    })),
  };
  const votersGiven = f.services.map((sv) => sv.voters !== undefined);
  const issues = crossCheck(cfg, votersGiven).map((x) => `${path}: ${x}`);
  if (issues.length > 0) throw new UmbraError("config_invalid", issues.join("\n"), { path, issues });
  return cfg;
}

/** [services.swap] as consumers read it: an auto window's length and metric inside it, defaulted (the metric: scaling's, which the forecaster already watches, else cpuLoad). */
function swapOf(s: z.infer<typeof SwapSchema>, scalingMetric: HostMetric | undefined): SwapConfig {
  const base = { every: s.every ?? 0, moveBackInWindow: s.moveBackInWindow };
  if (s.window !== "auto") return { ...base, window: s.window };
  return { ...base, window: { auto: true, lengthMin: s.length ?? AUTO_WINDOW_MIN_DEFAULT, metric: s.metric ?? scalingMetric ?? "cpuLoad" } };
}

/** The socket's file name in the state directory, when [api] socket is not given. */
export const API_SOCKET_NAME = "api.sock";

/** Whether a listen address is this host's loopback only (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || (isIPv4(host) && host.startsWith("127."));
}

/** A TCP API needs a token, and an address other than loopback needs allowRemote: whoever reaches it can move VIPs and write the state. */
function apiIssues(a: ApiConfig): string[] {
  if (a.listen === null) return a.tokenFile === null ? [] : ["api.tokenFile: given without api.listen (the Unix socket needs no token: its mode and group decide)"];
  const out: string[] = [];
  if (a.tokenFile === null) out.push(`api.listen: "${a.listen}" needs api.tokenFile: without a token anyone who reaches the port could move VIPs and write the state`);
  const { host } = parseHostPort(a.listen);
  if (!isLoopback(host) && !a.allowRemote) out.push(`api.listen: "${a.listen}" is not a loopback address; set api.allowRemote = true to serve the API beyond this host (with the token, over a network you trust: it is plain HTTP)`);
  return out;
}

/** The DHT bootstrap nodes the agent of `c.host` asks first: the configured ones, then every other host's address. */
export function bootstrapOf(c: Pick<Config, "bootstrap" | "hosts" | "host">): string[] {
  return [...new Set([...c.bootstrap, ...c.hosts.filter((h) => h.id !== c.host && h.address !== undefined).map((h) => h.address!)])];
}

/** Where the peers are found: never the public internet's DHT by accident, nor both it and the cluster's own nodes. */
function discoveryIssues(c: Config): string[] {
  const own = bootstrapOf(c).length > 0;
  if (c.publicDht && own) return ["publicDht: true, with bootstrap nodes or [[hosts]] addresses too: choose the public DHT (publicDht = true, no bootstrap, no addresses) or your own nodes"];
  if (!c.publicDht && !own) return ["bootstrap: empty, and no other [[hosts]] entry has an address: the agent would look for its peers on the public internet's DHT. Give every host an address (its agent then serves as a bootstrap node for the others), list bootstrap nodes (umbra bootstrap), or set publicDht = true to mean it"];
  return [];
}

/** Rules zod cannot see: references between sections, and timing relations. */
function crossCheck(c: Config, votersGiven: boolean[]): string[] {
  const out: string[] = [];
  const ids = new Set<string>();
  const keys = new Set<string>();
  c.hosts.forEach((h, i) => {
    if (ids.has(h.id)) out.push(`hosts[${i}].id: "${h.id}" is listed twice`);
    if (keys.has(h.publicKey)) out.push(`hosts[${i}].publicKey: the same key is listed for two hosts`);
    ids.add(h.id);
    keys.add(h.publicKey);
  });
  if (!ids.has(c.host)) out.push(`host: "${c.host}" is not one of the [[hosts]] ids (${[...ids].join(", ")})`);
  const opNames = new Set<string>();
  const opKeys = new Set<string>();
  c.operators.forEach((o, i) => {
    if (opNames.has(o.name)) out.push(`operators[${i}].name: "${o.name}" is listed twice`);
    if (opKeys.has(o.publicKey)) out.push(`operators[${i}].publicKey: the same key is listed for two operators`);
    if (keys.has(o.publicKey)) out.push(`operators[${i}].publicKey: is a host's key; an operator's key is its own (umbra keygen --operator)`);
    opNames.add(o.name);
    opKeys.add(o.publicKey);
  });
  out.push(...apiIssues(c.api));
  out.push(...discoveryIssues(c));
  const names = new Set<string>();
  const vips = new Set<string>();
  c.services.forEach((s, i) => {
    const at = `services[${i}]`;
    if (names.has(s.name)) out.push(`${at}.name: "${s.name}" is used by two services`);
    names.add(s.name);
    const vipWhy = checkVip(s.vip);
    if (vipWhy !== null) out.push(`${at}.vip: "${s.vip}" ${vipWhy}`);
    else {
      const addr = s.vip.split("/")[0]!.toLowerCase();
      if (vips.has(addr)) out.push(`${at}.vip: ${addr} is the VIP of another service`);
      vips.add(addr);
    }
    if (!ids.has(s.primary)) out.push(`${at}.primary: "${s.primary}" is not one of the [[hosts]] ids`);
    s.shadows.forEach((h, j) => {
      if (!ids.has(h)) out.push(`${at}.shadows[${j}]: "${h}" is not one of the [[hosts]] ids`);
      if (h === s.primary) out.push(`${at}.shadows[${j}]: "${h}" is the primary; a host cannot shadow itself`);
      if (s.shadows.indexOf(h) !== j) out.push(`${at}.shadows[${j}]: "${h}" is listed twice`);
    });
    out.push(...shadowCountIssues(c, s, at, ids));
    for (const [h, addr] of Object.entries(s.redirect?.addresses ?? {})) {
      if (!replicasOf(s).includes(hostId(h))) out.push(`${at}.redirect.addresses: "${h}" is not ${s.name}'s primary, one of its shadows or spares`);
      if (!isIPv4(addr) && !isIPv6(addr)) out.push(`${at}.redirect.addresses.${h}: "${addr}" is not an IPv4 or IPv6 address`);
    }
    if (s.redirect !== undefined) {
      const without = replicasOf(s).filter((h) => s.redirect!.addresses[h] === undefined);
      if (without.length > 0) out.push(`${at}.redirect.addresses: no address for ${without.join(", ")}: the hook tells each holder's address to DNS or the load balancer, so every candidate needs one`);
    }
    out.push(...scalingIssues(c, s, at), ...autoWindowIssues(c, s.swap?.window, at));
    if (s.ackShadows > s.shadows.length) out.push(`${at}.ackShadows: ${s.ackShadows} is more than the ${s.shadows.length} shadow(s) listed: no write could ever be acknowledged`);
    // Defaulted voters repeat primary and shadows: their faults are reported there.
    if (votersGiven[i]) s.voters.forEach((h, j) => {
      if (!ids.has(h)) out.push(`${at}.voters[${j}]: "${h}" is not one of the [[hosts]] ids`);
      if (s.voters.indexOf(h) !== j) out.push(`${at}.voters[${j}]: "${h}" is listed twice`);
    });
  });
  out.push(...placementIssues(c));
  const t = c.timing;
  if (t.renewIntervalMs * 2 >= t.leaseMs) out.push(`timing.renewIntervalMs: ${t.renewIntervalMs} must be less than half of timing.leaseMs (${t.leaseMs}), so one lost renewal does not cost the lease`);
  if (t.probeTimeoutMs >= t.probeIntervalMs) out.push(`timing.probeTimeoutMs: ${t.probeTimeoutMs} must be less than timing.probeIntervalMs (${t.probeIntervalMs})`);
  if (t.tickMs * 4 > t.renewIntervalMs) out.push(`timing.tickMs: ${t.tickMs} must be at most a quarter of timing.renewIntervalMs (${t.renewIntervalMs})`);
  const holderMs = holderLeaseMs(t);
  if (holderMs < 2 * t.renewIntervalMs) {
    out.push(`timing.leaseMs: ${t.leaseMs} leaves the holder ${holderMs} ms after clock drift and timing.actuationGuardMs (${t.actuationGuardMs}); it needs at least two renewal intervals (${2 * t.renewIntervalMs} ms): raise leaseMs or lower the guard`);
  }
  return out;
}

/** A service's candidates and replicas: its primary, its shadows, then its spares (warm only as the shadow count says). */
export function replicasOf(s: Pick<ServiceConfig, "primary" | "shadows" | "spares">): HostId[] {
  return [s.primary, ...s.shadows, ...s.spares];
}

/** The shadow count acts on the holder's forecast; spares only make sense with it; min and max within the shadows and spares. */
function shadowCountIssues(c: Config, s: ServiceConfig, at: string, ids: ReadonlySet<string>): string[] {
  const out: string[] = [];
  s.spares.forEach((h, j) => {
    if (!ids.has(h)) out.push(`${at}.spares[${j}]: "${h}" is not one of the [[hosts]] ids`);
    if (h === s.primary || s.shadows.includes(h)) out.push(`${at}.spares[${j}]: "${h}" is the primary or a shadow already`);
    if (s.spares.indexOf(h) !== j) out.push(`${at}.spares[${j}]: "${h}" is listed twice`);
  });
  const sc = s.shadowCount;
  if (sc === undefined) return s.spares.length > 0 ? [...out, `${at}.spares: needs [services.shadowCount]: a spare becomes a shadow only when the count asks for one`] : out;
  const pool = s.shadows.length + s.spares.length;
  if (!c.forecast.enabled) out.push(`${at}.shadowCount: needs forecasts ([forecast] enabled = true): it follows the holder's forecast of ${sc.metric}`);
  if (sc.max !== undefined && sc.max > pool) out.push(`${at}.shadowCount.max: ${sc.max} is more than the ${pool} shadow(s) and spare(s) listed`);
  if (sc.min > (sc.max ?? pool)) out.push(`${at}.shadowCount.min: ${sc.min} is more than max (${sc.max ?? pool})`);
  if (s.ackShadows > sc.min) out.push(`${at}.ackShadows: ${s.ackShadows} is more than shadowCount.min (${sc.min}): with only min shadows warm, writes could not be acknowledged`);
  return out;
}

/** Scaling acts on the holder's forecast, and its traffic goes where the redirect hook sends it. */
function scalingIssues(c: Config, s: ServiceConfig, at: string): string[] {
  if (s.scaling === undefined) return [];
  const out: string[] = [];
  if (s.redirect === undefined) out.push(`${at}.scaling: needs [services.redirect]: an active shadow serves on its own address, and only the redirect hook sends traffic there`);
  if (!c.forecast.enabled) out.push(`${at}.scaling: needs forecasts ([forecast] enabled = true): it acts on the holder's forecast of ${s.scaling.metric}`);
  if (s.scaling.maxActive > s.shadows.length) out.push(`${at}.scaling.maxActive: ${s.scaling.maxActive} is more than the ${s.shadows.length} shadow(s) listed`);
  return out;
}

/** Probe samples at most this far apart still see every slot of the day (three in each: forecast/dayprofile.ts counts a slot seen when its samples span half of it). */
const AUTO_WINDOW_PROBE_MS_MAX = (DAY_SLOT_MIN * 60_000) / 3;

/** An auto window learns the day's load from this host's forecasting samples: forecasts on, and samples close enough to see each slot. */
function autoWindowIssues(c: Config, w: SwapWindow | undefined, at: string): string[] {
  if (w === undefined || !("auto" in w)) return [];
  const out: string[] = [];
  if (!c.forecast.enabled) out.push(`${at}.swap.window: "auto" needs forecasts ([forecast] enabled = true): it picks the quietest ${w.lengthMin} minutes of the day by this host's ${w.metric}`);
  if (c.probe.replay === undefined && c.probe.intervalMs > AUTO_WINDOW_PROBE_MS_MAX) out.push(`${at}.swap.window: "auto" needs probe.intervalMs at most ${AUTO_WINDOW_PROBE_MS_MAX} (three samples in every ${DAY_SLOT_MIN} minutes of the day), got ${c.probe.intervalMs}`);
  return out;
}

/** Every domain named once, and carried by every host that is a primary or a shadow: an unlabelled host could not be ranked. */
function placementIssues(c: Config): string[] {
  const out: string[] = [];
  const d = c.placement.domains;
  d.forEach((k, i) => {
    if (d.indexOf(k) !== i) out.push(`placement.domains[${i}]: "${k}" is listed twice`);
  });
  if (d.length === 0) return out;
  const replicas = new Set(c.services.flatMap((s) => replicasOf(s)));
  c.hosts.forEach((h, i) => {
    if (!replicas.has(h.id)) return;
    const missing = d.filter((k) => h.labels[k] === undefined);
    if (missing.length > 0) out.push(`hosts[${i}].labels: ${h.id} has no ${missing.map((k) => `"${k}"`).join(", ")}, which placement.domains names (every primary and shadow needs each, e.g. labels = { ${d.map((k) => `${k} = "…"`).join(", ")} })`);
  });
  return out;
}

/** Prefix 0 is refused: the kernel would then treat every address as on-link on that interface. */
function checkVip(vip: string): string | null {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(vip);
  if (m === null) return "must be an address with a prefix length, e.g. 198.51.100.10/24 or 2001:db8::10/64";
  const [, addr, prefix] = m;
  const p = Number(prefix);
  if (isIPv4(addr!)) return p >= 1 && p <= 32 ? null : "has an IPv4 prefix length outside 1-32";
  if (isIPv6(addr!)) return p >= 1 && p <= 128 ? null : "has an IPv6 prefix length outside 1-128";
  return "is not an IPv4 or IPv6 address with a prefix (e.g. 198.51.100.10/24)";
}

function keyPath(path: PropertyKey[]): string {
  let s = "";
  for (const p of path) s += typeof p === "number" ? `[${p}]` : s === "" ? String(p) : `.${String(p)}`;
  return s === "" ? "(top level)" : s;
}

function describe(i: z.core.$ZodIssue): string {
  switch (i.code) {
    case "unrecognized_keys":
      return i.keys.map((k) => `unknown key "${k}"`).join(", ");
    case "invalid_type": {
      const input = (i as { input?: unknown }).input;
      if (input === undefined) return `missing (expected ${i.expected})`;
      if (i.expected === "int" && typeof input === "number") return `must be a whole number, got ${input}`;
      return `expected ${i.expected}, got ${typeOf(input)}`;
    }
    case "too_big":
      return i.origin === "number" ? `must be at most ${i.maximum}, got ${(i as { input?: unknown }).input}` : i.message;
    case "too_small":
      return i.origin === "number" ? `must be at least ${i.minimum}, got ${(i as { input?: unknown }).input}` : i.message;
    case "invalid_value":
      return `must be one of ${i.values.map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return i.message;
  }
}

function typeOf(v: unknown): string {
  if (Array.isArray(v)) return "array";
  if (v === null) return "null";
  return typeof v;
}

/** The lines to print for a config error (UmbraError from loadConfig/parseConfig). */
export function formatConfigError(err: UmbraError): string[] {
  const issues = err.context.issues;
  return Array.isArray(issues) ? (issues as string[]) : [err.message];
}
