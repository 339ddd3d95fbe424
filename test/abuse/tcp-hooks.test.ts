/**
 * Issue 14, defect 8 (TCP): every call of user code in a TCP listener goes through the guarded
 * path. A throwing or rejecting `error` hook, a `protocol()` factory that returns nothing or a
 * promise, a `defaultData()` that throws, a `shutdown` hook that rejects: each is logged and
 * counted, that one connection ends, and the listener keeps serving (a fresh echo round-trip).
 * Before the fix each of these was an uncaught exception or an unhandled rejection.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { pino } from "pino";
import { TcpListener, type TcpHandler, type TcpOptions } from "../../src/transport/tcp.ts";
import { TcpTestClient, within } from "../helpers/net-clients.ts";
import { captureLogs, type LogLine } from "../helpers/logs.ts";


interface Closed { code: number; reason: string }

/**
 * A listener whose first connection gets `first` as its handler (or whatever `first` does as
 * the factory) and every later connection a plain line echo, so "still serving" is one exchange.
 */
async function listener(options: Partial<TcpOptions<unknown>>, first: () => TcpHandler): Promise<{ tcp: TcpListener; lines: LogLine[]; closes: Closed[] }> {
  const { lines, logger } = captureLogs();
  const closes: Closed[] = [];
  let made = 0;
  const tcp = new TcpListener({
    port: 0,
    host: "127.0.0.1",
    framing: "lines",
    logger,
    ...options,
    protocol: () => (made++ === 0 ? first() : {
      message(conn, data) { conn.send(data); },
      close(_conn, code, reason) { closes.push({ code, reason }); },
    }),
  });
  await tcp.start();
  return { tcp, lines, closes };
}

async function assertStillServing(tcp: TcpListener): Promise<void> {
  const client = await TcpTestClient.open(tcp.port);
  client.write("still here\n");
  await client.until((r) => r.toString() === "still here\n", "a fresh echo round-trip");
  client.socket.end();
  await within(client.closed, "the echo client to close");
}

function errorsLogged(lines: LogLine[]): string[] {
  return lines.filter((line) => line.level === 50).map((line) => String(line.msg));
}

test("an error hook that rejects after a throwing message hook: 1011 for that connection, logged, the listener serves on", async () => {
  const { tcp, lines } = await listener({}, () => ({
    message() { throw new Error("handler bug"); },
    error: async () => { throw new Error("error hook bug"); },
  }));
  try {
    const client = await TcpTestClient.open(tcp.port);
    client.write("boom\n");
    await within(client.closed, "the failing connection to be closed");
    await assertStillServing(tcp);
    assert.equal(tcp.stats().hookErrors >= 1, true);
    assert.equal(errorsLogged(lines).some((msg) => /error hook/.test(msg)), true, `error hook failure logged: ${errorsLogged(lines).join(" | ")}`);
  } finally {
    await tcp.stop();
  }
});

test("an error hook that throws after a throwing close hook is logged; the listener serves on", async () => {
  const { tcp, lines } = await listener({}, () => ({
    close() { throw new Error("close hook bug"); },
    error() { throw new Error("error hook bug"); },
  }));
  try {
    const client = await TcpTestClient.open(tcp.port);
    client.socket.end();
    await within(client.closed, "the connection to close");
    await assertStillServing(tcp);
    assert.equal(errorsLogged(lines).some((msg) => /error hook/.test(msg)), true);
  } finally {
    await tcp.stop();
  }
});

test("a close hook that rejects and an error hook that rejects: both logged, nothing unhandled", async () => {
  const { tcp, lines } = await listener({}, () => ({
    close: async () => { throw new Error("close hook bug"); },
    error: async () => { throw new Error("error hook bug"); },
  }));
  try {
    const client = await TcpTestClient.open(tcp.port);
    client.socket.end();
    await within(client.closed, "the connection to close");
    await assertStillServing(tcp);
    assert.equal(errorsLogged(lines).filter((msg) => /hook/.test(msg)).length >= 2, true, errorsLogged(lines).join(" | "));
  } finally {
    await tcp.stop();
  }
});

test("a protocol() factory that returns nothing: that connection is dropped and counted; the listener serves on", async () => {
  const { tcp, lines } = await listener({}, () => undefined as unknown as TcpHandler);
  try {
    const client = await TcpTestClient.open(tcp.port);
    await within(client.closed, "the connection without a handler to be dropped");
    await assertStillServing(tcp);
    assert.equal(tcp.stats().hookErrors, 1);
    assert.equal(errorsLogged(lines).some((msg) => /protocol/.test(msg)), true);
  } finally {
    await tcp.stop();
  }
});

test("an async protocol() factory (a promise, rejected): the connection is dropped, the rejection handled", async () => {
  const { tcp, lines } = await listener({}, (async () => { throw new Error("factory bug"); }) as unknown as () => TcpHandler);
  try {
    const client = await TcpTestClient.open(tcp.port);
    await within(client.closed, "the connection to be dropped");
    await assertStillServing(tcp);
    assert.equal(tcp.stats().hookErrors >= 1, true);
    assert.equal(errorsLogged(lines).some((msg) => /protocol/.test(msg)), true);
  } finally {
    await tcp.stop();
  }
});

test("a defaultData() that throws: that connection is dropped and counted; the listener serves on", async () => {
  let calls = 0;
  const { tcp, lines } = await listener({ defaultData: () => { if (calls++ === 0) throw new Error("data bug"); return {}; } }, () => ({
    message(conn, data) { conn.send(data); },
  }));
  try {
    const client = await TcpTestClient.open(tcp.port);
    await within(client.closed, "the connection to be dropped");
    await assertStillServing(tcp);
    assert.equal(tcp.stats().hookErrors, 1);
    assert.equal(errorsLogged(lines).some((msg) => /defaultData/.test(msg)), true);
  } finally {
    await tcp.stop();
  }
});

test("a shutdown hook that rejects and an error hook that rejects: stop() still closes with 1001, both logged", async () => {
  const closes: Closed[] = [];
  let opened!: () => void;
  const open = new Promise<void>((resolve) => (opened = resolve));
  const { tcp, lines } = await listener({}, () => ({
    open() { opened(); },
    shutdown: async () => { throw new Error("shutdown bug"); },
    error: async () => { throw new Error("error hook bug"); },
    close(_conn, code, reason) { closes.push({ code, reason }); },
  }));
  const client = await TcpTestClient.open(tcp.port);
  await within(open, "the connection with the failing hooks to open");
  await within(tcp.stop(), "stop()");
  await within(client.closed, "the connection to close");
  assert.deepEqual(closes, [{ code: 1001, reason: "shutdown" }]);
  assert.equal(errorsLogged(lines).some((msg) => /shutdown/.test(msg)), true);
  assert.equal(errorsLogged(lines).some((msg) => /error hook/.test(msg)), true);
});
