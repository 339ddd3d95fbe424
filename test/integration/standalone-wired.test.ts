/**
 * `switchboard serve`, fully wired (issue 16), through the real CLI processes: a service file
 * and an endpoint factory push to rooms of the app at /app; the config file's `app` keys and
 * app limits take effect; `command push` publishes a protocol push; `status` lists rooms;
 * --control-socket / --lock-file; status and stop find the server from a subfolder or by
 * --socket; the banner comes before the logs; `command help` is a table.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, lstatSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, startCli } from "../helpers/cli.ts";
import { ProtoClient } from "../helpers/app-client.ts";
import WebSocket from "ws";
import { connect, withTimeout } from "../helpers/ws-client.ts";
import { makeTree } from "../helpers/tree.ts";
import { eventually } from "../helpers/until.ts";
import { signSessionToken } from "../../src/index.ts";

const SECRET = "wired-test-secret-0123456789abcdef";

/** A served folder whose files reach the app; no `import` lines, so it needs no package setup. */
const SITE: Record<string, string> = {
  "switchboard.config.json": JSON.stringify({
    port: 0,
    limits: { maxInFlightTasks: 1 },
    app: { presence: true, sessionSecret: SECRET, sessionRequired: false },
  }),
  // An endpoint factory: called once at load with the served handle.
  "handlers/notify.ts": `export default (served) => ({
  message(conn, data) {
    const members = served.app().rooms.push("news", "note", { text: data.toString() });
    conn.send("pushed to " + members);
  },
});
`,
  // A service that pushes to a room while it has members (bounded: at most 10,000 pushes).
  "handlers/services/ticker.ts": `export default {
  async main(signal, ctx) {
    for (let n = 0; n < 10000 && !signal.aborted; n++) {
      await new Promise((r) => setTimeout(r, 20));
      const app = ctx.app("/app");
      if (app.rooms.size("ticks") > 0) app.rooms.push("ticks", "tick", { n, port: ctx.server.port });
    }
    if (!signal.aborted) await new Promise((r) => signal.addEventListener("abort", r, { once: true }));
  },
};
`,
  // hold: runs until release is called (so a second call is certainly in flight at the same time).
  "handlers/tasks/_gate.ts": `export const gate = { waiting: [] };\n`,
  "handlers/tasks/hold.ts": `import { gate } from "./_gate.ts";
export default { handler: () => new Promise((resolve) => gate.waiting.push(resolve)) };
`,
  "handlers/tasks/release.ts": `import { gate } from "./_gate.ts";
export default { handler: () => { const n = gate.waiting.length; for (const r of gate.waiting.splice(0)) r("released"); return n; } };
`,
};

/**
 * How the app refused a connection: "http 401" before the upgrade, or "close 4401" (the app's
 * refusal block, docs/protocol.md "Refusals") after it. A connection that stays open fails the wait.
 */
function refusal(url: string): Promise<string> {
  const ws = new WebSocket(url, ["switchboard.v1"]);
  return withTimeout(new Promise<string>((resolve) => {
    ws.once("unexpected-response", (req, res) => {
      resolve(`http ${res.statusCode}`);
      req.destroy();
    });
    ws.once("close", (code) => resolve(`close ${code}`));
    ws.on("error", () => undefined); // the destroyed request; the answer is already in
  }), 10_000, "the connection was not refused");
}

/** The runtime settings of the test helper's environment are unset: the flags or the defaults decide. */
const NO_RUNTIME_ENV = { SWITCHBOARD_CONTROL_SOCKET: undefined, SWITCHBOARD_LOCK_FILE: undefined };

test("a served folder, wired: service and endpoint pushes, app config, command push, status rooms, flags, help table", async (t) => {
  const site = makeTree(t, SITE, "sbw-");
  const sock = join(site, "run", "ctl.sock");
  const lock = join(site, "run", "srv.lock");
  mkdirSync(join(site, "run"));
  const cli = await startCli(["serve", "handlers", "--control-socket", sock, "--lock-file", lock],
    { cwd: site, env: { ...NO_RUNTIME_ENV, SWITCHBOARD_LOG_LEVEL: "info" } });
  t.after(() => cli.stop());
  const url = `ws://127.0.0.1:${cli.port}/app`;

  // The banner comes first: nothing before its last line is a log line.
  const beforeListening = cli.banner.slice(0, cli.banner.indexOf("listening on"));
  assert.match(beforeListening, /^switchboard serving \.\/handlers/);
  assert.doesNotMatch(beforeListening, /^\{/m);
  assert.match(beforeListening, /service ticker +services\/ticker\.ts/);
  // ... and the start-up log lines follow it (held, then released).
  let later = cli.banner;
  cli.child.stdout!.on("data", (chunk: string) => (later += chunk));
  await eventually("the start-up log lines after the banner", () => /listening on[^]*"msg":"server ready"/.test(later));

  // The two flags: the lock file holds the server's PID, the control socket is a socket.
  assert.equal((JSON.parse(readFileSync(lock, "utf8")) as { pid: number }).pid, cli.child.pid);
  assert.ok(lstatSync(sock).isSocket());
  assert.ok(!existsSync(join(site, "switchboard.sock")), "the default socket is not used when --control-socket is given");

  // A service file pushes to a room: a real app client in that room gets it.
  const ticker = await ProtoClient.open(url, { query: { room: "ticks" } });
  t.after(() => ticker.close());
  const tick = await ticker.next((f) => f.task === "tick");
  assert.equal(tick.data.port, cli.port);
  assert.equal(typeof tick.data.n, "number");

  // An endpoint factory pushes to a room through served.app().
  const reader = await ProtoClient.open(url, { query: { room: "news" } });
  t.after(() => reader.close());
  const notifier = await connect(`ws://127.0.0.1:${cli.port}/notify`);
  t.after(() => notifier.close());
  notifier.send("from an endpoint");
  assert.equal((await notifier.next()).text, "pushed to 1");
  assert.deepEqual(await reader.next((f) => f.task === "note"), { task: "note", data: { text: "from an endpoint" } });

  // App config keys: presence lists members in the join reply; the session takes signed tokens
  // (a bad one is 401; sessionRequired false lets a client without one in, as above).
  const joined = await reader.call("room.join", { room: "lobby" });
  assert.deepEqual(joined.data.members.map((m: { connection: string }) => m.connection), [reader.welcome.data.connection]);
  assert.match(await refusal(`${url}?session=not-a-token`), /^(http 401|close 4401)$/);
  const token = await signSessionToken(SECRET, { id: "ada" });
  const ada = await ProtoClient.open(url, { query: { session: token } });
  t.after(() => ada.close());
  assert.equal(ada.welcome.data.user.id, "ada");

  // An app limit from the config (limits.maxInFlightTasks = 1): the second call in flight gets
  // the documented error reply, "overloaded".
  const held = ada.call("hold", null);
  const second = await ada.call("hold", null);
  assert.equal(second.error.code, "overloaded");
  const released = await reader.call("release", null);
  assert.equal(released.data, 1);
  assert.equal((await held).data, "released");

  // command push: a real protocol push, through the app's rooms (it has a stream position).
  const push = await runCli(["command", "push", "news", "news.flash", '{"text":"hi"}', "--socket", sock], { env: NO_RUNTIME_ENV });
  assert.equal(push.code, 0, push.stderr);
  const pushed = JSON.parse(push.stdout) as { app: string; room: string; task: string; offset: number; epoch: string; members: number };
  assert.deepEqual({ ...pushed, epoch: typeof pushed.epoch }, { app: "/app", room: "news", task: "news.flash", offset: pushed.offset, epoch: "string", members: 1 });
  assert.ok(pushed.offset >= 1);
  assert.deepEqual(await reader.next((f) => f.task === "news.flash"), { task: "news.flash", data: { text: "hi" } });

  // ... and its errors: bad JSON, an unknown room, an unknown app, --app on another command.
  const errors: Array<[string[], RegExp]> = [
    [["command", "push", "news", "news.flash", '{"text":'], /^switchboard push: JSON is not valid JSON .*quote it for the shell/],
    [["command", "push", "nowhere", "news.flash", "{}"], /^switchboard push: no room "nowhere" on \/app: it has no members on any node \(rooms on this node: .*news/],
    [["command", "push", "news", "news.flash", "{}", "--app", "/nope"], /^switchboard push: no app at "\/nope" \(known: \/app\)/],
    [["command", "status", "--app", "/app"], /--app is an option of push only/],
  ];
  for (const [args, pattern] of errors) {
    const result = await runCli([...args, "--socket", sock], { env: NO_RUNTIME_ENV });
    assert.equal(result.code, 1, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, pattern);
  }

  // status lists rooms, the biggest first, and says how many there are when it cuts the list.
  const status = await runCli(["status", "--socket", sock], { env: NO_RUNTIME_ENV });
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^ROOM +APP +MEMBERS$/m);
  for (const [room, members] of [["news", 1], ["ticks", 1], ["lobby", 1]] as const) {
    assert.match(status.stdout, new RegExp(`^${room} +/app +${members}$`, "m"));
  }
  const cut = await runCli(["status", "--rooms", "1", "--socket", sock], { env: NO_RUNTIME_ENV });
  assert.match(cut.stdout, /^… 2 more \(3 rooms in all; switchboard status --rooms N lists more\)$/m);
  const json = JSON.parse((await runCli(["status", "--json", "--socket", sock], { env: NO_RUNTIME_ENV })).stdout) as { roomList: { total: number } };
  assert.equal(json.roomList.total, 3);

  // command help: an aligned table, every description in one column.
  const help = await runCli(["command", "help", "--socket", sock], { env: NO_RUNTIME_ENV });
  assert.equal(help.code, 0, help.stderr);
  const rows = help.stdout.split("\n\n")[0]!.split("\n");
  assert.match(rows[0]!, /^COMMAND +DESCRIPTION$/);
  const column = rows[0]!.indexOf("DESCRIPTION");
  assert.ok(rows.length > 8, help.stdout);
  for (const row of rows.slice(1)) {
    assert.equal(row.slice(column - 2, column), "  ", row);
    assert.notEqual(row[column], " ", row);
  }
  assert.match(help.stdout, /^push ROOM TASK JSON \[APP\] +publish a protocol push/m);
  assert.match(help.stdout, /^stop +refuse new connections/m);

  assert.equal(await cli.stop(), 0);
});

test("status and stop find the server from a subfolder of where it was started, or by --socket", async (t) => {
  const site = makeTree(t, {
    "switchboard.config.json": JSON.stringify({ port: 0 }),
    "handlers/echo.ts": "export default { message(conn, data) { conn.send(data); } };\n",
    "handlers/tasks/ping.ts": "export default { handler: () => 'pong' };\n",
  }, "sbw-");
  // Default locations: the server's working directory.
  const cli = await startCli(["serve"], { cwd: site, env: NO_RUNTIME_ENV });
  t.after(() => cli.stop());
  assert.ok(lstatSync(join(site, "switchboard.sock")).isSocket());

  const deep = join(site, "handlers", "tasks");
  const status = await runCli(["status"], { cwd: deep, env: NO_RUNTIME_ENV });
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, new RegExp(`^Switchboard +pid ${cli.child.pid} `));

  // From an unrelated folder: not found (exit 3, names where it looked), then by --socket.
  const unrelated = makeTree(t, { "notes.txt": "not a served folder" }, "sbw-other-");
  const elsewhere = await runCli(["status"], { cwd: unrelated, env: NO_RUNTIME_ENV });
  assert.equal(elsewhere.code, 3);
  assert.match(elsewhere.stderr, /no Switchboard server is listening on .*switchboard\.sock/);
  const bySocket = await runCli(["status", "--socket", join(site, "switchboard.sock")], { cwd: unrelated, env: NO_RUNTIME_ENV });
  assert.equal(bySocket.code, 0, bySocket.stderr);

  const exited = new Promise<number | null>((resolve) => cli.child.once("exit", (code) => resolve(code)));
  const stop = await runCli(["stop"], { cwd: join(site, "handlers"), env: NO_RUNTIME_ENV });
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stdout, /server stopped/);
  assert.equal(await exited, 0);
  assert.ok(!existsSync(join(site, "switchboard.lock")), "the lock file is released");
});

test("error messages finish the job: misplaced task and service files, an option typo, a file given as DIR", async (t) => {
  const dir = makeTree(t, {
    "handlers/say.ts": "export default { handler: () => 'hi' };\n",
    "handlers/ticker.ts": "export default { start() {} };\n",
    "handlers/typo.ts": "export default { mesage() {} };\n",
    "handlers/later.ts": "export default async (served) => ({ open() {} });\n",
  }, "sbw-");
  const result = await runCli(["serve", "handlers", "--port", "0"], { cwd: dir, env: NO_RUNTIME_ENV });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /later\.ts: the default export must be an object made with defineEndpoint\(\{ … \}\) or a factory .*got a function that returned a promise/);
  assert.match(result.stderr, /say\.ts: this is a task definition \(defineTask\), and only files under tasks\/ are tasks: move it to tasks\//);
  assert.match(result.stderr, /ticker\.ts: this is a service definition \(defineService\), and only files under services\/ are services: move it to services\//);

  const typo = makeTree(t, { "typo.ts": "export default { mesage() {} };\n" }, "sbw-");
  const typoResult = await runCli(["serve", typo, "--port", "0"], { env: NO_RUNTIME_ENV });
  assert.equal(typoResult.code, 1);
  assert.match(typoResult.stderr, /typo\.ts: option "mesage": unknown option for endpoint \/typo \(did you mean "message"\?\)/);

  const file = await runCli(["serve", join(typo, "typo.ts"), "--port", "0"], { env: NO_RUNTIME_ENV });
  assert.equal(file.code, 1);
  assert.match(file.stderr, /this is a file, not a folder: serve the folder that holds it/);
});

test("the banner's hints for an empty kind name its folder", async (t) => {
  const dir = makeTree(t, { "echo.ts": "export default { message(conn, data) { conn.send(data); } };\n" }, "sbw-");
  const cli = await startCli(["serve", dir, "--port", "0"], { cwd: dir, env: NO_RUNTIME_ENV });
  t.after(() => cli.stop());
  assert.match(cli.banner, /tasks \(0\):\n +none: add a task file under tasks\/ such as \S*tasks\/hello\.ts \(export default defineTask\(\{ handler \}\)\)\n/);
  assert.match(cli.banner, /services \(0\):\n +none: add a service file under services\/ such as \S*services\/ticker\.ts \(export default defineService/);
  assert.equal(await cli.stop(), 0);
});
