import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveLogging, createRuntimeLogger } from "../../../src/runtime/logging.ts";
import { setLoggerLevel as setLevel } from "../../../src/log.ts";
import { createLogger } from "../../../src/log.ts";
import { OptionError } from "../../../src/errors.ts";

test("defaults: info on stdout, pretty only on a terminal", () => {
  assert.deepEqual(resolveLogging({}, {}, false), { level: "info", file: undefined, pretty: false });
  assert.deepEqual(resolveLogging({}, {}, true), { level: "info", file: undefined, pretty: true });
});

test("env LOG_LEVEL / LOG_FILE are used; config wins over env", () => {
  assert.deepEqual(resolveLogging({}, { LOG_LEVEL: "DEBUG", LOG_FILE: "/tmp/x.log" }, true),
    { level: "debug", file: "/tmp/x.log", pretty: false });
  assert.deepEqual(resolveLogging({ level: "warn", file: "-" }, { LOG_LEVEL: "debug", LOG_FILE: "/tmp/x.log" }, false),
    { level: "warn", file: undefined, pretty: false });
  assert.equal(resolveLogging({ pretty: true }, {}, false).pretty, true);
});

test("an unknown level is an OptionError naming where it came from", () => {
  assert.throws(() => resolveLogging({}, { LOG_LEVEL: "loud" }, false), (e: Error) => e instanceof OptionError && /LOG_LEVEL/.test(e.message) && /loud/.test(e.message));
  assert.throws(() => resolveLogging({ level: "loud" }, {}, false), /logLevel/);
});

test("LOG_FILE: JSON lines are written to the file", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "sb-log-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "sub", "server.log");
  const { logger } = createRuntimeLogger({}, { LOG_FILE: file }, true);
  logger.child({ conn: "echo-1" }).info("hello");
  const line = JSON.parse(readFileSync(file, "utf8").trim());
  assert.equal(line.msg, "hello");
  assert.equal(line.conn, "echo-1");
});

test("setLoggerLevel changes the level of existing children too", () => {
  const logger = createLogger({ level: "info" });
  const child = logger.child({ component: "x" });
  assert.equal(child.isLevelEnabled("debug"), false);
  assert.equal(setLevel(logger, "DEBUG"), "debug");
  assert.equal(child.isLevelEnabled("debug"), true);
  assert.throws(() => setLevel(logger, "nope"), OptionError);
  assert.equal(logger.level, "debug");
});

test("pretty output: readable lines, not JSON", async () => {
  const { spawnSync } = await import("node:child_process");
  const script = `import { createRuntimeLogger } from "./src/runtime/logging.ts";
const { logger, settings } = createRuntimeLogger({ pretty: true }, {}, false);
logger.info({ conn: "echo-1" }, "hello pretty");
process.exit(settings.pretty ? 0 : 2);`;
  const r = spawnSync(process.execPath, ["--conditions=source", "--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /INFO.*hello pretty/);
  assert.match(r.stdout, /conn: "echo-1"/);
  assert.throws(() => JSON.parse(r.stdout.split("\n")[0] ?? ""));
});
