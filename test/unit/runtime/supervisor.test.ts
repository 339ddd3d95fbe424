import { test } from "node:test";
import assert from "node:assert/strict";
import { Supervisor, ServiceFailedError, type StateChange } from "../../../src/runtime/supervisor.ts";
import { defineService, type Service } from "../../../src/runtime/service.ts";
import { startOrder, DependencyError } from "../../../src/runtime/order.ts";
import { OptionError, StateError } from "../../../src/errors.ts";
import { FakeTimers } from "../../helpers/fake-timers.ts";
import { waitForEvent } from "../../helpers/events.ts";

function recorder(log: string[], name: string, deps: string[] = []): Service {
  return { name, dependsOn: deps, start: () => { log.push(`start ${name}`); }, stop: () => { log.push(`stop ${name}`); } };
}

function reached(sup: Supervisor, name: string, to: string): Promise<StateChange> {
  return waitForEvent<StateChange>(sup, "state", (c) => c.name === name && c.to === to);
}

/** A service whose main loop the test ends by hand: `crash()` makes the current run die. */
function crashable(name: string, extra: Partial<Service> = {}) {
  let die: ((err: Error) => void) | undefined;
  let runs = 0;
  const svc = defineService({
    name, ...extra,
    main: (signal: AbortSignal) => new Promise<void>((resolve, reject) => {
      runs++;
      die = reject;
      signal.addEventListener("abort", () => resolve(), { once: true });
    }),
    stop: () => {},
  });
  return { svc, crash: (msg = "boom") => die?.(new Error(msg)), runs: () => runs };
}

test("startOrder: dependencies first, registration order kept otherwise", () => {
  assert.deepEqual(startOrder([{ name: "web", dependsOn: ["db", "cache"] }, { name: "cache" }, { name: "db" }, { name: "x" }]),
    ["db", "cache", "web", "x"]);
});

test("startOrder: a cycle is an error naming it", () => {
  assert.throws(() => startOrder([{ name: "a", dependsOn: ["b"] }, { name: "b", dependsOn: ["c"] }, { name: "c", dependsOn: ["a"] }]),
    (err: Error) => err instanceof DependencyError && /a → b → c → a/.test(err.message));
});

test("startOrder: an unknown dependency is an error naming both", () => {
  assert.throws(() => startOrder([{ name: "web", dependsOn: ["db"] }]), /"web" depends on "db", which is not registered/);
});

test("defineService validates the definition", () => {
  assert.throws(() => defineService({ name: "bad name!", start() {} }), OptionError);
  assert.throws(() => defineService({ name: "x" }), /needs start\(\) or main\(\)/);
  assert.throws(() => defineService({ name: "x", start() {}, dependsOn: ["x"] }), /depend on itself/);
  assert.throws(() => defineService({ name: "x", start: 3 } as unknown as Service), /must be a function/);
  // The name may come later (server.service(name, svc), a services/ file); the rest is still checked.
  assert.doesNotThrow(() => defineService({ start() {} }));
  assert.throws(() => defineService({}), /service\.start.*needs start\(\) or main\(\)/);
  assert.throws(() => defineService({ name: "" , start() {} }), /service\.name/);
});

test("starts in dependency order, stops in reverse, states go stopped → starting → running → stopping → stopped", async () => {
  const log: string[] = [];
  const sup = new Supervisor();
  sup.add(recorder(log, "web", ["db"]));
  sup.add(recorder(log, "db"));
  const changes: string[] = [];
  sup.on("state", (c) => changes.push(`${c.name}:${c.from}→${c.to}`));
  await sup.startAll();
  assert.deepEqual(sup.states().map((s) => [s.name, s.state]), [["db", "running"], ["web", "running"]]);
  await sup.stopAll();
  assert.deepEqual(log, ["start db", "start web", "stop web", "stop db"]);
  assert.deepEqual(changes, [
    "db:stopped→starting", "db:starting→running", "web:stopped→starting", "web:starting→running",
    "web:running→stopping", "web:stopping→stopped", "db:running→stopping", "db:stopping→stopped",
  ]);
});

test("a cycle fails startAll before anything starts", async () => {
  const log: string[] = [];
  const sup = new Supervisor();
  sup.add(recorder(log, "a", ["b"]));
  sup.add(recorder(log, "b", ["a"]));
  await assert.rejects(sup.startAll(), DependencyError);
  assert.deepEqual(log, []);
});

test("get() returns the service with its own type; unknown names list the known ones", () => {
  const sup = new Supervisor();
  const counter = defineService({ name: "counter", n: 41, start() {}, bump() { return ++this.n; } });
  sup.add(counter);
  assert.equal(sup.get<typeof counter>("counter").bump(), 42);
  assert.throws(() => sup.get("nope"), (e: Error) => e instanceof StateError && /known: counter/.test(e.message));
  assert.throws(() => sup.add(counter), /already registered/);
});

test("a crashing main loop is restarted with exponential backoff, then marked failed", async () => {
  const timers = new FakeTimers();
  const sup = new Supervisor({ timers, restartLimit: 3, restartWindowMs: 60_000, backoffBaseMs: 100, backoffMaxMs: 300 });
  const c = crashable("worker");
  sup.add(c.svc);
  const delays = restartDelays(sup);
  await sup.startAll();
  for (let i = 0; i < 3; i++) {
    const restarting = reached(sup, "worker", "restarting");
    c.crash();
    const { delayMs } = await restarting;
    const running = reached(sup, "worker", "running");
    timers.fire(delayMs ?? -1);
    await running;
  }
  assert.deepEqual(delays, [100, 200, 300]); // doubled, capped at backoffMaxMs
  const failed = reached(sup, "worker", "failed");
  c.crash("fourth");
  const change = await failed;
  assert.equal(change.error?.message, "fourth");
  assert.equal(c.runs(), 4);
  const [status] = sup.states();
  assert.equal(status?.restarts, 3);
  assert.equal(status?.lastError, "fourth");
  await sup.stopAll(); // a failed service stays failed and stopAll still completes
  assert.equal(sup.state("worker"), "failed");
});

test("crashes older than the window do not count", async () => {
  const timers = new FakeTimers();
  const sup = new Supervisor({ timers, restartLimit: 1, restartWindowMs: 1_000, backoffBaseMs: 10 });
  const c = crashable("w");
  sup.add(c.svc);
  const delays = restartDelays(sup);
  await sup.startAll();
  for (let i = 0; i < 3; i++) {
    const restarting = reached(sup, "w", "restarting");
    c.crash();
    const { delayMs } = await restarting;
    const running = reached(sup, "w", "running");
    timers.fire(delayMs ?? -1);
    await running;
    timers.advance(2_000);
  }
  assert.deepEqual(delays, [10, 10, 10]);
  await sup.stopAll();
});

test("start() that throws is retried; a main loop that returns on its own counts as a crash", async () => {
  const timers = new FakeTimers();
  const sup = new Supervisor({ timers, restartLimit: 5 });
  let attempts = 0;
  sup.add({ name: "flaky", start() { if (++attempts < 3) throw new Error(`attempt ${attempts}`); } });
  let loops = 0;
  sup.add({ name: "quitter", main: async () => { loops++; } });
  // fire each restart as soon as it is scheduled
  sup.on("state", (c) => { if (c.to === "restarting") timers.fire(c.delayMs ?? -1); });
  const quitterFailed = reached(sup, "quitter", "failed");
  await sup.startAll();
  await quitterFailed;
  assert.equal(sup.state("flaky"), "running");
  assert.equal(attempts, 3);
  assert.equal(loops, 6);
  assert.match(sup.states()[1]?.lastError ?? "", /main loop returned/);
  await sup.stopAll();
});

test("ctx.fail() from a resource service restarts it", async () => {
  const timers = new FakeTimers();
  const sup = new Supervisor({ timers });
  let report: ((e: Error) => void) | undefined;
  let stops = 0;
  sup.add({ name: "listener", start(_s, ctx) { report = ctx.fail; }, stop() { stops++; } });
  await sup.startAll();
  const restarting = reached(sup, "listener", "restarting");
  report?.(new Error("EADDRINUSE"));
  const change = await restarting;
  assert.equal(change.error?.message, "EADDRINUSE");
  assert.equal(stops, 1); // cleaned up before the restart
  const running = reached(sup, "listener", "running");
  timers.fire(change.delayMs ?? -1);
  await running;
  await sup.stopAll();
  assert.equal(stops, 2);
});

test("a critical service that fails for good emits fatal", async () => {
  const timers = new FakeTimers();
  const sup = new Supervisor({ timers, restartLimit: 0 });
  const c = crashable("core", { critical: true });
  sup.add(c.svc);
  await sup.startAll();
  const fatal = waitForEvent<{ name: string; error: Error }>(sup, "fatal");
  c.crash("disk gone");
  const f = await fatal;
  assert.equal(f.name, "core");
  assert.equal(f.error.message, "disk gone");
  await sup.stopAll();
});

test("a critical service failing at start-up rejects startAll and stops what started", async () => {
  const log: string[] = [];
  const sup = new Supervisor({ timers: new FakeTimers(), restartLimit: 0 });
  sup.add(recorder(log, "first"));
  sup.add({ name: "core", critical: true, start() { throw new Error("no config"); } });
  sup.add(recorder(log, "after"));
  await assert.rejects(sup.startAll(), (e: Error) => e instanceof ServiceFailedError && /"core" failed: no config/.test(e.message));
  assert.deepEqual(log, ["start first", "stop first"]);
});

test("a dependent of a failed service is failed without starting; the others go on", async () => {
  const log: string[] = [];
  const sup = new Supervisor({ timers: new FakeTimers(), restartLimit: 0 });
  sup.add({ name: "db", start() { throw new Error("refused"); } });
  sup.add(recorder(log, "web", ["db"]));
  sup.add(recorder(log, "other"));
  await sup.startAll();
  assert.deepEqual(sup.states().map((s) => s.state), ["failed", "failed", "running"]);
  assert.match(sup.states()[1]?.lastError ?? "", /dependency "db" is not running/);
  assert.deepEqual(log, ["start other"]);
  await sup.stopAll();
});

test("stopAll aborts the signal, waits for the main loop, cancels a pending restart", async () => {
  const timers = new FakeTimers();
  const sup = new Supervisor({ timers });
  let ended = false;
  sup.add({ name: "loop", main: (signal) => new Promise<void>((r) => signal.addEventListener("abort", () => { ended = true; r(); })) });
  const c = crashable("dying");
  sup.add(c.svc);
  await sup.startAll();
  const restarting = reached(sup, "dying", "restarting");
  c.crash();
  await restarting;
  assert.equal(timers.pending().length, 1);
  await sup.stopAll();
  assert.equal(ended, true);
  assert.deepEqual(timers.pending(), []);
  assert.deepEqual(sup.states().map((s) => s.state), ["stopped", "stopped"]);
});

test("a stop() that hangs is left behind after stopTimeoutMs; a stop() that throws is logged", async () => {
  const timers = new FakeTimers();
  const sup = new Supervisor({ timers, stopTimeoutMs: 50 });
  sup.add({ name: "hangs", start() {}, stop: () => new Promise<void>(() => {}) });
  sup.add({ name: "throws", start() {}, stop() { throw new Error("oops"); } });
  await sup.startAll();
  const stopping = sup.stopAll();
  await waitUntil(() => timers.pending().includes(50) && sup.state("throws") === "stopped");
  timers.runNext();
  await stopping;
  assert.equal(sup.state("hangs"), "stopped");
});

test("restart(name) stops and starts one service", async () => {
  const log: string[] = [];
  const sup = new Supervisor();
  sup.add(recorder(log, "a"));
  await assert.rejects(sup.restart("a"), /only while the server runs/);
  await sup.startAll();
  assert.equal(await sup.restart("a"), "running");
  assert.deepEqual(log, ["start a", "stop a", "start a"]);
  await assert.rejects(sup.restart("zzz"), /no service named "zzz"/);
  await sup.stopAll();
});

test("restart(name) refuses a service with restartLimit 0", async () => {
  const sup = new Supervisor();
  sup.add({ name: "listener", restartLimit: 0, start() {} });
  await sup.startAll();
  await assert.rejects(sup.restart("listener"), /not restartable/);
  await sup.stopAll();
});

test("add after start is refused", async () => {
  const sup = new Supervisor();
  await sup.startAll();
  assert.throws(() => sup.add({ name: "late", start() {} }), StateError);
  await sup.stopAll();
});

/** Poll a condition once per macrotask, bounded; for states reached through chains of promises. */
async function waitUntil(cond: () => boolean, limit = 1_000): Promise<void> {
  for (let i = 0; i < limit; i++) {
    if (cond()) return;
    await new Promise<void>((r) => setImmediate(r));
  }
  throw new Error("condition not reached");
}

function restartDelays(sup: Supervisor): number[] {
  const delays: number[] = [];
  sup.on("state", (c) => { if (c.to === "restarting") delays.push(c.delayMs ?? -1); });
  return delays;
}
