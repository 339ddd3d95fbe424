/**
 * The IPC engine over Node's real IPC (issue 18's in-machine engine): a hub in this process
 * (the "primary"), forked children as workers. A push from any worker reaches every member on
 * every worker once, in offset order; a worker that dies leaves no members behind; the hub
 * trusts no message. (The engine's guarantees themselves: test/conformance/engine.test.ts.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createLogger } from "../../src/log.ts";
import { IpcEngineHub } from "../../src/engine/ipc-hub.ts";
import { IpcEngine } from "../../src/engine/ipc-engine.ts";
import { childPort, portPair, closePortPair } from "../../src/cluster/ipc-port.ts";
import { IPC_TAG } from "../../src/engine/ipc-messages.ts";
import { UnavailableError } from "../../src/errors.ts";
import { eventually, when } from "../helpers/until.ts";

const logger = createLogger({ level: "silent" });
const FIXTURE = fileURLToPath(new URL("../fixtures/ipc-worker.ts", import.meta.url));

interface Worker {
  child: ChildProcess;
  events: Array<Record<string, unknown>>;
  ask(cmd: Record<string, unknown>): Promise<unknown>;
  pushes(): Array<{ room: string; offset: number; payload: string; to: string[] }>;
  until(check: () => boolean, what: string): Promise<void>;
}

function startWorker(hub: IpcEngineHub, nodeId: string): Worker {
  const child = fork(FIXTURE, [], { env: { ...process.env, NODE_ID: nodeId }, execArgv: ["--conditions=source", "--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  hub.add(childPort(child));
  const events: Array<Record<string, unknown>> = [];
  const waiters = new Set<() => void>();
  child.on("message", (m: Record<string, unknown>) => {
    if (m.sb === IPC_TAG) return;
    events.push(m);
    for (const wake of [...waiters]) wake();
  });
  let seq = 0;
  const until = (check: () => boolean, what: string): Promise<void> => when(check, (recheck) => waiters.add(recheck), 10_000, `${nodeId}: ${what}`);
  return {
    child, events, until,
    async ask(cmd) {
      const id = ++seq;
      child.send({ ...cmd, seq: id });
      await until(() => events.some((e) => e.seq === id), `${nodeId}: reply to ${String(cmd.cmd)}`);
      const reply = events.find((e) => e.seq === id)!;
      if (reply.ev === "failed") throw new Error(String(reply.error));
      return reply.value;
    },
    pushes: () => events.filter((e) => e.ev === "push") as never,
  };
}

function stop(worker: Worker): Promise<void> {
  if (worker.child.exitCode !== null || worker.child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => worker.child.once("exit", () => resolve()));
  worker.child.kill("SIGKILL");
  return exited;
}

test("workers over real IPC: a push from any worker reaches every member on every worker once, in order; a dead worker's members vanish", async () => {
  const hub = new IpcEngineHub({ logger, maxRoomLength: 4096, maxPayloadBytes: 1 << 20 });
  const workers = [startWorker(hub, "w0"), startWorker(hub, "w1"), startWorker(hub, "w2")];
  try {
    for (const w of workers) await w.ask({ cmd: "ready" });
    for (const [i, w] of workers.entries()) await w.ask({ cmd: "join", room: "hall", id: `m${i}` });
    // 30 pushes, 10 from each worker, interleaved.
    for (let n = 0; n < 30; n++) await workers[n % 3]!.ask({ cmd: "publish", room: "hall", payload: `p${n}` });
    for (const w of workers) await w.until(() => w.pushes().length >= 30, "30 pushes");
    for (const [i, w] of workers.entries()) {
      const got = w.pushes();
      assert.deepEqual(got.map((p) => p.offset), Array.from({ length: 30 }, (_, k) => k + 1), `worker ${i}: offsets 1..30 once, in order`);
      assert.deepEqual(got.map((p) => p.payload), Array.from({ length: 30 }, (_, k) => `p${k}`));
      assert.ok(got.every((p) => p.to.length === 1 && p.to[0] === `m${i}`));
    }
    assert.deepEqual(await workers[0]!.ask({ cmd: "members", room: "hall" }), ["w0/m0", "w1/m1", "w2/m2"]);
    assert.equal(hub.stats.workers, 3);

    await stop(workers[2]!);
    // The hub detaches a worker when its channel closes: no stale members, no deliveries to it.
    await eventually("the hub saw the worker go", () => hub.stats.workers === 2);
    assert.deepEqual(await workers[1]!.ask({ cmd: "members", room: "hall" }), ["w0/m0", "w1/m1"]);
    assert.equal(await workers[0]!.ask({ cmd: "publish", room: "hall", payload: "after" }), 31);
    await workers[1]!.until(() => workers[1]!.pushes().some((p) => p.offset === 31), "push 31");
  } finally {
    await Promise.all(workers.map(stop));
  }
});

test("the hub trusts no message: malformed requests get an error reply and it keeps serving; a duplicate node id is refused", async () => {
  const hub = new IpcEngineHub({ logger, maxRoomLength: 64, maxPayloadBytes: 1024 });
  const [worker, primary] = portPair();
  hub.add(primary);
  const replies: Array<Record<string, unknown>> = [];
  worker.onMessage((m) => replies.push(m as Record<string, unknown>));
  const raw = (id: number, req: unknown): void => void worker.send({ sb: IPC_TAG, kind: "req", id, req } as never);
  raw(1, { op: "publish", room: "r", payload: "x" }); // before hello
  raw(2, null);
  raw(3, { op: "hello", nodeId: "" });
  raw(4, { op: "hello", nodeId: "a" });
  raw(5, { op: "hello", nodeId: "a" }); // twice
  raw(6, { op: "subscribe", room: "x".repeat(65) });
  raw(7, { op: "publish", room: "r", payload: 42, policy: { maxCount: 1, maxAgeMs: 1 }, windowMs: 1, maxKeys: 1 });
  raw(8, { op: "publish", room: "r", payload: "x", policy: { maxCount: -1, maxAgeMs: 1 }, windowMs: 1, maxKeys: 1 });
  raw(9, { op: "nope", room: "r" });
  raw(10, { op: "publish", room: "r", payload: "ok", policy: { maxCount: 10, maxAgeMs: 60_000 }, windowMs: 1000, maxKeys: 10 });
  worker.send({ not: "ours" } as never); // someone else's message: ignored, no reply
  await eventually("ten replies", () => replies.length >= 10);
  const byId = new Map(replies.map((r) => [r.id, r]));
  for (const id of [1, 2, 3, 5, 6, 7, 8, 9]) assert.equal(byId.get(id)?.ok, false, `request ${id} refused`);
  assert.equal(byId.get(4)?.ok, true);
  assert.deepEqual((byId.get(10) as { value: { offset: number } }).value.offset, 1, "still serving");
  assert.equal(replies.length, 10);

  // A second worker claiming the same id: the engine's ready() rejects.
  const [w2, p2] = portPair();
  hub.add(p2);
  const dup = new IpcEngine({ nodeId: "a", port: w2, logger });
  await assert.rejects(dup.ready(), /already a node/);
  await dup.close();
  closePortPair(worker);
  closePortPair(w2);
});

test("the hub gone: waiting requests fail at once with unavailable, later ones fail fast", async () => {
  const hub = new IpcEngineHub({ logger, maxRoomLength: 64, maxPayloadBytes: 1024 });
  const [worker, primary] = portPair();
  hub.add(primary);
  const engine = new IpcEngine({ nodeId: "solo", port: worker, logger });
  await engine.ready();
  await engine.join("r", { id: "m" });
  // Cut the channel with a request in flight (sent, not yet answered).
  const inFlight = engine.publish("r", "x");
  closePortPair(worker);
  await assert.rejects(inFlight, UnavailableError);
  await assert.rejects(engine.publish("r", "y"), UnavailableError);
  await assert.rejects(engine.members("r"), UnavailableError);
  await engine.close();
});

test("a hub that never answers: the request fails at ipcRequestTimeoutMs", async () => {
  const [worker] = portPair(); // nobody serves the other side
  const engine = new IpcEngine({ nodeId: "lonely", port: worker, logger, requestTimeoutMs: 50 });
  // The engine's timers are unref'd (they must not keep a worker alive): this test keeps the loop up.
  const keepAlive = setInterval(() => undefined, 1_000);
  try {
    await assert.rejects(engine.ready(), (err: Error) => err instanceof UnavailableError && /did not answer "hello" within 50 ms/.test(err.message));
  } finally {
    clearInterval(keepAlive);
  }
  await engine.close();
});
