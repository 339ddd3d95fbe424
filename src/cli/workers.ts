/**
 * `switchboard serve --workers N`: this process becomes the primary of N worker processes
 * (node:cluster) that share one port. The primary serves no HTTP itself. It
 *
 * - runs the IPC engine hub and bus hub, so rooms, pushes, presence and app.broadcast cross the
 *   workers as they cross nodes (without Redis; with cluster.redis the workers use Redis);
 * - owns the lock file and the control socket: `status` asks every worker (over IPC, `sb:
 *   "ctl"`, with a deadline) and returns per-worker rows plus totals; `stop` drains them all;
 * - supervises: a worker that dies is forked again after a backoff (the service limits
 *   serviceBackoffBaseMs / serviceBackoffMaxMs / serviceRestartLimit / serviceRestartWindowMs);
 *   too many deaths within the window stop the primary with exit code 1.
 *
 * Connections are spread by node:cluster's round-robin in the primary (SCHED_RR, set here):
 * it balances evenly on Linux, where SO_REUSEPORT's kernel hashing can leave one worker with
 * most of the connections, and it works the same on every platform Node supports.
 */
import cluster, { type Worker } from "node:cluster";
import { join } from "node:path";
import { IpcEngineHub } from "../engine/ipc-hub.ts";
import { IpcBusHub } from "../cluster/index.ts";
import { childPort } from "../cluster/ipc-port.ts";
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
import { DEFAULT_STATUS_ROOMS, MAX_STATUS_ROOMS, type StatusResult } from "../control/builtin-commands.ts";
import type { EndpointInfo } from "../control/context.ts";
import { CTL_TAG, isCtlMessage, WORKER_INDEX_ENV, type WorkerOp } from "../runtime/worker-messages.ts";
import type { ServeContext } from "./serve.ts";

export interface WorkerRow {
  readonly index: number;
  readonly pid: number | null;
  readonly state: "running" | "starting" | "restarting" | "down";
  readonly restarts: number;
  /** The worker's own status (pid, nodeId, endpoints, rooms, tasks, …); null when it did not answer. */
  readonly status: (StatusResult & { tasks: number }) | null;
  readonly error?: string;
}

/** `status` of a primary: the single-process shape (totals over the workers) plus the rows. */
export interface WorkersStatus extends StatusResult {
  readonly workers: WorkerRow[];
  readonly totals: { workers: number; connections: number; rooms: number; tasks: number };
}

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

interface Slot {
  readonly index: number;
  worker: Worker | undefined;
  ready: boolean;
  restarts: number[];
  restartCount: number;
  timer: NodeJS.Timeout | undefined;
  /** A rolling restart is forking this slot's replacement: its death is the reload's failure, not a restart. */
  replacing: boolean;
}

interface Pending {
  readonly slot: Slot;
  resolve(value: unknown): void;
  reject(err: Error): void;
  readonly timer: NodeJS.Timeout;
}

export async function serveWorkers(config: ResolvedConfig, applied: ServeOptions, ctx: ServeContext): Promise<WorkersServing> {
  const runtimeLogger = createRuntimeLogger({
    ...(config.sources.logLevel === "default" ? {} : { level: config.logLevel }),
    ...(config.logFile === undefined ? {} : { file: config.logFile }),
    hold: true,
  }, ctx.env);
  const log: Logger = runtimeLogger.logger.child({ component: "workers" });
  const resolved = resolveServerOptions({ ...applied.server });
  const limits = resolved.services;
  const startTimeoutMs = applied.workers.workerProcessStartTimeoutMs ?? limitDefault("workerProcessStartTimeoutMs");
  const stopDeadlineMs = applied.workers.workerProcessStopTimeoutMs ?? limitDefault("workerProcessStopTimeoutMs");
  const askTimeoutMs = config.limits.ipcRequestTimeoutMs ?? limitDefault("ipcRequestTimeoutMs");
  const started = Date.now();

  const lock = acquireLock(config.lockFile ?? join(ctx.cwd, DEFAULT_LOCK_FILE), { logger: log });
  const engineHub = new IpcEngineHub({
    logger: log,
    maxRoomLength: config.limits.busMaxChannelLength ?? limitDefault("busMaxChannelLength"),
    maxPayloadBytes: config.limits.busMaxPayloadBytes ?? limitDefault("busMaxPayloadBytes"),
  });
  const busHub = new IpcBusHub({ logger: log, ...(config.limits.busMaxPayloadBytes === undefined ? {} : { maxPayloadBytes: config.limits.busMaxPayloadBytes }), ...(config.limits.busMaxChannelLength === undefined ? {} : { maxChannelLength: config.limits.busMaxChannelLength }) });

  const slots: Slot[] = Array.from({ length: config.workers }, (_, index) => ({ index, worker: undefined, ready: false, restarts: [], restartCount: 0, timer: undefined, replacing: false }));
  const pending = new Map<number, Pending>();
  let nextAsk = 1;
  let port = 0;
  let stopping = false;
  // A worker that dies during start-up fails the start (the error is the answer), it is not restarted.
  let supervising = false;
  let workersStopped: Promise<void> | undefined;

  cluster.schedulingPolicy = cluster.SCHED_RR;

  /** Fork the worker of `slot`; resolves with its port and banner once it listens. */
  const fork = (slot: Slot): Promise<{ port: number; banner: string[] }> => {
    // Every worker listens on the configured port, --port 0 included: node:cluster gives every
    // worker's listen(0) the one handle the primary bound first, so they share its port.
    const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(slot.index) });
    slot.worker = worker;
    slot.ready = false;
    const ipc = childPort(worker);
    engineHub.add(ipc);
    busHub.add(ipc);
    worker.on("error", (err) => log.warn({ err, worker: slot.index }, "worker channel error"));
    log.info({ worker: slot.index, pid: worker.process.pid }, "worker started");
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`worker ${slot.index} did not listen within ${startTimeoutMs} ms (workerProcessStartTimeoutMs)`));
        worker.process.kill("SIGKILL");
      }, startTimeoutMs);
      worker.on("message", (message: unknown) => {
        if (!isCtlMessage(message)) return;
        if (message.kind === "ready") {
          clearTimeout(timer);
          slot.ready = true;
          // After start-up the banner is long out: a restarted worker writes its log lines at once.
          if (supervising) worker.send({ sb: CTL_TAG, kind: "printed" }, undefined, () => undefined);
          log.info({ worker: slot.index, pid: worker.process.pid, port: message.port }, "worker listening");
          resolve({ port: message.port, banner: Array.isArray(message.banner) ? message.banner.map(String) : [] });
        } else if (message.kind === "res") {
          const ask = pending.get(message.id);
          if (ask === undefined || ask.slot !== slot) return;
          pending.delete(message.id);
          clearTimeout(ask.timer);
          if (message.ok) ask.resolve(message.value);
          else ask.reject(new Error(message.error));
        }
      });
      worker.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`worker ${slot.index} exited (${signal ?? `code ${code}`}) before it listened (its own error, if it had one, is printed above)`));
        onExit(slot, worker, code, signal);
      });
    });
  };

  const onExit = (slot: Slot, worker: Worker, code: number | null, signal: string | null): void => {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    slot.ready = false;
    for (const [id, ask] of pending) {
      if (ask.slot !== slot) continue;
      pending.delete(id);
      clearTimeout(ask.timer);
      ask.reject(new Error(`worker ${slot.index} exited`));
    }
    if (stopping || !supervising || slot.replacing) return;
    const now = Date.now();
    slot.restarts = slot.restarts.filter((t) => now - t < limits.restartWindowMs);
    if (slot.restarts.length >= limits.restartLimit) {
      log.error({ worker: slot.index, code, signal, restarts: slot.restarts.length }, `worker keeps dying (serviceRestartLimit ${limits.restartLimit} within serviceRestartWindowMs): stopping`);
      void shutdown.trigger("worker failed", ExitCode.Error);
      return;
    }
    const delay = Math.min(limits.backoffMaxMs, limits.backoffBaseMs * 2 ** slot.restarts.length);
    slot.restarts.push(now);
    slot.restartCount += 1;
    log.warn({ worker: slot.index, pid: worker.process.pid, code, signal, delayMs: delay }, "worker exited; restarting");
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      if (stopping) return;
      fork(slot).then(
        () => log.info({ worker: slot.index, pid: slot.worker?.process.pid }, "worker restarted"),
        (err: unknown) => log.warn({ err, worker: slot.index }, "restarted worker failed to start"),
      );
    }, delay);
  };

  const ask = (slot: Slot, op: WorkerOp, args: unknown[]): Promise<unknown> => {
    const worker = slot.worker;
    if (worker === undefined || !slot.ready || !worker.isConnected()) return Promise.reject(new Error(`worker ${slot.index} is not running`));
    const id = nextAsk++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`worker ${slot.index} did not answer within ${askTimeoutMs} ms (ipcRequestTimeoutMs)`));
      }, askTimeoutMs);
      pending.set(id, { slot, resolve, reject, timer });
      worker.send({ sb: CTL_TAG, kind: "req", id, op, args }, undefined, (err) => {
        if (err === null || !pending.has(id)) return;
        pending.delete(id);
        clearTimeout(timer);
        reject(err);
      });
    });
  };

  const status = async (maxRooms = DEFAULT_STATUS_ROOMS): Promise<WorkersStatus> => {
    const rows: WorkerRow[] = await Promise.all(slots.map(async (slot): Promise<WorkerRow> => {
      const base = {
        index: slot.index, pid: slot.worker?.process.pid ?? null, restarts: slot.restartCount,
        state: slot.worker === undefined ? (slot.timer === undefined ? "down" : "restarting") : slot.ready ? "running" : "starting",
      } as const;
      try {
        return { ...base, status: (await ask(slot, "status", [maxRooms])) as WorkerRow["status"] };
      } catch (err) {
        return { ...base, status: null, error: (err as Error).message };
      }
    }));
    const answered = rows.flatMap((r) => (r.status === null ? [] : [r.status]));
    const endpoints = new Map<string, EndpointInfo>();
    for (const e of answered.flatMap((s) => s.endpoints)) {
      const seen = endpoints.get(e.path);
      endpoints.set(e.path, seen === undefined ? { ...e } : {
        ...seen, connections: seen.connections + e.connections,
        ...(e.rooms === undefined && seen.rooms === undefined ? {} : { rooms: (seen.rooms ?? 0) + (e.rooms ?? 0) }),
      });
    }
    const totals = {
      workers: answered.length,
      connections: answered.reduce((n, s) => n + s.endpoints.reduce((m, e) => m + e.connections, 0), 0),
      // Each worker counts the rooms it has members in: a room spanning two workers counts twice.
      rooms: answered.reduce((n, s) => n + (s.rooms ?? 0), 0),
      tasks: answered.reduce((n, s) => n + s.tasks, 0),
    };
    const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
    const first = answered[0];
    return {
      pid: process.pid,
      nodeId: null,
      uptimeMs: Date.now() - started,
      memory: { rss, heapUsed, heapTotal, external },
      endpoints: [...endpoints.values()],
      rooms: answered.some((s) => s.rooms !== null) ? totals.rooms : null,
      roomList: null,
      services: [],
      // The nodes table of `switchboard status` lists the workers (each answered just now).
      cluster: {
        ...(first?.cluster ?? { kind: "ipc", status: "down", bus: { published: 0, delivered: 0, dropped: 0, outages: 0 } }),
        nodeId: "primary",
        nodes: answered.map((s) => ({ nodeId: s.nodeId ?? `pid ${s.pid}`, connections: s.endpoints.reduce((m, e) => m + e.connections, 0), lastSeen: Date.now() })),
      },
      workers: rows,
      totals,
    };
  };

  /** Tell every worker to stop (SIGTERM: its graceful stop, 1001 to its clients), wait with a deadline, SIGKILL the rest. */
  const stopWorkers = (): Promise<void> => (workersStopped ??= (async () => {
    stopping = true;
    for (const slot of slots) if (slot.timer !== undefined) clearTimeout(slot.timer);
    const live = [...slots.flatMap((s) => (s.worker === undefined ? [] : [s.worker])), ...retiring];
    const exits = live.map((w) => new Promise<void>((r) => (w.isDead() ? r() : w.once("exit", () => r()))));
    for (const w of live) w.process.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.all(exits).then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), stopDeadlineMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      const stuck = live.filter((w) => !w.isDead());
      log.warn({ pids: stuck.map((w) => w.process.pid) }, `workers still running ${stopDeadlineMs} ms after SIGTERM (workerProcessStopTimeoutMs): SIGKILL`);
      for (const w of stuck) w.process.kill("SIGKILL");
      await Promise.all(exits);
    }
  })());

  /** SIGTERM one worker (its graceful stop) and wait for its exit, SIGKILL after the stop deadline. */
  const retire = async (worker: Worker): Promise<void> => {
    if (worker.isDead()) return;
    const exit = new Promise<void>((r) => worker.once("exit", () => r()));
    worker.process.kill("SIGTERM");
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([exit.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), stopDeadlineMs)))]);
    clearTimeout(timer);
    if (timedOut) {
      log.warn({ pid: worker.process.pid }, `worker still running ${stopDeadlineMs} ms after SIGTERM (workerProcessStopTimeoutMs): SIGKILL`);
      worker.process.kill("SIGKILL");
      await exit;
    }
  };

  /**
   * `command reload`: replace the workers one at a time. For each slot a new worker is forked and
   * must listen before the old one is stopped gracefully (its clients get 1001 and reconnect to
   * the others), so the port is always served. A replacement that fails to start ends the reload
   * with an error and the old worker keeps serving.
   */
  let reloading = false;
  /** Old workers of a reload, until they exited: a stop during a reload stops them too. */
  const retiring = new Set<Worker>();
  const reload = async (progress: (phase: string) => void): Promise<{ replaced: Array<{ index: number; from: number | null; to: number | null }> }> => {
    reloading = true;
    const replaced: Array<{ index: number; from: number | null; to: number | null }> = [];
    try {
      for (const slot of slots) {
        if (stopping) throw new Error("the primary is stopping");
        const old = slot.worker;
        const oldReady = slot.ready;
        if (old !== undefined && !oldReady) throw new Error(`worker ${slot.index} is still starting: try again once it runs`);
        if (slot.timer !== undefined) {
          // A worker waiting for its restart backoff is simply started now.
          clearTimeout(slot.timer);
          slot.timer = undefined;
        }
        progress(`worker ${slot.index}: starting a replacement${old === undefined ? "" : ` for pid ${old.process.pid}`}`);
        slot.replacing = true;
        if (old !== undefined) retiring.add(old);
        try {
          await fork(slot);
        } catch (err) {
          // Put the old worker back: it was never stopped.
          if (old !== undefined) retiring.delete(old);
          if (old !== undefined && !old.isDead()) {
            slot.worker = old;
            slot.ready = oldReady;
          }
          throw new Error(`worker ${slot.index}: the replacement did not start (${(err as Error).message}); the old worker keeps serving`);
        } finally {
          slot.replacing = false;
        }
        if (old !== undefined) {
          progress(`worker ${slot.index}: pid ${slot.worker?.process.pid} listens; stopping pid ${old.process.pid} (its connections close with 1001)`);
          await retire(old);
          retiring.delete(old);
        }
        replaced.push({ index: slot.index, from: old?.process.pid ?? null, to: slot.worker?.process.pid ?? null });
      }
      return { replaced };
    } finally {
      reloading = false;
    }
  };

  let control: ControlServer | undefined;
  let resolveExited!: (code: number) => void;
  const exited = new Promise<number>((r) => (resolveExited = r));
  const shutdown = installShutdown({
    logger: log,
    stop: async () => {
      try {
        await stopWorkers();
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

  const dispatch: Dispatch = async (request, call): Promise<ControlReply> => {
    const { id, command, args } = request;
    if (command === "status") {
      const rooms = args[0];
      if (args.length > 1 || (rooms !== undefined && !(/^\d+$/.test(String(rooms)) && Number(rooms) <= MAX_STATUS_ROOMS))) {
        return errorReply(id, ControlErrorCode.BadArgs, `ROOMS must be an integer from 0 to ${MAX_STATUS_ROOMS}; usage: status [ROOMS]`);
      }
      return { id, ok: true, result: await status(rooms === undefined ? DEFAULT_STATUS_ROOMS : Number(rooms)) };
    }
    if (command === "stop") {
      const live = slots.filter((s) => s.worker !== undefined).length;
      call.progress({ phase: `stopping ${live} worker(s): each refuses new connections, closes its connections with 1001 and finishes its tasks` });
      void shutdown.trigger("switchboard stop");
      await stopWorkers();
      return { id, ok: true, result: { stopped: true } };
    }
    if (command === "reload") {
      if (args.length > 0) return errorReply(id, ControlErrorCode.BadArgs, "reload takes no arguments; usage: reload");
      if (reloading) return errorReply(id, ControlErrorCode.Busy, "a reload is already running");
      try {
        return { id, ok: true, result: await reload((phase) => call.progress({ phase })) };
      } catch (err) {
        return errorReply(id, ControlErrorCode.Internal, (err as Error).message);
      }
    }
    if (command === "help") {
      return { id, ok: true, result: { commands: [
        { name: "status", usage: "status [ROOMS]", help: "every worker's status (pid, node, connections, rooms, tasks) and the totals" },
        { name: "stop", usage: "stop", help: "stop every worker gracefully (1001 to their clients), then the primary; exit 0" },
        { name: "reload", usage: "reload", help: "replace the workers one at a time: fork a new one, wait until it listens, stop the old one (1001)" },
      ] } };
    }
    return errorReply(id, ControlErrorCode.UnknownCommand, `unknown command "${command}" for a --workers primary; known commands: help, reload, status, stop (other commands are not forwarded to the workers yet)`);
  };

  try {
    // The first worker's banner is the one printed (its URLs carry the bound port).
    const first = await fork(slots[0]!);
    port = first.port;
    await Promise.all(slots.slice(1).map((slot) => fork(slot)));
    control = new ControlServer({ ...applied.control, path: config.controlSocket ?? join(ctx.cwd, DEFAULT_CONTROL_SOCKET), dispatch, logger: runtimeLogger.logger });
    await control.start();
    const lines = [...first.banner];
    const pids = slots.map((s) => s.worker?.process.pid).join(", ");
    lines.splice(Math.max(0, lines.length - 1), 0, `  workers: ${config.workers} processes on one port (pids ${pids}); rooms and pushes shared ${config.cluster.redis === undefined ? "through this primary (IPC)" : "through Redis"}`);
    for (const line of lines) ctx.out(line);
    runtimeLogger.release();
    // A failed send means that worker died: its 'exit' restarts it, and the new one is told when ready.
    for (const slot of slots) slot.worker?.send({ sb: CTL_TAG, kind: "printed" }, undefined, () => undefined);
    supervising = true;
  } catch (err) {
    shutdown.uninstall();
    stopping = true;
    for (const slot of slots) slot.worker?.process.kill("SIGKILL");
    lock.release();
    const held = runtimeLogger.discard();
    if (ctx.env.DEBUG?.includes("switchboard")) ctx.debug?.(held.join(""));
    throw err;
  }
  log.info({ port, workers: config.workers, lockFile: lock.path, controlSocket: control?.path }, "primary ready");
  return {
    port, lock, control, shutdown, exited, status,
    pids: () => slots.map((s) => s.worker?.process.pid ?? null),
  };
}
