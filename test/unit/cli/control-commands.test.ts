import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { Command } from "commander";
import { formatDuration, CliExit, controlCommandGroup } from "../../../src/cli/control-commands.ts";
import { ControlServer } from "../../../src/control/server.ts";
import { createCommandTable } from "../../../src/control/builtin-commands.ts";
import { FakeContext } from "../../helpers/fake-control-context.ts";
import { tempDir } from "../../helpers/tempdir.ts";
import { runCli } from "../../helpers/control-cli.ts";


async function control(t: { after(fn: () => Promise<void>): void }) {
  const path = join(tempDir(t, "sb-cli-"), "s.sock");
  const ctx = new FakeContext();
  const server = new ControlServer({ path, dispatch: createCommandTable().dispatcher(ctx) });
  // Like the real server: the control socket closes last, after the stop reply went out.
  const fakeStop = ctx.stop.bind(ctx);
  ctx.stop = async (progress) => { await fakeStop(progress); void server.stop(); };
  await server.start();
  t.after(() => server.stop());
  return path;
}

test("status prints a table", async (t) => {
  const path = await control(t);
  const r = await runCli(["status", "--socket", path]);
  assert.equal(r.code, CliExit.Ok);
  assert.match(r.out, /^Switchboard {2}pid \d+ {2}up 1m 5s {2}node node-a/);
  assert.match(r.out, /rooms {8}3/);
  assert.match(r.out, /ENDPOINT +ENABLED +CONNECTIONS +ROOMS\n\/echo +yes +2 +-\n\/app +yes +1 +3/);
  assert.match(r.out, /SERVICE +STATE +RESTARTS +CRITICAL +LAST ERROR\nhttp +running +0 +yes\nticker +running +2 +no +boom/);
});

test("status --json prints the raw result", async (t) => {
  const path = await control(t);
  const r = await runCli(["status", "--json", "--socket", path]);
  assert.equal(JSON.parse(r.out).nodeId, "node-a");
});

test("command NAME ARGS... prints the result; progress goes to stderr", async (t) => {
  const path = await control(t);
  const r = await runCli(["command", "--socket", path, "kick", "echo-1", "4100", "bye", "now"]);
  assert.deepEqual(JSON.parse(r.out), { id: "echo-1", code: 4100, reason: "bye now" });
  const s = await runCli(["command", "service", "restart", "ticker", "--socket", path]);
  assert.match(s.err, /… restarting ticker/);
});

test("an error reply: one line on stderr and exit code 1", async (t) => {
  const path = await control(t);
  const r = await runCli(["command", "reboot", "--socket", path]);
  assert.equal(r.code, CliExit.CommandFailed);
  assert.match(r.err, /^switchboard reboot: unknown command "reboot"; known commands: broadcast, /);
});

test("stop prints progress and waits for the server to close the connection", async (t) => {
  const path = await control(t);
  const r = await runCli(["stop", "--socket", path]);
  assert.equal(r.code, CliExit.Ok);
  assert.equal(r.out, "server stopped");
  assert.match(r.err, /… closing connections\n… stopping services/);
});

test("no server: says what to do, exit code 3", async (t) => {
  const path = join(tempDir(t, "sb-cli-"), "none.sock");
  const r = await runCli(["status", "--socket", path]);
  assert.equal(r.code, CliExit.NoServer);
  assert.equal(r.err, `switchboard status: no Switchboard server is listening on ${path}; start one with \`switchboard serve\``);
});

test("resolveSocket finds the socket from --config", async (t) => {
  const path = await control(t);
  const seen: unknown[] = [];
  const r = await runCli(["status", "--json", "--config", "prod.json"], (o) => { seen.push(o.config); return path; });
  assert.deepEqual(seen, ["prod.json"]);
  assert.equal(r.code, CliExit.Ok);
});

test("formatDuration", () => {
  assert.equal(formatDuration(999), "0s");
  assert.equal(formatDuration(3_723_000), "1h 2m 3s");
  assert.equal(formatDuration(90_000_000), "1d 1h 0m");
});

test("controlCommandGroup finds the socket in the config file, like serve", async (t) => {
  const dir = tempDir(t, "sb-cfg-");
  const ctx = new FakeContext();
  const server = new ControlServer({ path: join(dir, "run", "..", "ctl.sock"), dispatch: createCommandTable().dispatcher(ctx) });
  await server.start();
  t.after(() => server.stop());
  t.after(() => { process.exitCode = 0; }); // the group sets the process's exit code, as a CLI does
  writeFileSync(join(dir, "switchboard.config.json"), JSON.stringify({ controlSocket: "ctl.sock" }));
  const out: string[] = [];
  const err: string[] = [];
  const program = new Command("switchboard").exitOverride();
  controlCommandGroup(program, { cwd: dir, env: {}, out: (x) => out.push(x), err: (x) => err.push(x) });
  await program.parseAsync(["command", "greet-none"], { from: "user" });
  assert.match(err.join(""), /unknown command "greet-none"/); // reached the server through the config's socket
  out.length = 0;
  await program.parseAsync(["status", "--json"], { from: "user" });
  assert.equal(JSON.parse(out.join("")).nodeId, "node-a");
});
