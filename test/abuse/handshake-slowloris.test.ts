// Issue 14, defect 2: a slowloris after one keep-alive request. Every request and every
// upgrade on a connection must complete within handshakeTimeoutMs of the connection being
// accepted or of its previous response finishing, else the socket is destroyed: here 200 ms,
// waited for with a deadline far above it and far below Node's own 60 s header timeout (and
// below its 5 s keep-alive timeout, which a dribbling client keeps resetting anyway).
import { test } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "../helpers/server.ts";
import { RawSocket } from "../helpers/raw-socket.ts";
import { connect } from "../helpers/ws-client.ts";
import { deferred, within } from "../helpers/until.ts";
import type { Server } from "../../src/index.ts";
import { plainGet, statusOf, upgradeRequest } from "./helpers/handshake.ts";

const HANDSHAKE_TIMEOUT_MS = 200;
const DEADLINE_MS = 3_000;

async function slowlorisServer(setup?: (server: Server) => void): Promise<Server> {
  return startServer({ handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS }, (s) => {
    s.endpoint("/echo", { message: (conn, data, isBinary) => void conn.send(data, isBinary) });
    s.get("/ping", (_req, res) => {
      res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": 5 });
      res.end("pong\n");
    });
    setup?.(s);
  });
}

/** One keep-alive GET /ping on `raw`, read to the end of its response. */
async function ping(raw: RawSocket): Promise<void> {
  raw.socket.write(plainGet("/ping"));
  assert.equal(await statusOf(raw), 200);
  await raw.readUntil("pong\n");
}

/**
 * Send `text` one byte every 20 ms, as a slowloris does, until the server closes the socket
 * (or the text runs out: at most text.length writes). Resolves when the server has closed it.
 */
async function dribble(raw: RawSocket, text: string): Promise<void> {
  let at = 0;
  const timer = setInterval(() => {
    if (at < text.length && !raw.socket.destroyed) raw.socket.write(text[at++]!);
  }, 20);
  try {
    await within(raw.ended, DEADLINE_MS, "the server to drop the dribbling socket");
  } finally {
    clearInterval(timer);
  }
}

/** The server still serves: a fresh echo round trip. */
async function assertEchoes(server: Server): Promise<void> {
  const client = await connect(server.url("/echo"));
  client.send("hello");
  assert.equal((await client.next()).text, "hello");
  await client.close();
}

// Long enough that dribbling it at 20 ms a byte outlasts the deadline many times over.
const SLOW_UPGRADE = upgradeRequest("/echo", { "X-Padding": "p".repeat(400) });

test("slowloris on a fresh connection: dribbled upgrade headers are dropped after handshakeTimeoutMs", async (t) => {
  const server = await slowlorisServer();
  t.after(() => server.stop());
  const raw = await RawSocket.open(server.port);
  await dribble(raw, SLOW_UPGRADE);
  await assertEchoes(server);
});

test("slowloris after a keep-alive request: the next upgrade, dribbled, is dropped after handshakeTimeoutMs", async (t) => {
  const server = await slowlorisServer();
  t.after(() => server.stop());
  const raw = await RawSocket.open(server.port);
  await ping(raw);
  await dribble(raw, SLOW_UPGRADE);
  await assertEchoes(server);
});

test("slowloris after a keep-alive request: the next plain request, dribbled, is dropped too", async (t) => {
  const server = await slowlorisServer();
  t.after(() => server.stop());
  const raw = await RawSocket.open(server.port);
  await ping(raw);
  await ping(raw);
  await dribble(raw, `GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ${"p".repeat(400)}\r\n\r\n`);
  await assertEchoes(server);
});

test("a keep-alive connection that stays silent after its response is dropped after handshakeTimeoutMs", async (t) => {
  const server = await slowlorisServer();
  t.after(() => server.stop());
  const raw = await RawSocket.open(server.port);
  await ping(raw);
  await within(raw.ended, DEADLINE_MS, "the server to drop the idle keep-alive socket");
  await assertEchoes(server);
});

test("keep-alive done promptly: requests and then an upgrade on one connection are all served", async (t) => {
  const server = await slowlorisServer();
  t.after(() => server.stop({ timeoutMs: 100 })); // the raw client does not answer the closing handshake
  const raw = await RawSocket.open(server.port);
  t.after(() => raw.destroy());
  await ping(raw);
  await ping(raw);
  await raw.upgrade("/echo");
  raw.sendFrame(0x1, Buffer.from("over keep-alive"));
  assert.equal((await raw.readFrame()).payload.toString(), "over keep-alive");
  assert.equal(server.stats().connections, 1);
});

test("a response slower than handshakeTimeoutMs is not cut: the deadline waits while a request is answered", async (t) => {
  const release = deferred();
  const server = await slowlorisServer((s) =>
    s.get("/slow", async (_req, res) => {
      await release.promise;
      res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": 5 });
      res.end("done\n");
    }),
  );
  t.after(() => server.stop());
  const waiting = await RawSocket.open(server.port);
  t.after(() => waiting.destroy());
  waiting.socket.write(plainGet("/slow"));
  // An idle socket opened after the slow request started: once the server has dropped it,
  // the slow request's connection has been past its deadline too.
  const idle = await RawSocket.open(server.port);
  await within(idle.ended, DEADLINE_MS, "the idle socket to be dropped");
  assert.equal(waiting.socket.destroyed, false);
  release.resolve();
  assert.equal(await statusOf(waiting), 200);
  await waiting.readUntil("done\n");
});
