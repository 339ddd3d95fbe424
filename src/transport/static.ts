/**
 * Static files from one directory, for the standalone server: HTTP middleware that answers
 * GET and HEAD for files it has and passes everything else on (the server then answers 404).
 * Content type from the extension; a directory serves its index.html.
 *
 * No path traversal: the request path is decoded once, and anything that could leave the
 * root — a ".." segment (raw or percent-encoded), a backslash, a NUL, a bad escape — is
 * passed on (404). Every file it opens (a folder's index.html too) is checked AFTER opening:
 * the real path of what it names must lie under the root's real path and be the very file
 * held open (see openChecked). What cannot be served — missing, a symlink loop, a FIFO, a
 * socket — is passed on too, quietly. The file is closed when its response ends, however it ends.
 */
import { constants, type Stats } from "node:fs";
import { open, readlink, realpath, stat, type FileHandle } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, resolve, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import { createLogger, type Logger } from "../log.ts";

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

export interface StaticOptions {
  /** Where a failed read is logged (warn) and an aborted download (debug). Default: silent. */
  logger?: Logger;
}

export function createStaticHandler(rootDir: string, options: StaticOptions = {}): StaticHandler {
  const root = resolve(rootDir);
  const log = (options.logger ?? createLogger({ level: "silent" })).child({ component: "static" });
  let realRoot: Promise<string> | undefined;
  return async (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    realRoot ??= realpath(root);
    const file = await openServable(await realRoot, safeJoin(root, req.url ?? "/"));
    if (file === undefined) return false;
    send(file, req, res, log);
    return true;
  };
}

/** An open regular file under the root: its real path and what fstat said about it. */
interface OpenFile {
  handle: FileHandle;
  path: string;
  info: Stats;
}

/** Takes ownership of `file.handle`: it is closed when the response ends, finishes or aborts. */
function send(file: OpenFile, req: IncomingMessage, res: ServerResponse, log: Logger): void {
  const size = file.info.size;
  res.writeHead(200, { "content-type": contentType(file.path), "content-length": size, "x-content-type-options": "nosniff" });
  if (req.method === "HEAD" || size === 0) {
    closeQuietly(file.handle, log);
    res.end();
    return;
  }
  // `end` caps the body at the Content-Length sent, should the file grow meanwhile. pipeline()
  // destroys the read stream (closing the file) when the client goes away mid-download, and
  // destroys the response when the read fails (the headers are gone: only the socket can say so).
  const stream = file.handle.createReadStream({ start: 0, end: size - 1 });
  pipeline(stream, res).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ERR_STREAM_PREMATURE_CLOSE") log.debug({ path: file.path }, "static download aborted by the client");
    else log.warn({ err, path: file.path }, "static file read failed mid-response");
  });
}

function closeQuietly(handle: FileHandle, log: Logger): void {
  handle.close().catch((err: unknown) => log.warn({ err }, "could not close a static file"));
}

/** The regular file `candidate` names (a folder: its index.html), opened and checked; or undefined. */
async function openServable(realRoot: string, candidate: string | undefined): Promise<OpenFile | undefined> {
  if (candidate === undefined) return undefined;
  const opened = await openChecked(realRoot, candidate);
  if (opened === undefined || opened.info.isFile()) return opened;
  await opened.handle.close();
  if (!opened.info.isDirectory()) return undefined; // a FIFO, a device: nothing to serve
  // The index is opened and checked like any other file: it may be a symlink itself.
  const index = await openChecked(realRoot, join(opened.path, "index.html"));
  if (index === undefined || index.info.isFile()) return index;
  await index.handle.close();
  return undefined;
}

/**
 * Open `path` (following symlinks), THEN check what was opened: its real path must lie under
 * the root. Checking before opening would leave a window in which a symlink on the way could
 * be swapped for one pointing outside between the check and the open. O_NONBLOCK keeps a FIFO
 * from blocking a thread-pool thread on open (regular files ignore it).
 */
async function openChecked(realRoot: string, path: string): Promise<OpenFile | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    if (meansNotFound(err)) return undefined;
    throw err;
  }
  try {
    const info = await handle.stat();
    const real = await realPathOfOpened(handle, path, info);
    if (real === undefined || (real !== realRoot && !real.startsWith(realRoot + sep))) return await closed(handle);
    return { handle, path: real, info };
  } catch (err) {
    await handle.close();
    if (meansNotFound(err)) return undefined;
    throw err;
  }
}

/** The real path of the file `handle` holds (opened as `path`), or undefined if it cannot be told. */
async function realPathOfOpened(handle: FileHandle, path: string, info: Stats): Promise<string | undefined> {
  // Linux names the file an fd holds: the check is about that very file, no window at all.
  // Without procfs (another OS, or not mounted) the readlink fails and we fall back below.
  const held = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => undefined);
  if (held?.startsWith("/")) return held;
  // Elsewhere: the real path must name the very file held (same device and inode), so a swap
  // before realpath() is caught; a folder on the way swapped back and forth between realpath()
  // and stat() is the window left.
  const real = await realpath(path);
  const named = await stat(real);
  return named.dev === info.dev && named.ino === info.ino ? real : undefined;
}

async function closed(handle: FileHandle): Promise<undefined> {
  await handle.close();
  return undefined;
}

/**
 * Errors that mean "nothing to serve here" (a 404, passed on, not logged): missing, not a
 * folder, no permission, too long, a symlink loop (ELOOP), a socket file (ENXIO), a device
 * without a driver (ENODEV).
 */
function meansNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR" || code === "EACCES" || code === "EPERM" || code === "ENAMETOOLONG" ||
    code === "ELOOP" || code === "ENXIO" || code === "ENODEV";
}
