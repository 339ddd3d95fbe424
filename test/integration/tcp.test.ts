import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { once } from "node:events";
import { TcpListener, type TcpHandler, type TcpOptions } from "../../src/transport/tcp.ts";
import { createLogger } from "../../src/log.ts";
import { OptionError } from "../../src/errors.ts";
import { encodeLength } from "../../src/transport/framing.ts";
import { TcpTestClient, within } from "../helpers/net-clients.ts";

const logger = createLogger({ level: "silent" });

interface Closed { id: string; code: number; reason: string }

async function listen<D>(options: Omit<TcpOptions<D>, "port" | "host" | "logger">): Promise<TcpListener<D>> {
  const listener = new TcpListener<D>({ port: 0, host: "127.0.0.1", logger, ...options });
  await listener.start();
  return listener;
}

/** A handler factory that echoes and records closes; `closed` resolves per close. */
function echo(closes: Closed[] = [], onClose?: () => void): () => TcpHandler {
  return () => ({
    message(conn, data) { conn.send(data); },
    close(conn, code, reason) { closes.push({ id: conn.id, code, reason }); onClose?.(); },
  });
}

test("lines: echo with ids tcp-1, tcp-2; split and merged lines", async () => {
  const opened: string[] = [];
  const listener = await listen({ framing: "lines", protocol: () => ({
    open(conn) { opened.push(conn.id); },
    message(conn, data, isBinary) { assert.equal(isBinary, false); conn.send(`${conn.id}:${data.toString()}`); },
  }) });
  try {
    const a = await TcpTestClient.open(listener.port);
    const b = await TcpTestClient.open(listener.port);
    a.write("hel");
    a.write("lo\nwor");
    a.write("ld\n");
    b.write("x\ny\nz\n");
    await a.until((r) => r.toString() === "tcp-1:hello\ntcp-1:world\n", "two lines on a");
    await b.until((r) => r.toString() === "tcp-2:x\ntcp-2:y\ntcp-2:z\n", "three lines on b");
    assert.deepEqual(opened, ["tcp-1", "tcp-2"]);
    a.socket.end(); b.socket.end();
    await within(Promise.all([a.closed, b.closed]), "clients closed");
  } finally {
    await listener.stop();
  }
});

test("lines: a line over maxLineBytes closes the connection with 1009 and the error hook", async () => {
  const closes: Closed[] = [];
  const errors: string[] = [];
  let closed!: () => void;
  const gotClose = new Promise<void>((r) => (closed = r));
  const listener = await listen({ framing: "lines", maxLineBytes: 16, protocol: () => ({
    message(conn, data) { conn.send(data); },
    error(_conn, err) { errors.push((err as { code?: string }).code ?? err.message); },
    close(conn, code, reason) { closes.push({ id: conn.id, code, reason }); closed(); },
  }) });
  try {
    const c = await TcpTestClient.open(listener.port);
    c.write("short\n");
    await c.until((r) => r.toString() === "short\n", "echo of a short line");
    c.write("x".repeat(10));
    c.write("x".repeat(10)); // 20 bytes, no newline: over 16
    await within(c.closed, "server closes the connection");
    await within(gotClose, "close hook");
    assert.deepEqual(closes, [{ id: "tcp-1", code: 1009, reason: "line too long" }]);
    assert.deepEqual(errors, ["line_too_long"]);
    assert.equal(c.text, "short\n");
    assert.equal(listener.stats().framingErrors, 1);
  } finally {
    await listener.stop();
  }
});

test("length: frames across chunk boundaries are echoed framed; an oversize length closes with 1009", async () => {
  const closes: Closed[] = [];
  let closed!: () => void;
  const gotClose = new Promise<void>((r) => (closed = r));
  const listener = await listen({ framing: "length", maxFrameBytes: 1000, protocol: echo(closes, () => closed()) });
  try {
    const c = await TcpTestClient.open(listener.port);
    const stream = Buffer.concat([...encodeLength(Buffer.from("first")), ...encodeLength(Buffer.alloc(600, 7))]);
    for (let i = 0; i < stream.length; i += 3) c.write(stream.subarray(i, i + 3));
    await c.until((r) => r.length === stream.length, "both frames echoed");
    assert.ok(c.received.equals(stream));
    const big = Buffer.alloc(4);
    big.writeUInt32BE(1001);
    c.write(big);
    await within(c.closed, "server closes after oversize prefix");
    await within(gotClose, "close hook");
    assert.deepEqual(closes, [{ id: "tcp-1", code: 1009, reason: "frame too big" }]);
  } finally {
    await listener.stop();
  }
});

test("maxConnections: 200 concurrent connections served; one more is refused", async () => {
  const N = 200;
  const listener = await listen({ framing: "lines", maxConnections: N, protocol: echo() });
  const clients: TcpTestClient[] = [];
  try {
    for (let i = 0; i < N; i++) clients.push(await TcpTestClient.open(listener.port));
    clients.forEach((c, i) => c.write(`n${i}\n`));
    await within(Promise.all(clients.map((c, i) => c.until((r) => r.toString() === `n${i}\n`, `echo ${i}`))), "all echoes");
    assert.equal(listener.stats().connections, N);
    const extra = await TcpTestClient.open(listener.port);
    await within(extra.closed, "refused connection closed by the server");
    assert.equal(listener.stats().refused, 1);
    assert.equal(listener.stats().accepted, N);
  } finally {
    for (const c of clients) c.socket.destroy();
    await listener.stop();
  }
});

test("idle timeout ends a silent connection with 1001 idle timeout", async () => {
  const closes: Closed[] = [];
  let closed!: () => void;
  const gotClose = new Promise<void>((r) => (closed = r));
  const listener = await listen({ idleTimeoutMs: 50, protocol: echo(closes, () => closed()) });
  try {
    const c = await TcpTestClient.open(listener.port);
    await within(c.closed, "idle connection closed");
    await within(gotClose, "close hook");
    assert.deepEqual(closes, [{ id: "tcp-1", code: 1001, reason: "idle timeout" }]);
    assert.equal(listener.stats().idleTimeouts, 1);
  } finally {
    await listener.stop();
  }
});

test("controlled shutdown: handlers are told, a large write in flight is received whole, then close 1001 shutdown", async () => {
  const SIZE = 32 * 1024 * 1024;
  const closes: Closed[] = [];
  const shutdowns: string[] = [];
  let markQueued!: () => void;
  const queued = new Promise<void>((r) => (markQueued = r));
  const listener = await listen({ framing: "raw", drainTimeoutMs: 30_000, maxBufferedBytes: 64 * 1024 * 1024, protocol: () => ({
    message(conn, data) {
      if (data.toString() !== "big") return;
      conn.send(Buffer.alloc(SIZE, 0x61));
      assert.ok(conn.bufferedAmount > 0, "the big write is still in flight");
      markQueued();
    },
    async shutdown(conn) {
      shutdowns.push(conn.id);
      await Promise.resolve();
      conn.send("bye\n"); // sent after an await: still delivered
    },
    close(conn, code, reason) { closes.push({ id: conn.id, code, reason }); },
  }) });
  // A client that does not read until the stop has started, so the 32 MiB sits in buffers.
  const socket = connect(listener.port, "127.0.0.1");
  await within(once(socket, "connect"), "connect");
  socket.pause();
  socket.write("big");
  await within(queued, "big write queued by the handler");
  let received = 0;
  let tail = "";
  socket.on("data", (chunk: Buffer) => { received += chunk.length; tail = (tail + chunk.toString("latin1")).slice(-8); });
  const ended = once(socket, "end");
  const stopped = listener.stop();
  socket.resume();
  await within(ended, "client sees end of stream", 30_000);
  await within(stopped, "stop() resolves", 30_000);
  socket.destroy();
  assert.equal(received, SIZE + 4);
  assert.ok(tail.endsWith("aaabye\n"));
  assert.deepEqual(shutdowns, ["tcp-1"]);
  assert.deepEqual(closes, [{ id: "tcp-1", code: 1001, reason: "shutdown" }]);
});

test("shutdown timeout: a peer that never reads is destroyed after drainTimeoutMs", async () => {
  const closes: Closed[] = [];
  const listener = await listen({ drainTimeoutMs: 100, protocol: () => ({
    open(conn) { conn.send(Buffer.alloc(64 * 1024 * 1024)); },
    close(conn, code, reason) { closes.push({ id: conn.id, code, reason }); },
  }) });
  const socket = connect(listener.port, "127.0.0.1");
  socket.on("error", () => { /* reset by the server's destroy is expected */ });
  await within(once(socket, "connect"), "connect");
  socket.pause();
  await within(listener.stop(), "stop() resolves after the drain timeout");
  socket.destroy();
  assert.equal(closes.length, 1);
  assert.equal(closes[0]!.code, 1001);
});

test("slow consumer: a send with more than maxBufferedBytes queued closes the connection with 4000", async () => {
  const closes: Closed[] = [];
  let closed!: () => void;
  const gotClose = new Promise<void>((r) => (closed = r));
  let refusedAt = -1;
  const listener = await listen({ maxBufferedBytes: 1024 * 1024, protocol: () => ({
    open(conn) {
      // The client never reads: the kernel buffers fill, then our queue passes 1 MiB.
      for (let i = 0; i < 400 && refusedAt === -1; i++) if (!conn.send(Buffer.alloc(256 * 1024)) && !conn.isOpen) refusedAt = i;
    },
    close(conn, code, reason) { closes.push({ id: conn.id, code, reason }); closed(); },
  }) });
  const socket = connect(listener.port, "127.0.0.1");
  socket.on("error", () => { /* reset after the close timeout is possible */ });
  socket.pause();
  try {
    await within(once(socket, "connect"), "connect");
    // The open hook's sends all happen in one tick, before this client can read anything;
    // reading afterwards lets the close (queued bytes, then FIN) complete.
    socket.resume();
    await within(gotClose, "close hook");
    assert.ok(refusedAt > 0, "a send was refused");
    assert.deepEqual(closes, [{ id: "tcp-1", code: 4000, reason: "slow consumer" }]);
  } finally {
    socket.destroy();
    await listener.stop();
  }
});

test("a throwing message hook closes that connection with 1011; the listener keeps serving", async () => {
  const closes: Closed[] = [];
  let closed!: () => void;
  const gotClose = new Promise<void>((r) => (closed = r));
  const listener = await listen({ framing: "lines", protocol: () => ({
    message(conn, data) { if (data.toString() === "boom") throw new Error("boom"); conn.send(data); },
    close(conn, code, reason) { closes.push({ id: conn.id, code, reason }); closed(); },
  }) });
  try {
    const a = await TcpTestClient.open(listener.port);
    a.write("boom\n");
    await within(a.closed, "connection closed after the throw");
    await within(gotClose, "close hook");
    assert.deepEqual(closes, [{ id: "tcp-1", code: 1011, reason: "internal error" }]);
    const b = await TcpTestClient.open(listener.port);
    b.write("ok\n");
    await b.until((r) => r.toString() === "ok\n", "echo after the failure");
    b.socket.destroy();
  } finally {
    await listener.stop();
  }
});

test("stats count bytes; bad options name the option", async () => {
  const listener = await listen({ framing: "lines", protocol: echo() });
  try {
    const c = await TcpTestClient.open(listener.port);
    c.write("abc\n");
    await c.until((r) => r.length === 4, "echo");
    const stats = listener.stats();
    assert.equal(stats.bytesIn, 4);
    assert.equal(stats.bytesOut, 4);
    assert.equal(stats.kind, "tcp");
    c.socket.destroy();
  } finally {
    await listener.stop();
  }
  assert.throws(() => new TcpListener({ port: 0, protocol: echo(), framing: "xml" as never }), (e) => e instanceof OptionError && e.option === "framing");
  assert.throws(() => new TcpListener({ port: 0, protocol: echo(), maxLineBytes: 0 }), (e) => e instanceof OptionError && e.option === "maxLineBytes");
  assert.throws(() => new TcpListener({ port: 70000, protocol: echo() }), (e) => e instanceof OptionError && e.option === "port");
});

test("service shape: start(signal), and aborting the signal stops the listener", async () => {
  const controller = new AbortController();
  const listener = new TcpListener({ port: 0, logger, protocol: echo() });
  await listener.start(controller.signal);
  const port = listener.port;
  const client = await TcpTestClient.open(port);
  controller.abort();
  await within(listener.stop(), "stop after abort"); // the same stop the abort began
  await within(client.closed, "client closed by the stop");
  const refused = connect(port, "127.0.0.1");
  const [err] = await within(once(refused, "error"), "connection refused after stop");
  assert.equal((err as NodeJS.ErrnoException).code, "ECONNREFUSED");
  await assert.rejects(listener.start(), /already started/);
});
