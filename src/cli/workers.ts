/**
 * `switchboard serve --workers N`: this process becomes the primary of N worker processes
 * (node:cluster) that share one port. The generic primary (fork, hubs, supervision, status,
 * stop, rolling reload) is runtime/workers-primary.ts, shared with the library's runWorkers();
 * this file adds what only the standalone server has: the lock file, the control socket and
 * its commands, the banner printed once, and the runtime logger whose lines wait for it.
 */
import { join } from "node:path";
import { limitDefault } from "../limits.ts";
import { resolveServerOptions } from "../options.ts";
import type { ResolvedConfig } from "../config/resolve.ts";
import type { ServeOptions } from "../config/placement.ts";
import { createRuntimeLogger } from "../runtime/logging.ts";
import type { Logger } from "../log.ts";
import { acquireLock, DEFAULT_LOCK_FILE, type Lock } from "../runtime/lockfile.ts";
import { ExitCode, installShutdown, type ShutdownHandle } from "../runtime/shutdown.ts";
import { ControlServer, DEFAULT_CONTROL_SOCKET, type Dispatch } from "../control/server.ts";
import { ControlErrorCode, errorReply, type ControlReply } from "../control/protocol.ts";
import { DEFAULT_STATUS_ROOMS, MAX_STATUS_ROOMS } from "../control/builtin-commands.ts";
import { createWorkersPrimary, type WorkersStatus } from "../runtime/workers-primary.ts";
import { forwardedScope, joinWorkerReplies, primaryHelp, workersCommandTable } from "../runtime/workers-commands.ts";
import type { ServeContext } from "./serve.ts";

export type { WorkerRow, WorkersStatus } from "../runtime/workers-primary.ts";

export interface WorkersServing {
  readonly port: number;
  readonly lock: Lock | undefined;
  readonly control: ControlServer | undefined;
  readonly shutdown: ShutdownHandle;
  readonly exited: Promise<number>;
  /** The live workers' PIDs, by slot. */
  pids(): Array<number | null>;
  status(maxRooms?: number): Promise<WorkersStatus>;
}

export async function serveWorkers(config: ResolvedConfig, applied: ServeOptions, ctx: ServeContext): Promise<WorkersServing> {
  const runtimeLogger = createRuntimeLogger({
    ...(config.sources.logLevel === "default" ? {} : { level: config.logLevel }),
    ...(config.logFile === undefined ? {} : { file: config.logFile }),
    hold: true,
  }, ctx.env);
  const log: Logger = runtimeLogger.logger.child({ component: "workers" });
  const services = resolveServerOptions({ ...applied.server }).services;
  const lock = acquireLock(config.lockFile ?? join(ctx.cwd, DEFAULT_LOCK_FILE), { logger: log });
  const primary = createWorkersPrimary({
    workers: config.workers,
    logger: log,
    limits: {
      startTimeoutMs: applied.workers.workerProcessStartTimeoutMs ?? limitDefault("workerProcessStartTimeoutMs"),
      stopTimeoutMs: applied.workers.workerProcessStopTimeoutMs ?? limitDefault("workerProcessStopTimeoutMs"),
      askTimeoutMs: config.limits.ipcRequestTimeoutMs ?? limitDefault("ipcRequestTimeoutMs"),
      restartLimit: services.restartLimit,
      restartWindowMs: services.restartWindowMs,
      backoffBaseMs: services.backoffBaseMs,
      backoffMaxMs: services.backoffMaxMs,
      busMaxChannelLength: config.limits.busMaxChannelLength ?? limitDefault("busMaxChannelLength"),
      busMaxPayloadBytes: config.limits.busMaxPayloadBytes ?? limitDefault("busMaxPayloadBytes"),
    },
    onGiveUp: () => void shutdown.trigger("worker failed", ExitCode.Error),
  });

  let control: ControlServer | undefined;
  let resolveExited!: (code: number) => void;
  const exited = new Promise<number>((r) => (resolveExited = r));
  const shutdown = installShutdown({
    logger: log,
    stop: async () => {
      try {
        await primary.stop();
        await control?.stop();
      } finally {
        lock.release();
      }
    },
    exit: (code) => {
      resolveExited(code);
      process.exit(code);
    },
  });

  const commands = workersCommandTable();
  const dispatch: Dispatch = async (request, call): Promise<ControlReply> => {
    const { id, command, args } = request;
    if (command === "status") {
      const rooms = args[0];
      if (args.length > 1 || (rooms !== undefined && !(/^\d+$/.test(String(rooms)) && Number(rooms) <= MAX_STATUS_ROOMS))) {
        return errorReply(id, ControlErrorCode.BadArgs, `ROOMS must be an integer from 0 to ${MAX_STATUS_ROOMS}; usage: status [ROOMS]`);
      }
      return { id, ok: true, result: await primary.status(rooms === undefined ? DEFAULT_STATUS_ROOMS : Number(rooms)) };
    }
    if (command === "stop") {
      call.progress({ phase: `stopping ${primary.live()} worker(s): each refuses new connections, closes its connections with 1001 and finishes its tasks` });
      void shutdown.trigger("switchboard stop");
      await primary.stop();
      return { id, ok: true, result: { stopped: true } };
    }
    if (command === "reload") {
      if (args.length > 0) return errorReply(id, ControlErrorCode.BadArgs, "reload takes no arguments; usage: reload");
      if (primary.reloading) return errorReply(id, ControlErrorCode.Busy, "a reload is already running");
      try {
        return { id, ok: true, result: await primary.reload((phase) => call.progress({ phase })) };
      } catch (err) {
        return errorReply(id, ControlErrorCode.Internal, (err as Error).message);
      }
    }
    if (command === "help") {
      if (args.length > 1) return errorReply(id, ControlErrorCode.BadArgs, "too many arguments; usage: help [COMMAND]");
      return primaryHelp(id, commands, args[0]);
    }
    const on = forwardedScope(commands, command);
    if (on === undefined) {
      const known = ["help", "reload", "status", "stop", ...commands.list().map((c) => c.name).filter((n) => forwardedScope(commands, n) !== undefined)];
      return errorReply(id, ControlErrorCode.UnknownCommand, `unknown command "${command}"; known commands: ${known.join(", ")}`);
    }
    return joinWorkerReplies(id, await primary.command(command, args, on), on);
  };

  let port: number;
  try {
    // The first worker's banner is the one printed (its URLs carry the bound port).
    const first = await primary.start();
    port = first.port;
    control = new ControlServer({ ...applied.control, path: config.controlSocket ?? join(ctx.cwd, DEFAULT_CONTROL_SOCKET), dispatch, logger: runtimeLogger.logger });
    await control.start();
    const lines = [...first.banner];
    const pids = primary.pids().join(", ");
    lines.splice(Math.max(0, lines.length - 1), 0, `  workers: ${config.workers} processes on one port (pids ${pids}); rooms and pushes shared ${config.cluster.redis === undefined ? "through this primary (IPC)" : "through Redis"}`);
    for (const line of lines) ctx.out(line);
    runtimeLogger.release();
    primary.supervise();
  } catch (err) {
    shutdown.uninstall();
    await primary.abort();
    lock.release();
    const held = runtimeLogger.discard();
    if (ctx.env.DEBUG?.includes("switchboard")) ctx.debug?.(held.join(""));
    throw err;
  }
  log.info({ port, workers: config.workers, lockFile: lock.path, controlSocket: control?.path }, "primary ready");
  return { port, lock, control, shutdown, exited, status: primary.status, pids: primary.pids };
}
