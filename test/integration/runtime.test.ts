/**
 * The runtime against real server processes (test/fixtures/runtime-server.ts), driven through
 * the CLI functions: every control command, stop and signals, the lock file, the socket.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { startTsProcess, type ChildHandle } from "../helpers/process.ts";
import { connect, refusedStatus, WAIT_MS, withTimeout } from "../helpers/ws-client.ts";
import { runCli } from "../helpers/control-cli.ts";
import { tempDir } from "../helpers/tempdir.ts";

const FIXTURE = "test/fixtures/runtime-server.ts";

interface Running {
  proc: ChildHandle;
  port: number;
  pid: number;
  socket: string;
  lock: string;
}

async function startFixture(t: { after(fn: () => Promise<void> | void): void }, paths?: { socket: string; lock: string }): Promise<Running> {
  const dir = paths ? undefined : tempDir(t, "sb-rt-");
  const socket = paths?.socket ?? join(dir as string, "ctl.sock");
  const lock = paths?.lock ?? join(dir as string, "server.lock");
  const proc = startTsProcess(FIXTURE, [], { SB_SOCKET: socket, SB_LOCK: lock, LOG_LEVEL: "info" });
  t.after(() => proc.stop("SIGKILL"));
  const m = await proc.waitForLine(/READY port=(\d+) pid=(\d+)/);
  return { proc, port: Number(m[1]), pid: Number(m[2]), socket, lock };
}

async function command(r: Running, ...args: string[]): Promise<unknown> {
  const res = await runCli(["command", "--json", "--socket", r.socket, ...args]);
  assert.equal(res.code, 0, `command ${args.join(" ")} failed: ${res.err}`);
  return JSON.parse(res.out);
}

test("every control command against a real server process", async (t) => {
  const r = await startFixture(t);
  assert.equal(statSync(r.socket).mode & 0o777, 0o600, "control socket is mode 0600");
  assert.equal(JSON.parse(readFileSync(r.lock, "utf8")).pid, r.pid);

  const a = await connect(`ws://127.0.0.1:${r.port}/echo`);
  const b = await connect(`ws://127.0.0.1:${r.port}/echo`);
  t.after(() => { a.ws.terminate(); b.ws.terminate(); });

  // status: the table, and the JSON
  const table = await runCli(["status", "--socket", r.socket]);
  assert.equal(table.code, 0, table.err);
  assert.match(table.out, new RegExp(`^Switchboard  pid ${r.pid}  up \\d+s`));
  assert.match(table.out, /\/echo +yes +2/);
  assert.match(table.out, /control +running[\s\S]*ticker +running[\s\S]*core +running +0 +yes[\s\S]*http +running/);
  const status = JSON.parse((await runCli(["status", "--json", "--socket", r.socket])).out);
  assert.equal(status.pid, r.pid);
  assert.deepEqual(status.endpoints.map((e: { path: string; connections: number }) => [e.path, e.connections]), [["/echo", 2], ["/work", 0]]);
  assert.ok(status.memory.rss > 0);

  // services, service restart
  const services = (await command(r, "services")) as { name: string; state: string }[];
  assert.deepEqual(services.map((s) => s.name), ["control", "ticker", "core", "http"]);
  const restart = await runCli(["command", "--socket", r.socket, "service", "restart", "ticker"]);
  assert.deepEqual(JSON.parse(restart.out), { name: "ticker", state: "running" });
  assert.match(restart.err, /… restarting ticker/);

  // connections [PATH]
  const conns = (await command(r, "connections", "/echo")) as { id: string; path: string; remoteAddress: string }[];
  assert.equal(conns.length, 2);
  assert.equal(conns[0]?.remoteAddress, "127.0.0.1");
  assert.deepEqual(await command(r, "connections", "/work"), []);

  // broadcast PATH MESSAGE
  assert.deepEqual(await command(r, "broadcast", "/echo", "hello", "everyone"), { path: "/echo", recipients: 2 });
  assert.equal((await a.next()).text, "hello everyone");
  assert.equal((await b.next()).text, "hello everyone");

  // kick ID CODE REASON
  // connections are listed in the order they opened: `a` first
  await command(r, "kick", conns[0]?.id as string, "4001", "bye");
  assert.deepEqual(await a.waitClosed(), { code: 4001, reason: "bye" });

  // endpoint disable / enable
  await command(r, "endpoint", "disable", "/echo");
  assert.equal(await refusedStatus(`ws://127.0.0.1:${r.port}/echo`), 503);
  await command(r, "endpoint", "enable", "/echo");
  (await connect(`ws://127.0.0.1:${r.port}/echo`)).ws.terminate();

  // log-level: debug lines start to appear
  assert.deepEqual(await command(r, "log-level", "debug"), { level: "debug" });
  await command(r, "services");
  await r.proc.waitForLine(/"level":20.*"msg":"control reply"/);

  // help, an app command, errors
  const help = (await command(r, "help")) as { name: string }[];
  assert.ok(["stop", "status", "greet", "fail-core"].every((n) => help.some((h) => h.name === n)));
  assert.equal(await command(r, "greet", "ops"), "hello ops");
  const unknown = await runCli(["command", "--socket", r.socket, "reboot"]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.err, /unknown command "reboot"; known commands: .*greet.*stop/);
  const badKick = await runCli(["command", "--socket", r.socket, "kick", "nobody-1"]);
  assert.match(badKick.err, /no connection with id "nobody-1"/);
  const badRestart = await runCli(["command", "--socket", r.socket, "service", "restart", "control"]);
  assert.match(badRestart.err, /service "control" is not restartable/);
  const badEp = await runCli(["command", "--socket", r.socket, "endpoint", "disable", "/nope"]);
  assert.match(badEp.err, /no endpoint at "\/nope" \(known: \/echo, \/work\)/);
});

test("switchboard stop: clients see 1001, in-flight tasks finish, lock and socket removed, exit 0", async (t) => {
  const r = await startFixture(t);
  const echo = await connect(`ws://127.0.0.1:${r.port}/echo`);
  const work = await connect(`ws://127.0.0.1:${r.port}/work`);
  work.send("start");
  assert.equal((await work.next()).text, "started");
  const stopping = runCli(["stop", "--socket", r.socket]);
  // The stop waits for the task; once it is draining, let the task finish.
  await r.proc.waitForLine(/stopping gracefully/);
  work.send("finish");
  assert.equal((await work.next()).text, "finished");
  assert.equal((await work.waitClosed()).code, 1001);
  assert.equal((await echo.waitClosed()).code, 1001);
  const res = await stopping;
  assert.equal(res.code, 0, res.err);
  assert.equal(res.out, "server stopped");
  assert.match(res.err, /1 task\(s\) to finish, 2 connection\(s\) to close with 1001[\s\S]*stopping service http[\s\S]*stopping service ticker/);
  assert.deepEqual(await withTimeout(r.proc.exited, WAIT_MS * 2, "no exit"), { code: 0, signal: null });
  assert.equal(existsSync(r.lock), false);
  assert.equal(existsSync(r.socket), false);
  const after = await runCli(["status", "--socket", r.socket]);
  assert.equal(after.code, 3);
  assert.match(after.err, /no Switchboard server is listening on .*; start one with `switchboard serve`/);
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  test(`${signal}: graceful stop, 1001 to clients, exit 0`, async (t) => {
    const r = await startFixture(t);
    const echo = await connect(`ws://127.0.0.1:${r.port}/echo`);
    r.proc.child.kill(signal);
    assert.equal((await echo.waitClosed()).code, 1001);
    assert.deepEqual(await withTimeout(r.proc.exited, WAIT_MS * 2, "no exit"), { code: 0, signal: null });
    assert.equal(existsSync(r.lock), false);
    assert.equal(existsSync(r.socket), false);
  });
}

test("a second signal forces a quick exit (143) while a task is still running", async (t) => {
  const r = await startFixture(t);
  const work = await connect(`ws://127.0.0.1:${r.port}/work`);
  work.send("start");
  assert.equal((await work.next()).text, "started");
  r.proc.child.kill("SIGTERM");
  await r.proc.waitForLine(/stopping gracefully/);
  r.proc.child.kill("SIGTERM");
  assert.deepEqual(await withTimeout(r.proc.exited, WAIT_MS, "no exit"), { code: 143, signal: null });
  await r.proc.waitForLine(/second signal: forcing exit/);
});

test("lock contention: a second server on the same lock file refuses to start, naming the PID", async (t) => {
  const first = await startFixture(t);
  const second = startTsProcess(FIXTURE, [], { SB_SOCKET: `${first.socket}.2`, SB_LOCK: first.lock });
  t.after(() => second.stop("SIGKILL"));
  await second.waitForLine(new RegExp(`START FAILED: another server \\(PID ${first.pid}, started .*\\) holds the lock file`));
  assert.equal((await withTimeout(second.exited, WAIT_MS * 2, "no exit")).code, 1);
  // the first one is untouched
  assert.equal(JSON.parse(readFileSync(first.lock, "utf8")).pid, first.pid);
  assert.equal((await runCli(["status", "--socket", first.socket])).code, 0);
});

test("a second server on the same control socket refuses to start and leaves the lock alone", async (t) => {
  const first = await startFixture(t);
  const second = startTsProcess(FIXTURE, [], { SB_SOCKET: first.socket, SB_LOCK: `${first.lock}.2` });
  t.after(() => second.stop("SIGKILL"));
  await second.waitForLine(/START FAILED: .*another server is using/);
  assert.equal((await withTimeout(second.exited, WAIT_MS * 2, "no exit")).code, 1);
  assert.equal(existsSync(`${first.lock}.2`), false);
});

test("after kill -9: the stale lock and the stale socket are taken over with a warning", async (t) => {
  const first = await startFixture(t);
  first.proc.child.kill("SIGKILL");
  await withTimeout(first.proc.exited, WAIT_MS, "no exit");
  assert.ok(existsSync(first.lock) && existsSync(first.socket), "kill -9 leaves both files behind");
  const second = await startFixture(t, { socket: first.socket, lock: first.lock });
  await second.proc.waitForLine(new RegExp(`stale lock file from PID ${first.pid}`));
  assert.equal(JSON.parse(readFileSync(first.lock, "utf8")).pid, second.pid);
  assert.equal(((await command(second, "services")) as unknown[]).length, 4);
});

test("a critical service failing for good stops the server with exit code 1", async (t) => {
  const r = await startFixture(t);
  const echo = await connect(`ws://127.0.0.1:${r.port}/echo`);
  await command(r, "fail-core");
  assert.equal((await echo.waitClosed()).code, 1001);
  assert.deepEqual(await withTimeout(r.proc.exited, WAIT_MS * 2, "no exit"), { code: 1, signal: null });
  await r.proc.waitForLine(/critical service failed/);
  assert.equal(existsSync(r.lock), false);
});
