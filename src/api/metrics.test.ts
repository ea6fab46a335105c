// Proves GET /metrics: Prometheus's text format that promtool accepts (its
// naming rules: the umbra_ prefix, base units, _total counters), gauges read
// from the status document at each scrape (a holder, this host's lease in
// seconds, peers' RTTs), counters counting what the shell reports.
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { createApi } from "./app.ts";
import { agentMetrics } from "./metrics.ts";
import { SAMPLE_STATUS } from "./testdata.ts";
import type { StatusDoc } from "./types.ts";

test("the status document as gauges, the shell's counts as counters; promtool finds nothing to say", async () => {
  let doc: StatusDoc = { ...SAMPLE_STATUS, services: SAMPLE_STATUS.services.map((s) => (s.name === "web" ? { ...s, health: { healthy: false, why: "check 2 failing: HTTP 503", checks: [{ ok: true, detail: "exit 0" }, { ok: false, detail: "HTTP 503" }] }, excluded: ["h2"], quorum: { expectedVotes: 1, needed: 1, override: { votes: 1, reason: "fire", issuedAtMs: 1, countsInMs: 0, heard: ["h1"] } } } : s)) };
  const m = agentMetrics(() => doc);
  m.statement("accepted", "move");
  m.statement("refused", "forged");
  m.statement("refused", "forged");
  m.certified("web", "holder-lost");
  m.certified("web", "handover");
  m.certified("web", "handover");
  m.loopStall();
  const app = createApi({ status: () => doc, metrics: m.registry });
  const res = await app.request("/metrics");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
  const text = await res.text();
  for (const line of [
    'umbra_service_holder{service="web",holder="h2"} 1',
    'umbra_service_holding{service="web"} 1',
    'umbra_service_holding{service="database"} 0',
    'umbra_service_epoch{service="database"} 17',
    'umbra_service_lease_remaining_seconds{service="web"} 0.231',
    'umbra_certificates_total{service="web",reason="handover"} 2',
    'umbra_certificates_total{service="web",reason="holder-lost"} 1',
    "umbra_loop_stalls_total 1",
    'umbra_build_info{version="0.1.0"} 1',
    'umbra_service_healthy{service="web"} 0',
    'umbra_service_check_passing{service="web",check="1"} 1',
    'umbra_service_check_passing{service="web",check="2"} 0',
    'umbra_service_excluded{service="web",host="h2"} 1',
    'umbra_service_expected_votes{service="web"} 1',
    'umbra_operator_statements_accepted_total{action="move"} 1',
    'umbra_operator_statements_refused_total{reason="forged"} 2',
  ]) expect(text).toContain(`${line}\n`);
  expect(text).toContain("umbra_process_cpu_user_seconds_total");
  const check = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  expect(check.stderr + check.stdout).toBe("");
  expect(check.status).toBe(0);
  // A service that loses its holder loses its holder series at the next scrape.
  doc = { ...SAMPLE_STATUS, services: SAMPLE_STATUS.services.map((s) => ({ ...s, holder: null })) };
  expect(await (await app.request("/metrics")).text()).not.toContain("umbra_service_holder{");
});
