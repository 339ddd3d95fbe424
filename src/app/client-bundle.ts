/**
 * GET /switchboard.js: the client library (client/) bundled for browsers by esbuild, as an
 * ES module (`import { Client } from "/switchboard.js"`). The installed package serves the
 * bundle that the build wrote into dist (scripts/build.js calls buildClientBundle() below), so
 * esbuild is a build tool, not a run-time dependency. Running from source (this file is .ts)
 * builds it from client/ on the first request instead, so it always matches the source.
 * Either way it is then served from memory with an ETag.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { Logger } from "../log.ts";
import type { HttpHandler } from "../transport/http.ts";

export const CLIENT_BUNDLE_PATH = "/switchboard.js";

/** Where the build puts the bundle: dist/switchboard.js, seen from dist/src/app/. */
export const BUILT_BUNDLE = new URL("../../switchboard.js", import.meta.url);
const RUNNING_FROM_SOURCE = import.meta.url.endsWith(".ts");
const CLIENT_ENTRY = new URL("../../client/index.ts", import.meta.url);

interface Bundle {
  code: string;
  etag: string;
}

/** Bundle the client for browsers from its entry file (client/index.ts); returns the code. */
export async function buildClientBundle(entry: string): Promise<string> {
  const { build } = await import("esbuild"); // a dev dependency: only the build and source runs get here
  const result = await build({
    entryPoints: [entry],
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
  return result.outputFiles[0]!.text;
}

async function loadBundle(): Promise<Bundle> {
  const code = RUNNING_FROM_SOURCE ? await buildClientBundle(fileURLToPath(CLIENT_ENTRY)) : await readBuiltBundle();
  return { code, etag: `"${createHash("sha256").update(code).digest("base64url").slice(0, 27)}"` };
}

async function readBuiltBundle(): Promise<string> {
  try {
    return await readFile(BUILT_BUNDLE, "utf8");
  } catch (err) {
    throw new Error(`${fileURLToPath(BUILT_BUNDLE)} is missing: the package was not built with \`npm run build\``, { cause: err });
  }
}

/** The route handler; it keeps its own cached build (no global state). */
export function clientBundleHandler(log: Logger): HttpHandler {
  let bundle: Promise<Bundle> | undefined;
  return async (req, res) => {
    bundle ??= loadBundle();
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
