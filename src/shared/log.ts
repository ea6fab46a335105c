// One JSON object per line on stderr: { ts, level, host, part, event, ... }.
// The core never logs; the shell logs each event in and each effect out.

export type Level = "debug" | "info" | "warn" | "error";
export type Logger = (level: Level, part: string, event: string, fields?: Record<string, unknown>) => void;

const LEVEL_RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function logger(host: string, levelMin: Level = "info", write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  return (level, part, event, fields = {}) => {
    if (LEVEL_RANK[level] < LEVEL_RANK[levelMin]) return;
    write(JSON.stringify({ ts: new Date().toISOString(), level, host, part, event, ...fields }) + "\n");
  };
}
