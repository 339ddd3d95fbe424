import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { createConnection, createServer, type Socket } from "node:net";
import { once } from "node:events";
import { join } from "node:path";
import { ControlServer, type Dispatch } from "../../../src/control/server.ts";
import { createCommandTable } from "../../../src/control/builtin-commands.ts";
import { sendCommand, NoServerError } from "../../../src/cli/control-client.ts";
import { FakeContext } from "../../helpers/fake-control-context.ts";
import { tempDir } from "../../helpers/tempdir.ts";

async function startControl(t: { after(fn: () => Promise<void> | void): void }, dispatch?: Dispatch, extra: Partial<ConstructorParameters<typeof ControlServer>[0]> = {}) {
  const path = join(tempDir(t, "sb-ctl-"), "s.sock");
  const ctx = new FakeContext();
  const server = new ControlServer({ path, dispatch: dispatch ?? createCommandTable().dispatcher(ctx), ...extra });
  await server.start();
  t.after(() => server.stop());
  return { path, server, ctx };
}

/** A raw connection that yields reply lines one at a time. */
async function rawClient(path: string) {
  const socket = createConnection(path);
  await once(socket, "connect");
  socket.setEncoding("utf8");
  const lines: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  let buf = "";
  socket.on("data", (c: string) => {
    buf += c;
    let nl;
    while ((nl = buf.indexOf("\n")) !== -1) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const w = waiters.shift();
      if (w) w(line); else lines.push(line);
    }
  });
  const next = (): Promise<unknown> => {
    const l = lines.shift();
    if (l !== undefined) return Promise.resolve(JSON.parse(l));
    return new Promise((r, j) => {
      const timer = setTimeout(() => j(new Error("no line within 5 s")), 5_000);
      waiters.push((line) => { clearTimeout(timer); r(JSON.parse(line)); });
    });
  };
  return { socket, next, send: (s: string) => socket.write(s) };
}

test("the socket file is mode 0600 and removed at stop", async (t) => {
  const { path, server } = await startControl(t);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.ok(statSync(path).isSocket());
  await server.stop();
  assert.equal(existsSync(path), false);
});

test("request → reply; progress lines come first", async (t) => {
  const { path } = await startControl(t);
  assert.equal((await sendCommand(path, "status") as { nodeId: string }).nodeId, "node-a");
  const progress: unknown[] = [];
  assert.deepEqual(await sendCommand(path, "stop", [], { onProgress: (p) => progress.push(p) }), { stopped: true });
  assert.deepEqual(progress, [{ phase: "closing connections" }, { phase: "stopping services" }]);
});

test("bad JSON gets an error reply with id null and the connection stays usable", async (t) => {
  const { path } = await startControl(t);
  const c = await rawClient(path);
  c.send("{nope\n");
  assert.deepEqual(await c.next(), { id: null, ok: false, error: { code: "bad_json", message: (await errMessage()) } });
  c.send("[1,2]\n");
  assert.equal(((await c.next()) as { error: { code: string } }).error.code, "bad_request");
  c.send('{"id":{},"command":"status"}\n');
  assert.match(JSON.stringify(await c.next()), /\\"id\\" must be a string or a number/);
  c.send('{"id":"x","command":""}\n');
  assert.deepEqual(await c.next(), { id: "x", ok: false, error: { code: "bad_request", message: '"command" must be a non-empty string' } });
  c.send('{"id":"y","command":"status","args":"no"}\n');
  assert.equal(((await c.next()) as { error: { code: string } }).error.code, "bad_request");
  c.send('\n\r\n{"id":"z","command":"services"}\r\n');
  const reply = (await c.next()) as { id: string; ok: boolean };
  assert.equal(reply.id, "z");
  assert.equal(reply.ok, true);
  c.socket.destroy();
});

async function errMessage(): Promise<string> {
  try { JSON.parse("{nope"); } catch (e) { return `request is not valid JSON: ${(e as Error).message}`; }
  return "";
}

test("two requests in one chunk get two replies with their ids", async (t) => {
  const { path } = await startControl(t);
  const c = await rawClient(path);
  c.send('{"id":1,"command":"services"}\n{"id":2,"command":"nope"}\n');
  const replies = [await c.next(), await c.next()] as { id: number; ok: boolean }[];
  assert.deepEqual(replies.map((r) => [r.id, r.ok]).sort(), [[1, true], [2, false]]);
  c.socket.destroy();
});

test("a line over controlMaxLineBytes: error reply and the connection is closed", async (t) => {
  const { path } = await startControl(t, undefined, { maxLineBytes: 100 });
  const c = await rawClient(path);
  const closed = once(c.socket, "close");
  c.send("x".repeat(200));
  assert.equal(((await c.next()) as { error: { code: string } }).error.code, "line_too_long");
  await closed;
});

test("more than controlMaxConnections: busy", async (t) => {
  const { path } = await startControl(t, undefined, { maxConnections: 1 });
  const first = await rawClient(path);
  const second = await rawClient(path);
  assert.equal(((await second.next()) as { error: { code: string } }).error.code, "busy");
  first.socket.destroy();
  second.socket.destroy();
});

test("stop lets a running request reply before closing", async (t) => {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => { release = r; });
  let started: () => void = () => {};
  const running = new Promise<void>((r) => { started = r; });
  const { path, server } = await startControl(t, async (req) => { started(); await gate; return { id: req.id, ok: true, result: "late" }; });
  const reply = sendCommand(path, "slow");
  await running;
  const stopping = server.stop();
  release();
  assert.equal(await reply, "late");
  await stopping;
  assert.equal(existsSync(path), false);
});

test("a stale socket file (its server was killed -9) is replaced", async (t) => {
  const path = join(tempDir(t, "sb-ctl-"), "s.sock");
  const child = spawn(process.execPath, ["-e",
    `require("net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"))`]);
  await once(child, "exit");
  assert.ok(statSync(path).isSocket());
  await assert.rejects(sendCommand(path, "status"), (e: Error) => e instanceof NoServerError && e.message.includes("start one with `switchboard serve`"));
  const server = new ControlServer({ path, dispatch: createCommandTable().dispatcher(new FakeContext()) });
  await server.start();
  t.after(() => server.stop());
  assert.equal((await sendCommand(path, "status") as { nodeId: string }).nodeId, "node-a");
});

test("a live socket is not taken: 'another server is using'", async (t) => {
  const path = join(tempDir(t, "sb-ctl-"), "s.sock");
  const other = createServer((s: Socket) => s.destroy());
  await new Promise<void>((r) => other.listen(path, r));
  t.after(() => new Promise<void>((r) => other.close(() => r())));
  const server = new ControlServer({ path, dispatch: createCommandTable().dispatcher(new FakeContext()) });
  await assert.rejects(server.start(), new RegExp(`another server is using ${path}`));
});

test("a path that is not a socket is never deleted", async (t) => {
  const path = join(tempDir(t, "sb-ctl-"), "notes.txt");
  writeFileSync(path, "keep me");
  const server = new ControlServer({ path, dispatch: createCommandTable().dispatcher(new FakeContext()) });
  await assert.rejects(server.start(), /exists and is not a socket/);
  assert.equal(existsSync(path), true);
});

test("client: no socket file → NoServerError with what to do", async (t) => {
  const path = join(tempDir(t, "sb-ctl-"), "none.sock");
  await assert.rejects(sendCommand(path, "status"),
    (e: Error) => e instanceof NoServerError && e.message === `no Switchboard server is listening on ${path}; start one with \`switchboard serve\``);
});

test("client: an error reply rejects with its code and message", async (t) => {
  const { path } = await startControl(t);
  await assert.rejects(sendCommand(path, "nope"), (e: Error & { code?: string }) => e.code === "unknown_command" && /known commands/.test(e.message));
});

test("a client that half-closes right after its request still gets the reply (echo … | nc -U)", async (t) => {
  const { path } = await startControl(t);
  const socket = createConnection(path);
  await once(socket, "connect");
  socket.end('{"id":9,"command":"services"}'); // no trailing newline either
  let text = "";
  socket.setEncoding("utf8");
  socket.on("data", (c: string) => { text += c; });
  await once(socket, "close");
  const reply = JSON.parse(text.trim());
  assert.equal(reply.id, 9);
  assert.equal(reply.ok, true);
});
