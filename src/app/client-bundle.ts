/**
 * GET /switchboard.js: the client library (client/) bundled for browsers by esbuild, as an
 * ES module (`import { Client } from "/switchboard.js"`). Built once, on the first request,
 * then served from memory with an ETag.
 */
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { Logger } from "../log.ts";
import type { HttpHandler } from "../transport/http.ts";

export const CLIENT_BUNDLE_PATH = "/switchboard.js";

interface Bundle {
  code: string;
  etag: string;
}

export async function buildClientBundle(): Promise<Bundle> {
  const { build } = await import("esbuild"); // loaded only when a page asks for the bundle
  const result = await build({
    entryPoints: [fileURLToPath(new URL("../../client/index.ts", import.meta.url))],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    sourcemap: false,
    write: false,
    // Only Node without a global WebSocket reaches for `ws`; browsers never evaluate that import.
    external: ["ws"],
    legalComments: "none",
  });
  const code = result.outputFiles[0]!.text;
  return { code, etag: `"${createHash("sha256").update(code).digest("base64url").slice(0, 27)}"` };
}

/** The route handler; it keeps its own cached build (no global state). */
export function clientBundleHandler(log: Logger): HttpHandler {
  let bundle: Promise<Bundle> | undefined;
  return async (req, res) => {
    bundle ??= buildClientBundle();
    let built: Bundle;
    try {
      built = await bundle;
    } catch (err) {
      bundle = undefined; // try again on the next request
      log.error({ err }, "building the client bundle failed");
      res.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" });
      res.end("client bundle unavailable");
      return;
    }
    if (req.headers["if-none-match"] === built.etag) {
      res.writeHead(304, { ETag: built.etag });
      res.end();
      return;
    }
    res.writeHead(200, {
      "Content-Type": "text/javascript; charset=utf-8",
      "Content-Length": Buffer.byteLength(built.code),
      "Cache-Control": "no-cache",
      ETag: built.etag,
    });
    res.end(req.method === "HEAD" ? undefined : built.code);
  };
}
