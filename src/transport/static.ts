/**
 * Static files from one directory, for the standalone server: HTTP middleware that answers
 * GET and HEAD for files it has and passes everything else on (the server then answers 404).
 * Content type from the extension; a directory serves its index.html.
 *
 * No path traversal: the request path is decoded once, and anything that could leave the
 * root — a ".." segment (raw or percent-encoded), a backslash, a NUL, a bad escape — is
 * passed on (404), as is a file whose real path (after symlinks) lies outside the root.
 */
import { createReadStream } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, resolve, sep } from "node:path";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".htm": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".xml": "application/xml",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".wasm": "application/wasm",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".pdf": "application/pdf",
};

export function contentType(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? "application/octet-stream";
}

/** Answers a request and returns true, or returns false to let the server answer (404). */
export type StaticHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/**
 * The file under `root` that `urlPath` (the raw request target) names, or undefined when the
 * path is unsafe or malformed. Pure: no file system access.
 */
export function safeJoin(root: string, urlPath: string): string | undefined {
  const pathOnly = urlPath.split("?")[0]!.split("#")[0]!;
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathOnly);
  } catch {
    return undefined; // a malformed escape such as "%E0%A4%A"
  }
  if (!decoded.startsWith("/") || decoded.includes("\0") || decoded.includes("\\")) return undefined;
  if (decoded.split("/").some((segment) => segment === "..")) return undefined;
  const full = resolve(root, "." + decoded);
  return full === root || full.startsWith(root + sep) ? full : undefined;
}

export function createStaticHandler(rootDir: string): StaticHandler {
  const root = resolve(rootDir);
  let realRoot: Promise<string> | undefined;
  return async (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    realRoot ??= realpath(root);
    const file = await findFile(await realRoot, safeJoin(root, req.url ?? "/"));
    if (file === undefined) return false;
    res.writeHead(200, { "content-type": contentType(file.path), "content-length": file.size, "x-content-type-options": "nosniff" });
    if (req.method === "HEAD") {
      res.end();
      return true;
    }
    const stream = createReadStream(file.path);
    // A file that vanishes or fails mid-read: the headers are gone, so end the socket.
    stream.on("error", (err) => res.destroy(err));
    stream.pipe(res);
    return true;
  };
}

async function findFile(realRoot: string, candidate: string | undefined): Promise<{ path: string; size: number } | undefined> {
  if (candidate === undefined) return undefined;
  try {
    let path = await realpath(candidate);
    // A symlink inside the root that points outside it is traversal too.
    if (path !== realRoot && !path.startsWith(realRoot + sep)) return undefined;
    let info = await stat(path);
    if (info.isDirectory()) {
      path = join(path, "index.html");
      info = await stat(path);
    }
    return info.isFile() ? { path, size: info.size } : undefined;
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR" || code === "EACCES" || code === "ENAMETOOLONG";
}
