export { createApi, type ApiDeps } from "./app.ts";
export { serveApi, type Served } from "./serve.ts";
export type { StatusDoc, MemberDoc, ServiceDoc, QueueDoc } from "./types.ts";
