/**
 * `switchboard serve --watch` as a user runs it: a real CLI process on port 0, files of its
 * handler folder edited, added and deleted while clients are connected. Every wait is on an
 * event: a "reloaded …" log line from the server, a close frame, a reply, a push.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { runCli, startCli, type RunningCli } from "../helpers/cli.ts";
import { connect, refusedStatus, withTimeout } from "../helpers/ws-client.ts";
import { ProtoClient } from "../helpers/app-client.ts";
import { tempDir } from "../helpers/tempdir.ts";
import { startServer } from "../helpers/server.ts";
import { OptionError, StateError, type App } from "../../src/index.ts";
import { Supervisor } from "../../src/runtime/supervisor.ts";

const WAIT_MS = 15_000;

/** The server's JSON log lines on stdout, and a wait for the next one that matches. */
class LogLines {
  readonly lines: Array<{ level: number; msg: string; [key: string]: unknown }> = [];
  #buffer = "";
  #waiters: Array<{ from: number; match: (msg: string) => boolean; resolve: (msg: string) => void }> = [];

  /** `printed`: what startCli() read already (the banner, and the held start-up lines that came with it). */
  constructor(printed: string, stdout: Readable) {
    this.#add(printed);
    stdout.on("data", (chunk: string) => this.#add(chunk));
  }

  #add(text: string): void {
    this.#buffer += text;
    let newline: number;
    while ((newline = this.#buffer.indexOf("\n")) >= 0) {
      const line = this.#buffer.slice(0, newline);
      this.#buffer = this.#buffer.slice(newline + 1);
      if (!line.startsWith("{")) continue;
      this.lines.push(JSON.parse(line));
      this.#check();
    }
  }

  /** Where the next line will go: wait for lines after it with `after(mark, …)`. */
  mark(): number {
    return this.lines.length;
  }

  /** The first line at or after `from` whose msg matches. */
  after(from: number, pattern: RegExp, what = String(pattern)): Promise<string> {
    const promise = new Promise<string>((resolve) => this.#waiters.push({ from, match: (msg) => pattern.test(msg), resolve }));
    this.#check();
    return withTimeout(promise, WAIT_MS, `no log line ${what} (got: ${this.lines.slice(from).map((l) => l.msg).join(" / ")})`);
  }

  #check(): void {
    this.#waiters = this.#waiters.filter((w) => {
      const found = this.lines.slice(w.from).find((l) => w.match(String(l.msg)));
      if (found === undefined) return true;
      w.resolve(String(found.msg));
      return false;
    });
  }
}

const ECHO = (tag: string) => `export default { message(conn, data) { conn.send(${JSON.stringify(tag)} + ":" + data); } };\n`;
const TASK = (result: string) => `export default { handler: () => ${JSON.stringify(result)} };\n`;
// A service that pushes { v } to every app connection every 50 ms until it is stopped.
const TICKER = (v: number) => `export default {
  async main(signal, ctx) {
    const timer = setInterval(() => ctx.app().broadcast("tick", { v: ${v} }), 50);
    await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
    clearInterval(timer);
  },
};\n`;

function write(dir: string, rel: string, text: string): void {
  mkdirSync(dirname(join(dir, rel)), { recursive: true });
  writeFileSync(join(dir, rel), text);
}

async function echoes(url: string, text: string): Promise<string> {
  const client = await connect(url);
  client.send(text);
  const reply = (await client.next()).text;
  await client.close();
  return reply;
}

test("serve --watch: endpoints, tasks and services reload in a running process", async (t) => {
  const root = tempDir(t, "sb-watch-");
  const dir = join(root, "handlers");
  write(dir, "a.ts", ECHO("a1"));
  write(dir, "b.ts", ECHO("b1"));
  write(dir, "tasks/add.ts", TASK("t1"));
  write(dir, "services/ticker.ts", TICKER(1));
  const cli: RunningCli = await startCli(["serve", dir, "--port", "0", "--watch"], { cwd: root, env: { SWITCHBOARD_LOG_LEVEL: "info" } });
  t.after(() => cli.stop());
  const logs = new LogLines(cli.banner, cli.child.stdout!);
  const url = (path: string) => `ws://127.0.0.1:${cli.port}${path}`;
  assert.match(cli.banner, /watching .*handlers: changed files are reloaded/);

  const a = await connect(url("/a"));
  const b = await connect(url("/b"));
  const app = await ProtoClient.open(url("/app"));
  t.after(() => Promise.all([a.close(), b.close(), app.close()]));

  await t.test("a changed endpoint closes its clients with 1012; new clients get the new code; other endpoints stay", async () => {
    const mark = logs.mark();
    const saved = performance.now();
    write(dir, "a.ts", ECHO("a2"));
    assert.deepEqual(await a.waitClosed(WAIT_MS), { code: 1012, reason: "service restart" });
    const closedMs = performance.now() - saved;
    await logs.after(mark, /^reloaded endpoint \/a \(a\.ts\)$/);
    // A figure, not a threshold: save → close frame at the client (includes watchDebounceMs, 100 ms).
    console.log(`endpoint reload: save to 1012 at the client ${closedMs.toFixed(0)} ms`);
    assert.equal(await echoes(url("/a"), "x"), "a2:x");
    b.send("y");
    assert.equal((await b.next()).text, "b1:y");
    assert.equal(b.ws.readyState, b.ws.OPEN);
  });

  await t.test("a changed task answers the next call on the same connection", async () => {
    assert.equal((await app.call("add", null)).data, "t1");
    const mark = logs.mark();
    write(dir, "tasks/add.ts", TASK("t2"));
    await logs.after(mark, /^reloaded task add \(tasks\/add\.ts\)$/);
    assert.equal((await app.call("add", null)).data, "t2");
    assert.equal(app.ws.readyState, app.ws.OPEN);
  });

  await t.test("a new task file is callable; deleted, it answers unknown_task", async () => {
    let mark = logs.mark();
    write(dir, "tasks/extra/more.ts", TASK("more"));
    await logs.after(mark, /^added task extra\.more \(tasks\/extra\/more\.ts\)$/);
    assert.equal((await app.call("extra.more", null)).data, "more");
    mark = logs.mark();
    rmSync(join(dir, "tasks/extra"), { recursive: true });
    await logs.after(mark, /^removed task extra\.more/);
    assert.equal((await app.call("extra.more", null)).error.code, "unknown_task");
  });

  await t.test("a changed service is restarted with the new code", async () => {
    await app.next((f) => f.task === "tick" && f.data.v === 1, WAIT_MS);
    const mark = logs.mark();
    write(dir, "services/ticker.ts", TICKER(2));
    await logs.after(mark, /^reloaded service ticker \(services\/ticker\.ts\)$/);
    app.frames.length = 0; // ticks of the old run that were queued before the restart
    await app.next((f) => f.task === "tick" && f.data.v === 2, WAIT_MS);
    // The old run was stopped: from now on only v 2 arrives.
    app.frames.length = 0;
    const next = await app.next((f) => f.task === "tick", WAIT_MS);
    assert.equal(next.data.v, 2);
  });

  await t.test("a broken save is logged and the old code keeps answering; the next good save loads", async () => {
    const kept = await connect(url("/a"));
    let mark = logs.mark();
    write(dir, "a.ts", "export default { message(conn, data) { conn.send( };\n");
    const failed = await logs.after(mark, /^reload failed: a\.ts: /);
    assert.match(failed, /previous version keeps running/);
    assert.equal(logs.lines.find((l) => l.msg === failed)?.level, 50, "logged as an error");
    kept.send("z");
    assert.equal((await kept.next()).text, "a2:z");
    assert.equal(await echoes(url("/a"), "w"), "a2:w");

    mark = logs.mark();
    write(dir, "a.ts", ECHO("a3"));
    assert.equal((await kept.waitClosed(WAIT_MS)).code, 1012);
    await logs.after(mark, /^reloaded endpoint \/a/);
    assert.equal(await echoes(url("/a"), "v"), "a3:v");
  });

  await t.test("a deleted endpoint closes its clients with 1012 and its path answers 404; a new file is mounted", async () => {
    let mark = logs.mark();
    rmSync(join(dir, "b.ts"));
    assert.equal((await b.waitClosed(WAIT_MS)).code, 1012);
    await logs.after(mark, /^removed endpoint \/b \(b\.ts\)$/);
    assert.equal(await refusedStatus(url("/b")), 404);

    mark = logs.mark();
    write(dir, "c.ts", ECHO("c1"));
    await logs.after(mark, /^added endpoint \/c \(c\.ts\)$/);
    assert.equal(await echoes(url("/c"), "u"), "c1:u");
  });

  await t.test("a changed helper file is not reloaded, and the log says a restart applies it", async () => {
    const mark = logs.mark();
    write(dir, "_lib.ts", "export const x = 1;\n");
    const warned = await logs.after(mark, /^_lib\.ts changed: it serves nothing itself/);
    assert.match(warned, /restart the server/);
  });

  assert.equal(await cli.stop(), 0);
});

test("serve --watch in an ES module folder: the tasks app appears with the first task file; watchMaxReloads stops watching", async (t) => {
  const root = tempDir(t, "sb-watch-esm-");
  const dir = join(root, "handlers");
  write(root, "package.json", JSON.stringify({ type: "module" }));
  write(root, "switchboard.config.json", JSON.stringify({ handlers: "./handlers", limits: { watchDebounceMs: 20, watchMaxReloads: 2 } }));
  write(dir, "a.ts", ECHO("a1"));
  const cli = await startCli(["serve", "--port", "0", "--watch"], { cwd: root, env: { SWITCHBOARD_LOG_LEVEL: "info" } });
  t.after(() => cli.stop());
  const logs = new LogLines(cli.banner, cli.child.stdout!);
  const url = (path: string) => `ws://127.0.0.1:${cli.port}${path}`;

  // The config's limits reach the watcher.
  const watching = await logs.after(0, /^watching .* for changes$/);
  const line = logs.lines.find((l) => l.msg === watching)!;
  assert.equal(line.watchDebounceMs, 20);
  assert.equal(line.watchMaxReloads, 2);
  assert.equal(await refusedStatus(url("/app")), 404, "no tasks yet: no app");

  // Reload 1: a first task file mounts the app at /app.
  let mark = logs.mark();
  write(dir, "tasks/hello.ts", TASK("hi"));
  await logs.after(mark, /^added task hello/);
  const app = await ProtoClient.open(url("/app"));
  t.after(() => app.close());
  assert.equal((await app.call("hello", null)).data, "hi");

  // Reload 2: an ES module endpoint is imported afresh too.
  mark = logs.mark();
  write(dir, "a.ts", ECHO("a2"));
  await logs.after(mark, /^reloaded endpoint \/a/);
  assert.equal(await echoes(url("/a"), "x"), "a2:x");

  // A third change is past watchMaxReloads: watching stops, the code loaded last keeps running.
  mark = logs.mark();
  write(dir, "a.ts", ECHO("a3"));
  const stopped = await logs.after(mark, /^watchMaxReloads \(2\) reached/);
  assert.match(stopped, /restart the server/);
  assert.equal(await echoes(url("/a"), "y"), "a2:y");
  assert.equal((await app.call("hello", null)).data, "hi");
});

test("serve --help lists --watch", async () => {
  const help = await runCli(["serve", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--watch +reload handler, task and service files when they\s+change/);
});

// The pieces --watch is built on, in process.

test("server.unmount(): the path answers 404, its clients get 1012, other endpoints stay; it can be mounted again", async (t) => {
  const server = await startServer({}, (s) => {
    s.endpoint("/a", { message: (conn, data) => void conn.send("a1:" + data.toString()) });
    s.endpoint("/b", { message: (conn, data) => void conn.send("b:" + data.toString()) });
    s.app("/app");
  });
  t.after(() => server.stop());
  const a = await connect(server.url("/a"));
  const b = await connect(server.url("/b"));
  t.after(() => Promise.all([a.close(), b.close()]));

  const unmounted = server.unmount("/a");
  assert.equal(await refusedStatus(server.url("/a", "ws")), 404);
  assert.deepEqual(await a.waitClosed(), { code: 1012, reason: "service restart" });
  await unmounted;
  b.send("still");
  assert.equal((await b.next()).text, "b:still");

  server.endpoint("/a", { message: (conn, data) => void conn.send("a2:" + data.toString()) });
  assert.equal(await echoes(server.url("/a"), "x"), "a2:x");

  await assert.rejects(server.unmount("/nope"), (err: unknown) => err instanceof OptionError && /no endpoint is mounted at \/nope/.test(err.message));
  await assert.rejects(server.unmount("/app"), (err: unknown) => err instanceof OptionError && /apps cannot be unmounted/.test(err.message));
  await assert.rejects(server.unmount("/b", { code: 1005 }), (err: unknown) => err instanceof OptionError && err.option === "code");
  b.send("kept");
  assert.equal((await b.next()).text, "b:kept", "a refused unmount leaves the endpoint mounted");
});

test("app.removeTask(): calls get unknown_task; a built-in task cannot be removed", async (t) => {
  let app!: App;
  const server = await startServer({}, (s) => (app = s.app("/app").task("t", () => 1)));
  t.after(() => server.stop());
  const client = await ProtoClient.open(server.url("/app"));
  t.after(() => client.close());
  assert.equal((await client.call("t", null)).data, 1);
  assert.equal(app.removeTask("t"), true);
  assert.equal((await client.call("t", null)).error.code, "unknown_task");
  assert.equal(app.removeTask("t"), false, "already gone");
  app.task("t", () => 2);
  assert.equal((await client.call("t", null)).data, 2, "the same connection, the new handler");
  assert.throws(() => app.removeTask("room.join"), OptionError);
});

test("supervisor.replace() / remove(): while running, the old run is stopped and the new one started; before start, refused", async () => {
  const events: string[] = [];
  const svc = (name: string, tag: string) => ({ name, start: () => void events.push(`start ${tag}`), stop: () => void events.push(`stop ${tag}`) });
  const sup = new Supervisor();
  sup.add(svc("s", "v1"));
  await assert.rejects(sup.replace(svc("s", "v2")), StateError);
  await sup.startAll();
  assert.equal(await sup.replace(svc("s", "v2")), "running");
  assert.deepEqual(events, ["start v1", "stop v1", "start v2"]);
  assert.equal(await sup.replace(svc("n", "new")), "running", "a new name is added and started");
  assert.deepEqual(sup.states().map((s) => s.name), ["s", "n"]);
  await sup.remove("n");
  assert.deepEqual(sup.states().map((s) => s.name), ["s"]);
  assert.deepEqual(events.slice(3), ["start new", "stop new"]);
  await sup.stopAll();
  assert.deepEqual(events.slice(5), ["stop v2"]);
  await assert.rejects(sup.remove("s"), StateError);
});
