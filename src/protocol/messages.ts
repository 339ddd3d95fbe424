/**
 * The app protocol's wire messages: ONE TypeScript definition shared by the server (src/app/)
 * and the client (client/). docs/protocol.md describes the same shapes with examples.
 *
 * Pure types and constants: no I/O, no Node APIs (the client bundle imports this file).
 */

/** Bumped on any incompatible change; the subprotocol name carries it. */
export const PROTOCOL_VERSION = 1;

/** The WebSocket subprotocol a client asks for (Sec-WebSocket-Protocol). */
export const SUBPROTOCOL = `switchboard.v${PROTOCOL_VERSION}`;

/**
 * The list of error codes a reply may carry. A new code is a protocol change: add it here
 * AND in docs/protocol.md. Within v1 codes are only added (`unavailable` came after the first
 * six), never changed or removed.
 */
export const ERROR_CODES = [
  /**
   * The message was not valid JSON, had the wrong shape, or its data failed the task's schema;
   * or its id is that of a call still in flight on this connection (the call does not run).
   */
  "bad_request",
  /** No task of that name is registered. */
  "unknown_task",
  /** The task's guard (or the room policy) refused this caller. */
  "forbidden",
  /** The task did not finish within its time limit. */
  "timeout",
  /** The task threw; details are in the server log, never on the wire. */
  "internal",
  /** Too many calls in flight on this connection, or the worker pool's queue is full. */
  "overloaded",
  /**
   * The server stopped before the task finished (a graceful stop reached its deadline). The
   * task may or may not have had its effects; retry on a new connection.
   */
  "unavailable",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const ERROR_CODE_SET: ReadonlySet<string> = new Set(ERROR_CODES);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && ERROR_CODE_SET.has(value);
}

/** Task names: 1–128 printable ASCII characters, no spaces (e.g. "chat.say", "room.join"). */
export const TASK_NAME_PATTERN = /^[\x21-\x7e]{1,128}$/;

/**
 * Request ids: integers in [0, 2^53 - 1] chosen by the client, echoed in the reply. The server
 * only echoes them: an id may be reused once its call was answered, not while it is in flight.
 */
export type RequestId = number;

export function isRequestId(value: unknown): value is RequestId {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** Client → server. With an `id` it asks for a reply; without one it is fire-and-forget. */
export interface Request<T extends string = string, D = unknown> {
  task: T;
  data: D;
  id?: RequestId;
}

/** Server → client: the task's result for the request with this `id`. */
export interface Reply<D = unknown> {
  id: RequestId;
  data: D;
}

export interface WireError {
  code: ErrorCode;
  message: string;
}

/**
 * Server → client: the request with this `id` failed. `id` is null only for a bad_request
 * whose frame had no readable id.
 */
export interface ErrorReply {
  id: RequestId | null;
  error: WireError;
}

/** Server → client, unasked: an event for the tasks the client subscribed to. */
export interface Push<T extends string = string, D = unknown> {
  task: T;
  data: D;
  /**
   * A room push to a connection that opted in with `?streams=1` (docs/protocol.md, "Room
   * streams"): its room and its position in the room's stream. All three or none.
   */
  room?: string;
  offset?: number;
  epoch?: string;
}

/** Where a room push sits in its room's stream: what a client remembers to recover. */
export interface StreamPosition {
  offset: number;
  epoch: string;
}

/** One replayed push in a room.join reply (`pushes`), oldest first. */
export interface ReplayedPush {
  task: string;
  data: unknown;
  offset: number;
}

/** The upgrade query parameter that opts a connection into room streams. */
export const STREAMS_PARAM = "streams";

export type ClientMessage = Request;
export type ServerMessage = Reply | ErrorReply | Push;
export type Message = ClientMessage | ServerMessage;

/** Tasks built into every app (see docs/protocol.md, "Built-in tasks"). */
export const BuiltinTask = {
  /**
   * Request: join a room. data: { room, since?: StreamPosition, history?: N }. Reply: { room,
   * members?, offset, epoch, pushes?, recovered? } (offset/epoch/pushes/recovered: streams only).
   */
  RoomJoin: "room.join",
  /** Request: leave a room. data: { room }. Reply: { room }. */
  RoomLeave: "room.leave",
  /** Request: who is in a room (presence on). data: { room }. Reply: { room, members }. */
  RoomMembers: "room.members",
} as const;

/** Pushes the server sends on its own. */
export const BuiltinPush = {
  /** Sent once right after the connection opens. data: Welcome. */
  Welcome: "switchboard.welcome",
  /** Presence: a member joined a room. data: PresenceEvent. */
  Joined: "room.joined",
  /** Presence: a member left a room. data: PresenceEvent. */
  Left: "room.left",
} as const;

/** A user as the wire shows it: `id` and `name` always, plus whatever the session adds. */
export interface WireUser {
  id: string;
  name: string;
  [key: string]: unknown;
}

/** The data of the `switchboard.welcome` push. */
export interface Welcome {
  protocol: number;
  connection: string;
  user: WireUser;
  rooms: string[];
  /**
   * `?streams=1` connections only: each `rooms` entry's position when its join took effect (the
   * live pushes follow the welcome). Absent for a room the engine could not place.
   */
  positions?: Record<string, StreamPosition>;
}

/** The data of `room.joined` / `room.left` pushes. */
export interface PresenceEvent {
  room: string;
  member: PresenceMember;
}

export interface PresenceMember {
  connection: string;
  user: WireUser;
}

/**
 * A typed map of an app's tasks, for the client's generics:
 *   interface ChatTasks { "chat.say": { data: { text: string }; reply: { ok: true } } }
 */
export interface TaskSpec<D = unknown, R = unknown> {
  data: D;
  reply: R;
}
export type TaskMapShape = Record<string, TaskSpec>;
/** A typed map of pushes: task name → data. */
export type PushMapShape = Record<string, unknown>;
