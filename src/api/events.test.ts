// Proves the event stream: the hub keeps the latest lines (debug and other
// parts' info left out, warnings of every part in), bounded; GET /events
// opens with the status document and the lines kept, then follows live; a
// logger that publishes still writes every line.
import { expect, test } from "bun:test";
import { createApi } from "./app.ts";
import { EventHub, EVENTS_KEPT, publishingLogger } from "./events.ts";
import { SAMPLE_STATUS } from "./testdata.ts";

const line = (event: string, part = "quorum", level = "info") => ({ ts: "2026-11-26T00:00:00.000Z", level, host: "h1", part, event });

test("the hub keeps what an operator watches, the newest EVENTS_KEPT", () => {
  const hub = new EventHub();
  hub.publish(line("renew-sent", "quorum", "debug"));
  hub.publish(line("loaded", "state"));
  hub.publish(line("write-failed", "state", "warn"));
  for (let i = 0; i < EVENTS_KEPT + 5; i++) hub.publish(line(`certified-${i}`));
  const kept = hub.recent();
  expect(kept).toHaveLength(EVENTS_KEPT);
  expect(kept[0]!.event).toBe("certified-5");
  const written: string[] = [];
  const log = publishingLogger(new EventHub(), "h1", (_l, _p, event) => void written.push(event));
  log("debug", "quorum", "renew-sent");
  expect(written).toEqual(["renew-sent"]);
});

test("GET /events: the status first, the lines kept, then live ones", async () => {
  const hub = new EventHub();
  hub.publish(line("certified"));
  const app = createApi({ status: () => SAMPLE_STATUS, events: hub });
  const res = await app.request("/events");
  expect(res.headers.get("content-type")).toStartWith("text/event-stream");
  const reader = res.body!.getReader();
  let text = "";
  const until = async (re: RegExp) => {
    for (let i = 0; i < 20 && !re.test(text); i++) text += new TextDecoder().decode((await reader.read()).value);
  };
  await until(/event: log/);
  expect(text).toStartWith("event: status\ndata: {");
  expect(text).toContain('"event":"certified"');
  hub.publish(line("vip-added", "actuate"));
  await until(/vip-added/);
  expect(text).toContain('"event":"vip-added"');
  await reader.cancel();
  expect((await app.request("/ui")).status).toBe(200);
});
