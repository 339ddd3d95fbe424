/**
 * The primary of N worker processes that share one port (node:cluster), with no CLI in it:
 * `switchboard serve --workers` (cli/workers.ts: lock file, control socket, banner) and the
 * library's runWorkers() (runtime/run-workers.ts) are both built on it. It serves no HTTP.
 *
 * - It runs the IPC engine hub and bus hub, so rooms, pushes, presence and app.broadcast cross
 *   the workers as they cross nodes (without Redis; with cluster.redis the workers use Redis).
 * - `status()` asks every worker (over IPC, `sb: "ctl"`, with a deadline) and returns
 *   per-worker rows plus totals; `stop()` drains them all (a stop request, deadline, SIGKILL).
 * - It supervises once `supervise()` is called: a worker that dies is forked again after a
 *   backoff (serviceBackoffBaseMs / serviceBackoffMaxMs); more than serviceRestartLimit deaths
 *   within serviceRestartWindowMs call `onGiveUp` (the owner stops everything, exit code 1).
 *   Before that, a worker that dies or fails its start fails `start()`: no restart loop at start-up.
 * - `reload()` replaces the workers one at a time (a rolling restart).
 *
 * Connections are spread by node:cluster's round-robin in the primary (SCHED_RR, set here):
 * the primary hands each socket to a worker that has acknowledged its previous one, so a
 * stalled worker gets at most one, and a worker that closes its server or dies loses none of
 * the primary's queue (a worker killed mid-hand-off leaves that one socket open in the primary
 * until the client times out). SCHED_NONE left one worker with up to 10x another's share.
 * SO_REUSEPORT (`reusePort`, Node >= 22.12; not in Node 20) spreads many connections as evenly
 * as a random draw (a handful can land on one worker by chance), but the kernel keeps sending a
 * stalled worker its share and resets the connections queued on a listener that closes or
 * dies (a rolling reload, a crash) unless net.ipv4.tcp_migrate_req=1.
 * See bench/results/workers-balance-2026-12-02.md.
 */
import cluster, { type Worker } from "node:cluster";
import { IpcEngineHub } from "../engine/ipc-hub.ts";
import { IpcBusHub } from "../cluster/index.ts";
import { childPort } from "../cluster/ipc-port.ts";
import type { Logger } from "../log.ts";
import { WorkerStartError } from "../errors.ts";
import { DEFAULT_STATUS_ROOMS } from "../control/builtin-commands.ts";
import type { ControlReply } from "../control/protocol.ts";
import { aggregateStatus, type WorkerRow, type WorkersStatus } from "./workers-status.ts";
import { CTL_TAG, isCtlMessage, WORKER_INDEX_ENV, type WorkerOp } from "./worker-messages.ts";

export type { WorkerRow, WorkersStatus } from "./workers-status.ts";

/** One worker's answer to a forwarded control command: its reply, or why there is none. */
export interface WorkerCommandRow {
  readonly index: number;
  readonly pid: number | null;
  readonly reply?: ControlReply;
  readonly error?: string;
}

/** What `reload()` did: each slot's old and new PID. */
export interface ReloadResult {
  readonly replaced: Array<{ index: number; from: number | null; to: number | null }>;
}

/** The primary's limits, already read and checked (limits.ts rows named in parentheses). */
export interface WorkersPrimaryLimits {
  /** workerProcessStartTimeoutMs */
  readonly startTimeoutMs: number;
  /** workerProcessStopTimeoutMs */
  readonly stopTimeoutMs: number;
  /** ipcRequestTimeoutMs: how long `status` waits for a worker. */
  readonly askTimeoutMs: number;
  /** serviceRestartLimit, serviceRestartWindowMs, serviceBackoffBaseMs, serviceBackoffMaxMs */
  readonly restartLimit: number;
  readonly restartWindowMs: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** busMaxChannelLength, busMaxPayloadBytes: what the hubs accept. */
  readonly busMaxChannelLength: number;
  readonly busMaxPayloadBytes: number;
}

export interface WorkersPrimaryOptions {
  readonly workers: number;
  readonly logger: Logger;
  readonly limits: WorkersPrimaryLimits;
  /** A worker died more than serviceRestartLimit times within the window: the owner should stop (exit 1). */
  readonly onGiveUp: (reason: string) => void;
}

/** The first worker's answer once it listens: the shared port and the banner it would have printed. */
export interface WorkersStarted {
  readonly port: number;
  readonly banner: string[];
}

export interface WorkersPrimary {
  /**
   * Fork every worker and wait until all listen. A worker that fails (its start threw, it
   * exited, it did not listen in time) fails this with its error; the others are killed.
   */
  start(): Promise<WorkersStarted>;
  /** Start-up is over (the banner is out): workers write their held log lines, deaths are restarted. */
  supervise(): void;
  status(maxRooms?: number): Promise<WorkersStatus>;
  /**
   * Run one control command on the workers (each runs it with its own command table, within
   * ipcRequestTimeoutMs): on every running worker, or on the first running one that answers.
   */
  command(name: string, args: readonly unknown[], on: "every-worker" | "one-worker"): Promise<WorkerCommandRow[]>;
  /** Replace the workers one at a time; rejects (old worker kept) when a replacement fails to start. */
  reload(progress?: (phase: string) => void): Promise<ReloadResult>;
  readonly reloading: boolean;
  /** Stop every worker gracefully (1001 to clients), wait up to workerProcessStopTimeoutMs, SIGKILL the rest. Idempotent. */
  stop(): Promise<void>;
  /** A start-up that failed after start() (e.g. the owner's control socket): SIGKILL every worker, no restarts. */
  abort(): Promise<void>;
  /** The live workers' PIDs, by slot. */
  pids(): Array<number | null>;
  /** How many slots have a worker process now. */
  live(): number;
  readonly engineHub: IpcEngineHub;
  readonly busHub: IpcBusHub;
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

export function createWorkersPrimary(options: WorkersPrimaryOptions): WorkersPrimary {
  const log = options.logger;
  const limits = options.limits;
  const started = Date.now();
  const engineHub = new IpcEngineHub({ logger: log, maxRoomLength: limits.busMaxChannelLength, maxPayloadBytes: limits.busMaxPayloadBytes });
  const busHub = new IpcBusHub({ logger: log, maxPayloadBytes: limits.busMaxPayloadBytes, maxChannelLength: limits.busMaxChannelLength });

  const slots: Slot[] = Array.from({ length: options.workers }, (_, index) => ({ index, worker: undefined, ready: false, restarts: [], restartCount: 0, timer: undefined, replacing: false }));
  const pending = new Map<number, Pending>();
  let nextAsk = 1;
  let stopping = false;
  // A worker that dies during start-up fails the start (the error is the answer), it is not restarted.
  let supervising = false;
  let workersStopped: Promise<void> | undefined;
  let reloading = false;
  /** Old workers of a reload, until they exited: a stop during a reload stops them too. */
  const retiring = new Set<Worker>();

  cluster.schedulingPolicy = cluster.SCHED_RR;

  /** Fork the worker of `slot`; resolves with its port and banner once it listens. */
  const fork = (slot: Slot): Promise<WorkersStarted> => {
    // Every worker listens on the configured port, port 0 included: node:cluster gives every
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
      let failed: WorkerStartError | undefined;
      const timer = setTimeout(() => {
        reject(new Error(`worker ${slot.index} did not listen within ${limits.startTimeoutMs} ms (workerProcessStartTimeoutMs)`));
        worker.process.kill("SIGKILL");
      }, limits.startTimeoutMs);
      worker.on("message", (message: unknown) => {
        if (!isCtlMessage(message)) return;
        if (message.kind === "ready") {
          clearTimeout(timer);
          slot.ready = true;
          // After start-up the banner is long out: a restarted worker writes its log lines at once.
          if (supervising) worker.send({ sb: CTL_TAG, kind: "printed" }, undefined, () => undefined);
          log.info({ worker: slot.index, pid: worker.process.pid, port: message.port }, "worker listening");
          resolve({ port: message.port, banner: Array.isArray(message.banner) ? message.banner.map(String) : [] });
        } else if (message.kind === "failed") {
          // The worker exits next; its exit rejects with this error rather than a bare exit code.
          failed = new WorkerStartError(slot.index, { name: String(message.name), message: String(message.error) });
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
        reject(failed ?? new Error(`worker ${slot.index} exited (${signal ?? `code ${code}`}) before it listened (its own error, if it had one, is printed above)`));
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
      options.onGiveUp(`worker ${slot.index} keeps dying`);
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
        reject(new Error(`worker ${slot.index} did not answer within ${limits.askTimeoutMs} ms (ipcRequestTimeoutMs)`));
      }, limits.askTimeoutMs);
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
    return aggregateStatus(rows, started);
  };

  const command = async (name: string, args: readonly unknown[], on: "every-worker" | "one-worker"): Promise<WorkerCommandRow[]> => {
    const run = async (slot: Slot): Promise<WorkerCommandRow> => {
      const row = { index: slot.index, pid: slot.worker?.process.pid ?? null };
      try {
        return { ...row, reply: (await ask(slot, "command", [name, ...args])) as ControlReply };
      } catch (err) {
        return { ...row, error: (err as Error).message };
      }
    };
    if (on === "every-worker") return Promise.all(slots.map(run));
    const tried: WorkerCommandRow[] = [];
    for (const slot of slots) {
      const row = await run(slot);
      if (row.reply !== undefined) return [row];
      tried.push(row); // not running, or gone meanwhile: the next one
    }
    return tried;
  };

  /**
   * Ask one worker for its graceful stop. A running worker is asked over IPC, not with SIGTERM:
   * Ctrl+C in a terminal sends SIGINT to the whole process group, so the worker is stopping
   * already, and a SIGTERM on top would be its "second signal" (exit at once, tasks cut off).
   * The request joins the stop under way. A worker still starting (no control yet) gets SIGTERM.
   */
  const askToStop = (worker: Worker, ready: boolean): void => {
    if (!ready || !worker.isConnected()) {
      worker.process.kill("SIGTERM");
      return;
    }
    worker.send({ sb: CTL_TAG, kind: "stop" }, undefined, (err) => {
      if (err !== null && !worker.isDead()) worker.process.kill("SIGTERM");
    });
  };

  /** Tell every worker to stop (its graceful stop, 1001 to its clients), wait with a deadline, SIGKILL the rest. */
  const stop = (): Promise<void> => (workersStopped ??= (async () => {
    stopping = true;
    for (const slot of slots) if (slot.timer !== undefined) clearTimeout(slot.timer);
    const live = [...slots.flatMap((s) => (s.worker === undefined ? [] : [{ worker: s.worker, ready: s.ready }])), ...[...retiring].map((worker) => ({ worker, ready: true }))];
    const exits = live.map(({ worker: w }) => new Promise<void>((r) => (w.isDead() ? r() : w.once("exit", () => r()))));
    for (const { worker, ready } of live) askToStop(worker, ready);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.all(exits).then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), limits.stopTimeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      const stuck = live.map((l) => l.worker).filter((w) => !w.isDead());
      log.warn({ pids: stuck.map((w) => w.process.pid) }, `workers still running ${limits.stopTimeoutMs} ms after they were told to stop (workerProcessStopTimeoutMs): SIGKILL`);
      for (const w of stuck) w.process.kill("SIGKILL");
      await Promise.all(exits);
    }
  })());

  /** Stop one running worker gracefully and wait for its exit, SIGKILL after the stop deadline. */
  const retire = async (worker: Worker): Promise<void> => {
    if (worker.isDead()) return;
    const exit = new Promise<void>((r) => worker.once("exit", () => r()));
    askToStop(worker, true);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([exit.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), limits.stopTimeoutMs)))]);
    clearTimeout(timer);
    if (timedOut) {
      log.warn({ pid: worker.process.pid }, `worker still running ${limits.stopTimeoutMs} ms after it was told to stop (workerProcessStopTimeoutMs): SIGKILL`);
      worker.process.kill("SIGKILL");
      await exit;
    }
  };

  /**
   * Replace the workers one at a time. For each slot a new worker is forked and must listen
   * before the old one is stopped gracefully (its clients get 1001 and reconnect to the
   * others), so the port is always served. A replacement that fails to start ends the reload
   * with an error and the old worker keeps serving.
   */
  const reload = async (progress: (phase: string) => void = () => undefined): Promise<ReloadResult> => {
    if (reloading) throw new Error("a reload is already running");
    reloading = true;
    const replaced: ReloadResult["replaced"] = [];
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

  /** SIGKILL every worker; resolves once they exited (or after workerProcessStopTimeoutMs, which SIGKILL does not need). */
  const abort = (): Promise<void> => {
    stopping = true;
    const live = slots.flatMap((s) => (s.worker === undefined || s.worker.isDead() ? [] : [s.worker]));
    const exits = live.map((w) => new Promise<void>((r) => w.once("exit", () => r())));
    for (const w of live) w.process.kill("SIGKILL");
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([Promise.all(exits), new Promise<void>((r) => (timer = setTimeout(r, limits.stopTimeoutMs)))]).then(() => clearTimeout(timer));
  };

  const start = async (): Promise<WorkersStarted> => {
    // The first worker's answer is the one kept (its port and banner URLs carry the bound port).
    try {
      const first = await fork(slots[0]!);
      await Promise.all(slots.slice(1).map((slot) => fork(slot)));
      return first;
    } catch (err) {
      // No worker outlives a failed start (the error is the answer; nothing is restarted).
      await abort();
      throw err;
    }
  };

  return {
    start,
    supervise: () => {
      supervising = true;
      // A failed send means that worker died: its 'exit' restarts it, and the new one is told when ready.
      for (const slot of slots) slot.worker?.send({ sb: CTL_TAG, kind: "printed" }, undefined, () => undefined);
    },
    status,
    command,
    reload,
    get reloading() {
      return reloading;
    },
    stop,
    abort,
    pids: () => slots.map((s) => s.worker?.process.pid ?? null),
    live: () => slots.filter((s) => s.worker !== undefined).length,
    engineHub,
    busHub,
  };
}
