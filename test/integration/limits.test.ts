import { test } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "../helpers/server.ts";
import { connect, refusedStatus, withTimeout, WAIT_MS } from "../helpers/ws-client.ts";
import { RawSocket } from "../helpers/raw-socket.ts";

const echo = { message: (conn: { send(d: Buffer, b: boolean): unknown }, data: Buffer, isBinary: boolean) => void conn.send(data, isBinary) };

test("maxPayload: a larger message closes the connection with 1009", async (t) => {
  const server = await startServer({ maxPayload: 1024 }, (s) => s.endpoint("/echo", echo));
  t.after(() => server.stop());
  const client = await connect(server.url("/echo"));
  client.send("x".repeat(1024));
  assert.equal((await client.next()).text.length, 1024);
  client.send("x".repeat(1025));
  assert.equal((await client.waitClosed()).code, 1009);
});

test("maxPayload defaults to 1 MiB and can be set per endpoint", async (t) => {
  const server = await startServer({}, (s) => {
    s.endpoint("/default", echo);
    s.endpoint("/small", { ...echo, maxPayload: 10 });
  });
  t.after(() => server.stop());
  const big = await connect(server.url("/default"));
  big.send(Buffer.alloc(1024 * 1024));
  assert.equal((await big.next()).data.length, 1024 * 1024);
  big.send(Buffer.alloc(1024 * 1024 + 1));
  assert.equal((await big.waitClosed()).code, 1009);
  const small = await connect(server.url("/small"));
  small.send("12345678901");
  assert.equal((await small.waitClosed()).code, 1009);
});

test("invalid UTF-8 in a text frame closes the connection with 1007", async (t) => {
  const server = await startServer({}, (s) => s.endpoint("/echo", echo));
  t.after(() => server.stop());
  const raw = await RawSocket.open(server.port);
  await raw.upgrade("/echo");
  raw.sendFrame(0x1, Buffer.from([0x68, 0x69, 0xff, 0xfe])); // "hi" then bytes never valid in UTF-8
  assert.equal(await raw.readCloseCode(), 1007);
  raw.destroy();
});

test("a frame with a reserved opcode closes the connection with 1002", async (t) => {
  const server = await startServer({}, (s) => s.endpoint("/echo", echo));
  t.after(() => server.stop());
  const raw = await RawSocket.open(server.port);
  await raw.upgrade("/echo");
  raw.sendFrame(0x3, Buffer.from("?"));
  assert.equal(await raw.readCloseCode(), 1002);
  raw.destroy();
});

test("maxFragments: a message of more fragments is refused with 1008 (as ws does)", async (t) => {
  const server = await startServer({ maxFragments: 4 }, (s) => s.endpoint("/echo", echo));
  t.after(() => server.stop());
  const raw = await RawSocket.open(server.port);
  await raw.upgrade("/echo");
  raw.sendFrame(0x1, Buffer.from("a"), false);
  for (let i = 0; i < 4; i++) raw.sendFrame(0x0, Buffer.from("b"), false);
  raw.sendFrame(0x0, Buffer.from("c"), true);
  assert.equal(await raw.readCloseCode(), 1008);
  raw.destroy();
});

test("a client that opens TCP and never completes the upgrade is dropped after handshakeTimeoutMs", async (t) => {
  const server = await startServer({ handshakeTimeoutMs: 100 }, (s) => s.endpoint("/echo", echo));
  t.after(() => server.stop());
  const silent = await RawSocket.open(server.port);
  const half = await RawSocket.open(server.port);
  half.socket.write("GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"); // headers never finished
  await withTimeout(Promise.all([silent.ended, half.ended]), WAIT_MS, "the server did not drop the idle sockets");
  // The server still serves others.
  const client = await connect(server.url("/echo"));
  await client.close();
});

test("the handshake timeout also bounds a handshake hook that never answers", async (t) => {
  const server = await startServer({ handshakeTimeoutMs: 100 }, (s) => s.endpoint("/hang", { handshake: () => new Promise(() => undefined) }));
  t.after(() => server.stop({ timeoutMs: 100 }));
  const raw = await RawSocket.open(server.port);
  await raw.upgrade("/hang").catch(() => undefined);
  await withTimeout(raw.ended, WAIT_MS, "the hanging handshake was not dropped");
  assert.equal(server.endpoints.get("/hang")!.connections.size, 0);
});

test("handshake flood: past maxPendingHandshakes further upgrades get 503", async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let entered = 0;
  let bothEntered!: () => void;
  const twoInHook = new Promise<void>((r) => (bothEntered = r));
  const server = await startServer({ maxPendingHandshakes: 2 }, (s) =>
    s.endpoint("/slow", {
      handshake: async () => {
        if (++entered === 2) bothEntered();
        await gate;
      },
    }),
  );
  t.after(() => server.stop());
  const first = connect(server.url("/slow"));
  const second = connect(server.url("/slow"));
  await withTimeout(twoInHook, WAIT_MS, "two handshakes did not reach the hook");
  assert.equal(await refusedStatus(server.url("/slow")), 503);
  release();
  const clients = await Promise.all([first, second]);
  await Promise.all(clients.map((c) => c.close()));
});

test("heartbeat: a peer that does not answer pings is terminated; a live one stays", async (t) => {
  let closedCode: number | undefined;
  let closedId = "";
  let onClosed!: () => void;
  const closed = new Promise<void>((r) => (onClosed = r));
  const server = await startServer({ heartbeatMs: 50 }, (s) =>
    s.endpoint("/hb", {
      ...echo,
      close: (conn, code) => {
        closedId = conn.id;
        closedCode = code;
        onClosed();
      },
    }),
  );
  t.after(() => server.stop());
  const live = await connect(server.url("/hb"));
  const dead = await connect(server.url("/hb"), undefined, { autoPong: false });
  await withTimeout(closed, WAIT_MS, "the dead peer was not terminated");
  assert.equal(closedId, "hb-2");
  assert.equal(closedCode, 1006);
  live.send("still alive");
  assert.equal((await live.next()).text, "still alive");
  await live.close();
  dead.ws.terminate();
});
