// What operators last said of each host (standby, maintenance, active), kept
// on this host's disk so a restart does not forget a maintenance, and read
// back at start (the core merges it with what peers' beacons say: the later
// statement of each host wins). A file that cannot be read or parsed is
// said and ignored: the peers' beacons bring the standings back.
import { readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../shared/log.ts";
import type { host } from "../decide/index.ts";

export const STANDINGS_FILE = "standings.json";
const MODES: ReadonlySet<string> = new Set(["standby", "maintenance", "active"]);

type Standing = host.Standing;

/** A standing as it came from disk or a peer: its shape checked, or null. */
export function standingOf(x: unknown): Standing | null {
  const s = x as Partial<Standing> | null;
  if (typeof s !== "object" || s === null || !MODES.has(s.mode as string) || typeof s.reason !== "string" || typeof s.nonce !== "string" || !Number.isSafeInteger(s.issuedAtMs)) return null;
  return { mode: s.mode!, reason: s.reason, nonce: s.nonce, issuedAtMs: s.issuedAtMs! };
}

export function loadStandings(stateDir: string, log: Logger): Record<string, Standing> {
  const path = join(stateDir, STANDINGS_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") log("warn", "operators", "standings-unreadable", { path, error: (err as Error).message, effect: "ignored: the peers' beacons bring the standings back" });
    return {};
  }
  const out: Record<string, Standing> = {};
  for (const [h, v] of Object.entries((raw as Record<string, unknown>) ?? {})) {
    const s = standingOf(v);
    if (s !== null) out[h] = s;
  }
  return out;
}

/** Writes the standings (temp file, then rename), one write at a time, the latest winning. */
export function standingsWriter(stateDir: string, log: Logger): (s: host.Standings) => void {
  const path = join(stateDir, STANDINGS_FILE);
  let writing = false;
  let next: host.Standings | null = null;
  const drain = async () => {
    writing = true;
    while (next !== null) {
      const s = next;
      next = null;
      try {
        await writeFile(`${path}.tmp`, JSON.stringify(s), { mode: 0o600 });
        await rename(`${path}.tmp`, path);
      } catch (err) {
        log("error", "operators", "standings-unwritable", { path, error: (err as Error).message, effect: "a restart of this agent forgets the latest standby or maintenance until a peer's beacon brings it" });
      }
    }
    writing = false;
  };
  return (s) => {
    next = s;
    if (!writing) void drain();
  };
}
