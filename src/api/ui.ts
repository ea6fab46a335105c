// The dashboard's files: GET /ui (the page), /ui/app.js (its script),
// /ui/uplot.js and /ui/uplot.css (uPlot, from its package). Read once, on
// the first request (from the checkout, or from inside the executable:
// src/shared/embedded.ts); the page's data comes from /events and
// /services/*/audit.
import type { Hono } from "hono";
import { dataFile, type DataFile } from "../shared/embedded.ts";

type File = { name: DataFile; type: string };
const FILES: Record<string, File> = {
  "/ui": { name: "ui/index.html", type: "text/html; charset=utf-8" },
  "/ui/app.js": { name: "ui/app.js", type: "text/javascript; charset=utf-8" },
  "/ui/uplot.js": { name: "ui/uplot.js", type: "text/javascript; charset=utf-8" },
  "/ui/uplot.css": { name: "ui/uplot.css", type: "text/css; charset=utf-8" },
};

export function uiRoutes(app: Hono): void {
  const cache = new Map<string, string>();
  for (const [route, f] of Object.entries(FILES)) {
    app.get(route, (c) => {
      let body = cache.get(route);
      if (body === undefined) {
        body = dataFile(f.name).toString("utf8");
        cache.set(route, body);
      }
      return c.body(body, 200, { "content-type": f.type, "cache-control": "no-cache", "x-content-type-options": "nosniff" });
    });
  }
}
