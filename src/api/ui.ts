// The dashboard's files: GET /ui (the page), /ui/app.js (its script),
// /ui/uplot.js and /ui/uplot.css (uPlot, from its package). Read once, on
// the first request; the page's data comes from /events and /services/*/audit.
import type { Hono } from "hono";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const HERE = join(import.meta.dirname, "ui");

type File = { path: () => string; type: string };
const FILES: Record<string, File> = {
  "/ui": { path: () => join(HERE, "index.html"), type: "text/html; charset=utf-8" },
  "/ui/app.js": { path: () => join(HERE, "app.js"), type: "text/javascript; charset=utf-8" },
  "/ui/uplot.js": { path: () => uplotFile("uPlot.iife.min.js"), type: "text/javascript; charset=utf-8" },
  "/ui/uplot.css": { path: () => uplotFile("uPlot.min.css"), type: "text/css; charset=utf-8" },
};

function uplotFile(name: string): string {
  return join(createRequire(import.meta.url).resolve("uplot").replace(/[\\/]dist[\\/].*$/, ""), "dist", name);
}

export function uiRoutes(app: Hono): void {
  const cache = new Map<string, string>();
  for (const [route, f] of Object.entries(FILES)) {
    app.get(route, (c) => {
      let body = cache.get(route);
      if (body === undefined) {
        body = readFileSync(f.path(), "utf8");
        cache.set(route, body);
      }
      return c.body(body, 200, { "content-type": f.type, "cache-control": "no-cache", "x-content-type-options": "nosniff" });
    });
  }
}
