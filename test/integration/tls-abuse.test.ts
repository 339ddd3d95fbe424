/**
 * Hostile peers on a TLS port: garbage, plain HTTP, half a ClientHello then silence, a reset
 * in the middle of the handshake, a finished handshake and no request. Each is dropped (by
 * the handshake deadline where the peer goes quiet), failed handshakes are counted, nothing
 * is an unhandled 'error', and the server goes on serving wss://.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect as netConnect, createServer as createNetServer, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { startServer } from "../helpers/server.ts";
import { connect } from "../helpers/ws-client.ts";
import { within, eventually } from "../helpers/until.ts";
import { hasOpenssl, makePki, OPENSSL_MISSING } from "./helpers/self-signed.ts";

const skip = hasOpenssl ? false : OPENSSL_MISSING;
const HANDSHAKE_MS = 300;
/** Generous: the point is that the peer is dropped at all, not how fast (the time is printed). */
const DROP_WAIT_MS = 15_000;

/** The bytes a real TLS client sends first (its ClientHello), caught by a plain TCP server. */
async function realClientHello(): Promise<Buffer> {
  const catcher = createNetServer();
  await new Promise<void>((resolve) => catcher.listen(0, "127.0.0.1", resolve));
  const port = (catcher.address() as { port: number }).port;
  const hello = new Promise<Buffer>((resolve) => catcher.once("connection", (s: Socket) => s.once("data", (chunk: Buffer) => { resolve(chunk); s.destroy(); })));
  const client = tlsConnect({ host: "127.0.0.1", port, servername: "localhost" });
  client.on("error", () => undefined); // the catcher hangs up: expected
  const bytes = await within(hello, 5_000, "a ClientHello");
  client.destroy();
  catcher.close();
  return bytes;
}

async function openRaw(port: number): Promise<{ socket: Socket; closed: Promise<number> }> {
  const socket = netConnect(port, "127.0.0.1");
  socket.on("error", () => undefined); // the server dropping us is what we test
  await within(new Promise<void>((resolve) => socket.once("connect", resolve)), 5_000, "a TCP connection");
  const started = Date.now();
  const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now() - started)));
  return { socket, closed };
}

test("garbage, plain HTTP, half a ClientHello, silence and a reset on the TLS port are dropped; wss:// still works", { skip }, async (t) => {
  const pki = makePki(t);
  const leaf = pki.leaf("abuse");
  const server = await startServer({ tls: { key: leaf.keyFile, cert: leaf.certFile }, handshakeTimeoutMs: HANDSHAKE_MS }, (s) =>
    s.endpoint("/echo", { message: (conn, data, isBinary) => { conn.send(data, isBinary); } }));
  t.after(() => server.stop({ timeoutMs: 1_000 }));
  const hello = await realClientHello();

  // A plain HTTP request to the TLS port: not a ClientHello, the handshake fails at once.
  const plain = await openRaw(server.port);
  plain.socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  console.log(`plain HTTP on the TLS port: dropped after ${await within(plain.closed, DROP_WAIT_MS, "the plain-HTTP peer to be dropped")} ms`);

  // Bytes that are no TLS record at all.
  const garbage = await openRaw(server.port);
  garbage.socket.write(Buffer.from("\x00\xff\x13garbage garbage garbage\r\n", "latin1"));
  console.log(`garbage: dropped after ${await within(garbage.closed, DROP_WAIT_MS, "the garbage peer to be dropped")} ms`);

  // Half a ClientHello, then nothing: the handshake stalls until the deadline.
  const half = await openRaw(server.port);
  half.socket.write(hello.subarray(0, Math.floor(hello.length / 2)));
  console.log(`half a ClientHello, then silence: dropped after ${await within(half.closed, DROP_WAIT_MS, "the half-hello peer to be dropped")} ms (handshakeTimeoutMs ${HANDSHAKE_MS})`);

  // Connected, never a byte.
  const silent = await openRaw(server.port);
  console.log(`a silent TCP connection: dropped after ${await within(silent.closed, DROP_WAIT_MS, "the silent peer to be dropped")} ms`);

  // A reset in the middle of the handshake (half a hello, then RST).
  const reset = await openRaw(server.port);
  reset.socket.write(hello.subarray(0, 40), () => reset.socket.resetAndDestroy());
  await within(reset.closed, DROP_WAIT_MS, "the reset socket to close");

  // A finished TLS handshake and then no HTTP request: the deadline (moved from the raw
  // socket to the TLS socket) still drops it.
  const idle = tlsConnect({ host: "127.0.0.1", port: server.port, servername: "localhost", ca: pki.ca });
  idle.on("error", () => undefined);
  const idleStart = Date.now();
  await within(new Promise<void>((resolve) => idle.once("secureConnect", resolve)), 5_000, "the TLS handshake");
  await within(new Promise<void>((resolve) => idle.once("close", resolve)), DROP_WAIT_MS, "the idle TLS connection to be dropped");
  console.log(`TLS done, no request: dropped after ${Date.now() - idleStart} ms`);

  // The failed handshakes were seen and counted (plain HTTP, garbage, half hello, silence; the reset may or may not be).
  await eventually("4 TLS client errors counted", () => (server.stats().tls?.clientErrors ?? 0) >= 4, 5_000);
  console.log(`stats().tls.clientErrors = ${server.stats().tls?.clientErrors}`);

  const client = await connect(server.url("/echo"), undefined, { ca: pki.ca });
  client.send("still serving");
  assert.equal((await client.next()).text, "still serving");
  await client.close();
});

test("stop() drops connections still in their TLS handshake", { skip }, async (t) => {
  const pki = makePki(t);
  const leaf = pki.leaf("stop");
  // A long deadline: only the stop can drop this peer within the test's wait.
  const server = await startServer({ tls: { key: leaf.keyFile, cert: leaf.certFile }, handshakeTimeoutMs: 60_000 });
  const hello = await realClientHello();
  const half = await openRaw(server.port);
  half.socket.write(hello.subarray(0, 20));
  // Accepted or still in the backlog when the stop comes: either way the peer is dropped.
  const stopped = server.stop({ timeoutMs: 1_000 });
  await within(half.closed, 10_000, "the half-handshake peer to be dropped by stop()");
  await within(stopped, 10_000, "stop() to finish");
  assert.equal(server.state, "stopped");
});

test("maxPendingHandshakes caps TLS handshakes in progress: a connection past it is closed at once; when they finish, new ones are served", { skip }, async (t) => {
  const pki = makePki(t);
  const leaf = pki.leaf("cap");
  // A long deadline: the stalled handshakes stay until this test ends them.
  const server = await startServer({ tls: { key: leaf.keyFile, cert: leaf.certFile }, handshakeTimeoutMs: 60_000, maxPendingHandshakes: 2 }, (s) =>
    s.endpoint("/echo", { message: (conn, data, isBinary) => { conn.send(data, isBinary); } }));
  t.after(() => server.stop({ timeoutMs: 1_000 }));
  const hello = await realClientHello();
  const stalled = [await openRaw(server.port), await openRaw(server.port)];
  for (const peer of stalled) peer.socket.write(hello.subarray(0, 30));
  // The server may accept the third before the first two (accept order is the kernel's), so
  // wait until it has refused one: then exactly two are in progress.
  const extra = await openRaw(server.port);
  extra.socket.write(hello.subarray(0, 30));
  const firstClosed = await within(Promise.race([extra.closed.then(() => extra), ...stalled.map((p) => p.closed.then(() => p))]), 10_000, "one connection over the cap to be closed");
  assert.equal(server.stats().tls?.refused, 1);
  const waiting = [...stalled, extra].filter((p) => p !== firstClosed);
  assert.equal(waiting.length, 2);

  // The two in progress go away; then a real client gets its handshake.
  for (const peer of waiting) peer.socket.destroy();
  await Promise.all(waiting.map((p) => p.closed));
  await eventually("a wss:// client is served again", async () => {
    try {
      const client = await connect(server.url("/echo"), undefined, { ca: pki.ca });
      client.send("served");
      const ok = (await client.next()).text === "served";
      await client.close();
      return ok;
    } catch {
      return false; // refused while the server still counts the closed ones: try again
    }
  });
});
