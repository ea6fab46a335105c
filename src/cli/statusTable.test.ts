// Proves `umbra status` prints the header and the members and services as
// aligned tables, ages against the document's own clock; and that runStatus
// prints it from a real API, or fails with a message that says what to check.
import { hostId } from "../shared/ids.ts";
import { describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ago, duration, formatStatus } from "./statusTable.ts";
import { runStatus } from "./status.ts";
import { SAMPLE_STATUS, createApi, type ServiceDoc } from "../api/index.ts";
import { serveOnTempSocket, type ApiTarget } from "../api/index.ts";
import { UmbraError } from "../shared/errors.ts";

describe("formatStatus", () => {
  test("formats a status document", () => {
    expect(formatStatus(SAMPLE_STATUS)).toBe(
      [
        "host h2  cluster demo  role active  up 2m05s  umbra 0.1.0",
        "",
        "MEMBER     STATUS   INC  CONN    RTT  CPU  MEM  BEACON    OPERATOR",
        "h2 (self)  alive      0  -         -  25%  50%  0.0s ago  -",
        "h1         dead       2  no        -    -    -  4.0s ago  -",
        "h3         alive      1  yes   0.4ms   7%  31%  0.7s ago  -",
        "h4         suspect   12  no     32ms    -    -  never     maintenance: disk swap",
        "",
        "SERVICE   VIP               HOLDER     EPOCH  LEASE  STATE                         HEALTH   KEPT OUT  QUORUM                                LAST CHANGE",
        "web       198.51.100.10/24  h2 (here)      2  231ms  holding, back to h1 in 7m12s  ok       -         2 of 3                                h1 -> h2 (holder-lost) 42s ago",
        "database  2001:db8::20/64   h3            17      -  follower                      FAILING  h2        2 of 2 (override 2, counts in 120ms)  -",
        "",
        "STATE OF  PRIMARY  SHADOW  PEER  SYNC               LAG  HEARD",
        "web       h1       h2      h1    stale    3 ch / 2.4KiB  42s ago",
        "web       h1       h3      h3    in-sync              0  0.3s ago",
        "database  h3       h2      h3    syncing              0  0.1s ago",
        "",
      ].join("\n"),
    );
  });

  test("CONN says how each member is reached: direct, through a relay, only through others' probes, or not", () => {
    const reach = { h1: { reach: "none", via: null }, h3: { reach: "relayed", via: "bootstrap 203.0.113.2:49737" }, h4: { reach: "through-others", via: null } } as const;
    const doc = { ...SAMPLE_STATUS, members: SAMPLE_STATUS.members.map((m) => ({ ...m, ...(reach[m.id as keyof typeof reach] ?? {}) })) };
    const rows = formatStatus(doc).split("\n").filter((l) => /^h[134] /.test(l));
    expect(rows.map((l) => l.split(/ {2,}/)[3])).toEqual(["no", "via bootstrap 203.0.113.2:49737", "others"]);
  });

  test("queues that dropped anything are named in one line at the end; none when nothing was dropped", () => {
    const queues = [
      { name: "inbox", max: 10_000, dropped: 12 },
      { name: "peer-events", max: 10_000, dropped: 0 },
      { name: "ip-batch", max: 256, dropped: 1 },
    ];
    const out = formatStatus({ ...SAMPLE_STATUS, queues });
    expect(out.endsWith("\n\ndropped since start: inbox 12 (bound 10000), ip-batch 1 (bound 256)\n")).toBe(true);
    expect(formatStatus({ ...SAMPLE_STATUS, queues: queues.map((q) => ({ ...q, dropped: 0 })) })).toBe(formatStatus(SAMPLE_STATUS));
  });

  test("forecasts get a table of their own, the predicted hosts marked", () => {
    const out = formatStatus({
      ...SAMPLE_STATUS,
      predicted: ["h1"],
      forecasts: [
        {
          host: hostId("h1"),
          exhaustionProbability: 0.93,
          metric: "memoryUsage",
          horizonMs: 900_000,
          atTs: 0,
          metrics: [{ metric: "memoryUsage", limit: 0.95, side: "above", last: 0.912, anomaly: 0.41, p10: 0.93, p50: 0.962, p90: 0.981, exhaustionProbability: 0.93 }],
        },
      ],
    });
    expect(out.endsWith(
      [
        "FORECAST OF     METRIC         NOW      IN      P10..P90  LIMIT  P(EXHAUST)  ANOMALY",
        "h1 (predicted)  memoryUsage  0.912  15m00s  0.930..0.981  0.950         93%     0.41",
        "",
      ].join("\n"),
    )).toBe(true);
  });

  test("a line per service with a swap window: fixed or auto, open or closed, or why an auto one has none yet", () => {
    const [web, db] = SAMPLE_STATUS.services as [ServiceDoc, ServiceDoc];
    const out = formatStatus({
      ...SAMPLE_STATUS,
      services: [
        { ...web, swapWindow: { window: "02:15-04:15", open: false, auto: true, metric: "cpuLoad", load: 0.0812, why: null } },
        { ...db, swapWindow: { window: "22:00-02:00", open: true, auto: false, metric: null, load: null, why: null } },
        { ...db, name: "cache", swapWindow: { window: null, open: false, auto: true, metric: "memoryUsage", load: null, why: "learning the day's load: 37 % of the day seen" } },
        { ...db, name: "queue", swapWindow: null },
      ],
    });
    const lines = out.split("\n").filter((l) => l.includes("swap window"));
    expect(lines).toEqual([
      "web swap window 02:15-04:15 (auto by cpuLoad, predicted 0.0812; closed)",
      "database swap window 22:00-02:00 (open)",
      "cache swap window auto by memoryUsage: none yet (learning the day's load: 37 % of the day seen)",
    ]);
  });

  test("a line per service with a shadow count: each host's free capacity beside the reserve, where heard; none without a reserve or from an older agent", () => {
    const [web, db] = SAMPLE_STATUS.services as [ServiceDoc, ServiceDoc];
    const out = formatStatus({
      ...SAMPLE_STATUS,
      services: [
        { ...web, shadowCount: { warm: ["h2"], cold: ["h3", "h4"], wanted: 1, why: "forecast p90 0.36, band 0.02", reserve: { cpuLoad: 0.15 }, free: { h2: { cpuLoad: 0.624 }, h3: { cpuLoad: 0.71 } } } },
        { ...db, shadowCount: { warm: ["h3"], cold: [], wanted: 1, why: "no fresh forecast", reserve: {}, free: {} } },
        { ...db, name: "cache", shadowCount: { warm: ["h2"], cold: ["h3"], wanted: 1, why: "no fresh forecast", reserve: { memoryUsage: 0.1 } } },
      ],
    });
    expect(out.split("\n").filter((l) => l.includes("warm shadows"))).toEqual([
      "web warm shadows: h2 (cpuLoad 62 % free) (1 wanted: forecast p90 0.36, band 0.02); cold: h3 (cpuLoad 71 % free), h4; each reserves cpuLoad 15 %",
      "database warm shadows: h3 (1 wanted: no fresh forecast); cold: none",
      "cache warm shadows: h2 (1 wanted: no fresh forecast); cold: h3; each reserves memoryUsage 10 %",
    ]);
  });

  test("with no services it says so", () => {
    expect(formatStatus({ ...SAMPLE_STATUS, services: [], replication: [] }).endsWith("\n\nno services configured\n")).toBe(true);
  });

  test.each([
    [0.42, "0.4ms"],
    [231, "231ms"],
    [4000, "4.0s"],
    [42_000, "42s"],
    [125_000, "2m05s"],
    [3_600_000 * 3 + 7 * 60_000, "3h07m"],
    [86_400_000 * 2 + 3_600_000 * 3, "2d03h"],
  ])("duration(%p) = %p", (ms, want) => {
    expect(duration(ms)).toBe(want);
  });

  test.each([
    [0, "0.0s ago"],
    [700, "0.7s ago"],
    [-250, "0.0s ago"],
    [65_000, "1m05s ago"],
  ])("ago(%p) = %p", (ms, want) => {
    expect(ago(ms)).toBe(want);
  });
});

describe("runStatus", () => {
  async function failure(p: Promise<unknown>): Promise<UmbraError> {
    const e = await p.then(() => null, (err: unknown) => err);
    expect(e).toBeInstanceOf(UmbraError);
    return e as UmbraError;
  }

  test("prints tables, or the raw JSON, from a real API on its socket", async () => {
    const served = await serveOnTempSocket(createApi({ status: () => SAMPLE_STATUS }));
    try {
      const out: string[] = [];
      expect(await runStatus({ target: served.target, json: false, write: (t) => out.push(t) })).toEqual([]); // every service has a holder
      await runStatus({ target: served.target, json: true, write: (t) => out.push(t) });
      expect(out[0]).toBe(formatStatus(SAMPLE_STATUS));
      expect(JSON.parse(out[1]!)).toEqual(SAMPLE_STATUS);
    } finally {
      await served.close();
    }
  });

  test("the services with no holder come back, for the command's exit 1", async () => {
    const orphaned = { ...SAMPLE_STATUS, services: SAMPLE_STATUS.services.map((s) => (s.name === "database" ? { ...s, holder: null } : s)) };
    const served = await serveOnTempSocket(createApi({ status: () => orphaned }));
    try {
      expect(await runStatus({ target: served.target, json: true, write: () => {} })).toEqual(["database"]);
    } finally {
      await served.close();
    }
  });

  test("a closed port says the agent may not be running", async () => {
    const e = await failure(runStatus({ target: { host: "127.0.0.1", port: 1, token: null }, json: false, write: () => {} }));
    expect(e.code).toBe("api_unreachable");
    expect(e.message).toBe("cannot reach the umbra agent API at 127.0.0.1:1: is the agent running? see --api / --config");
  });

  async function withServer(handler: Parameters<typeof createServer>[1], body: (api: string, target: ApiTarget) => Promise<void>): Promise<void> {
    const server: Server = createServer(handler);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const port = (server.address() as AddressInfo).port;
      await body(`127.0.0.1:${port}`, { host: "127.0.0.1", port, token: null });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }

  test("an agent that never answers times out with its own message", async () => {
    await withServer(
      () => {},
      async (api, target) => {
        const e = await failure(runStatus({ target, json: false, timeoutMs: 200, write: () => {} }));
        expect(e.message).toBe(`the umbra agent API at ${api} did not answer within 200 ms (is the agent stuck? its log may say)`);
      },
    );
  });

  test("something else on the port is named as such, not crashed on", async () => {
    await withServer(
      (_req, res) => res.end(JSON.stringify({ hello: "world" })),
      async (api, target) => {
        const e = await failure(runStatus({ target, json: false, write: () => {} }));
        expect(e.message).toBe(`${api} answered, but not with an umbra status document: is it an umbra agent API? (see --api)`);
      },
    );
    await withServer(
      (_req, res) => res.end("<html>"),
      async (api, target) => {
        const e = await failure(runStatus({ target, json: false, write: () => {} }));
        expect(e.message).toBe(`${api} answered 200 without JSON: is it an umbra agent API? (see --api)`);
      },
    );
  });

  test("an API error is passed on with its message", async () => {
    const served = await serveOnTempSocket(createApi({ status: () => { throw new UmbraError("actuate_failed", "ip addr add failed"); } }));
    try {
      const e = await failure(runStatus({ target: served.target, json: false, write: () => {} }));
      expect(e.code).toBe("actuate_failed");
      expect(e.message).toBe("ip addr add failed");
    } finally {
      await served.close();
    }
  });
});
