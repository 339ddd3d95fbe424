/**
 * runWorkers() (issue 18: "the same for the library"), real processes: the fixture
 * test/fixtures/run-workers-node.ts calls runWorkers({ workers: 2, start }) and node:cluster
 * re-runs it as two workers sharing one port. Clients are served by both workers (ping answers
 * with the worker's pid); a room push from a client on one worker reaches the members on both
 * exactly once; status has a row per worker whose sums are the totals; a SIGKILLed worker is
 * forked again (a new pid) and its clients reconnect to the port; a rolling reload replaces
 * both; SIGTERM to the primary closes every client with 1001 and the primary exits 0; a worker
 * whose start throws makes the primary's runWorkers() reject with that error.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { NodeProcess } from "../helpers/node-process.ts";
import { ProtoClient, type Frame } from "../helpers/app-client.ts";
import { eventually } from "../helpers/until.ts";
import type { WorkersStatus } from "../../src/index.ts";
import { runWorkers } from "../../src/index.ts";
import { OptionError } from "../../src/errors.ts";
import { alive } from "../helpers/process.ts";

const FIXTURE = "test/fixtures/run-workers-node.ts";
const WAIT_MS = 30_000;
/** Round-robin alternates: six connections give both workers some. */
const CLIENTS = 6;

type Client = ProtoClient & { welcome: Frame };
const clients: Client[] = [];
const processes: NodeProcess[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(processes.map((p) => p.kill("SIGKILL")));
});


async function startPrimary(env: Record<string, string> = {}): Promise<{ primary: NodeProcess; port: number }> {
  const primary = new NodeProcess(FIXTURE, env);
  processes.push(primary);
  const started = await primary.waitFor((e) => e.ev === "started", "runWorkers started", 0, WAIT_MS);
  return { primary, port: started.port as number };
}

async function open(port: number): Promise<Client & { pid: number }> {
  const client = await ProtoClient.open(`ws://127.0.0.1:${port}/app`);
  clients.push(client);
  const pong = await client.call("ping", null);
  assert.equal(pong.error, undefined, JSON.stringify(pong.error));
  return Object.assign(client, { pid: pong.data.pid as number });
}

test("runWorkers 2: one port, clients on both workers, pushes once everywhere, status totals, restart after SIGKILL, reload, SIGTERM drains with 1001 and exits 0", async () => {
  const { primary, port } = await startPrimary();
  const pids = (await primary.request("pids", {}, WAIT_MS)) as number[];
  assert.equal(pids.length, 2);
  assert.ok(!pids.includes(primary.pid!), "the workers are other processes than the primary");

  // Any worker takes any connection: the clients see both workers' pids.
  const local: Array<Client & { pid: number }> = [];
  for (let i = 0; i < CLIENTS; i++) local.push(await open(port));
  const served = new Set(local.map((c) => c.pid));
  console.log(`# ${CLIENTS} connections served by pids ${[...served].join(", ")}`);
  assert.deepEqual([...served].sort(), [...pids].sort(), "both workers serve clients");

  // A push from a client of one worker reaches every member, on both workers, exactly once.
  for (const c of local) assert.equal((await c.call("room.join", { room: "hall" })).error, undefined);
  const from = local[0]!;
  assert.equal((await from.call("say", { room: "hall", text: "hello" })).error, undefined);
  assert.equal((await from.call("say", { room: "hall", text: "marker" })).error, undefined);
  for (const c of local) {
    const hello = await c.next((f) => f.task === "said" && f.data?.text === "hello");
    assert.equal(hello.data.pid, from.pid, "pushed by the sender's worker");
    await c.next((f) => f.task === "said" && f.data?.text === "marker");
    assert.equal(c.frames.filter((f) => f.task === "said" && f.data?.text === "hello").length, 0, "no member gets the push twice");
  }

  // status: a row per worker, the totals are the sums of the rows.
  const before = (await primary.request("status", {}, WAIT_MS)) as WorkersStatus;
  assert.deepEqual(before.workers.map((w) => w.state), ["running", "running"]);
  assert.deepEqual(before.workers.map((w) => w.pid), pids);
  const sum = (pick: (s: NonNullable<WorkersStatus["workers"][number]["status"]>) => number): number =>
    before.workers.reduce((n, w) => n + pick(w.status!), 0);
  assert.equal(before.totals.workers, 2);
  assert.equal(before.totals.connections, CLIENTS);
  assert.equal(before.totals.connections, sum((s) => s.endpoints.reduce((m, e) => m + e.connections, 0)));
  assert.equal(before.totals.rooms, sum((s) => s.rooms ?? 0));
  assert.equal(before.totals.tasks, sum((s) => s.tasks));
  for (const w of before.workers) {
    assert.equal(w.status!.pid, w.pid);
    assert.equal(w.status!.endpoints.find((e) => e.path === "/app")!.connections, local.filter((c) => c.pid === w.pid).length, `worker ${w.index}'s row counts its clients`);
  }

  // SIGKILL one worker: its clients drop, it is forked again, they reconnect to the same port.
  const victim = pids[1]!;
  const cut = local.filter((c) => c.pid === victim);
  const kept = local.filter((c) => c.pid !== victim);
  process.kill(victim, "SIGKILL");
  for (const c of cut) assert.equal((await c.waitClosed(WAIT_MS)).code, 1006, "a killed worker's client sees its connection drop");
  let restarted: WorkersStatus | undefined;
  await eventually("the killed worker is forked again", async () => {
    restarted = (await primary.request("status", {}, WAIT_MS)) as WorkersStatus;
    return restarted.workers.every((w) => w.state === "running") && restarted.workers[1]!.pid !== victim;
  }, WAIT_MS, 50);
  assert.equal(restarted!.workers[1]!.restarts, 1);
  assert.equal(restarted!.workers[0]!.pid, pids[0], "the other worker was not touched");
  assert.equal(alive(victim), false);
  const rejoined: Array<Client & { pid: number }> = [];
  for (const _ of cut) rejoined.push(await open(port));
  for (const c of rejoined) assert.notEqual(c.pid, victim, "reconnected clients are served by a live worker");
  const newPid = restarted!.workers[1]!.pid!;
  // The new worker serves too (round-robin reaches it within a few connections).
  const extra: Array<Client & { pid: number }> = [];
  for (let i = 0; i < CLIENTS && ![...rejoined, ...extra].some((c) => c.pid === newPid); i++) extra.push(await open(port));
  assert.ok([...rejoined, ...extra].some((c) => c.pid === newPid), "the restarted worker takes connections");

  // A rolling reload replaces both workers; the old ones close their clients with 1001.
  const current = [...kept, ...rejoined, ...extra];
  const reloadCloses = current.map((c) => c.waitClosed(WAIT_MS));
  const reload = (await primary.request("reload", {}, WAIT_MS)) as { replaced: Array<{ index: number; from: number; to: number }> };
  assert.deepEqual(reload.replaced.map((r) => r.from), [pids[0], newPid]);
  for (const close of await Promise.all(reloadCloses)) assert.equal(close.code, 1001);
  const reloaded = reload.replaced.map((r) => r.to);
  assert.ok(reloaded.every((pid) => pid !== pids[0] && pid !== newPid), "every worker is new");

  // SIGTERM to the primary: every client gets 1001, the primary exits 0, no worker is left.
  const last: Array<Client & { pid: number }> = [];
  for (let i = 0; i < 4; i++) last.push(await open(port));
  assert.ok(last.every((c) => reloaded.includes(c.pid)));
  const closes = last.map((c) => c.waitClosed(WAIT_MS));
  await primary.kill("SIGTERM");
  for (const close of await Promise.all(closes)) assert.equal(close.code, 1001);
  assert.deepEqual(await primary.exited, { code: 0, signal: null });
  for (const pid of reloaded) assert.equal(alive(pid!), false, `worker ${pid} is gone`);
});

test("runWorkers: a worker whose start throws makes the primary's runWorkers() reject with that error; no worker is left", async () => {
  const primary = new NodeProcess(FIXTURE, { FAIL_INDEX: "1" });
  processes.push(primary);
  const rejected = await primary.waitFor((e) => e.ev === "rejected", "runWorkers rejected", 0, WAIT_MS).catch((err: Error) => {
    throw new Error(`${err.message}\n${primary.stderr}`);
  });
  assert.equal(rejected.name, "WorkerStartError");
  assert.equal(rejected.code, "worker_start_failed");
  assert.match(String(rejected.message), /worker 1 failed to start: Error: no database for worker 1/);
  assert.equal((await primary.exited).code, 1);
  assert.equal(primary.all("started").length, 0, "it never reported started");
  const forked = primary.all("worker-start");
  assert.deepEqual(forked.map((e) => e.index).sort(), [0, 1], "each slot was forked once: no restart loop at start-up");
  for (const e of forked) assert.equal(alive(e.pid as number), false, `worker ${String(e.index)} (pid ${String(e.pid)}) is gone`);
});

test("runWorkers: a worker that never finishes its start is killed after workerProcessStartTimeoutMs and the start fails naming the limit", async () => {
  const primary = new NodeProcess(FIXTURE, { HANG_INDEX: "0", START_TIMEOUT_MS: "1500" });
  processes.push(primary);
  const rejected = await primary.waitFor((e) => e.ev === "rejected", "runWorkers rejected", 0, WAIT_MS);
  assert.match(String(rejected.message), /worker 0 did not listen within 1500 ms \(workerProcessStartTimeoutMs\)/);
  assert.equal((await primary.exited).code, 1);
  for (const e of primary.all("worker-start")) assert.equal(alive(e.pid as number), false, `worker pid ${String(e.pid)} is gone`);
});

test("runWorkers: a worker that dies more than serviceRestartLimit times stops everything (the others drain with 1001) and the primary exits 1", async () => {
  const { primary, port } = await startPrimary({ RESTART_LIMIT: "0" });
  const pids = (await primary.request("pids", {}, WAIT_MS)) as number[];
  const local = [await open(port), await open(port)];
  const survivor = local.find((c) => c.pid === pids[0])!;
  assert.ok(survivor !== undefined, "a client on worker 0");
  const closed = survivor.waitClosed(WAIT_MS);
  process.kill(pids[1]!, "SIGKILL");
  assert.equal((await closed).code, 1001, "the other worker is stopped gracefully");
  assert.equal((await primary.exited).code, 1);
  for (const pid of pids) assert.equal(alive(pid), false, `worker ${pid} is gone`);
});

test("runWorkers: Ctrl+C (SIGINT to the whole process group) stops gracefully: a task in flight answers, then 1001, exit 0", async () => {
  // Its own process group, as a terminal's foreground job: the primary and every worker get the SIGINT.
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", FIXTURE], { env: { ...process.env }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once("exit", (code, signal) => r({ code, signal })));
  const events: Array<Record<string, unknown>> = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout! }).on("line", (line) => {
    if (line.startsWith("{")) events.push(JSON.parse(line) as Record<string, unknown>);
    for (const w of waiters) w();
  });
  const event = (ev: string): Promise<Record<string, unknown>> => new Promise((resolve, reject) => {
    const check = (): void => {
      const found = events.find((e) => e.ev === ev);
      if (found !== undefined) {
        waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
      }
    };
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`no ${ev} event within ${WAIT_MS} ms`));
    }, WAIT_MS);
    waiters.add(check);
    check();
  });
  try {
    const port = (await event("started")).port as number;
    const client = await open(port);
    const closed = client.waitClosed(WAIT_MS);
    const reply = client.call("slow", null, WAIT_MS);
    await event("slow-started");
    process.kill(-child.pid!, "SIGINT");
    assert.deepEqual((await reply).data, { done: true }, "the task in flight answered");
    assert.equal((await closed).code, 1001);
    assert.deepEqual(await exited, { code: 0, signal: null });
  } catch (err) {
    console.log("# events", JSON.stringify(events), stderr);
    throw err;
  } finally {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGKILL");
  }
});

test("runWorkers: stop() from code drains every worker (1001) and resolves; the primary is then free to exit", async () => {
  const { primary, port } = await startPrimary();
  const pids = (await primary.request("pids", {}, WAIT_MS)) as number[];
  const local = [await open(port), await open(port)];
  const closes = local.map((c) => c.waitClosed(WAIT_MS));
  assert.equal(await primary.request("stop", {}, WAIT_MS), true);
  for (const close of await Promise.all(closes)) assert.equal(close.code, 1001);
  for (const pid of pids) assert.equal(alive(pid), false, `worker ${pid} is gone`);
  assert.equal((await primary.exited).code, 0);
});

test("runWorkers options: workers 1..64 or auto, start a function, known limits only; each error names the option", async () => {
  const start = () => {
    throw new Error("never called in the primary");
  };
  const rejects = (options: unknown, option: string) =>
    assert.rejects(runWorkers(options as never), (err: Error) => err instanceof OptionError && err.option === option, `${JSON.stringify(options)} → ${option}`);
  for (const workers of [0, 65, 1.5, "4", null, undefined, "all"]) await rejects({ workers, start }, "workers");
  await rejects({ workers: 2 }, "start");
  await rejects({ workers: 2, start, limits: { workerProcessStartTimeoutMs: 0 } }, "workerProcessStartTimeoutMs");
  await rejects({ workers: 2, start, limits: { maxConnections: 5 } }, "limits.maxConnections");
  await rejects({ workers: 2, start, port: 8080 }, "port");
});

test("examples/workers/server.ts: two workers on one port, a push reaches members on both once, SIGHUP reloads, SIGTERM exits 0", async () => {
  const example = new NodeProcess("examples/workers/server.ts", { PORT: "0", WORKERS: "2" });
  processes.push(example);
  const banner = await example.waitFor((e) => e.ev === "garbage" && /^2 workers on ws:\/\/127\.0\.0\.1:\d+\/app/.test(String(e.line)), "the example's banner", 0, WAIT_MS);
  const port = Number(/:(\d+)\/app/.exec(String(banner.line))![1]);
  const local: Client[] = [];
  const pids = new Set<number>();
  for (let i = 0; i < 4; i++) {
    const c = await ProtoClient.open(`ws://127.0.0.1:${port}/app`);
    clients.push(c);
    local.push(c);
    pids.add((await c.call("whoami", null)).data.pid as number);
    assert.equal((await c.call("room.join", { room: "lobby" })).error, undefined);
  }
  assert.equal(pids.size, 2, "both workers answer whoami");
  assert.equal((await local[0]!.call("say", { room: "lobby", text: "hi" })).error, undefined);
  assert.equal((await local[1]!.call("say", { room: "lobby", text: "end" })).error, undefined);
  for (const c of local) {
    await c.next((f) => f.task === "said" && f.data?.text === "hi");
    await c.next((f) => f.task === "said" && f.data?.text === "end");
    assert.equal(c.frames.filter((f) => f.task === "said" && f.data?.text === "hi").length, 0, "once");
  }
  const closes = local.map((c) => c.waitClosed(WAIT_MS));
  process.kill(example.pid!, "SIGHUP");
  await example.waitFor((e) => e.ev === "garbage" && /^reloaded: \d+ → \d+, \d+ → \d+/.test(String(e.line)), "the rolling reload", 0, WAIT_MS);
  for (const close of await Promise.all(closes)) assert.equal(close.code, 1001);
  await example.kill("SIGTERM");
  assert.deepEqual(await example.exited, { code: 0, signal: null });
});
