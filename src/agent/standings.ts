// What operators last said, kept on this host's disk so a restart does not
// forget it, and read back at start: of each host (standby, maintenance,
// active: standings.json) and of each service's quorum (a lowered count of
// expected votes: votes.json). The core merges what it reads with what
// peers' beacons say: the later statement wins. A file that cannot be read
// or parsed is said and ignored: the peers' beacons bring the standings
// back (a lowered quorum only while this host's view agrees with it).
import { readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../shared/log.ts";
import { hostId, type HostId } from "../shared/ids.ts";
import type { host } from "../decide/index.ts";

export const STANDINGS_FILE = "standings.json";
export const VOTES_FILE = "votes.json";
const MODES: ReadonlySet<string> = new Set(["standby", "maintenance", "active"]);

type Standing = host.Standing;
type VoteStanding = host.VoteStanding;

const said = (s: Partial<{ reason: unknown; nonce: unknown; issuedAtMs: unknown }>): boolean => typeof s.reason === "string" && typeof s.nonce === "string" && Number.isSafeInteger(s.issuedAtMs);

/** A standing as it came from disk or a peer: its shape checked, or null. */
export function standingOf(x: unknown): Standing | null {
  const s = x as Partial<Standing> | null;
  if (typeof s !== "object" || s === null || !MODES.has(s.mode as string) || !said(s)) return null;
  return { mode: s.mode!, reason: s.reason!, nonce: s.nonce!, issuedAtMs: s.issuedAtMs! };
}

/** An override as this host's disk keeps it: the statement, whether it was taken on, and the voters heard since. */
export type KeptVotes = { votes: Record<string, VoteStanding>; kept: Record<string, { taken: boolean; heard: HostId[] }> };

/** A lowered quorum as it came from disk or a peer: its shape checked, or null (the core checks the count against the service's voters). */
export function voteStandingOf(x: unknown): VoteStanding | null {
  const s = x as Partial<VoteStanding> | null;
  if (typeof s !== "object" || s === null || !Number.isSafeInteger(s.votes) || s.votes! < 1 || !said(s)) return null;
  return { votes: s.votes!, reason: s.reason!, nonce: s.nonce!, issuedAtMs: s.issuedAtMs! };
}

function loadFile<T>(stateDir: string, file: string, parse: (x: unknown) => T | null, log: Logger): Record<string, T> {
  const path = join(stateDir, file);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") log("warn", "operators", "standings-unreadable", { path, error: (err as Error).message, effect: "ignored: the peers' beacons bring the standings back" });
    return {};
  }
  const out: Record<string, T> = {};
  for (const [k, v] of Object.entries((raw as Record<string, unknown>) ?? {})) {
    const s = parse(v);
    if (s !== null) out[k] = s;
  }
  return out;
}

export function loadStandings(stateDir: string, log: Logger): Record<string, Standing> {
  return loadFile(stateDir, STANDINGS_FILE, standingOf, log);
}

export function loadVoteStandings(stateDir: string, log: Logger): KeptVotes {
  const raw = loadFile(stateDir, VOTES_FILE, (x) => {
    const v = voteStandingOf(x);
    if (v === null) return null;
    const e = x as { taken?: unknown; heard?: unknown };
    const heard = Array.isArray(e.heard) ? e.heard.filter((h): h is string => typeof h === "string").map(hostId) : [];
    return { v, taken: e.taken !== false, heard }; // a file without `taken` was written only for overrides taken on
  }, log);
  const out: KeptVotes = { votes: {}, kept: {} };
  for (const [sv, x] of Object.entries(raw)) {
    out.votes[sv] = x.v;
    out.kept[sv] = { taken: x.taken, heard: x.heard };
  }
  return out;
}

/** Writes a file (temp file, then rename), one write at a time, the latest winning. */
function latestWriter<T>(path: string, log: Logger, effect: string): (x: T) => void {
  let writing = false;
  let next: { x: T } | null = null;
  const drain = async () => {
    writing = true;
    while (next !== null) {
      const { x } = next;
      next = null;
      try {
        await writeFile(`${path}.tmp`, JSON.stringify(x), { mode: 0o600 });
        await rename(`${path}.tmp`, path);
      } catch (err) {
        log("error", "operators", "standings-unwritable", { path, error: (err as Error).message, effect });
      }
    }
    writing = false;
  };
  return (x) => {
    next = { x };
    if (!writing) void drain();
  };
}

/** The hosts' standings, kept. */
export function standingsWriter(stateDir: string, log: Logger): (s: host.Standings) => void {
  return latestWriter(join(stateDir, STANDINGS_FILE), log, "a restart of this agent forgets the latest standby or maintenance until a peer's beacon brings it");
}

/** The overrides known here, each with whether it was taken on and who was heard since, kept. */
export function voteStandingsWriter(stateDir: string, log: Logger): (v: host.VoteStandings, kept: host.VotesKept) => void {
  const write = latestWriter<Record<string, unknown>>(join(stateDir, VOTES_FILE), log, "a restart of this agent forgets the latest override of expected votes until a peer's beacon brings it (taken on only while this host's view agrees), and who was heard since");
  return (v, kept) => write(Object.fromEntries(Object.entries(v).map(([sv, s]) => [sv, { ...s, ...(kept[sv] ?? { taken: false, heard: [] }) }])));
}
