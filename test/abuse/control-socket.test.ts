/**
 * The control socket under abuse: an over-long line ends the conversation (nothing after it
 * runs), a client that never reads cannot make the server buffer more than
 * controlMaxBufferedBytes of replies, connections over controlMaxConnections are answered and
 * closed, and neither a reset client nor a command whose reply cannot be encoded crashes anything.
 * After each, a fresh client still gets its answer.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { readdirSync } from "node:fs";
import { createConnection, Socket } from "node:net";
import { join } from "node:path";
import { ControlServer, type Dispatch } from "../../src/control/server.ts";
import { createCommandTable } from "../../src/control/builtin-commands.ts";
import { sendCommand } from "../../src/cli/control-client.ts";
import { FakeContext } from "../helpers/fake-control-context.ts";
import { tempDir } from "../helpers/tempdir.ts";
import { deferred, eventually, within } from "../helpers/until.ts";

const WAIT_MS = 5_000;
type Options = Partial<ConstructorParameters<typeof ControlServer>[0]>;

async function startControl(t: { after(fn: () => Promise<void> | void): void }, extra: Options = {}) {
  const path = join(tempDir(t, "sb-ctl-"), "s.sock");
  const ctx = new FakeContext();
  const server = new ControlServer({ path, dispatch: createCommandTable().dispatcher(ctx), stopGraceMs: 500, ...extra });
  await server.start();
  t.after(() => server.stop());
  return { path, server, ctx };
}

/** A raw client: every line it receives, a promise per line, and its close. */
async function rawClient(path: string, options: { allowHalfOpen?: boolean } = {}) {
  const socket = createConnection({ path, allowHalfOpen: options.allowHalfOpen ?? false });
  socket.on("error", () => undefined); // a test that provokes EPIPE / ECONNRESET looks at 'close'
  const closed = new Promise((resolve) => socket.once("close", resolve));
  await within(once(socket, "connect"), WAIT_MS, "connect");
  socket.setEncoding("utf8");
  const lines: unknown[] = [];
  let arrived = deferred();
  let buffer = "";
  socket.on("data", (chunk: string) => {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf("\n")) !== -1) {
      lines.push(JSON.parse(buffer.slice(0, newline)));
      buffer = buffer.slice(newline + 1);
      arrived.resolve();
      arrived = deferred();
    }
  });
  const line = async (index: number): Promise<unknown> => {
    while (lines.length <= index) await within(arrived.promise, WAIT_MS, `reply line ${index}`);
    return lines[index];
  };
  return { socket, lines, line, closed: () => within(closed, WAIT_MS, "the server to close the connection") };
}

function codeOf(reply: unknown): string | undefined {
  return (reply as { error?: { code: string } }).error?.code;
}

/** The server still answers a fresh client. */
async function assertStillServes(path: string): Promise<void> {
  assert.equal(((await sendCommand(path, "status", [], { timeoutMs: WAIT_MS })) as { nodeId: string }).nodeId, "node-a");
}

const DISABLE = '{"id":2,"command":"endpoint","args":["disable","/echo"]}\n';

test("after line_too_long the connection is closed and nothing sent after the line runs", async (t) => {
  const { path, ctx } = await startControl(t, { maxLineBytes: 100 });
  // Half-open capable, so that the client could go on writing after the server's reply.
  const c = await rawClient(path, { allowHalfOpen: true });
  c.socket.write("x".repeat(200));
  assert.equal(codeOf(await c.line(0)), "line_too_long");
  c.socket.end(`\n${DISABLE}`); // the rest of the long line, then a request that must not run
  await c.closed();
  assert.deepEqual(ctx.calls, []);
  assert.equal(c.lines.length, 1);
  await assertStillServes(path);
});

test("an over-long line that arrives whole, with its newline: line_too_long, and the next line does not run", async (t) => {
  const { path, ctx } = await startControl(t, { maxLineBytes: 100 });
  const c = await rawClient(path, { allowHalfOpen: true });
  c.socket.end(`${"x".repeat(200)}\n${DISABLE}`);
  await c.closed();
  assert.deepEqual(c.lines.map(codeOf), ["line_too_long"]);
  assert.deepEqual(ctx.calls, []);
  await assertStillServes(path);
});

test("a client that writes 50,000 requests and never reads: the server buffers at most controlMaxBufferedBytes (+ one reply)", async (t) => {
  const bound = 64 * 1024;
  const result = "r".repeat(1024);
  const replyBytes = JSON.stringify({ id: 49_999, ok: true, result }).length + 1;
  let dispatched = 0;
  const dispatch: Dispatch = async (request) => {
    dispatched++;
    return { id: request.id, ok: true, result };
  };
  // The seam: every write on a server-side socket (one with a `server`) records its backlog.
  const write = Socket.prototype.write;
  let peak = 0;
  let serverSide: Socket | undefined;
  t.mock.method(Socket.prototype, "write", function (this: Socket & { server?: unknown }, ...args: Parameters<Socket["write"]>) {
    const accepted = write.apply(this, args);
    if (this.server !== undefined && this.server !== null) {
      serverSide = this;
      peak = Math.max(peak, this.writableLength);
    }
    return accepted;
  });
  const { path } = await startControl(t, { dispatch, maxBufferedBytes: bound } as Options);
  const REQUESTS = 50_000;
  const hog = createConnection(path);
  hog.on("error", () => undefined);
  await within(once(hog, "connect"), WAIT_MS, "connect");
  hog.pause(); // never reads
  let requests = "";
  for (let id = 0; id < REQUESTS; id++) requests += `{"id":${id},"command":"x"}\n`;
  hog.write(requests);
  // Settled either way: the server stopped reading with a full backlog, or it ran everything.
  await eventually("the server to stop reading the hog, or to run every request",
    () => dispatched === REQUESTS || (serverSide !== undefined && serverSide.isPaused() && serverSide.writableLength > bound), 20_000);
  assert.ok(peak <= bound + replyBytes, `peak backlog ${peak} bytes > ${bound} + ${replyBytes}`);
  assert.ok(dispatched < REQUESTS, `all ${dispatched} requests ran although no reply was read`);
  // Another client is answered meanwhile.
  const other = await rawClient(path);
  other.socket.write('{"id":"other","command":"x"}\n');
  assert.equal((await other.line(0) as { id: string }).id, "other");
  other.socket.destroy();
  hog.destroy();
});

test("a half-open client (requests, then end) gets every reply, in order, then the close", async (t) => {
  const { path } = await startControl(t);
  const c = await rawClient(path, { allowHalfOpen: true });
  c.socket.end('{"id":1,"command":"services"}\n{"id":2,"command":"nope"}\n{"id":3,"command":"status"}');
  await c.closed();
  assert.deepEqual(c.lines.map((l) => (l as { id: number }).id), [1, 2, 3]);
  assert.deepEqual(c.lines.map(codeOf), [undefined, "unknown_command", undefined]);
  await assertStillServes(path);
});

test("a client reset while its request runs: nothing crashes, its slot is freed", async (t) => {
  const release = deferred();
  const started = deferred();
  const dispatch: Dispatch = async (request) => {
    if (request.command === "slow") {
      started.resolve();
      await release.promise;
    }
    return { id: request.id, ok: true, result: { nodeId: "node-a" } };
  };
  const { path } = await startControl(t, { dispatch, maxConnections: 1 });
  const c = await rawClient(path);
  c.socket.write('{"id":1,"command":"slow"}\n{"id":2,"command":"slow"}\n');
  await within(started.promise, WAIT_MS, "the slow request to start");
  c.socket.destroy();
  await c.closed();
  release.resolve();
  // maxConnections is 1: a fresh client is served only once the reset one's slot is freed.
  await eventually("the reset client's slot to be freed", async () => {
    const probe = await rawClient(path);
    probe.socket.write('{"id":"p","command":"status"}\n');
    const reply = await probe.line(0);
    probe.socket.destroy();
    return codeOf(reply) === undefined;
  }, WAIT_MS);
});

function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

test("connections over controlMaxConnections get busy and are closed, even if they never end their side", async (t) => {
  const { path, server } = await startControl(t, { maxConnections: 1 });
  const holder = await rawClient(path);
  await assertStillServes(path).catch(() => undefined); // lazy fds (thread pool) exist before counting
  const before = openFds();
  const REFUSED = 30;
  // Half-open clients: they never end their side, so only the server can close these.
  const refused = await Promise.all(Array.from({ length: REFUSED }, () => rawClient(path, { allowHalfOpen: true })));
  for (const c of refused) assert.equal(codeOf(await c.line(0)), "busy");
  // Each refused client still holds its own fd; the server must hold none for them.
  await eventually(`open fds at most ${before} + ${REFUSED} (the clients' own)`, () => openFds() <= before + REFUSED, WAIT_MS);
  // Some that reset at once, before the busy reply can be written: no crash (EPIPE is handled).
  await Promise.all(Array.from({ length: 30 }, async () => {
    const s = createConnection(path);
    s.on("error", () => undefined);
    s.once("connect", () => s.destroy());
    await within(once(s, "close"), WAIT_MS, "close");
  }));
  holder.socket.destroy();
  await holder.closed();
  await eventually("the holder's slot to be freed", async () => {
    try {
      await assertStillServes(path);
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === "busy") return false;
      throw err;
    }
  }, WAIT_MS);
  // stop() is bounded even with peers that never close their side.
  const anotherHolder = await rawClient(path, { allowHalfOpen: true });
  await within(server.stop(), WAIT_MS, "stop() with half-open refused peers around");
  anotherHolder.socket.destroy();
  for (const c of refused) c.socket.destroy();
});

test("a dispatch that throws synchronously, or returns a reply JSON cannot encode: an internal error reply, no crash", async (t) => {
  const dispatch = ((request) => {
    if (request.command === "throw") throw new Error("sync bug");
    return Promise.resolve({ id: request.id, ok: true, result: { big: 1n } });
  }) as Dispatch;
  const { path } = await startControl(t, { dispatch });
  const c = await rawClient(path);
  c.socket.write('{"id":1,"command":"throw"}\n{"id":2,"command":"bigint"}\n');
  assert.deepEqual([await c.line(0), await c.line(1)].map((l) => [(l as { id: number }).id, codeOf(l)]), [[1, "internal"], [2, "internal"]]);
  c.socket.destroy();
  const d = await rawClient(path);
  d.socket.write('{"id":3,"command":"bigint"}\n');
  assert.equal(codeOf(await d.line(0)), "internal");
  d.socket.destroy();
});
