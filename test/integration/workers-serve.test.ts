/**
 * `switchboard serve --workers 2` (issue 18), real processes: the CLI is the primary, node:cluster
 * forks two workers of the same command that share one port. Clients spread over both workers
 * (their connection ids end with two different node ids); a room push from a client on one
 * worker reaches the members on both exactly once; `status` has a row per worker and totals
 * equal to the sums of the rows; a SIGKILLed worker is forked again (status shows two running
 * workers with a new PID) and new connections work; `stop` closes every client with 1001, the
 * primary exits 0 and no worker process is left. Presence, app.broadcast and room history work
 * across the workers; a rolling reload loses no push for clients that recover. (Limits per
 * worker: workers-limits.test.ts.)
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { createConnection } from "node:net";
import { existsSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { resolveConfig } from "../../src/config/resolve.ts";
import { OptionError } from "../../src/errors.ts";
import { spawn } from "node:child_process";
import { BIN, startCli, type RunningCli } from "../helpers/cli.ts";
import { alive } from "../helpers/process.ts";
import { makeTree } from "../helpers/tree.ts";
import { ProtoClient, type Frame } from "../helpers/app-client.ts";
import { connect, type TestClient } from "../helpers/ws-client.ts";
import { eventually, within } from "../helpers/until.ts";
import type { WorkersStatus } from "../../src/cli/workers.ts";
import { formatStatus } from "../../src/cli/control-commands.ts";

const WAIT_MS = 20_000;
/** Enough connections that round-robin over two workers gives both some (it alternates). */
const CLIENTS = 6;

const FILES = {
  "handlers/echo.ts": "export default { message(conn, data) { conn.send(data.toString()); } };\n",
  "handlers/tasks/say.ts": "export default { handler: ({ data, rooms }) => rooms.push(data.room, 'said', { text: data.text, pid: process.pid }) };\n",
  "handlers/tasks/ping.ts": "export default { handler: () => ({ pid: process.pid }) };\n",
};

type Client = ProtoClient & { welcome: { data: { connection: string } } };
const clients: Client[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

/** One control request over the UNIX socket: the reply line's object (progress lines skipped). */
function control(path: string, command: string, args: unknown[] = []): Promise<{ ok: boolean; result?: unknown; error?: { code: string; message: string } }> {
  return within(new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let text = "";
    socket.setEncoding("utf8");
    socket.on("error", reject);
    socket.on("data", (chunk: string) => {
      text += chunk;
      for (const line of text.split("\n").slice(0, -1)) {
        const message = JSON.parse(line) as { ok?: boolean };
        if (message.ok !== undefined) {
          socket.destroy();
          resolve(message as { ok: boolean });
          return;
        }
      }
    });
    socket.on("connect", () => socket.write(JSON.stringify({ id: 1, command, args }) + "\n"));
  }), WAIT_MS, `control ${command}`);
}

async function status(socket: string): Promise<WorkersStatus> {
  const reply = await control(socket, "status");
  assert.equal(reply.ok, true, JSON.stringify(reply.error));
  return reply.result as WorkersStatus;
}

function nodeOf(connectionId: string): string {
  return connectionId.slice(connectionId.indexOf("@") + 1);
}

/** `serve ROOT/handlers --workers 2 --port 0` with its control socket and lock file in ROOT. */
async function serveTwoWorkers(root: string, env: Record<string, string> = {}): Promise<{ cli: RunningCli; socket: string; lockFile: string }> {
  const socket = join(root, "ctl.sock");
  const lockFile = join(root, "sb.lock");
  const cli = await startCli(["serve", join(root, "handlers"), "--workers", "2", "--port", "0"], {
    cwd: root,
    env: { SWITCHBOARD_CONTROL_SOCKET: socket, SWITCHBOARD_LOCK_FILE: lockFile, ...env },
  });
  return { cli, socket, lockFile };
}

test("serve --workers 2: one port, clients on both workers, room pushes once everywhere, restart after SIGKILL, status totals, stop drains with 1001", async (t) => {
  const root = makeTree(t, FILES, "sb-workers-");
  const socket = join(root, "ctl.sock");
  let cli: RunningCli | undefined;
  try {
    ({ cli } = await serveTwoWorkers(root));
    assert.match(cli.banner, /workers: 2 processes on one port \(pids \d+, \d+\)/);
    assert.equal(cli.banner.match(/listening on/g)?.length, 1, "the banner is printed once");
    const url = `ws://127.0.0.1:${cli.port}/app`;

    // Spread: connection ids carry the worker's node id.
    for (let i = 0; i < CLIENTS; i++) clients.push(await ProtoClient.open(url));
    const nodes = new Set(clients.map((c) => nodeOf(c.welcome.data.connection as string)));
    console.log(`# ${CLIENTS} connections over ${nodes.size} workers: ${[...nodes].join(", ")}`);
    assert.ok(nodes.size > 1, `more than one worker serves (saw ${[...nodes].join(", ")})`);

    // A room push from one client reaches every member, on both workers, exactly once.
    for (const c of clients) assert.equal((await c.call("room.join", { room: "hall" })).error, undefined);
    const reply = await clients[0]!.call("say", { room: "hall", text: "hello" });
    assert.equal(reply.error, undefined, JSON.stringify(reply.error));
    const marker = await clients[0]!.call("say", { room: "hall", text: "marker" });
    assert.equal(marker.error, undefined);
    for (const c of clients) {
      await c.next((f) => f.task === "said" && f.data?.text === "hello");
      await c.next((f) => f.task === "said" && f.data?.text === "marker");
      assert.equal(c.frames.filter((f) => f.task === "said" && f.data?.text === "hello").length, 0, "no member gets the push twice");
    }

    // status: a row per worker, totals = sums of the rows.
    const before = await status(socket);
    assert.equal(before.workers.length, 2);
    assert.deepEqual(before.workers.map((w) => w.state), ["running", "running"]);
    const sum = (pick: (s: NonNullable<WorkersStatus["workers"][number]["status"]>) => number): number =>
      before.workers.reduce((n, w) => n + pick(w.status!), 0);
    assert.equal(before.totals.connections, sum((s) => s.endpoints.reduce((m, e) => m + e.connections, 0)));
    assert.equal(before.totals.connections, CLIENTS);
    assert.equal(before.totals.rooms, sum((s) => s.rooms ?? 0));
    assert.equal(before.totals.tasks, sum((s) => s.tasks));
    assert.deepEqual(new Set(before.workers.map((w) => w.status!.nodeId)), nodes, "the rows are the workers the clients saw");
    // The readable table (switchboard status without --json): a row per worker, then the totals.
    const table = formatStatus(before);
    for (const w of before.workers) assert.match(table, new RegExp(`^${w.index}\\s+${w.pid}\\s+running\\s`, "m"));
    assert.match(table, new RegExp(`^total\\s+2 workers\\s+${CLIENTS} connections`, "m"));
    assert.match(table, /workers over IPC, up/);

    // SIGKILL one worker: its clients are cut, it is forked again, new connections work.
    const victim = before.workers[1]!;
    const victimPid = victim.pid!;
    const cut = clients.filter((c) => nodeOf(c.welcome.data.connection as string) === victim.status!.nodeId);
    process.kill(victimPid, "SIGKILL");
    for (const c of cut) assert.equal((await c.waitClosed(WAIT_MS)).code, 1006, "a killed worker's client sees the connection drop");
    clients.splice(0, clients.length, ...clients.filter((c) => !cut.includes(c)));
    let restarted: WorkersStatus | undefined;
    await eventually("the worker is forked again", async () => {
      restarted = await status(socket);
      return restarted.workers.every((w) => w.state === "running") && restarted.workers[1]!.pid !== victimPid;
    }, WAIT_MS, 100);
    assert.equal(restarted!.workers[1]!.restarts, 1);
    assert.equal(alive(victimPid), false);
    const pids = restarted!.workers.map((w) => w.pid!);
    for (let i = 0; i < CLIENTS; i++) {
      const c = await ProtoClient.open(url);
      clients.push(c);
      assert.equal((await c.call("ping", null)).error, undefined);
    }
    const renewed = new Set(clients.map((c) => nodeOf(c.welcome.data.connection as string)));
    assert.ok([...renewed].some((n) => !nodes.has(n)), "the new worker serves connections");

    // stop: every client gets 1001, the primary exits 0, no worker is left.
    const closes = clients.map((c) => c.waitClosed(WAIT_MS));
    const stopped = await control(socket, "stop");
    assert.equal(stopped.ok, true, JSON.stringify(stopped.error));
    for (const close of await Promise.all(closes)) assert.equal(close.code, 1001);
    const code = await within(new Promise<number | null>((resolve) => {
      if (cli!.child.exitCode !== null) resolve(cli!.child.exitCode);
      else cli!.child.once("exit", (c) => resolve(c));
    }), WAIT_MS, "the primary exits");
    assert.equal(code, 0);
    for (const pid of pids) assert.equal(alive(pid), false, `worker ${pid} is gone`);
  } finally {
    await cli?.stop();
  }
});

test("workers: an integer from 1 to 64 or auto (the machine's cores), from the flag or SWITCHBOARD_WORKERS; anything else names the key", async () => {
  const resolveWith = (cli: string | undefined, env: Record<string, string> = {}) =>
    resolveConfig({ cwd: tmpdir(), env, cli: { workers: cli } });
  assert.equal((await resolveWith(undefined)).workers, 1, "default: one process");
  assert.equal((await resolveWith("3")).workers, 3);
  assert.equal((await resolveWith(undefined, { SWITCHBOARD_WORKERS: "2" })).workers, 2);
  assert.equal((await resolveWith("auto")).workers, Math.min(64, availableParallelism()));
  for (const bad of ["0", "65", "abc", "1.5", "-1", ""]) {
    await assert.rejects(resolveWith(bad), (err: Error) => err instanceof OptionError && /workers/.test(err.message) && /1 to 64, or "auto"/.test(err.message), `--workers ${JSON.stringify(bad)}`);
  }
});

test("serve --workers 2: SIGTERM to the primary stops every worker (clients get 1001), exit 0, lock file and control socket gone", async (t) => {
  const root = makeTree(t, FILES, "sb-workers-term-");
  const { cli, socket, lockFile } = await serveTwoWorkers(root);
  try {
    const pids = (await status(socket)).workers.map((w) => w.pid!);
    assert.equal(pids.length, 2);
    const local: Client[] = [];
    for (let i = 0; i < 4; i++) local.push(await ProtoClient.open(`ws://127.0.0.1:${cli.port}/app`));
    clients.push(...local);
    const closes = local.map((c) => c.waitClosed(WAIT_MS));
    assert.equal(await cli.stop(), 0);
    for (const close of await Promise.all(closes)) assert.equal(close.code, 1001);
    for (const pid of pids) assert.equal(alive(pid), false, `worker ${pid} is gone`);
    assert.equal(existsSync(lockFile), false, "lock file released");
    assert.equal(existsSync(socket), false, "control socket removed");
  } finally {
    await cli.stop();
  }
});

test("serve --workers 2: command reload replaces the workers one at a time (new PIDs, the old ones' clients get 1001, new connections work after)", async (t) => {
  const root = makeTree(t, FILES, "sb-workers-reload-");
  const { cli, socket } = await serveTwoWorkers(root);
  try {
    const url = `ws://127.0.0.1:${cli.port}/app`;
    const oldPids = (await status(socket)).workers.map((w) => w.pid!);
    const local: Client[] = [];
    for (let i = 0; i < 4; i++) local.push(await ProtoClient.open(url));
    clients.push(...local);
    const closes = local.map((c) => c.waitClosed(WAIT_MS));
    const reply = await control(socket, "reload");
    assert.equal(reply.ok, true, JSON.stringify(reply.error));
    const replaced = (reply.result as { replaced: Array<{ index: number; from: number; to: number }> }).replaced;
    assert.deepEqual(replaced.map((r) => r.from), oldPids);
    for (const close of await Promise.all(closes)) assert.equal(close.code, 1001, "the old workers closed their clients with 1001");
    for (const pid of oldPids) assert.equal(alive(pid), false, `old worker ${pid} is gone`);
    const after = await status(socket);
    assert.deepEqual(after.workers.map((w) => w.state), ["running", "running"]);
    assert.deepEqual(after.workers.map((w) => w.pid), replaced.map((r) => r.to));
    assert.ok(after.workers.every((w) => !oldPids.includes(w.pid!)), "every worker is new");
    const fresh = await ProtoClient.open(url);
    clients.push(fresh);
    assert.equal((await fresh.call("ping", null)).error, undefined);
    assert.equal((await control(socket, "reload", ["x"])).error?.code, "bad_args");
  } finally {
    assert.equal(await cli.stop(), 0);
  }
});

/** An endpoint file whose messages become app.broadcasts (a factory reaches the app). */
const ACROSS_FILES = {
  ...FILES,
  "handlers/shout.ts": "export default (served) => ({ message(conn, data) { served.app().broadcast('shouted', { text: data.toString(), pid: process.pid }); conn.send('ok'); } });\n",
};

test("serve --workers 2: presence, app.broadcast and history across workers; a rolling reload loses nothing for clients that recover", async (t) => {
  const root = makeTree(t, ACROSS_FILES, "sb-workers-across-");
  const { cli, socket } = await serveTwoWorkers(root, { SWITCHBOARD_APP_PRESENCE: "true" });
  const plain: TestClient[] = [];
  try {
    const app = `ws://127.0.0.1:${cli.port}/app?streams=1`;
    const members: Array<Client & { pid: number; position: { offset: number; epoch: string } }> = [];
    for (let i = 0; i < 4; i++) {
      const c = await ProtoClient.open(app);
      clients.push(c);
      const pid = (await c.call("ping", null)).data.pid as number;
      const joined = await c.call("room.join", { room: "log" });
      assert.equal(joined.error, undefined, JSON.stringify(joined.error));
      members.push(Object.assign(c, { pid, position: { offset: joined.data.offset as number, epoch: joined.data.epoch as string } }));
    }
    assert.equal(new Set(members.map((m) => m.pid)).size, 2, "the members are on both workers");

    // Presence spans the workers: every member is listed, wherever it is connected.
    const listed = await members[0]!.call("room.members", { room: "log" });
    assert.equal(listed.error, undefined, JSON.stringify(listed.error));
    assert.deepEqual((listed.data.members as Array<{ connection: string }>).map((m) => m.connection).sort(),
      members.map((m) => m.welcome.data.connection as string).sort());

    // app.broadcast from one worker reaches the app's clients on both, once each.
    const shouter = await connect(`ws://127.0.0.1:${cli.port}/shout`);
    plain.push(shouter);
    for (const text of ["hey", "end"]) {
      shouter.send(text);
      assert.equal((await shouter.next(WAIT_MS)).text, "ok");
    }
    for (const m of members) {
      await m.next((f) => f.task === "shouted" && f.data?.text === "hey");
      // The later broadcast is in: a duplicate of the first would have come before it (one ordered channel per worker).
      await m.next((f) => f.task === "shouted" && f.data?.text === "end");
      assert.equal(m.frames.filter((f) => f.task === "shouted" && f.data?.text === "hey").length, 0, "one broadcast, one delivery");
    }

    // A push carries one offset sequence for the room, whichever worker published it.
    const deliver = async (from: Client, text: string): Promise<void> => {
      assert.equal((await from.call("say", { room: "log", text })).error, undefined);
      const offsets = new Set<number>();
      for (const m of members) {
        const push: Frame = await m.next((f) => f.task === "said" && f.data?.text === text);
        offsets.add(push.offset as number);
        m.position = { offset: push.offset as number, epoch: push.epoch as string };
      }
      assert.equal(offsets.size, 1, `every member saw "${text}" at the same offset`);
    };
    await deliver(members[0]!, "p1");
    await deliver(members.find((m) => m.pid !== members[0]!.pid)!, "p2");

    // Rolling reload: every member is closed with 1001 by its old worker; pushes published
    // while they are away are recovered, exactly, when they come back with their position.
    const closes = members.map((m) => m.waitClosed(WAIT_MS));
    const reply = await control(socket, "reload");
    assert.equal(reply.ok, true, JSON.stringify(reply.error));
    for (const close of await Promise.all(closes)) assert.equal(close.code, 1001);
    const publisher = await ProtoClient.open(app);
    clients.push(publisher);
    for (const text of ["m1", "m2", "m3"]) assert.equal((await publisher.call("say", { room: "log", text })).error, undefined);
    for (const m of members) {
      const back = await ProtoClient.open(app);
      clients.push(back);
      const rejoined = await back.call("room.join", { room: "log", since: m.position });
      assert.equal(rejoined.error, undefined, JSON.stringify(rejoined.error));
      assert.equal(rejoined.data.recovered, true, "the history is the primary's: it outlives the workers");
      assert.equal(rejoined.data.epoch, m.position.epoch);
      assert.deepEqual((rejoined.data.pushes as Frame[]).map((p) => p.data.text), ["m1", "m2", "m3"], "every missed push, once, in order");
    }
  } finally {
    await Promise.all(plain.map((c) => c.close()));
    assert.equal(await cli.stop(), 0);
  }
});

test("serve --workers 2: Ctrl+C (SIGINT to the whole process group) stops gracefully: a task in flight answers, then 1001, exit 0", async (t) => {
  const root = makeTree(t, { ...FILES, "handlers/tasks/slow.ts": "export default { handler: async () => { await new Promise((r) => setTimeout(r, 500)); return { done: true }; } };\n" }, "sb-workers-int-");
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: "silent", SWITCHBOARD_LOG_LEVEL: "warn" };
  for (const name of Object.keys(env)) if (name.startsWith("SWITCHBOARD_") && name !== "SWITCHBOARD_LOG_LEVEL") delete env[name];
  Object.assign(env, { SWITCHBOARD_CONTROL_SOCKET: join(root, "ctl.sock"), SWITCHBOARD_LOCK_FILE: join(root, "sb.lock") });
  // Its own process group, as a terminal's foreground job: the primary and both workers get the SIGINT.
  const child = spawn(process.execPath, [BIN, "serve", join(root, "handlers"), "--workers", "2", "--port", "0"], { cwd: root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    let out = "";
    const port = await within(new Promise<number>((resolve) => child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      const match = /listening on http:\/\/[^\s]+:(\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    })), WAIT_MS, "the banner");
    const c = await ProtoClient.open(`ws://127.0.0.1:${port}/app`);
    clients.push(c);
    const closed = c.waitClosed(WAIT_MS);
    const reply = c.call("slow", null, WAIT_MS);
    // The task is in flight once the status counts it.
    await eventually("the task is in flight", async () => (await status(join(root, "ctl.sock"))).totals.tasks === 1, WAIT_MS, 20);
    process.kill(-child.pid!, "SIGINT");
    assert.deepEqual((await reply).data, { done: true }, "the task in flight answered");
    assert.equal((await closed).code, 1001);
    assert.equal(await within(exited, WAIT_MS, "the primary exits"), 0);
  } finally {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGKILL");
  }
});

test("serve --workers 2: other control commands are forwarded: every worker runs log-level, connections and kick; one worker runs push (it reaches every member once); unknown commands and bad arguments are refused as by one server", async (t) => {
  const root = makeTree(t, FILES, "sb-workers-commands-");
  const { cli, socket } = await serveTwoWorkers(root);
  const local: Client[] = [];
  try {
    const url = `ws://127.0.0.1:${cli.port}/app`;
    for (let i = 0; i < 4; i++) {
      const c = await ProtoClient.open(url);
      local.push(c);
      assert.equal((await c.call("room.join", { room: "news" })).error, undefined);
    }
    const byNode = new Set(local.map((c) => nodeOf(c.welcome.data.connection)));
    assert.equal(byNode.size, 2, "the clients are on both workers");

    type Row = { index: number; pid: number; ok: boolean; result?: unknown; error?: { code: string } };
    // help: the primary's own commands, then the forwarded ones with where they run.
    const help = await control(socket, "help");
    assert.equal(help.ok, true);
    const names = (help.result as Array<{ name: string; help: string }>).map((r) => r.name);
    for (const name of ["status", "stop", "reload", "push", "log-level", "connections", "kick"]) assert.ok(names.includes(name), `help lists ${name}`);
    assert.match((help.result as Array<{ name: string; help: string }>).find((r) => r.name === "push")!.help, /one worker/);

    // log-level: every worker answers with its new level.
    const level = await control(socket, "log-level", ["debug"]);
    assert.equal(level.ok, true, JSON.stringify(level.error));
    const levels = (level.result as { workers: Row[] }).workers;
    assert.equal(levels.length, 2);
    for (const row of levels) assert.equal(row.ok, true, JSON.stringify(row));

    // connections: each worker lists its own; together they are every client.
    const listed = await control(socket, "connections", ["/app"]);
    assert.equal(listed.ok, true, JSON.stringify(listed.error));
    const ids = (listed.result as { workers: Row[] }).workers.flatMap((row) => (row.result as Array<{ id: string }>).map((c) => c.id));
    assert.deepEqual(ids.sort(), local.map((c) => c.welcome.data.connection).sort());

    // push runs on one worker: the engine brings it to every member, once.
    const pushed = await control(socket, "push", ["news", "flash", '{"n":1}']);
    assert.equal(pushed.ok, true, JSON.stringify(pushed.error));
    const marker = await control(socket, "push", ["news", "flash", '{"n":2}']);
    assert.equal(marker.ok, true);
    for (const c of local) {
      await c.next((f) => f.task === "flash" && f.data?.n === 1);
      await c.next((f) => f.task === "flash" && f.data?.n === 2);
      assert.equal(c.frames.filter((f) => f.task === "flash" && f.data?.n === 1).length, 0, "no member gets the push twice");
    }

    // kick: only the worker holding the connection finds it; the reply is ok and says which.
    const victim = local.pop()!;
    const closed = victim.waitClosed(WAIT_MS);
    const kicked = await control(socket, "kick", [victim.welcome.data.connection, "4000", "bye"]);
    assert.equal(kicked.ok, true, JSON.stringify(kicked.error));
    const rows = (kicked.result as { workers: Row[] }).workers;
    assert.equal(rows.filter((r) => r.ok).length, 1, "one worker held it");
    assert.deepEqual(await closed, { code: 4000, reason: "bye" });

    // Refusals, as one server gives them.
    const unknown = await control(socket, "nope");
    assert.equal(unknown.ok, false);
    assert.equal(unknown.error!.code, "unknown_command");
    const bad = await control(socket, "push", ["news", "flash", "{not json"]);
    assert.equal(bad.ok, false);
    assert.equal(bad.error!.code, "bad_args");
  } finally {
    await Promise.all(local.map((c) => c.close()));
    assert.equal(await cli.stop(), 0);
  }
});
