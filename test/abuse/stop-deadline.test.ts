/**
 * Issue 14, defect 10: every part of server.stop() has a deadline. For each kind of user code
 * that never settles (a UDP handler, a TCP handler, a service's stop(), an app task that ignores
 * its signal), stop() resolves, the hanging thing is reported (log or stats), and the sockets
 * are gone. The `within()` waits are hang detectors (10× the configured stop deadline and
 * grace), not timing thresholds.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { createSocket } from "node:dgram";
import { once } from "node:events";
import { pino } from "pino";
import { createServer, type Server } from "../../src/index.ts";
import { connect } from "../helpers/ws-client.ts";
import { ProtoClient } from "../helpers/app-client.ts";
import { TcpTestClient } from "../helpers/net-clients.ts";
import { deferred, within } from "../helpers/until.ts";
import { captureLogs, type LogLine } from "../helpers/logs.ts";

const STOP_TIMEOUT_MS = 300;
/** stopGraceMs keeps its default (1 s) so that these tests run unchanged on the code before the fix. */
const HANG_DETECTOR_MS = 10 * (STOP_TIMEOUT_MS + 1_000);
const never = (): Promise<never> => new Promise<never>(() => {});


function logged(lines: LogLine[], pattern: RegExp): LogLine[] {
  return lines.filter((line) => pattern.test(String(line.msg)));
}

async function started(setup: (server: Server) => void, options: Record<string, unknown> = {}): Promise<{ server: Server; lines: LogLine[] }> {
  const { lines, logger } = captureLogs();
  const server = createServer({ port: 0, host: "127.0.0.1", logger, stopTimeoutMs: STOP_TIMEOUT_MS, ...options });
  setup(server);
  await server.start();
  return { server, lines };
}

test("a UDP handler that never settles: stop() resolves, the handler is counted as abandoned, the port is free", async () => {
  const called = deferred();
  const { server, lines } = await started((s) => {
    s.udp({ port: 0, handle: () => { called.resolve(); return never(); } });
  });
  const port = (server.stats().listeners[0] as { port: number }).port;
  const client = createSocket("udp4");
  try {
    client.send("hello", port, "127.0.0.1");
    await within(called.promise, 5_000, "the handler to be called");
    const stopping = server.stop();
    assert.equal(server.stop(), stopping, "a second stop() returns the same promise");
    await within(stopping, HANG_DETECTOR_MS, "stop() with a UDP handler that never settles");
  } finally {
    client.close();
  }
  assert.equal(server.state, "stopped");
  const udp = server.stats().listeners[0] as { abandoned: number };
  assert.equal(udp.abandoned, 1, "the handler left behind is counted");
  assert.equal(logged(lines, /udp/).length > 0, true, "and logged");
  // The socket is closed: its port can be bound again.
  const rebound = createSocket("udp4");
  try {
    rebound.bind(port, "127.0.0.1");
    await within(once(rebound, "listening"), 5_000, "binding the freed UDP port");
  } finally {
    rebound.close();
  }
});

test("a TCP handler whose hooks never settle and a peer that never reads: stop() resolves and destroys the socket", async () => {
  const messaged = deferred();
  const { server, lines } = await started((s) => {
    s.tcp({
      port: 0,
      framing: "lines",
      // The listener's own drain is far beyond the server's deadline: the server's must win.
      drainTimeoutMs: 60_000,
      protocol: () => ({
        message: () => { messaged.resolve(); return never(); },
        close: () => never(),
        shutdown: () => never(),
      }),
    });
  });
  const port = (server.stats().listeners[0] as { port: number }).port;
  const client = await TcpTestClient.open(port);
  client.write("hello\n");
  await within(messaged.promise, 5_000, "the message hook to be called");
  client.socket.pause(); // never reads, never closes
  const stopping = server.stop();
  assert.equal(server.stop(), stopping);
  await within(stopping, HANG_DETECTOR_MS, "stop() with TCP hooks that never settle");
  await within(client.closed, 5_000, "the server to destroy the TCP socket");
  const tcp = server.stats().listeners[0] as { connections: number };
  assert.equal(tcp.connections, 0);
  assert.equal(logged(lines, /tcp/).length > 0, true, "the connection cut off at the deadline is logged");
});

test("a service whose stop() never settles: stop() resolves, the service is logged as left behind, clients are closed", async () => {
  const { server, lines } = await started((s) => {
    s.endpoint("/echo", { message(conn, data, isBinary) { conn.send(data, isBinary); } });
    s.service("stuck", { start() {}, stop: () => never() });
  }, { serviceStopTimeoutMs: STOP_TIMEOUT_MS });
  const client = await connect(server.url("/echo"));
  client.send("ping");
  assert.equal((await client.next()).text, "ping");
  const stopping = server.stop();
  await within(stopping, HANG_DETECTOR_MS, "stop() with a service that never stops");
  assert.equal((await client.waitClosed()).code, 1001);
  const stuck = lines.filter((line) => line.service === "stuck");
  assert.equal(stuck.length > 0, true, "the stuck service is named in the log");
  assert.equal(server.services.state("stuck"), "stopped");
});

test("an app task that ignores its signal: stop() resolves, the abandoned work is logged, the client is closed", async () => {
  const running = deferred();
  let app!: ReturnType<Server["app"]>;
  const { server, lines } = await started((s) => {
    app = s.app("/app");
    app.task("hang", () => { running.resolve(); return never(); });
  });
  const client = await ProtoClient.open(server.url("/app"));
  client.send("hang", null);
  await within(running.promise, 5_000, "the task to start");
  const stopping = server.stop();
  await within(stopping, HANG_DETECTOR_MS, "stop() with a task that never settles");
  const closed = await client.waitClosed();
  assert.equal([1001, 1006].includes(closed.code), true, `closed (got ${closed.code})`);
  const report = logged(lines, /in-flight work/);
  assert.equal(report.length, 1, "the work cut off at the deadline is logged");
  assert.equal((report[0]!.aborted as number) + (report[0]!.abandoned as number), 1);
  assert.equal(server.stats().connections, 0);
});

test("stop() while a service's start() never settles: stop() resolves, start() fails, the server stays stopped", async () => {
  const { lines, logger } = captureLogs();
  const starting = deferred();
  const server = createServer({ port: 0, host: "127.0.0.1", logger, stopTimeoutMs: STOP_TIMEOUT_MS, serviceStopTimeoutMs: STOP_TIMEOUT_MS });
  server.endpoint("/echo");
  server.service("slow-start", { start: () => { starting.resolve(); return never(); } });
  const start = server.start();
  start.catch(() => undefined); // asserted below
  await within(starting.promise, 5_000, "the service to be starting");
  const stopping = server.stop();
  await within(stopping, HANG_DETECTOR_MS, "stop() during a start that never finishes");
  await assert.rejects(within(start, HANG_DETECTOR_MS, "start() to settle"), /stop/);
  assert.equal(server.state, "stopped");
  assert.equal(lines.some((line) => line.service === "slow-start"), true, "the stuck service is named in the log");
});
