/**
 * Parse and encode app-protocol frames. Pure: no I/O, shared by server and client.
 *
 * `parse*()` NEVER throws: every input — bad JSON, a wrong shape, a hostile prototype key —
 * gives either a message or a ProtocolError that says what was wrong (and the request id
 * when one can be read, so the peer can match the error to its call).
 */
import {
  type ClientMessage, type ErrorCode, type ErrorReply, type Message, type Push, type Reply,
  type Request, type RequestId, type ServerMessage,
  TASK_NAME_PATTERN, isErrorCode, isRequestId,
} from "./messages.ts";

/** Why a frame could not be read. Always code "bad_request" on the wire. */
export class ProtocolError {
  readonly code = "bad_request" as const;
  constructor(
    readonly message: string,
    /** The request id, when the frame had a readable one. */
    readonly id?: RequestId,
  ) {}
}

const REQUEST_KEYS = new Set(["task", "data", "id"]);
const REPLY_KEYS = new Set(["id", "data"]);
const ERROR_KEYS = new Set(["id", "error"]);
const PUSH_KEYS = new Set(["task", "data"]);
/** A room push to a `?streams=1` connection also carries its position (docs/protocol.md). */
const STREAM_PUSH_KEYS = new Set(["task", "data", "room", "offset", "epoch"]);

/** Read any protocol message (either direction). */
export function parse(text: string, streams = false): Message | ProtocolError {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // A bad frame is expected input: its answer is a ProtocolError, not an exception.
    return new ProtocolError(`invalid JSON: ${(err as Error).message}`, salvageId(text));
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return new ProtocolError(`a message must be a JSON object, got ${kindOf(value)}`);
  }
  const obj = value as Record<string, unknown>;
  const id = isRequestId(obj.id) ? obj.id : undefined;
  if (obj.id === null && Object.hasOwn(obj, "error") && !Object.hasOwn(obj, "task")) {
    return parseError(obj, null);
  }
  if (Object.hasOwn(obj, "id") && id === undefined) {
    return new ProtocolError(`"id" must be an integer from 0 to 2^53-1, got ${kindOf(obj.id)}`);
  }
  if (Object.hasOwn(obj, "task")) {
    if (typeof obj.task !== "string" || !TASK_NAME_PATTERN.test(obj.task)) {
      return new ProtocolError(`"task" must be 1-128 printable ASCII characters without spaces`, id);
    }
    if (streams && id === undefined && Object.hasOwn(obj, "offset")) return parseStreamPush(obj, obj.task);
    const extra = extraKey(obj, REQUEST_KEYS);
    if (extra !== undefined) return new ProtocolError(`unknown key "${extra}"`, id);
    const message: Request = { task: obj.task, data: Object.hasOwn(obj, "data") ? obj.data : null };
    if (id !== undefined) message.id = id;
    return message;
  }
  if (id === undefined) return new ProtocolError(`a message needs "task" (request or push) or "id" (reply)`);
  if (Object.hasOwn(obj, "error")) return parseError(obj, id);
  const extra = extraKey(obj, REPLY_KEYS);
  if (extra !== undefined) return new ProtocolError(`unknown key "${extra}"`, id);
  return { id, data: Object.hasOwn(obj, "data") ? obj.data : null };
}

/** A room push with its position: room, offset and epoch all present and well-formed. */
function parseStreamPush(obj: Record<string, unknown>, task: string): Push | ProtocolError {
  const extra = extraKey(obj, STREAM_PUSH_KEYS);
  if (extra !== undefined) return new ProtocolError(`unknown key "${extra}"`);
  const { room, offset, epoch } = obj;
  if (typeof room !== "string" || room.length === 0) return new ProtocolError(`"room" of a stream push must be a non-empty string`);
  if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 1) return new ProtocolError(`"offset" must be an integer >= 1`);
  if (typeof epoch !== "string" || epoch.length === 0) return new ProtocolError(`"epoch" must be a non-empty string`);
  return { task, data: Object.hasOwn(obj, "data") ? obj.data : null, room, offset, epoch };
}

function parseError(obj: Record<string, unknown>, id: RequestId | null): ErrorReply | ProtocolError {
  const replyId = id ?? undefined;
  const extra = extraKey(obj, ERROR_KEYS);
  if (extra !== undefined) return new ProtocolError(`unknown key "${extra}"`, replyId);
  const error = obj.error as Record<string, unknown> | null;
  if (typeof error !== "object" || error === null || Array.isArray(error)) {
    return new ProtocolError(`"error" must be an object`, replyId);
  }
  if (!isErrorCode(error.code)) return new ProtocolError(`"error.code" is not a known error code`, replyId);
  if (typeof error.message !== "string") return new ProtocolError(`"error.message" must be a string`, replyId);
  return { id, error: { code: error.code, message: error.message } };
}

/** Server side: only requests are valid from a client. */
export function parseRequest(text: string): ClientMessage | ProtocolError {
  const message = parse(text);
  if (message instanceof ProtocolError || isRequest(message)) return message;
  return new ProtocolError(`a client may send only requests ({"task", "data", "id"?})`, "id" in message ? (message.id ?? undefined) : undefined);
}

/**
 * Client side: replies, error replies and pushes; a frame with both task and id is not one.
 * `streams`: the connection opted in (`?streams=1`), so room pushes may carry room/offset/epoch.
 */
export function parseServerMessage(text: string, streams = false): ServerMessage | ProtocolError {
  const message = parse(text, streams);
  if (message instanceof ProtocolError) return message;
  if (isRequest(message) && message.id !== undefined) {
    return new ProtocolError(`a push has no "id"`, message.id);
  }
  return message;
}

export function isRequest(message: Message): message is Request {
  return "task" in message;
}
export function isPush(message: Message): message is Push {
  return "task" in message && !("id" in message);
}
export function isErrorReply(message: Message): message is ErrorReply {
  return "error" in message && "id" in message;
}
export function isReply(message: Message): message is Reply {
  return !("task" in message) && !("error" in message) && "id" in message;
}

/** JSON text of one message. Throws TypeError if `data` is not JSON-serialisable (a cycle, a BigInt). */
export function encode(message: Message): string {
  return JSON.stringify(message);
}

export function encodeRequest(task: string, data: unknown, id?: RequestId): string {
  return id === undefined ? encode({ task, data: data ?? null }) : encode({ task, data: data ?? null, id });
}
export function encodeReply(id: RequestId, data: unknown): string {
  return encode({ id, data: data ?? null });
}
export function encodeError(id: RequestId | null, code: ErrorCode, message: string): string {
  return encode({ id, error: { code, message } });
}
export function encodePush(task: string, data: unknown): string {
  return encode({ task, data: data ?? null });
}

/**
 * A room push's stream shape, from its plain text (encodePush's `{"task":…,"data":…}`): the
 * same text with room/offset/epoch appended, so the push is serialised once, never re-parsed.
 */
export function withStreamPosition(pushText: string, room: string, offset: number, epoch: string): string {
  return `${pushText.slice(0, -1)},"room":${JSON.stringify(room)},"offset":${offset},"epoch":${JSON.stringify(epoch)}}`;
}

function extraKey(obj: Record<string, unknown>, allowed: ReadonlySet<string>): string | undefined {
  for (const key of Object.keys(obj)) if (!allowed.has(key)) return key.slice(0, 64);
  return undefined;
}

/** For invalid JSON: an id that can still be read from the text, so the peer can match the error. */
function salvageId(text: string): RequestId | undefined {
  const match = /"id"\s*:\s*(\d{1,16})\s*[,}]/.exec(text.slice(0, 4096));
  if (match?.[1] === undefined) return undefined;
  const id = Number(match[1]);
  return isRequestId(id) ? id : undefined;
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value;
}
