// Proves `umbra move`'s client half against a real agent API (its socket):
// a move the holder accepts reads as queued (exit 0); a host that does not
// hold the service names the holder and where to run the command (exit 1);
// an unknown service or host is the operator's input (exit 2); an agent that
// is not there is api_unreachable.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createApi, SAMPLE_STATUS, serveOnTempSocket } from "../../api/index.ts";
import { UmbraError } from "../../shared/errors.ts";
import { describeAnswer, requestMove } from "./move.ts";

const moves: Array<[string, string]> = [];
let served: Awaited<ReturnType<typeof serveOnTempSocket>>;
beforeAll(async () => {
  served = await serveOnTempSocket(createApi({ status: () => SAMPLE_STATUS, move: (s, to) => void moves.push([s, to]) }));
});
afterAll(() => served.close());

test("a move the holder accepts is queued: exit 0", async () => {
  const a = await requestMove(served.target, "web", "h3");
  expect(a).toEqual({ status: 202, body: { accepted: true, service: "web", to: "h3" } });
  expect(describeAnswer(a, "web", "h3")).toEqual({ text: "move of web to h3 queued; 'umbra status' shows the new holder", exit: 0 });
  expect(moves).toEqual([["web", "h3"]]);
});

test("not the holder: the answer names the holder and where to run it, exit 1", async () => {
  const a = await requestMove(served.target, "database", "h2");
  expect(a.status).toBe(409);
  const d = describeAnswer(a, "database", "h2");
  expect(d.exit).toBe(1);
  expect(d.text).toStartWith('not moved: h2 does not hold "database"');
  expect(d.text).toEndWith("run 'umbra move database --to h2' on h3");
});

test.each([
  ["nope", "h2", 'no service "nope"'],
  ["web", "h9", '"h9" is not a candidate for "web"'],
])("move %s --to %s is the operator's input: exit 2", async (service, to, msg) => {
  const d = describeAnswer(await requestMove(served.target, service, to), service, to);
  expect(d.exit).toBe(2);
  expect(d.text).toContain(msg);
});

test("no agent at the address is api_unreachable", async () => {
  const closed = await serveOnTempSocket(createApi({ status: () => SAMPLE_STATUS }));
  await closed.close();
  const err = await requestMove(closed.target, "web", "h3").catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UmbraError);
  expect((err as UmbraError).code).toBe("api_unreachable");
});
