// Scenario (slow): the dashboard in headless Chromium (Debian's chromium,
// driven by playwright-core; never a browser download), against real agents
// in network namespaces. The browser reaches h2's API socket through a TCP
// forward on loopback (what `ssh -L 7070:/var/lib/umbra/state/api.sock`
// gives an operator). The page loads, shows h1 holding web, charts the hosts
// and lists events; when h1 is cut off it shows the new holder without a
// reload. The test saves a screenshot (test-results/dashboard.png).
//
// Run alone: bun test test/dashboard.slow.test.ts   (needs root and chromium; CI is root)

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { startDemoCluster, withDigest, type DemoCluster } from "../src/demo/cluster.ts";
import { cleanupStale } from "../src/demo/topology.ts";

const PREFIX = "uw-";
const CHROMIUM = "/usr/bin/chromium";
const OUT = join(resolve(import.meta.dirname, ".."), "test-results");
const isRoot = process.getuid?.() === 0;
let cluster: DemoCluster | null = null;
let browser: Browser | null = null;
let forward: Server | null = null;

afterAll(async () => {
  await browser?.close();
  forward?.close();
  await cluster?.destroy();
  await cleanupStale(PREFIX);
});

/** A TCP listener on loopback whose every connection is piped to a Unix socket. */
async function forwardTo(socket: string): Promise<{ server: Server; port: number }> {
  const server = createServer((c) => {
    const s = connect(socket);
    c.pipe(s).pipe(c);
    c.on("error", () => s.destroy());
    s.on("error", () => c.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as AddressInfo).port };
}

describe.skipIf(!isRoot || !existsSync(CHROMIUM))("the dashboard in headless Chromium (slow)", () => {
  test("shows the holder, charts and events, and follows a failover live", withDigest(async () => {
    await cleanupStale(PREFIX);
    cluster = await startDemoCluster({ prefix: PREFIX });
    const c = cluster;
    expect(await c.waitForHolders((h) => h.length === 1, 30_000)).toEqual(["h1"]);
    const fwd = await forwardTo(c.apiSocketOf("h2"));
    forward = fwd.server;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"] });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${fwd.port}/ui`);
    const holder = page.getByTestId("holder-web");
    await page.waitForFunction(() => document.querySelector("[data-testid=holder-web]")?.textContent === "h1", undefined, { timeout: 10_000 });
    await page.getByTestId("chart-h1").waitFor({ timeout: 10_000 });
    await page.locator("#events div").first().waitFor({ timeout: 10_000 });

    await c.topo.partition("h1");
    await page.waitForFunction(() => ["h2 (here)", "h3"].includes(document.querySelector("[data-testid=holder-web]")?.textContent ?? ""), undefined, { timeout: 15_000 });
    const after = await holder.textContent();
    expect(["h2 (here)", "h3"]).toContain(after!);
    await page.waitForFunction(() => /certified/.test(document.querySelector("#events")?.textContent ?? ""), undefined, { timeout: 5_000 });
    mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: join(OUT, "dashboard.png"), fullPage: true });
    expect(existsSync(join(OUT, "dashboard.png"))).toBe(true);
    expect(errors).toEqual([]);
  }), 120_000);
});
