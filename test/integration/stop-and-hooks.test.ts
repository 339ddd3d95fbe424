import { test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import { Writable } from "node:stream";
import { createServer } from "../../src/index.ts";
import { startServer } from "../helpers/server.ts";
import { connect, withTimeout, WAIT_MS } from "../helpers/ws-client.ts";
import { captureLogs } from "../helpers/logs.ts";

test("graceful stop closes every client with 1001 and waits for the closing handshakes", async () => {
  const server = await startServer({}, (s) => {
    s.endpoint("/a");
    s.endpoint("/b");
  });
  const clients = await Promise.all([connect(server.url("/a")), connect(server.url("/a")), connect(server.url("/b"))]);
  await server.stop({ timeoutMs: WAIT_MS });
  for (const client of clients) {
    const { code, reason } = await client.waitClosed();
    assert.equal(code, 1001);
    assert.equal(reason, "server stopping");
  }
  assert.equal(server.state, "stopped");
  assert.equal(server.stats().connections, 0);
  await assert.rejects(connect(server.url("/a")));
});

test("stop destroys connections that do not answer the close frame by the deadline", async () => {
  const server = await startServer({}, (s) => s.endpoint("/a"));
  const stuck = await connect(server.url("/a"));
  (stuck.ws as unknown as { _socket: { pause(): void } })._socket.pause(); // never reads our close frame
  await server.stop({ timeoutMs: 100 });
  assert.equal(server.stats().connections, 0);
  stuck.ws.terminate();
});

test("stop() twice returns the same promise; start() after stop is refused", async () => {
  const server = await startServer({}, (s) => s.endpoint("/a"));
  const first = server.stop();
  assert.equal(server.stop(), first);
  await first;
  await assert.rejects(server.start(), /start\(\) called on a server that is stopped/);
});


test("a throwing message hook closes only its own connection with 1011; the error is logged", async (t) => {
  const { lines, logger } = captureLogs("error");
  const errors: string[] = [];
  const server = createServer({ port: 0, logger });
  server.endpoint("/h", {
    message(conn, data) {
      if (data.toString() === "boom") throw new Error("handler bug");
      conn.send(data, false);
    },
    error: (conn, err) => void errors.push(`${conn.id}: ${err.message}`),
  });
  await server.start();
  t.after(() => server.stop());
  const victim = await connect(server.url("/h"));
  const bystander = await connect(server.url("/h"));
  victim.send("boom");
  const closed = await victim.waitClosed();
  assert.equal(closed.code, 1011);
  bystander.send("fine");
  assert.equal((await bystander.next()).text, "fine");
  assert.deepEqual(errors, ["h-1: handler bug"]);
  assert.ok(lines.some((line) => line.conn === "h-1" && (line.err as { message: string }).message === "handler bug"));
  await bystander.close();
});

test("an async hook that rejects, and a throwing open hook, close with 1011 too", async (t) => {
  const server = await startServer({}, (s) => {
    s.endpoint("/async", { message: async () => Promise.reject(new Error("async bug")) });
    s.endpoint("/open", {
      open() {
        throw new Error("open bug");
      },
    });
  });
  t.after(() => server.stop());
  const a = await connect(server.url("/async"));
  a.send("x");
  assert.equal((await a.waitClosed()).code, 1011);
  const b = await connect(server.url("/open"));
  assert.equal((await b.waitClosed()).code, 1011);
});

test("a throwing close hook or error hook is logged and harms nothing", async (t) => {
  let closeCalls = 0;
  const server = await startServer({}, (s) =>
    s.endpoint("/c", {
      message() {
        throw new Error("first");
      },
      error() {
        throw new Error("error hook bug");
      },
      close() {
        closeCalls++;
        throw new Error("close hook bug");
      },
    }),
  );
  t.after(() => server.stop());
  const client = await connect(server.url("/c"));
  client.send("x");
  assert.equal((await client.waitClosed()).code, 1011);
  await withTimeout(
    (async () => {
      while (server.stats().connections !== 0) await new Promise((r) => setImmediate(r));
    })(),
    WAIT_MS,
    "connection not removed",
  );
  assert.equal(closeCalls, 1);
  const again = await connect(server.url("/c"));
  await again.close();
});

test("conn.close validates its code and cuts an over-long reason to 123 bytes", async (t) => {
  const server = await startServer({}, (s) =>
    s.endpoint("/close", {
      message(conn, data) {
        if (data.toString() === "bad") {
          assert.throws(() => conn.close(1005), /not a close code an endpoint may send/);
          conn.send("validated");
        } else conn.close(4100, "é".repeat(100));
      },
    }),
  );
  t.after(() => server.stop());
  const client = await connect(server.url("/close"));
  client.send("bad");
  assert.equal((await client.next()).text, "validated");
  client.send("close");
  const { code, reason } = await client.waitClosed();
  assert.equal(code, 4100);
  assert.equal(reason, "é".repeat(61));
});

test("conn.close: a peer that never answers the close frame is destroyed after closeTimeoutMs", async (t) => {
  let onClosed!: (code: number) => void;
  const closed = new Promise<number>((r) => (onClosed = r));
  const server = await startServer({}, (s) => s.endpoint("/c", { closeTimeoutMs: 100, close: (_conn, code) => onClosed(code) }));
  t.after(() => server.stop());
  const client = await connect(server.url("/c"));
  (client.ws as unknown as { _socket: { pause(): void } })._socket.pause(); // reads nothing, answers nothing
  const conn = [...server.endpoints.get("/c")!.connections.values()][0]!;
  conn.close(1000, "bye");
  assert.equal(await withTimeout(closed, WAIT_MS, "the socket was not destroyed"), 1006);
  assert.equal(server.stats().connections, 0);
  client.ws.terminate();
});
