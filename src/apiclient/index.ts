// The API's client: what the CLI talks to the agent with (its Unix socket, or
// a TCP listener with its token). A part of its own, apart from the API's
// server, so that `umbra status` loads an HTTP client and not the server,
// its routes, metrics and dashboard (bench/footprint: the CLI's start-up).
export { apiJson, apiRequest, jsonOf, resolveTarget, targetText, textOf, DEFAULT_CONFIG, TARGET_HELP, type ApiAnswer, type ApiTarget, type TargetOptions } from "./client.ts";
