/**
 * Static files: content types, index.html, HEAD, and no path traversal. Requests are written
 * on a raw `net` socket so that no client normalises "/../" away before the server sees it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { symlinkSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import { createServer, type Server } from "../../src/index.ts";
import { createStaticHandler, contentType, safeJoin } from "../../src/transport/static.ts";
import { makeTree } from "../helpers/tree.ts";
import { withTimeout, WAIT_MS } from "../helpers/ws-client.ts";
import { rawRequest } from "../helpers/raw-http.ts";


async function staticServer(t: { after(fn: () => Promise<void>): void }): Promise<{ server: Server; root: string; outside: string }> {
  const base = makeTree(t, {
    "public/index.html": "<h1>home</h1>",
    "public/app.js": "console.log(1)",
    "public/style.css": "body{}",
    "public/data.json": "{}",
    "public/logo.svg": "<svg/>",
    "public/docs/index.html": "docs",
    "public/blob.bin": "xx",
    "public/a b.txt": "space",
    "secret.txt": "TOP SECRET",
  });
  const root = join(base, "public");
  symlinkSync(join(base, "secret.txt"), join(root, "link-out.txt"));
  const server = createServer({ port: 0, host: "127.0.0.1", logger: { level: "silent" } });
  server.use(createStaticHandler(root));
  await server.start();
  t.after(() => server.stop({ timeoutMs: 2000 }));
  return { server, root, outside: base };
}

test("files are served with their content types; directories serve index.html", async (t) => {
  const { server } = await staticServer(t);
  const expected: Array<[string, string, string]> = [
    ["/", "text/html; charset=utf-8", "<h1>home</h1>"],
    ["/index.html", "text/html; charset=utf-8", "<h1>home</h1>"],
    ["/app.js", "text/javascript; charset=utf-8", "console.log(1)"],
    ["/style.css", "text/css; charset=utf-8", "body{}"],
    ["/data.json", "application/json; charset=utf-8", "{}"],
    ["/logo.svg", "image/svg+xml", "<svg/>"],
    ["/docs/", "text/html; charset=utf-8", "docs"],
    ["/blob.bin", "application/octet-stream", "xx"],
    ["/a%20b.txt", "text/plain; charset=utf-8", "space"],
    ["/app.js?v=2", "text/javascript; charset=utf-8", "console.log(1)"],
  ];
  for (const [target, type, body] of expected) {
    const res = await rawRequest(server.port, target);
    assert.equal(res.status, 200, target);
    assert.equal(res.headers["content-type"], type, target);
    assert.equal(res.body, body, target);
  }
  const head = await rawRequest(server.port, "/app.js", "HEAD");
  assert.equal(head.status, 200);
  assert.equal(head.headers["content-length"], "14");
  assert.equal(head.body, "");
  assert.equal((await rawRequest(server.port, "/missing.txt")).status, 404);
  assert.equal((await rawRequest(server.port, "/app.js", "POST")).status, 404);
});

test("path traversal in every spelling is 404 and never reaches the file", async (t) => {
  const { server } = await staticServer(t);
  const attempts = [
    "/../secret.txt", "/docs/../../secret.txt", "/..%2fsecret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt",
    "/.%2e/secret.txt", "/docs/%2e%2e/%2e%2e/secret.txt", "/..%5csecret.txt", "/%2e%2e%5csecret.txt",
    "/%252e%252e/secret.txt", "/secret.txt%00.html", "/%c0%ae%c0%ae/secret.txt", "/%e0%a4%a", "/..",
    "/link-out.txt", "//etc/passwd", "/%2fetc%2fpasswd",
  ];
  for (const target of attempts) {
    const res = await rawRequest(server.port, target);
    assert.equal(res.status, 404, target);
    assert.ok(!res.body.includes("TOP SECRET"), target);
    assert.ok(!res.body.includes("root:"), target);
  }
  // Normal dot segments inside the root are refused too, rather than resolved.
  assert.equal((await rawRequest(server.port, "/docs/../index.html")).status, 404);
});

test("safeJoin and contentType, without a server", () => {
  assert.equal(safeJoin("/srv/www", "/a/b.txt"), "/srv/www/a/b.txt");
  assert.equal(safeJoin("/srv/www", "/"), "/srv/www");
  assert.equal(safeJoin("/srv/www", "/../x"), undefined);
  assert.equal(safeJoin("/srv/www", "/%2e%2e/x"), undefined);
  assert.equal(safeJoin("/srv/www", "x"), undefined);
  assert.equal(safeJoin("/srv/www", "/%zz"), undefined);
  assert.equal(contentType("a.HTML"), "text/html; charset=utf-8");
  assert.equal(contentType("a.wasm"), "application/wasm");
  assert.equal(contentType("noext"), "application/octet-stream");
});
