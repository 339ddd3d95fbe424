/**
 * Debug logging (docs/operations.md#debug-logging): at `debug`, each connection's open and
 * close, each refused handshake and each task call; at `trace`, message sizes. The level
 * changes at run time (server.setLogLevel, the `log-level` control command) and reaches the
 * child loggers that exist already.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { OptionError, createCommandTable, reject } from "../../src/index.ts";
import { serverContext } from "../../src/control/server-context.ts";
import { captureLogs, type LogLine } from "../helpers/logs.ts";
import { startServer } from "../helpers/server.ts";
import { connect, refusedStatus } from "../helpers/ws-client.ts";
import { ProtoClient } from "../helpers/app-client.ts";
import { deferred, within } from "../helpers/until.ts";

const DEBUG = 20;
const TRACE = 10;

test("debug: connection open and close (id, endpoint, code, durationMs), refused handshakes (status, reason), task calls (name, outcome, durationMs)", async (t) => {
  const logs = captureLogs("debug");
  const closed = deferred();
  const server = await startServer({ logger: logs.logger }, (s) => {
    s.endpoint("/echo", {
      handshake: (req) => (req.query.get("deny") === "1" ? reject(403, "not on the list") : undefined),
      message: (conn, data) => void conn.send(data),
      close: () => closed.resolve(),
    });
    const app = s.app("/app");
    app.task("calc.add", ({ data }) => (data as { a: number; b: number }).a + (data as { a: number; b: number }).b);
    app.task("calc.fail", async () => {
      throw new Error("nope");
    });
  });
  t.after(() => server.stop());

  const client = await connect(server.url("/echo"));
  const open = await logs.logged((l) => l.msg === "connection open" && l.endpoint === "/echo", "the open line");
  assert.equal(open.level, DEBUG);
  assert.match(String(open.conn), /^echo-\d+$/);
  client.ws.close(4002, "done");
  await within(closed.promise, 5_000, "the server's close hook");
  const close = await logs.logged((l) => l.msg === "connection closed" && l.conn === open.conn, "the close line");
  assert.equal(close.level, DEBUG);
  assert.equal(close.endpoint, "/echo");
  assert.equal(close.code, 4002);
  assert.equal(close.reason, "done");
  assert.equal(typeof close.durationMs, "number");
  assert.ok((close.durationMs as number) >= 0);

  assert.equal(await refusedStatus(`${server.url("/echo")}?deny=1`), 403);
  const refused = await logs.logged((l) => l.msg === "handshake refused" && l.status === 403, "the 403 line");
  assert.equal(refused.level, DEBUG);
  assert.equal(refused.reason, "not on the list");
  assert.equal(refused.endpoint, "/echo");
  assert.equal(await refusedStatus(server.url("/missing", "ws")), 404);
  const notFound = await logs.logged((l) => l.msg === "handshake refused" && l.status === 404, "the 404 line");
  assert.equal(notFound.reason, "no WebSocket endpoint at /missing");

  const app = await ProtoClient.open(server.url("/app"));
  t.after(() => app.close());
  assert.equal((await app.call("calc.add", { a: 2, b: 3 })).data, 5);
  assert.equal((await app.call("calc.fail", {})).error.code, "internal");
  const ok = await logs.logged((l) => l.msg === "task call" && l.task === "calc.add", "the calc.add line");
  assert.equal(ok.level, DEBUG);
  assert.equal(ok.outcome, "ok");
  assert.equal(ok.app, "/app");
  assert.equal(typeof ok.durationMs, "number");
  const failed = await logs.logged((l) => l.msg === "task call" && l.task === "calc.fail", "the calc.fail line");
  assert.equal(failed.outcome, "internal");

  // No trace lines at debug.
  assert.equal(logs.lines.filter((l) => l.level === TRACE).length, 0);
});

test("run-time level change: server.setLogLevel reaches existing child loggers and the per-message trace lines; bad levels are refused", async (t) => {
  const logs = captureLogs("info");
  const server = await startServer({ logger: logs.logger }, (s) => {
    s.endpoint("/echo", { message: (conn, data) => void conn.send(data) });
  });
  t.after(() => server.stop());
  assert.equal(server.logLevel, "info");
  const child = server.log.child({ component: "made-before-the-change" });

  // At info: nothing about connections.
  const quiet = await connect(server.url("/echo"));
  quiet.send("abc");
  await quiet.next();
  await quiet.close();
  assert.equal(logs.lines.filter((l) => l.msg === "connection open").length, 0);

  assert.equal(server.setLogLevel("DEBUG"), "debug");
  assert.equal(server.logLevel, "debug");
  child.debug("child speaks at debug");
  await logs.logged((l) => l.msg === "child speaks at debug" && l.component === "made-before-the-change", "the existing child's debug line");
  // The endpoint's logger was made at mount, before the change: it logs at debug now too.
  const loud = await connect(server.url("/echo"));
  await logs.logged((l) => l.msg === "connection open" && l.endpoint === "/echo", "an open line after the change");

  server.setLogLevel("trace");
  loud.send("twelve bytes");
  assert.equal((await loud.next()).text, "twelve bytes");
  const inbound = await logs.logged((l) => l.msg === "message in", "a trace line for the message in");
  assert.equal(inbound.level, TRACE);
  assert.equal(inbound.bytes, 12);
  const outbound = await logs.logged((l) => l.msg === "message out", "a trace line for the message out");
  assert.equal(outbound.bytes, 12);
  await loud.close();

  server.setLogLevel("warn");
  const before = logs.lines.length;
  const silent = await connect(server.url("/echo"));
  silent.send("x");
  await silent.next();
  await silent.close();
  assert.equal(logs.lines.slice(before).filter((l: LogLine) => l.level < 40).length, 0, "nothing below warn after setting warn");

  assert.throws(() => server.setLogLevel("verbose"), (err: unknown) => {
    assert.ok(err instanceof OptionError);
    assert.match(err.message, /fatal, error, warn, info, debug, trace, silent/);
    return true;
  });
  assert.equal(server.logLevel, "warn", "a refused level changes nothing");
});

test("control command log-level: shows the level, sets it, refuses an unknown one", async (t) => {
  const logs = captureLogs("info");
  const server = await startServer({ logger: logs.logger }, (s) => s.endpoint("/echo"));
  t.after(() => server.stop());
  // The context a standalone server gives commands, with the level reader (see the report: ControlContext.logLevel).
  const ctx = { ...serverContext(server, { stop: async () => undefined }), logLevel: () => server.logLevel };
  const dispatch = createCommandTable().dispatcher(ctx);
  const call = { progress: () => undefined } as unknown as Parameters<typeof dispatch>[1];

  assert.deepEqual(await dispatch({ id: 1, command: "log-level", args: [] }, call), { id: 1, ok: true, result: { level: "info" } });
  assert.deepEqual(await dispatch({ id: 2, command: "log-level", args: ["debug"] }, call), { id: 2, ok: true, result: { level: "debug" } });
  assert.equal(server.logLevel, "debug");
  const client = await connect(server.url("/echo"));
  await logs.logged((l) => l.msg === "connection open", "an open line after the command");
  await client.close();
  const bad = await dispatch({ id: 3, command: "log-level", args: ["loud"] }, call);
  assert.equal(bad.ok, false);
  assert.equal(server.logLevel, "debug");
});
