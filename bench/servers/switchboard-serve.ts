// Contender: the standalone server as users run it, `switchboard serve DIR [--workers N]`,
// through the CLI's main() (what bin/switchboard.js runs), compiled by tsc like every Node
// contender. DIR is bench/servers/workers-app (its compiled copy). Env: PORT; WORKERS (default
// 1: one process, memory engine; N > 1: a primary and N workers on one port, rooms shared
// through the primary's IPC engine); REDIS_URL: cluster.redis (the workers share rooms through
// Redis instead). node:cluster forks this same file for each worker (SWITCHBOARD_WORKER_INDEX
// set), which then serves as one worker of the same command.
// Prints "CONTROL <socket>" and "READY <port>" once the banner's "listening on" line is out
// (a primary prints it after every worker listens).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../../src/cli/main.ts";

const HANDLERS = join(dirname(fileURLToPath(import.meta.url)), "workers-app");
const RUN_DIR_ENV = "SB_BENCH_SERVE_DIR";
const env = process.env;
const primary = env[RUN_DIR_ENV] === undefined;
// The lock file, control socket and config lookup live in a private directory, not in the
// repository (where another run or a developer's server may hold ./switchboard.lock).
// Workers inherit the variable, so they look in the same place.
const runDir = (env[RUN_DIR_ENV] ??= mkdtempSync(join(tmpdir(), "sb-bench-serve-")));
process.chdir(runDir);
if (primary) process.on("exit", () => rmSync(runDir, { recursive: true, force: true }));
if (env.REDIS_URL !== undefined) {
  env.SWITCHBOARD_CLUSTER_REDIS = env.REDIS_URL;
  env.SWITCHBOARD_CLUSTER_PREFIX = "bench:";
}
// The same endpoint limit as bench/servers/switchboard-app.ts (default 10,000), per worker.
env.SWITCHBOARD_MAX_CONNECTIONS = "100000";

const argv = [process.execPath, "switchboard", "serve", HANDLERS, "--port", env.PORT ?? "0", "--host", "127.0.0.1",
  "--log-level", "silent", "--workers", env.WORKERS ?? "1"];
let banner = "";
const code = await main(argv, {
  cwd: runDir,
  env,
  out: (text) => {
    banner += text;
    const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(banner);
    if (m) {
      console.log(`CONTROL ${join(runDir, "switchboard.sock")}`);
      console.log(`READY ${m[1]}`);
      banner = "";
    }
  },
  err: (text) => process.stderr.write(text),
});
if (code !== 0) process.exit(code);
