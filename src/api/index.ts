// The API's front door: the HTTP app (Hono), its server, its client (what
// the CLI talks to the agent with), its metrics, and the status document it
// serves (also what `umbra status` reads).
export { createApi, type ApiDeps } from "./app.ts";
export { serveApi, type Served } from "./serve.ts";
export type { StatusDoc, MemberDoc, ServiceDoc, QueueDoc } from "./types.ts";
export { type ReplicationDoc } from "./types.ts";
export { SAMPLE_STATUS } from "./testdata.ts";
export { sortAudit, type OrderDeps, type StatementAnswer } from "./orders.ts";
export { EventHub, publishingLogger, type EventLine } from "./events.ts";
export { apiJson, apiRequest, jsonOf, resolveTarget, targetText, textOf, DEFAULT_CONFIG, TARGET_HELP, type ApiAnswer, type ApiTarget, type TargetOptions } from "../apiclient/index.ts";
export { agentMetrics, type AgentMetrics, type MetricsCounters } from "./metrics.ts";
export { serveOnTempSocket } from "./testdata.ts";
