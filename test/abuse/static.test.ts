/**
 * Static files under abuse: every path that is opened is checked after its last symlink is
 * resolved (a symlinked index.html too), a symlink loop is a quiet 404, and a client that
 * aborts a download does not leave the file open. Requests go over raw `net` sockets so that no
 * client normalises the target first.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { connect as netConnect, createServer as netCreateServer } from "node:net";
import { join } from "node:path";
import { EventEmitter } from "node:events";
import { Writable } from "node:stream";
import { pino } from "pino";
import { createServer, type Server } from "../../src/index.ts";
import { createStaticHandler } from "../../src/transport/static.ts";
import { makeTree } from "../helpers/tree.ts";
import { eventually, when, within } from "../helpers/until.ts";
import { captureLogs } from "../helpers/logs.ts";
import { rawRequest } from "../helpers/raw-http.ts";

const WAIT_MS = 5_000;
const SECRET = "OUTSIDE THE ROOT";



interface Fixture {
  server: Server;
  root: string;
  outside: string;
  logs: Array<{ level: number; msg?: string }>;
  /** Emits "close" for each response the server closes (finished or aborted). */
  responses: EventEmitter;
}

/** A static server over `public/`, with `secret.txt` and `outside/` beside (not inside) it. */
async function staticServer(t: { after(fn: () => Promise<void> | void): void }): Promise<Fixture> {
  const base = makeTree(t, {
    "public/index.html": "<h1>home</h1>",
    "public/page.html": "inner page",
    "public/docs/index.html": "docs",
    "secret.txt": SECRET,
    "outside/index.html": SECRET,
  });
  const root = join(base, "public");
  const { lines, logger } = captureLogs("debug");
  const server = createServer({ port: 0, host: "127.0.0.1", logger });
  const responses = new EventEmitter();
  // Runs before the static handler and passes every request on: reports server-side closes.
  server.use(async (_req, res) => {
    res.once("close", () => responses.emit("close"));
    return false;
  });
  server.use(createStaticHandler(root));
  await server.start();
  t.after(() => server.stop({ timeoutMs: 2000 }));
  return { server, root, outside: base, logs: lines, responses };
}

/** The server still answers a plain request normally. */
async function assertStillServes(server: Server): Promise<void> {
  const res = await rawRequest(server.port, "/page.html");
  assert.equal(res.status, 200);
  assert.equal(res.body, "inner page");
}

function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

test("a folder whose index.html is a symlink to a file outside the root: 404", async (t) => {
  const { server, root, outside } = await staticServer(t);
  mkdirSync(join(root, "x"));
  symlinkSync(join(outside, "secret.txt"), join(root, "x", "index.html"));
  for (const target of ["/x/", "/x", "/x/index.html"]) {
    const res = await rawRequest(server.port, target);
    assert.equal(res.status, 404, target);
    assert.ok(!res.body.includes(SECRET), target);
  }
  await assertStillServes(server);
});

test("a folder whose index.html is a symlink to a file inside the root is served", async (t) => {
  const { server, root } = await staticServer(t);
  mkdirSync(join(root, "y"));
  symlinkSync(join(root, "page.html"), join(root, "y", "index.html"));
  symlinkSync("../docs", join(root, "y", "docs-link")); // a relative link to a folder inside
  const res = await rawRequest(server.port, "/y/");
  assert.equal(res.status, 200);
  assert.equal(res.body, "inner page");
  assert.equal((await rawRequest(server.port, "/y/docs-link/")).body, "docs");
});

test("a symlinked folder that points outside, and its index.html: 404", async (t) => {
  const { server, root, outside } = await staticServer(t);
  symlinkSync(join(outside, "outside"), join(root, "out-dir"));
  for (const target of ["/out-dir/", "/out-dir", "/out-dir/index.html"]) {
    const res = await rawRequest(server.port, target);
    assert.equal(res.status, 404, target);
    assert.ok(!res.body.includes(SECRET), target);
  }
  await assertStillServes(server);
});

test("a symlink loop (ELOOP) is 404 and logs nothing above debug", async (t) => {
  const { server, root, logs } = await staticServer(t);
  const aboveDebug = () => logs.filter((line) => line.level > 20);
  const startUpLines = aboveDebug().length;
  symlinkSync("loop.html", join(root, "loop.html")); // points at itself
  mkdirSync(join(root, "z"));
  symlinkSync("index.html", join(root, "z", "index.html"));
  symlinkSync("b", join(root, "a"));
  symlinkSync("a", join(root, "b"));
  for (const target of ["/loop.html", "/z/", "/a", "/a/", "/b/index.html"]) {
    for (const method of ["GET", "HEAD"]) {
      const res = await rawRequest(server.port, target, method);
      assert.equal(res.status, 404, `${method} ${target}`);
    }
  }
  await assertStillServes(server);
  assert.deepEqual(aboveDebug().slice(startUpLines), []);
});

test("a FIFO or socket file in the root is 404 and does not block the server", async (t) => {
  const { server, root } = await staticServer(t);
  execFileSync("mkfifo", [join(root, "pipe.html")]);
  const unix = netCreateServer();
  await new Promise<void>((resolve) => unix.listen(join(root, "sock.html"), resolve));
  t.after(() => new Promise<void>((resolve) => unix.close(() => resolve())));
  for (const target of ["/pipe.html", "/sock.html"]) {
    for (const method of ["GET", "HEAD"]) assert.equal((await rawRequest(server.port, target, method)).status, 404, `${method} ${target}`);
  }
  await assertStillServes(server);
});

test("50 aborted downloads of an 8 MiB file leave no file descriptor open", async (t) => {
  const { server, root, responses } = await staticServer(t);
  writeFileSync(join(root, "big.bin"), Buffer.alloc(8 * 1024 * 1024, 7));
  await assertStillServes(server); // lazy fds (thread pool, timers) are open before counting
  const before = openFds();
  let closed = 0;
  responses.on("close", () => closed++);
  const ABORTS = 50;
  for (let i = 0; i < ABORTS; i++) {
    const socket = netConnect(server.port, "127.0.0.1");
    socket.on("error", () => undefined); // the reset we cause is the point
    const firstBytes = new Promise<void>((resolve) => socket.once("data", () => resolve()));
    socket.write("GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    await within(firstBytes, WAIT_MS, `the first bytes of download ${i}`);
    socket.destroy(); // mid-download: the server still has megabytes to send
  }
  // Wait for the server to see every abort, then for the files to be closed (close is async).
  await when(() => closed >= ABORTS, (recheck) => responses.on("close", recheck), WAIT_MS, "the server side of every aborted download to close");
  await eventually(`open fds back to ${before}`, () => openFds() <= before, WAIT_MS);
  await assertStillServes(server);
  const whole = await rawRequest(server.port, "/big.bin"); // and a download read to the end is whole
  assert.equal(whole.status, 200);
  assert.equal(whole.body.length, 8 * 1024 * 1024);
});

test("traversal in every spelling is still 404; the server serves afterwards", async (t) => {
  const { server, root, outside } = await staticServer(t);
  symlinkSync(join(outside, "secret.txt"), join(root, "link-out.txt"));
  const attempts = [
    "/../secret.txt", "/x/../../secret.txt", "/..%2fsecret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt",
    "/.%2e/secret.txt", "/docs/%2e%2e/%2e%2e/secret.txt", "/..%5csecret.txt", "/%2e%2e%5csecret.txt",
    "/%252e%252e/secret.txt", "/secret.txt%00.html", "/%c0%ae%c0%ae/secret.txt", "/%e0%a4%a", "/..",
    "/link-out.txt", "//etc/passwd", "/%2fetc%2fpasswd", "/../outside/", "/%2e%2e/outside/index.html",
  ];
  for (const target of attempts) {
    const res = await rawRequest(server.port, target);
    assert.equal(res.status, 404, target);
    assert.ok(!res.body.includes(SECRET), target);
  }
  await assertStillServes(server);
});
