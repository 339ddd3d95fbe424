/**
 * The `switchboard` command line, on commander: `switchboard serve [DIR] [--port N] …`, with
 * --help for every command. Errors are printed as one "switchboard: …" block that says what
 * to do, and give exit code 1 (2 for usage errors); stack traces only with DEBUG=switchboard.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { LOG_LEVELS } from "../config/schema.ts";
import { OptionError, SwitchboardError } from "../errors.ts";
import { resolveServe, serveResolved, type ServeFlags } from "./serve.ts";
import { serveWorkers } from "./workers.ts";
import { workerIndex } from "../runtime/worker-messages.ts";
import { controlCommandGroup } from "./control-commands.ts";
import { initCommandGroup } from "./init.ts";

export interface CliIO {
  cwd: string;
  env: Record<string, string | undefined>;
  out: (text: string) => void;
  err: (text: string) => void;
  /** A command that finished with a failure reports its exit code here (main() returns it). */
  setExitCode?: (code: number) => void;
}

// The package root is two levels up from src/cli/main.ts, three from the built dist/src/cli/main.js.
const PACKAGE_JSON = new URL(import.meta.url.endsWith(".ts") ? "../../package.json" : "../../../package.json", import.meta.url);
const VERSION = (JSON.parse(readFileSync(PACKAGE_JSON, "utf8")) as { version: string }).version;

/** A group of commands: a function that adds them to the program. */
export type CommandGroup = (program: Command, io: CliIO) => void;

// ── Command groups: every group of commands is registered HERE and only here. ─────────────
// To add one (e.g. stop/status/command from src/cli/control-commands.ts), import its
// `add…Commands(program)` function and append it to this list.
const COMMAND_GROUPS: readonly CommandGroup[] = [
  addServeCommand,
  controlCommandGroup, // stop, status, command
  initCommandGroup(VERSION), // init: a starter project
];
// ──────────────────────────────────────────────────────────────────────────────────────────

export function buildProgram(io: CliIO): Command {
  const program = new Command("switchboard")
    .description("Switchboard: a real-time application server for TypeScript on Node.js")
    .version(VERSION, "-v, --version")
    .showHelpAfterError("(run the command with --help for usage)")
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride();
  for (const group of COMMAND_GROUPS) group(program, io);
  // Subcommands copy these settings only when they are set before they are added, so apply them to each.
  for (const command of program.commands) {
    command.showHelpAfterError("(run the command with --help for usage)").configureOutput({ writeOut: io.out, writeErr: io.err }).exitOverride();
  }
  return program;
}

function addServeCommand(program: Command, io: CliIO): void {
  program
    .command("serve")
    .description("serve a handler directory: each .ts/.js file is a WebSocket endpoint (chat.ts → /chat), plus /console.html")
    .argument("[DIR]", 'handler directory (default: "handlers" from the config, else ./handlers)')
    .option("-p, --port <N>", "TCP port; 0 picks a free one (env SWITCHBOARD_PORT, default 8080)")
    .option("--host <HOST>", 'address to listen on (env SWITCHBOARD_HOST, default 127.0.0.1; "0.0.0.0" for all interfaces)')
    .option("-c, --config <FILE>", "config file (default: switchboard.config.ts, .js or .json in the working directory)")
    .option("--static <DIR>", "serve the files of DIR over HTTP (env SWITCHBOARD_STATIC)")
    .addOption(new Option("--log-level <LEVEL>", "log level (env SWITCHBOARD_LOG_LEVEL, default info)").choices(LOG_LEVELS))
    .option("--control-socket <PATH>", "UNIX control socket for stop/status/command (env SWITCHBOARD_CONTROL_SOCKET, default ./switchboard.sock)")
    .option("--lock-file <PATH>", "lock file: one server per configuration (env SWITCHBOARD_LOCK_FILE, default ./switchboard.lock)")
    .option("--workers <N>", 'worker processes sharing the port: 1-64 or "auto" (one per core); rooms and pushes cross them (env SWITCHBOARD_WORKERS, default 1)')
    .option("--watch", "reload handler, task and service files when they change, without a restart (development: a changed endpoint's connections are closed with 1012)")
    .addHelpText("after", [
      "",
      "Precedence: command-line flag > SWITCHBOARD_* environment variable > config file > default.",
      "Examples:",
      "  switchboard serve examples/handlers",
      "  switchboard serve ./handlers --port 9000 --static ./public",
      "  switchboard serve ./handlers --watch",
      "  switchboard serve ./handlers --workers auto",
      "  SWITCHBOARD_PORT=0 switchboard serve --config deploy/switchboard.config.json",
    ].join("\n"))
    .action(async (dir: string | undefined, options: Omit<ServeFlags, "dir">) => {
      // The standalone runtime owns signals from here: a graceful stop on the first, exit on the second.
      const flags: ServeFlags = { ...options, dir };
      const ctx = { cwd: io.cwd, env: io.env, out: (line: string) => io.out(line + "\n"), debug: (text: string) => io.err(text) };
      const { config, applied } = await resolveServe(flags, ctx);
      // With --workers N > 1 this process is the primary (cli/workers.ts); a worker it forked
      // runs this same command and serves as one process (serve.ts, with workerIndex set).
      if (config.workers > 1 && workerIndex(io.env) === undefined) {
        if (flags.watch === true) throw new OptionError("workers", "--watch reloads files in one process: use it without --workers");
        await serveWorkers(config, applied, ctx);
      } else if (workerIndex(io.env) === undefined) {
        await serveResolved(flags, ctx, config, applied);
      } else {
        // A worker that cannot start must exit (its primary reports the failure): the open IPC
        // channel would otherwise keep the process alive after main() returns 1.
        await serveResolved(flags, ctx, config, applied).catch((err: unknown) => {
          process.disconnect?.();
          throw err;
        });
      }
    });
}

/** Run the CLI; resolves to the exit code (a running `serve` resolves 0 and keeps running). */
export async function main(argv: readonly string[], baseIO: CliIO = processIO()): Promise<number> {
  let exitCode = 0;
  const io: CliIO = { ...baseIO, setExitCode: (code) => (exitCode = code) };
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv as string[]);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has already printed the message and the help hint; --help/--version exit 0.
      return err.exitCode === 0 ? 0 : 2;
    }
    io.err(describeError(err, io.env) + "\n");
    return 1;
  }
}

/** One block that says what went wrong and what to do about it. */
export function describeError(err: unknown, env: Record<string, string | undefined> = {}): string {
  const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
  let text: string;
  if (e?.code === "EADDRINUSE") {
    const where = e.port === undefined ? e.message : `port ${e.port} on ${e.address ?? "this host"} is already in use`;
    text = `${where}: another program is using it. Pick another with --port N (or --port 0 for any free port), or stop the other program.`;
  } else if (e?.code === "EACCES" && e.syscall === "listen") {
    text = `${e.message}: ports below 1024 need privileges. Use a port of 1024 or more (--port 8080).`;
  } else if (e?.code === "EADDRNOTAVAIL") {
    text = `${e.message}: this machine has no such address. Use --host 127.0.0.1, or 0.0.0.0 for every interface.`;
  } else if (err instanceof SwitchboardError) {
    text = err.message;
  } else {
    text = err instanceof Error ? err.message : String(err);
  }
  const stack = env.DEBUG?.includes("switchboard") && err instanceof Error ? `\n${err.stack}` : "";
  return `switchboard: error: ${text}${stack}`;
}

function processIO(): CliIO {
  return {
    cwd: process.cwd(),
    env: process.env,
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
  };
}
