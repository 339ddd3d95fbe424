/**
 * A task: a named handler that turns a request's data into a reply. Isolated: whatever it
 * throws becomes an `internal` error reply (the stack goes to the log, never the wire); it
 * has a time limit (`timeout`) and an AbortSignal that fires on timeout, client disconnect
 * and at a graceful stop's deadline; an optional schema (`bad_request` naming the bad field) and guard
 * (`forbidden`); and it may run on a worker-thread pool.
 */
import type { z } from "zod";
import type { ErrorCode } from "../protocol/messages.ts";
import type { User } from "./sessions.ts";
import type { RoomsApi } from "./rooms.ts";
import type { WorkerPool } from "./worker-pool.ts";

/** The connection as a task sees it. */
export interface AppConnection<U extends User = User> {
  readonly id: string;
  readonly user: U;
  /** Rooms this connection is in. */
  readonly rooms: ReadonlySet<string>;
  /** Push a task message to this connection (subject to the push backpressure policy). */
  push(task: string, data: unknown): boolean;
  close(code?: number, reason?: string): void;
}

export interface TaskContext<D = unknown, U extends User = User> {
  data: D;
  conn: AppConnection<U>;
  user: U;
  /** The connection's first room (the one it joined at connect), if any. */
  room: string | undefined;
  rooms: RoomsApi;
  /**
   * Fires on timeout (the caller gets `timeout`), client disconnect (no one to answer) and at a
   * graceful stop's deadline (the caller gets `unavailable`): stop work and return. Whatever the
   * task returns after that is not sent: each call gets exactly one reply.
   */
  signal: AbortSignal;
  /** Push to the calling connection. */
  push(task: string, data: unknown): boolean;
}

export type TaskHandler<D = unknown, R = unknown, U extends User = User> = (ctx: TaskContext<D, U>) => R | Promise<R>;

export interface TaskOptions<D = unknown, R = unknown, U extends User = User> {
  /** Checks `data` before the handler runs; a failure is `bad_request` naming the field path. */
  schema?: z.ZodType<D>;
  /** False (or a throw) → `forbidden`. Runs after the schema, before the handler. */
  guard?: (ctx: TaskContext<D, U>) => boolean | Promise<boolean>;
  /** Overrides the app's `taskTimeoutMs`. */
  timeoutMs?: number;
  /** Run on this worker pool instead of `handler` (the worker gets `data`, returns the reply). */
  worker?: WorkerPool;
  handler?: TaskHandler<D, R, U>;
}

export interface TaskDefinition<D = unknown, R = unknown, U extends User = User> extends TaskOptions<D, R, U> {
  name: string;
}

/**
 * Define a task in its own file (a tasks/ folder loader registers it with `app.task(def)`):
 *   export default defineTask({ name: "chat.say", schema: z.object({ text: z.string() }), handler: … });
 * An identity function that checks the shape and carries the types.
 */
export function defineTask<D = unknown, R = unknown, U extends User = User>(definition: TaskDefinition<D, R, U>): TaskDefinition<D, R, U> {
  return definition;
}

/** A failure with a wire error code (throw one from a handler to choose the code yourself). */
export class TaskError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
    this.name = "TaskError";
  }
}

/** Why a signal was aborted: kept on `signal.reason`, mapped to the wire code (timeout → `timeout`, stopped → `unavailable`, disconnected → none). */
export class TaskAbort extends Error {
  constructor(readonly code: "timeout" | "disconnected" | "stopped", message: string) {
    super(message);
    this.name = "TaskAbort";
  }
}

/** The path of the first bad field, e.g. "data.items.2.name: Expected string". */
export function schemaMessage(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return "data: invalid";
  const path = ["data", ...issue.path.map(String)].join(".");
  return `${path}: ${issue.message}`;
}
