/**
 * The task router: one incoming frame → parse → find the task → run it in isolation → reply.
 * Nothing a client sends and nothing a task does escapes from here: every path ends in a
 * reply, an error reply, or (over the bad-message budget) a 1008 close.
 */
import type { Logger } from "../log.ts";
import { CloseCode } from "../protocol/close-codes.ts";
import { ProtocolError, encodeError, encodeReply, parseRequest } from "../protocol/codec.ts";
import type { ErrorCode, Request } from "../protocol/messages.ts";
import type { AppConn, InFlightCall } from "./app-connection.ts";
import type { RoomsApi } from "./rooms.ts";
import { AfterReply } from "./after-reply.ts";
import { TaskAbort, TaskError, schemaMessage, type TaskContext, type TaskDefinition } from "./task.ts";

export interface RouterOptions {
  taskTimeoutMs: number;
  maxInFlightTasks: number;
}

export interface RouterStats {
  /** Requests whose task completed with a reply (or, without id, completed). */
  ok: number;
  /** Failed requests by error code. */
  failed: Record<ErrorCode, number>;
  badMessages: number;
  /** Connections closed with 1008 for too many bad messages. */
  closedForBadMessages: number;
}

export function newRouterStats(): RouterStats {
  return {
    ok: 0, badMessages: 0, closedForBadMessages: 0,
    failed: { bad_request: 0, unknown_task: 0, forbidden: 0, timeout: 0, internal: 0, overloaded: 0, unavailable: 0 },
  };
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** How a task call ended: "ok", its error code, or "disconnected" (the caller left). */
export type TaskOutcome = "ok" | ErrorCode | "disconnected";

/**
 * Told of every task call of a registered task when `active` (metrics on, or debug logging):
 * once per call, never per frame. `active` false → the call is not even timed.
 */
export interface TaskObserver {
  readonly active: boolean;
  done(task: string, outcome: TaskOutcome, durationMs: number): void;
}

/** In-flight work a graceful stop waits for (the server's `work`; runtime/inflight.ts). */
export interface WorkTracker {
  readonly closed: boolean;
  run<T>(fn: (signal: AbortSignal) => Promise<T> | T): Promise<T>;
}

export class Router {
  /** Set by the server (observe/): task metrics and debug lines. */
  observer: TaskObserver | undefined;

  constructor(
    private readonly tasks: ReadonlyMap<string, TaskDefinition<any, any, any>>,
    private readonly rooms: RoomsApi,
    private readonly options: RouterOptions,
    private readonly log: Logger,
    readonly stats: RouterStats = newRouterStats(),
    private readonly work?: WorkTracker,
  ) {}

  /** One frame from a client. Never throws; never returns a rejected promise. */
  handle(conn: AppConn, data: Uint8Array | string, isBinary: boolean): void {
    if (isBinary) return this.bad(conn, new ProtocolError("binary frames are not part of protocol v1"));
    const text = typeof data === "string" ? data : Buffer.isBuffer(data) ? data.toString("utf8") : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8");
    const request = parseRequest(text);
    if (request instanceof ProtocolError) return this.bad(conn, request);
    // Its reply could not be told from the running call's: refused, and not run. Not a bad
    // message (the frame is well-formed), so it does not spend the budget.
    if (request.id !== undefined && conn.hasCallInFlight(request.id)) return this.fail(conn, request, "bad_request", `id ${request.id} already in flight`);
    const task = this.tasks.get(request.task);
    if (task === undefined) return this.fail(conn, request, "unknown_task", `no task "${request.task.slice(0, 128)}"`);
    if (conn.inFlight >= this.options.maxInFlightTasks) {
      return this.fail(conn, request, "overloaded", "too many calls in flight");
    }
    this.run(conn, task, request);
  }

  /**
   * End every call in flight on `conn`; each signal fires with `reason`. At a stop the
   * connection is still open, so each call with an id is answered `unavailable` here, at once
   * (before the server's 1001 close); after a disconnect there is no one to answer. Either way
   * the calls are out of the table, so a task that settles later sends nothing.
   */
  abortAll(conn: AppConn, reason: TaskAbort): void {
    for (const call of conn.takeAll()) {
      if (reason.code === "stopped") this.fail(conn, call.request, "unavailable", reason.message);
      call.controller.abort(reason);
    }
  }

  private bad(conn: AppConn, error: ProtocolError): void {
    this.stats.badMessages += 1;
    this.stats.failed.bad_request += 1;
    conn.reply(encodeError(error.id ?? null, "bad_request", error.message));
    // Counted once: a peer that ignores the close frame keeps being read until closeTimeoutMs.
    if (conn.budget.spend() && conn.raw.isOpen) {
      this.stats.closedForBadMessages += 1;
      this.log.debug({ conn: conn.id }, "too many bad messages: closing with 1008");
      conn.close(CloseCode.PolicyViolation, "too many bad messages");
    }
  }

  private fail(conn: AppConn, request: Request, code: ErrorCode, message: string): void {
    this.stats.failed[code] += 1;
    if (request.id !== undefined) conn.reply(encodeError(request.id, code, message));
    else this.log.debug({ conn: conn.id, task: request.task, code }, `send failed: ${message}`);
  }

  /**
   * Run a task. A plain handler is called at once: when it returns a value (not a promise) the
   * reply goes out in the same tick, with no timer, no AbortController and no promise — the
   * common case pays for nothing it does not use. Anything asynchronous (a promise, a guard, a
   * schema-checked async handler, a worker) takes the tracked path below.
   */
  private run(conn: AppConn, task: TaskDefinition<any, any, any>, request: Request): void {
    if (this.work?.closed === true) return this.fail(conn, request, "overloaded", "the server is stopping");
    const started = this.observer?.active === true ? performance.now() : -1;
    const ctx = new RequestContext(request.data, conn, this.rooms);
    let result: unknown;
    let pending: boolean;
    try {
      result = task.guard === undefined && task.worker === undefined && task.handler !== undefined ? this.callSync(task, ctx) : this.execute(task, ctx);
      pending = isThenable(result); // reads the result's `then`: user code too (a getter may throw)
    } catch (error) {
      return this.failWith(conn, task, request, error, started);
    }
    if (!pending) return this.succeed(conn, task, request, result, started);
    const controller = ctx.controller;
    const settled = this.settle(conn, task, request, controller, result as PromiseLike<unknown>, started);
    // Tracked work: a graceful stop waits for it, and aborts it at the deadline. (Closed only
    // if the handler itself began a stop: its call is then answered by the app's stop.)
    if (this.work !== undefined && !this.work.closed) {
      const abortOnStop = controller;
      void this.work.run((stopSignal) => {
        stopSignal.addEventListener("abort", () => abortOnStop.abort(new TaskAbort("stopped", "the server is stopping")), { once: true });
        return settled;
      });
    }
  }

  /** Schema check, then the handler, synchronously (throws on a bad schema). */
  private callSync(task: TaskDefinition<any, any, any>, ctx: TaskContext): unknown {
    if (task.schema !== undefined) {
      const parsed = task.schema.safeParse(ctx.data);
      if (!parsed.success) throw new TaskError("bad_request", schemaMessage(parsed.error));
      ctx.data = parsed.data;
    }
    return task.handler!(ctx);
  }

  /** Wait for an asynchronous task: the first of it settling, or its signal (timeout, disconnect, stop). */
  private async settle(conn: AppConn, task: TaskDefinition<any, any, any>, request: Request, controller: AbortController, pending: PromiseLike<unknown>, started: number): Promise<void> {
    const call: InFlightCall = conn.track(request, controller);
    const timeoutMs = task.timeoutMs ?? this.options.taskTimeoutMs;
    const timer = setTimeout(() => controller.abort(new TaskAbort("timeout", `task "${task.name}" took more than ${timeoutMs} ms`)), timeoutMs);
    const outcome = await new Promise<Outcome>((resolve) => {
      if (controller.signal.aborted) return resolve({ ok: false, error: controller.signal.reason });
      const onAbort = (): void => resolve({ ok: false, error: controller.signal.reason });
      controller.signal.addEventListener("abort", onAbort, { once: true });
      Promise.resolve(pending).then(
        (value) => resolve({ ok: true, value }),
        (error: unknown) => resolve({ ok: false, error }),
      ).finally(() => controller.signal.removeEventListener("abort", onAbort));
    });
    clearTimeout(timer);
    const after = outcome.ok && outcome.value instanceof AfterReply ? outcome.value : undefined;
    // Already taken out: answered by a stop, or the connection is gone. One reply per call.
    if (!conn.untrack(call)) {
      this.observed(task, conn.raw.isOpen ? "unavailable" : "disconnected", started);
      return after?.after();
    }
    if (after !== undefined) {
      this.succeed(conn, task, request, after.value, started);
      return after.after(); // internal (room.join's handover), after the reply is written
    }
    if (outcome.ok) this.succeed(conn, task, request, outcome.value, started);
    else this.failWith(conn, task, request, outcome.error, started);
  }

  /** One call of a registered task has ended (started < 0: it was not timed, nobody is told). */
  private observed(task: TaskDefinition<any, any, any>, outcome: TaskOutcome, started: number): void {
    if (started < 0 || this.observer === undefined) return;
    this.observer.done(task.name, outcome, performance.now() - started);
  }

  private async execute(task: TaskDefinition<any, any, any>, ctx: TaskContext): Promise<unknown> {
    if (task.schema !== undefined) {
      const parsed = task.schema.safeParse(ctx.data);
      if (!parsed.success) throw new TaskError("bad_request", schemaMessage(parsed.error));
      ctx.data = parsed.data;
    }
    if (task.guard !== undefined) {
      let allowed: boolean;
      try {
        allowed = await task.guard(ctx);
      } catch (err) {
        // A guard that throws fails closed: the caller is refused, the bug is logged.
        this.log.error({ err, task: task.name, conn: ctx.conn.id }, "task guard threw");
        allowed = false;
      }
      if (allowed !== true) throw new TaskError("forbidden", "forbidden");
    }
    if (task.worker !== undefined) return await task.worker.run(ctx.data, ctx.signal);
    if (task.handler === undefined) throw new Error(`task "${task.name}" has neither handler nor worker`);
    return await task.handler(ctx);
  }

  private succeed(conn: AppConn, task: TaskDefinition<any, any, any>, request: Request, value: unknown, started: number): void {
    if (request.id === undefined) {
      this.stats.ok += 1;
      return this.observed(task, "ok", started);
    }
    let text: string;
    try {
      text = encodeReply(request.id, value);
    } catch (err) {
      return this.failWith(conn, task, request, new Error(`task "${task.name}" returned a value JSON cannot encode`, { cause: err }), started);
    }
    this.stats.ok += 1;
    conn.reply(text);
    this.observed(task, "ok", started);
  }

  private failWith(conn: AppConn, task: TaskDefinition<any, any, any>, request: Request, error: unknown, started: number): void {
    const code = this.failureCode(conn, task, error);
    if (code === "disconnected") return this.observed(task, code, started);
    this.fail(conn, request, code, code === "internal" ? "internal error" : (error as Error).message);
    this.observed(task, code, started);
  }

  /** The wire code of a failed call (logging what only the log may see), or "disconnected". */
  private failureCode(conn: AppConn, task: TaskDefinition<any, any, any>, error: unknown): ErrorCode | "disconnected" {
    if (error instanceof TaskAbort) {
      if (error.code === "timeout") return "timeout";
      // The stop deadline: the connection is still open (it closes with 1001 next).
      if (error.code === "stopped") return "unavailable";
      // Disconnected: there is no one left to reply to.
      this.log.debug({ conn: conn.id, task: task.name }, error.message);
      return "disconnected";
    }
    if (error instanceof TaskError) return error.code;
    // The stack goes to the log only: the wire gets a fixed message.
    this.log.error({ err: error, task: task.name, conn: conn.id }, "task threw");
    return "internal";
  }
}

/**
 * What a task handler gets. A class (one shape for every request, so property reads stay
 * fast) whose AbortController is made on first use of `signal`: a sync task that never looks
 * at its signal never pays for one.
 */
class RequestContext implements TaskContext {
  readonly user: AppConn["user"];
  readonly room: string | undefined;
  #controller: AbortController | undefined;

  constructor(
    public data: unknown,
    readonly conn: AppConn,
    readonly rooms: RoomsApi,
  ) {
    this.user = conn.user;
    this.room = conn.room;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get controller(): AbortController {
    return (this.#controller ??= new AbortController());
  }

  /** A function of its own (handlers destructure it: `({ data, push }) => …`), made on use. */
  get push(): (task: string, data: unknown) => boolean {
    const conn = this.conn;
    return (task, data) => conn.push(task, data);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as PromiseLike<unknown>).then === "function";
}
