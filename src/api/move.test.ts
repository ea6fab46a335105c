// Proves POST /services/SERVICE/move on a real server (its Unix socket): a move asked
// of the holder is queued once and answered 202; an unknown service, a bad
// body, a host that is not a candidate, the holder itself, a host that does
// not hold the service (named in the answer) and a move already under way
// are refused with their code, and queue nothing; without a move callback
// the route does not exist.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApi } from "./app.ts";
import { SAMPLE_STATUS, serveOnTempSocket } from "./testdata.ts";
import { apiRequest, textOf } from "./client.ts";
import type { StatusDoc } from "./types.ts";

/** SAMPLE_STATUS with web (held by h2, this host) in another quorum role. */
const withWebState = (state: string): StatusDoc => ({ ...SAMPLE_STATUS, services: SAMPLE_STATUS.services.map((s) => (s.name === "web" ? { ...s, state } : s)) });

describe("POST /services/:service/move", () => {
  const moves: Array<[string, string]> = [];
  let doc: StatusDoc = SAMPLE_STATUS;
  let served: Awaited<ReturnType<typeof serveOnTempSocket>>;
  beforeAll(async () => {
    served = await serveOnTempSocket(createApi({ status: () => doc, move: (service, to) => void moves.push([service, to]) }));
  });
  afterAll(() => served.close());
  const move = async (service: string, body: string) => {
    const a = await apiRequest(served.target, "POST", `/services/${service}/move`, { body, contentType: "application/json", timeoutMs: 5_000 });
    const text = await textOf(a);
    return { status: a.status, json: async () => JSON.parse(text) as Record<string, unknown> };
  };

  test("the holder queues the move once and answers 202", async () => {
    moves.length = 0;
    doc = SAMPLE_STATUS;
    const r = await move("web", JSON.stringify({ to: "h3" }));
    expect(r.status).toBe(202);
    expect(await r.json()).toEqual({ accepted: true, service: "web", to: "h3" });
    expect(moves).toEqual([["web", "h3"]]);
  });

  test.each([
    ["an unknown service", "db", '{"to": "h3"}', 404, "service_unknown", 'no service "db" (services: web, database)'],
    ["a body that is not JSON", "web", "{", 400, "request_invalid", "the body is not JSON"],
    ["a body without to", "web", '{"host": "h3"}', 400, "request_invalid", '{"to": "HOST"}'],
    ["a host that is not a candidate", "web", '{"to": "h4"}', 400, "request_invalid", '"h4" is not a candidate for "web" (candidates: h1, h2, h3)'],
    ["the holder itself", "web", '{"to": "h2"}', 400, "request_invalid", 'h2 already holds "web"'],
    ["a service held by another host", "database", '{"to": "h2"}', 409, "not_holder", "h3 holds it: ask h3's agent"],
  ])("%s is refused with its code and queues nothing", async (_n, service, body, status, code, message) => {
    moves.length = 0;
    doc = SAMPLE_STATUS;
    const r = await move(service, body);
    expect(r.status).toBe(status);
    const answer = await r.json();
    expect(answer.code).toBe(code);
    expect(answer.error).toContain(message);
    expect(moves).toEqual([]);
  });

  test("not_holder names the holder in the answer", async () => {
    doc = SAMPLE_STATUS;
    const answer = await (await move("database", '{"to": "h2"}')).json();
    expect(answer).toEqual({ error: expect.any(String), code: "not_holder", holder: "h3" });
  });

  test.each([
    ["handing-over", 409, "move_in_progress", 'h2 is already handing "web" over'],
    ["safe-mode", 409, "not_holder", "certified here but has no valid lease"],
    ["acquiring", 409, "not_holder", "certified here but has no valid lease"],
  ])("while web is %s here, a move is refused (%d %s)", async (state, status, code, message) => {
    moves.length = 0;
    doc = withWebState(state);
    const r = await move("web", '{"to": "h3"}');
    expect(r.status).toBe(status);
    const answer = await r.json();
    expect(answer.code).toBe(code);
    expect(answer.error).toContain(message);
    expect(moves).toEqual([]);
  });
});

test("without a move callback the route does not exist", async () => {
  const app = createApi({ status: () => SAMPLE_STATUS });
  const r = await app.request("/services/web/move", { method: "POST", body: '{"to": "h3"}' });
  expect(r.status).toBe(404);
  expect(await r.json()).toEqual({ error: "no route POST /services/web/move" });
});
