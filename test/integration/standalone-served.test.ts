/**
 * The pieces of `switchboard serve` wiring that need no process: the served handle's app()
 * lookup, how stop/status/command find the control socket from a folder, and the held
 * start-up log lines (the banner comes first).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createServer } from "../../src/server.ts";
import { LoadError } from "../../src/errors.ts";
import { loadHandlerDirectory } from "../../src/loader/directory.ts";
import { mountContext } from "../../src/loader/kinds.ts";
import { findControlSocket } from "../../src/cli/control-commands.ts";
import { createRuntimeLogger, MAX_HELD_LOG_LINES } from "../../src/runtime/logging.ts";
import { makeTree } from "../helpers/tree.ts";
import { tempDir } from "../helpers/tempdir.ts";

test("an endpoint factory gets the served handle: app() mounts /app while loading, another path is a clear error", async (t) => {
  const dir = makeTree(t, {
    "feed.ts": "export default (served) => { served.app(); return { open(conn) { conn.send(String(served.server.port)); } }; };\n",
    "other.ts": "export default (served) => { served.app('/elsewhere'); return {}; };\n",
  });
  const server = createServer({ port: 0 });
  const context = mountContext();
  await assert.rejects(loadHandlerDirectory(server, dir, { context }), (err: unknown) => {
    assert.ok(err instanceof LoadError);
    const other = err.problems.find((p) => p.rel === "other.ts");
    assert.match(other?.problem ?? "", /no app at "\/elsewhere" \(apps: \/app\); the app at \/app exists when the folder has tasks\/ or services\/ files/);
    assert.equal(err.problems.some((p) => p.rel === "feed.ts"), false);
    return true;
  });
  // feed.ts asked for the app while it loaded: it is mounted at /app.
  assert.deepEqual([...context.apps().keys()], ["/app"]);
});

test("the control socket is found from the working directory upwards, or from a config file there", async (t) => {
  const root = tempDir(t, "sb-find-");
  const env = {};
  // A folder where serve ran (its lock file is there): the default socket beside it.
  mkdirSync(join(root, "a", "handlers", "tasks"), { recursive: true });
  writeFileSync(join(root, "a", "switchboard.lock"), "{}\n");
  assert.equal(await findControlSocket(join(root, "a", "handlers", "tasks"), env, {}), join(root, "a", "switchboard.sock"));
  // A folder with a config file: its controlSocket, relative to the file.
  mkdirSync(join(root, "b", "deep", "er"), { recursive: true });
  writeFileSync(join(root, "b", "switchboard.config.json"), JSON.stringify({ controlSocket: "run/ctl.sock" }));
  assert.equal(await findControlSocket(join(root, "b", "deep", "er"), env, {}), join(root, "b", "run", "ctl.sock"));
  // --socket wins, relative to the working directory; the environment wins over the search.
  assert.equal(await findControlSocket(join(root, "a", "handlers"), env, { socket: "x.sock" }), join(root, "a", "handlers", "x.sock"));
  assert.equal(await findControlSocket(join(root, "a", "handlers"), { SWITCHBOARD_CONTROL_SOCKET: "/run/sb.sock" }, {}), "/run/sb.sock");
});

test("held start-up log lines: never for a log file, dropped by discard(), bounded (release() is checked through serve in standalone-wired)", (t) => {
  const file = join(tempDir(t, "sb-held-"), "never.log");
  // A log file is never held: its lines go out as they come (checked by the file existing at once).
  const toFile = createRuntimeLogger({ level: "info", file, hold: true }, {}, false);
  toFile.logger.info("straight to the file");
  assert.deepEqual(toFile.discard(), []);

  const held = createRuntimeLogger({ level: "info", hold: true }, {}, false);
  for (let i = 0; i < MAX_HELD_LOG_LINES + 5; i++) held.logger.info({ i }, "start-up line");
  const lines = held.discard();
  assert.equal(lines.length, MAX_HELD_LOG_LINES);
  assert.match(lines[0]!, /"i":0,.*"msg":"start-up line"/);
  // After discard nothing is held: a second discard is empty (a later line goes to stdout).
  assert.deepEqual(held.discard(), []);
});
