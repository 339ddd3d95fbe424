/**
 * runWorkers(): N worker processes of one server, from code, in one call (what
 * `switchboard serve --workers N` is for the CLI). The same script runs in both roles:
 * node:cluster re-runs the entry file in each worker, where runWorkers() calls `start` and
 * serves; in the process you started it becomes the primary (runtime/workers-primary.ts):
 * the IPC engine and bus hubs, supervision with backoff, status, stop and rolling reload.
 *
 *   const run = await runWorkers({ workers: "auto", start: async ({ cluster }) => createServer({ port: 8080, cluster }) });
 *   if (run.role === "primary") console.log(`port ${run.port}, pids ${run.pids().join(", ")}`);
 *
 * The primary takes no lock file and no control socket (those are the CLI's); SIGINT/SIGTERM
 * stop every worker gracefully and exit, as a standalone server does.
 */
import cluster from "node:cluster";
import { availableParallelism } from "node:os";
import type { Server } from "../server.ts";
import type { ClusterConfig } from "../cluster/index.ts";
import { OptionError, StateError } from "../errors.ts";
import { asError, runHook } from "../hooks.ts";
import { readLimit, type LimitName } from "../limits.ts";
import { createLogger, type Logger, type LogOptions } from "../log.ts";
import { MAX_WORKERS } from "../config/schema.ts";
import { ExitCode, installShutdown } from "./shutdown.ts";
import { startWorkerControl, workerSignalSource } from "./worker-control.ts";
import { CTL_TAG, workerIndex, type CtlMessage } from "./worker-messages.ts";
import { createWorkersPrimary, type ReloadResult, type WorkersPrimaryLimits, type WorkersStatus } from "./workers-primary.ts";

/** The limits runWorkers() reads (rows of limits.ts); each defaults to its row's default. */
export const RUN_WORKERS_LIMITS = [
  "workerProcessStartTimeoutMs", "workerProcessStopTimeoutMs", "ipcRequestTimeoutMs",
  "serviceRestartLimit", "serviceRestartWindowMs", "serviceBackoffBaseMs", "serviceBackoffMaxMs",
  "busMaxPayloadBytes", "busMaxChannelLength",
] as const satisfies readonly LimitName[];
export type RunWorkersLimits = Partial<Record<(typeof RUN_WORKERS_LIMITS)[number], number>>;

/** What `start` is given in a worker. */
export interface WorkerStartContext {
  /** This worker's slot, 0 to workers - 1 (a restarted or reloaded worker keeps its slot). */
  readonly index: number;
  /**
   * Pass it as the server's `cluster` option: rooms, pushes, presence and app.broadcast then
   * cross the workers through the primary (IPC). For Redis, pass your `{ redis }` instead.
   */
  readonly cluster: ClusterConfig;
}

export interface RunWorkersOptions {
  /** Worker processes sharing the port: 1 to 64, or "auto" (one per core, at most 64). */
  workers: number | "auto";
  /**
   * Called in each worker (never in the primary): build the server and return it, started or
   * not (it is started if you did not). What it throws fails runWorkers() in the primary.
   */
  start: (context: WorkerStartContext) => Server | Promise<Server>;
  /** The primary's logger (a pino logger or { level }); default: level from LOG_LEVEL, else info. */
  logger?: Logger | LogOptions;
  limits?: RunWorkersLimits;
  /** Called with the exit code after a signal's graceful stop or a worker that keeps dying; default process.exit. */
  exit?: (code: number) => void;
}

/** runWorkers() in the process you started. */
export interface WorkersPrimaryRun {
  readonly role: "primary";
  /** The one port every worker listens on (the bound one when the server's port is 0). */
  readonly port: number;
  /** The live workers' PIDs, by slot (null while a slot restarts). */
  pids(): Array<number | null>;
  /** Every worker's status (a row each) and the totals, as `switchboard status --json` answers. */
  status(maxRooms?: number): Promise<WorkersStatus>;
  /** Replace the workers one at a time (a rolling restart); rejects, old worker kept, if a replacement fails. */
  reload(): Promise<ReloadResult>;
  /** Stop every worker gracefully (1001 to clients); does not exit the process. */
  stop(): Promise<void>;
  /** Resolves with the exit code once everything stopped (0 after stop()). */
  readonly exited: Promise<number>;
}

/** runWorkers() in a worker process. */
export interface WorkerRun {
  readonly role: "worker";
  readonly index: number;
  /** This worker's server, running. */
  readonly server: Server;
}

const OPTION_KEYS = new Set(["workers", "start", "logger", "limits", "exit"]);

/** The worker count, checked as `--workers` is; "auto" is the machine's cores. */
export function readWorkerCount(value: unknown): number {
  if (value === "auto") return Math.min(MAX_WORKERS, availableParallelism());
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_WORKERS) {
    throw new OptionError("workers", `must be an integer from 1 to ${MAX_WORKERS}, or "auto" (one per core), got ${JSON.stringify(value)}`);
  }
  return value;
}

function readOptions(options: RunWorkersOptions): { workers: number; limits: Required<RunWorkersLimits> } {
  if (typeof options !== "object" || options === null) throw new OptionError("runWorkers", "options must be an object");
  for (const key of Object.keys(options)) if (!OPTION_KEYS.has(key)) throw new OptionError(key, `unknown option for runWorkers (known: ${[...OPTION_KEYS].join(", ")})`);
  const workers = readWorkerCount(options.workers);
  if (typeof options.start !== "function") throw new OptionError("start", "must be a function ({ index, cluster }) => Server that builds one worker's server");
  if (options.exit !== undefined && typeof options.exit !== "function") throw new OptionError("exit", "must be a function (code) => void");
  const given = options.limits ?? {};
  if (typeof given !== "object" || given === null) throw new OptionError("limits", "must be an object of limits.ts names");
  const known = new Set<string>(RUN_WORKERS_LIMITS);
  for (const key of Object.keys(given)) if (!known.has(key)) throw new OptionError(`limits.${key}`, `not a limit runWorkers reads (known: ${RUN_WORKERS_LIMITS.join(", ")})`);
  const limits = Object.fromEntries(RUN_WORKERS_LIMITS.map((name) => [name, readLimit(name, given[name])])) as Required<RunWorkersLimits>;
  return { workers, limits };
}

/** One runWorkers() per process: a second would fork the same entry file again, twice over. */
let called = false;

/** Start N workers of one server (in the primary) or serve as one of them (in a worker). */
export async function runWorkers(options: RunWorkersOptions): Promise<WorkersPrimaryRun | WorkerRun> {
  const { workers, limits } = readOptions(options);
  if (called) throw new StateError("runWorkers() was called already in this process: call it once, from the entry file");
  called = true;
  if (cluster.isPrimary) return runPrimary(options, workers, limits);
  const index = workerIndex(process.env);
  if (index === undefined) throw new StateError("runWorkers() in a node:cluster worker that its primary did not fork: call it in the process you start");
  return runWorker(options, index, limits);
}

async function runPrimary(options: RunWorkersOptions, workers: number, limits: Required<RunWorkersLimits>): Promise<WorkersPrimaryRun> {
  const log = createLogger(options.logger).child({ component: "workers" });
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const primaryLimits: WorkersPrimaryLimits = {
    startTimeoutMs: limits.workerProcessStartTimeoutMs,
    stopTimeoutMs: limits.workerProcessStopTimeoutMs,
    askTimeoutMs: limits.ipcRequestTimeoutMs,
    restartLimit: limits.serviceRestartLimit,
    restartWindowMs: limits.serviceRestartWindowMs,
    backoffBaseMs: limits.serviceBackoffBaseMs,
    backoffMaxMs: limits.serviceBackoffMaxMs,
    busMaxChannelLength: limits.busMaxChannelLength,
    busMaxPayloadBytes: limits.busMaxPayloadBytes,
  };
  const primary = createWorkersPrimary({ workers, logger: log, limits: primaryLimits, onGiveUp: (reason) => void shutdown.trigger(reason, ExitCode.Error) });
  let resolveExited!: (code: number) => void;
  const exited = new Promise<number>((r) => (resolveExited = r));
  let stopped: Promise<void> | undefined;
  const stopAll = (): Promise<void> => (stopped ??= primary.stop().finally(() => shutdown.uninstall()));
  const shutdown = installShutdown({
    logger: log,
    stop: stopAll,
    exit: (code) => {
      resolveExited(code);
      exit(code);
    },
  });
  let port: number;
  try {
    port = (await primary.start()).port;
  } catch (err) {
    shutdown.uninstall();
    throw err;
  }
  primary.supervise();
  log.info({ port, workers, pids: primary.pids() }, "workers ready");
  return {
    role: "primary",
    port,
    pids: primary.pids,
    status: primary.status,
    reload: () => primary.reload((phase) => log.info({ phase }, "reload")),
    stop: async () => {
      await stopAll();
      resolveExited(ExitCode.Ok);
    },
    exited,
  };
}

/** The server's cluster option in a worker: IPC, with the limits the primary's hubs use. */
function workerCluster(limits: Required<RunWorkersLimits>): ClusterConfig {
  return {
    ipc: true,
    ipcRequestTimeoutMs: limits.ipcRequestTimeoutMs,
    busMaxPayloadBytes: limits.busMaxPayloadBytes,
    busMaxChannelLength: limits.busMaxChannelLength,
  };
}

/** User code returns the server: called through runHook, whose error handler rejects. */
function callStart(start: RunWorkersOptions["start"], context: WorkerStartContext): Promise<Server> {
  return new Promise<Server>((resolve, reject) => {
    runHook(async (ctx: WorkerStartContext) => resolve(await start(ctx)), [context], reject);
  });
}

async function runWorker(options: RunWorkersOptions, index: number, limits: Required<RunWorkersLimits>): Promise<WorkerRun> {
  let server: Server;
  try {
    server = await callStart(options.start, Object.freeze({ index, cluster: workerCluster(limits) }));
    if (typeof server !== "object" || server === null || typeof (server as Partial<Server>).stop !== "function" || typeof (server as Partial<Server>).start !== "function") {
      throw new OptionError("start", `must return the worker's Server (createServer(...)), returned ${server === null ? "null" : typeof server}`);
    }
    if (server.state === "new") await server.start();
  } catch (err) {
    // The primary's runWorkers() rejects with this error; this worker is done.
    await reportStartFailure(asError(err));
    return new Promise<never>(() => undefined);
  }
  // SIGTERM stops this worker; Ctrl+C's SIGINT is the primary's to act on (workerSignalSource).
  const shutdown = installShutdown({ logger: server.log, stop: () => server.stop(), process: workerSignalSource() });
  // A critical service failing for good stops the server by itself: exit 1, the primary restarts it.
  server.services.on("fatal", () => void shutdown.trigger("critical service failed", ExitCode.Error));
  // The primary writes no banner for runWorkers: nothing to hold back.
  startWorkerControl({ server, shutdown, banner: [] });
  return { role: "worker", index, server };
}

/** Tell the primary why, then exit 1 (once the message is out, or at once without a channel). */
function reportStartFailure(err: Error): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      resolve();
      process.exit(ExitCode.Error);
    };
    const message: CtlMessage = { sb: CTL_TAG, kind: "failed", name: err.name, error: err.message };
    if (process.send === undefined || !process.connected) return done();
    process.send(message, undefined, undefined, () => done());
  });
}
