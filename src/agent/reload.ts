// What a SIGHUP can change in a running agent (keepalived reloads on it,
// and operators expect the same): the config file is read again, and each
// difference is either applied live or named as needing a restart. Pure:
// the agent carries out the plan (agent.ts, reload).
//
// Applied live: each service's hooks (paths are read when a hook runs), its
// health checks (they start afresh, passing, as at start), and the
// operators' keys (a statement is checked against them when it comes).
// Everything else needs a restart, said by key: timings, hosts, services'
// VIPs and voters shape the quorum's safety (a lease two hosts disagree on
// is no lease), and the API, keys and state directory are opened at start.
import type { Config, ServiceConfig } from "../shared/config.ts";

export type ReloadPlan = {
  /** Services whose hooks change, with their new hooks. */
  hooks: Array<{ service: string; hooks: ServiceConfig["hooks"] }>;
  /** Services whose health checks change, with their new checks. */
  checks: Array<{ service: string; checks: ServiceConfig["checks"] }>;
  /** The [[operators]] keys change: the new ones apply to the next statement. */
  operators: boolean;
  /** Keys whose change needs a restart (config key paths, e.g. "timing", "services[web].vip"). */
  restart: string[];
};

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

export function planReload(cur: Config, next: Config): ReloadPlan {
  const restart: string[] = [];
  const keys = new Set([...Object.keys(cur), ...Object.keys(next)].filter((k) => k !== "services" && k !== "path" && k !== "operators"));
  const operators = !same(cur.operators, next.operators);
  for (const k of [...keys].sort()) if (!same(cur[k as keyof Config], next[k as keyof Config])) restart.push(k);
  const hooks: ReloadPlan["hooks"] = [];
  const checks: ReloadPlan["checks"] = [];
  const names = (c: Config) => c.services.map((s) => s.name);
  if (!same(names(cur), names(next))) {
    restart.push("services (added, removed or reordered)");
    return { hooks, checks, operators, restart };
  }
  cur.services.forEach((s, i) => {
    const n = next.services[i]!;
    const { hooks: h1, checks: c1, ...rest1 } = s;
    const { hooks: h2, checks: c2, ...rest2 } = n;
    for (const k of Object.keys({ ...rest1, ...rest2 }).sort()) if (!same(rest1[k as keyof typeof rest1], rest2[k as keyof typeof rest2])) restart.push(`services[${s.name}].${k}`);
    if (!same(h1, h2)) hooks.push({ service: s.name, hooks: h2 });
    if (!same(c1, c2)) checks.push({ service: s.name, checks: c2 });
  });
  return { hooks, checks, operators, restart };
}
