/**
 * The task router: one incoming frame → parse → find the task → run it in isolation → reply.
 * Nothing a client sends and nothing a task does escapes from here: every path ends in a
 * reply, an error reply, or (over the bad-message budget) a 1008 close.
 */
import type { Logger } from "../log.ts";
import { CloseCode } from "../protocol/close-codes.ts";
import { ProtocolError, encodeError, encodeReply, parseRequest } from "../protocol/codec.ts";
import type { ErrorCode, Request } from "../protocol/messages.ts";
import type { AppConn } from "./app-connection.ts";
import type { RoomsApi } from "./rooms.ts";
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
    failed: { bad_request: 0, unknown_task: 0, forbidden: 0, timeout: 0, internal: 0, overloaded: 0 },
  };
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export class Router {
  constructor(
    private readonly tasks: ReadonlyMap<string, TaskDefinition<any, any, any>>,
    private readonly rooms: RoomsApi,
    private readonly options: RouterOptions,
    private readonly log: Logger,
    readonly stats: RouterStats = newRouterStats(),
  ) {}

  /** One frame from a client. Never throws; never returns a rejected promise. */
  handle(conn: AppConn, data: Uint8Array | string, isBinary: boolean): void {
    if (isBinary) return this.bad(conn, new ProtocolError("binary frames are not part of protocol v1"));
    const text = typeof data === "string" ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8");
    const request = parseRequest(text);
    if (request instanceof ProtocolError) return this.bad(conn, request);
    const task = this.tasks.get(request.task);
    if (task === undefined) return this.fail(conn, request, "unknown_task", `no task "${request.task.slice(0, 128)}"`);
    if (conn.inFlight.size >= this.options.maxInFlightTasks) {
      return this.fail(conn, request, "overloaded", "too many calls in flight");
    }
    void this.run(conn, task, request);
  }

  private bad(conn: AppConn, error: ProtocolError): void {
    this.stats.badMessages += 1;
    this.stats.failed.bad_request += 1;
    conn.reply(encodeError(error.id ?? null, "bad_request", error.message));
    if (conn.budget.spend()) {
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

  private async run(conn: AppConn, task: TaskDefinition<any, any, any>, request: Request): Promise<void> {
    const controller = new AbortController();
    const key = request.id ?? conn.nextSendKey();
    conn.inFlight.set(key, controller);
    const timeoutMs = task.timeoutMs ?? this.options.taskTimeoutMs;
    const timer = setTimeout(() => controller.abort(new TaskAbort("timeout", `task "${task.name}" took more than ${timeoutMs} ms`)), timeoutMs);
    const ctx: TaskContext = {
      data: request.data, conn, user: conn.user, room: conn.room, rooms: this.rooms,
      signal: controller.signal, push: (name, data) => conn.push(name, data),
    };
    // The first of: the task settles, or its signal fires (timeout, disconnect, stop).
    const outcome = await new Promise<Outcome>((resolve) => {
      const onAbort = (): void => resolve({ ok: false, error: controller.signal.reason });
      controller.signal.addEventListener("abort", onAbort, { once: true });
      this.execute(task, ctx).then(
        (value) => resolve({ ok: true, value }),
        (error: unknown) => resolve({ ok: false, error }),
      ).finally(() => controller.signal.removeEventListener("abort", onAbort));
    });
    clearTimeout(timer);
    conn.inFlight.delete(key);
    if (outcome.ok) this.succeed(conn, task, request, outcome.value);
    else this.failWith(conn, task, request, outcome.error);
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

  private succeed(conn: AppConn, task: TaskDefinition<any, any, any>, request: Request, value: unknown): void {
    if (request.id === undefined) {
      this.stats.ok += 1;
      return;
    }
    let text: string;
    try {
      text = encodeReply(request.id, value);
    } catch (err) {
      return this.failWith(conn, task, request, new Error(`task "${task.name}" returned a value JSON cannot encode`, { cause: err }));
    }
    this.stats.ok += 1;
    conn.reply(text);
  }

  private failWith(conn: AppConn, task: TaskDefinition<any, any, any>, request: Request, error: unknown): void {
    if (error instanceof TaskAbort) {
      if (error.code === "timeout") return this.fail(conn, request, "timeout", error.message);
      // Disconnected or stopping: there is no one left to reply to.
      this.log.debug({ conn: conn.id, task: task.name }, error.message);
      return;
    }
    if (error instanceof TaskError) return this.fail(conn, request, error.code, error.message);
    // The stack goes to the log only: the wire gets a fixed message.
    this.log.error({ err: error, task: task.name, conn: conn.id }, "task threw");
    this.fail(conn, request, "internal", "internal error");
  }
}
