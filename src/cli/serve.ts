/**
 * `switchboard serve`: resolve the config, build a Server, load the handler directory onto
 * it, add the console page and static files, start, and print the banner with every URL.
 * The server runs as a standalone process (runtime/standalone.ts): lock file, control socket,
 * signal handling and exit codes.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer, type Server } from "../server.ts";
import type { App } from "../app/app.ts";
import { OptionError } from "../errors.ts";
import { resolveConfig, type ResolvedConfig } from "../config/resolve.ts";
import { toServeOptions, type ServeOptions } from "../config/placement.ts";
import { loadHandlerDirectory, type LoadedFile } from "../loader/directory.ts";
import { FILE_KINDS, TASKS_APP_PATH, type MountContext } from "../loader/kinds.ts";
import { createStaticHandler } from "../transport/static.ts";
import { createRuntimeLogger } from "../runtime/logging.ts";
import { setLoggerLevel } from "../log.ts";
import type { Logger } from "../log.ts";
import { runStandalone, type Standalone, type StandaloneOptions } from "../runtime/standalone.ts";
import { DEFAULT_LOCK_FILE } from "../runtime/lockfile.ts";
import { DEFAULT_CONTROL_SOCKET } from "../control/server.ts";
import { watchHandlers, watchLimits, type HandlerWatcher } from "./watch.ts";
import { startWorkerControl, workerSignalSource } from "../runtime/worker-control.ts";
import { workerIndex } from "../runtime/worker-messages.ts";

export interface ServeFlags {
  dir?: string | undefined;
  port?: string | undefined;
  host?: string | undefined;
  config?: string | undefined;
  static?: string | undefined;
  logLevel?: string | undefined;
  controlSocket?: string | undefined;
  lockFile?: string | undefined;
  /** Reload handler, task and service files when they change (cli/watch.ts; development). */
  watch?: boolean | undefined;
  /** Worker processes sharing the port (`--workers N|auto`; cli/workers.ts). */
  workers?: string | undefined;
}

export interface ServeContext {
  cwd: string;
  env: Record<string, string | undefined>;
  /** Where the banner goes. */
  out: (line: string) => void;
  /** Where the held start-up log lines go when start-up fails and DEBUG=switchboard is set (default: dropped). */
  debug?: (text: string) => void;
}

export interface Serving {
  server: Server;
  standalone: Standalone;
  config: ResolvedConfig;
  loaded: LoadedFile[];
  /** What each layer was handed (config/placement.ts): every setting of the config is in here. */
  applied: ServeOptions;
  /** With --watch: the watcher of the handler directory. */
  watcher?: HandlerWatcher;
}

export const CONSOLE_PATH = "/console.html";
const CONSOLE_FILE = join(dirname(fileURLToPath(import.meta.url)), "..", "pages", "console.html");

export async function serve(flags: ServeFlags, ctx: ServeContext): Promise<Serving> {
  const { config, applied } = await resolveServe(flags, ctx);
  return serveResolved(flags, ctx, config, applied);
}

/** The config and what each layer gets from it (shared with the `--workers` primary, cli/workers.ts). */
export async function resolveServe(flags: ServeFlags, ctx: ServeContext): Promise<{ config: ResolvedConfig; applied: ServeOptions }> {
  const config = await resolveConfig({
    cwd: ctx.cwd,
    env: ctx.env,
    configPath: flags.config,
    cli: {
      handlers: flags.dir, port: flags.port, host: flags.host, static: flags.static, logLevel: flags.logLevel,
      controlSocket: flags.controlSocket, lockFile: flags.lockFile, workers: flags.workers,
    },
  });
  if (config.static !== undefined && !isDirectory(config.static)) {
    throw new OptionError("static", `directory not found: ${config.static} (from ${config.sources.static}): create it or point --static at an existing one`);
  }
  // Every setting goes to its layer here, or start-up stops naming it (before anything runs).
  const applied = toServeOptions(config);
  if (flags.watch === true) watchLimits(applied.watch);
  if (config.cluster.redis === undefined && config.sources["cluster.prefix"] !== "default") {
    config.warnings.push(`cluster.prefix is set but cluster.redis is not: one node in memory, no prefix used`);
  }
  return { config, applied };
}

/** One process serving `config`: the whole server, or (as a `--workers` worker) one of several. */
export async function serveResolved(flags: ServeFlags, ctx: ServeContext, config: ResolvedConfig, applied: ServeOptions): Promise<Serving> {
  const worker = workerIndex(ctx.env);
  if (worker !== undefined) {
    if (flags.watch === true) throw new OptionError("workers", "--watch reloads files in one process: use it without --workers");
    // Rooms, pushes and app.broadcast reach the other workers through the primary (IPC), or Redis when configured.
    if (config.cluster.redis === undefined) applied.server.cluster = { ...applied.server.cluster, ipc: true };
  }

  // The config always resolves a level ("info" by default): pass it only when it was set, so
  // that LOG_LEVEL still works. Lines for stdout are held until the banner is out (the banner
  // comes first) and dropped if start-up fails (its one friendly error says what happened).
  const runtimeLogger = createRuntimeLogger({
    ...(config.sources.logLevel === "default" ? {} : { level: config.logLevel }),
    ...(config.logFile === undefined ? {} : { file: config.logFile }),
    hold: true,
  }, ctx.env);
  try {
    const serving = await start(config, applied, runtimeLogger.logger, ctx, flags.watch === true, worker !== undefined ? runtimeLogger.release : undefined);
    if (worker === undefined) runtimeLogger.release();
    return serving;
  } catch (err) {
    const held = runtimeLogger.discard();
    if (ctx.env.DEBUG?.includes("switchboard")) ctx.debug?.(held.join(""));
    throw err;
  }
}

/** `asWorker`: serving as a `--workers` worker; the function releases the held log lines (once the primary printed the banner). */
async function start(config: ResolvedConfig, applied: ServeOptions, logger: Logger, ctx: ServeContext, watching: boolean, asWorker: (() => void) | undefined): Promise<Serving> {
  const server = createServer({ ...applied.server, logger });

  // The app at /app is made on the first task or service file (or an endpoint factory's app()), with the config's app settings.
  let app: App | undefined;
  const context: MountContext = {
    endpointDefaults: applied.endpointDefaults,
    app: (s) => (app ??= s.app(TASKS_APP_PATH, applied.app)),
    apps: () => new Map(app === undefined ? [] : [[TASKS_APP_PATH, app]]),
  };
  const loaded = await loadHandlerDirectory(server, config.handlers, { kinds: FILE_KINDS, context });
  if (app === undefined && applied.appKeys.length > 0) {
    config.warnings.push(`${applied.appKeys.join(", ")} apply to the app at ${TASKS_APP_PATH}, and ${shortPath(config.handlers, ctx.cwd)} has no tasks/ or services/ files: not used`);
  }

  const consolePage = readFileSync(CONSOLE_FILE);
  server.get(CONSOLE_PATH, (_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": consolePage.length, "cache-control": "no-cache" });
    res.end(consolePage);
  });
  // The listener answers 500 (and logs) if a middleware throws.
  if (config.static !== undefined) server.use(createStaticHandler(config.static, { logger }));

  // `control` is the control socket's limits; runtime/standalone.ts hands them to the ControlServer.
  const standaloneOptions: StandaloneOptions = {
    // A worker's primary owns the lock file and the control socket (cli/workers.ts).
    lockFile: asWorker !== undefined ? false : config.lockFile ?? join(ctx.cwd, DEFAULT_LOCK_FILE),
    controlSocket: asWorker !== undefined ? false : config.controlSocket ?? join(ctx.cwd, DEFAULT_CONTROL_SOCKET),
    setLogLevel: (level) => setLoggerLevel(logger, level),
    control: applied.control,
    apps: context.apps,
    // A worker stops on SIGTERM or its primary's request; Ctrl+C's SIGINT is the primary's (worker-control.ts).
    ...(asWorker !== undefined ? { process: workerSignalSource() } : {}),
  };
  const standalone = await runStandalone(server, standaloneOptions);
  // Watching begins once the server runs (a reload remounts on a running server) and ends with it.
  const watcher = watching
    ? watchHandlers({ dir: config.handlers, server, kinds: FILE_KINDS, context, loaded, logger, ...applied.watch })
    : undefined;
  if (watcher !== undefined) void standalone.exited.finally(() => watcher.close());
  const lines = banner(server, config, loaded, ctx.cwd);
  if (watcher !== undefined) lines.splice(lines.length - 1, 0, `  watching ${shortPath(config.handlers, ctx.cwd)}: changed files are reloaded (--watch, for development)`);
  // A worker's banner is printed once, by the primary.
  if (asWorker !== undefined) startWorkerControl({ server, shutdown: standalone.shutdown, banner: lines, apps: context.apps, releaseLogs: asWorker, dispatch: standalone.dispatch });
  else for (const line of lines) ctx.out(line);
  return { server, standalone, config, loaded, applied, ...(watcher === undefined ? {} : { watcher }) };
}

/** What to add when a kind has no files, with an example file in its folder. */
const EMPTY_HINTS: Record<string, readonly [what: string, how: string]> = {
  endpoint: ["an endpoint file", "export default defineEndpoint({ … })"],
  task: ["a task file under tasks/", "export default defineTask({ handler })"],
  service: ["a service file under services/", "export default defineService({ start | main })"],
};
const EXAMPLE_FILES: Record<string, string> = { endpoint: "echo.ts", task: "hello.ts", service: "ticker.ts" };

/** The start-up banner: every endpoint URL and page URL, and the real bound port. */
export function banner(server: Server, config: ResolvedConfig, loaded: readonly LoadedFile[], cwd: string): string[] {
  const kinds = new Map(FILE_KINDS.map((k) => [k.kind, k]));
  const rows = (entries: Array<[string, string]>): string[] => {
    const width = Math.max(0, ...entries.map(([url]) => url.length));
    return entries.map(([url, note]) => `    ${url.padEnd(width)}  ${note}`);
  };
  const lines = [`switchboard serving ${shortPath(config.handlers, cwd)}` + (config.configFile ? ` (config ${shortPath(config.configFile, cwd)})` : "")];
  for (const warning of config.warnings) lines.push(`  warning: ${warning}`);
  for (const kind of FILE_KINDS) {
    const ofKind = loaded.filter((f) => f.kind === kind.kind);
    lines.push(`  ${kind.kind}s (${ofKind.length}):`);
    if (ofKind.length === 0) {
      const example = join(shortPath(config.handlers, cwd), kind.folder, EXAMPLE_FILES[kind.kind] ?? "file.ts");
      lines.push(`    none: add ${EMPTY_HINTS[kind.kind]?.[0] ?? "a file"} such as ${example} (${EMPTY_HINTS[kind.kind]?.[1] ?? "see docs/standalone.md"})`);
    }
    lines.push(...rows(ofKind.map((f) => [kinds.get(f.kind)!.describe(server, f.name), f.rel])));
  }
  const pages: Array<[string, string]> = [[server.url(CONSOLE_PATH, "http"), "console"]];
  if (config.static !== undefined) pages.push([server.url("/", "http"), `static files from ${shortPath(config.static, cwd)}`]);
  pages.push([server.url("/healthz", "http"), "health"]);
  lines.push("  pages:", ...rows(pages));
  lines.push(`listening on ${server.url("/", "http").slice(0, -1)} (Ctrl+C to stop)`);
  return lines;
}

function shortPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel === "" ? "." : rel.startsWith("..") ? path : `./${rel}`;
}

function isDirectory(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}
