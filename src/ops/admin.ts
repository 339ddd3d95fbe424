/**
 * The admin dashboard (docs/admin.md): a static page at /admin whose browser code calls the
 * server API (/api/…) with the admin token as its bearer. The page holds no data and no
 * secret: without the token it can show nothing. uPlot (MIT, ~50 KB, canvas: thousands of
 * points cost nothing) draws the throughput chart; it is served from the installed package,
 * never a CDN.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { ServerResponse } from "node:http";
import type { HttpHandler } from "../transport/http.ts";
import type { RouteTable } from "./api.ts";

export const ADMIN_PATH = "/admin";

/** The page's own files (beside src/pages/ in the source and in dist) and uPlot's. */
function adminFiles(): Record<string, { file: string | URL; type: string }> {
  const require = createRequire(import.meta.url);
  const page = (name: string) => new URL(`../pages/${name}`, import.meta.url);
  return {
    [ADMIN_PATH]: { file: page("admin.html"), type: "text/html; charset=utf-8" },
    [`${ADMIN_PATH}/admin.js`]: { file: page("admin.js"), type: "text/javascript; charset=utf-8" },
    [`${ADMIN_PATH}/admin.css`]: { file: page("admin.css"), type: "text/css; charset=utf-8" },
    [`${ADMIN_PATH}/assets/uPlot.iife.min.js`]: { file: require.resolve("uplot/dist/uPlot.iife.min.js"), type: "text/javascript; charset=utf-8" },
    [`${ADMIN_PATH}/assets/uPlot.min.css`]: { file: require.resolve("uplot/dist/uPlot.min.css"), type: "text/css; charset=utf-8" },
  };
}

/**
 * Headers that keep the page to itself: its own scripts only (no inline code, no CDN), not
 * framed by another site, and no Referer (the token lives in the fragment, which browsers
 * never send, but a strict policy costs nothing).
 */
const PAGE_HEADERS = {
  "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "X-Content-Type-Options": "nosniff",
};

export function mountAdmin(routes: Pick<RouteTable, "get">): void {
  for (const [path, { file, type }] of Object.entries(adminFiles())) {
    // Read once, at the first request: the files are small and do not change while running.
    let body: Buffer | undefined;
    const handler: HttpHandler = (_req, res) => {
      body ??= readFileSync(file);
      send(res, body, type);
    };
    routes.get(path, handler);
  }
}

function send(res: ServerResponse, body: Buffer, type: string): void {
  res.writeHead(200, { "Content-Type": type, "Content-Length": body.length, "Cache-Control": "no-cache", ...PAGE_HEADERS });
  res.end(body);
}
