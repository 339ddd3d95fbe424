/** Services inside a Server (in-process): registration, order, typed access, failures, in-flight work. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "../../src/index.ts";
import { defineService } from "../../src/runtime/service.ts";
import type { StateChange } from "../../src/runtime/supervisor.ts";
import { startServer } from "../helpers/server.ts";
import { connect } from "../helpers/ws-client.ts";
import { waitForEvent } from "../helpers/events.ts";

test("app services start before the HTTP listener and stop after it; getService is typed", async () => {
  const order: string[] = [];
  const cache = defineService({ name: "cache", items: new Map<string, number>(), start() { order.push("start cache"); }, stop() { order.push("stop cache"); } });
  const server = await startServer({}, (s) => {
    s.service("cache", cache);
    s.service("worker", { dependsOn: ["cache"], start: () => { order.push("start worker"); }, stop: () => { order.push("stop worker"); } });
    s.services.on("state", (c: StateChange) => { if (c.name === "http") order.push(`http ${c.to}`); });
  });
  server.getService<typeof cache>("cache").items.set("a", 1);
  assert.equal(cache.items.get("a"), 1);
  assert.deepEqual(server.services.states().map((s) => [s.name, s.state]), [["cache", "running"], ["worker", "running"], ["http", "running"]]);
  await server.stop();
  assert.deepEqual(order, ["start cache", "start worker", "http starting", "http running", "http stopping", "http stopped", "stop worker", "stop cache"]);
});

test("service(name, svc): a name that differs from the service's own is refused; late add is refused", async () => {
  const server = createServer({ port: 0, host: "127.0.0.1", logger: { level: "silent" } });
  assert.throws(() => server.service("a", { name: "b", start() {} }), /differs/);
  assert.throws(() => server.getService("zzz"), /no service named "zzz"/);
  await server.start();
  assert.throws(() => server.service("late", { start() {} }), /after the server started/);
  await server.stop();
});

test("a port in use fails start() at once, naming the cause", async () => {
  const first = await startServer();
  const second = createServer({ port: first.port, host: "127.0.0.1", logger: { level: "silent" } });
  // the listener's own error, with its code (the CLI turns it into advice)
  await assert.rejects(second.start(), (err: NodeJS.ErrnoException) => err.code === "EADDRINUSE");
  await first.stop();
});

test("a critical service that fails for good stops the server: clients see 1001", async () => {
  let fail: ((e: Error) => void) | undefined;
  const server = await startServer({}, (s) => {
    s.endpoint("/echo", {});
    s.service("core", { critical: true, restartLimit: 0, start: (_sig, ctx) => { fail = ctx.fail; } });
  });
  const client = await connect(server.url("/echo"));
  const fatal = waitForEvent(server.services, "fatal");
  fail?.(new Error("lost"));
  await fatal;
  assert.equal((await client.waitClosed()).code, 1001);
  await server.stop(); // already stopping: the same promise
  assert.equal(server.state, "stopped");
});

test("stop waits for in-flight work before closing connections; new work is refused", async () => {
  let finish: () => void = () => {};
  const server = await startServer({}, (s) => s.endpoint("/w", {}));
  const client = await connect(server.url("/w"));
  const task = server.work.run(() => new Promise<string>((r) => { finish = () => r("done"); }));
  const stopping = server.stop();
  assert.throws(() => server.work.run(async () => 1), /stopping/);
  let closed = false;
  void client.closed.then(() => { closed = true; });
  await new Promise<void>((r) => setImmediate(r));
  assert.equal(closed, false, "connections stay open while work runs");
  finish();
  assert.equal(await task, "done");
  assert.equal((await client.waitClosed()).code, 1001);
  await stopping;
});

test("service limits are createServer options, checked like the others", async () => {
  assert.throws(() => createServer({ serviceRestartLimit: -1 }), /serviceRestartLimit/);
  let starts = 0;
  const server = await startServer({ serviceRestartLimit: 0 }, (s) => s.service("once", { start(_sig, ctx) { starts++; queueMicrotask(() => ctx.fail(new Error("x"))); } }));
  // start() settles each service as running or failed before the listeners open
  assert.equal(server.services.state("once"), "failed");
  assert.equal(starts, 1);
  await server.stop();
});
