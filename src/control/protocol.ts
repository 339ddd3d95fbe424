/**
 * The control socket's wire format, shared by the server and the CLI client. One JSON object
 * per line (UTF-8, "\n"-terminated) each way:
 *
 *   request   {"id": 1, "command": "kick", "args": ["echo-7", "4001", "bye"]}
 *   progress  {"id": 1, "progress": {...}}              zero or more, before the reply
 *   reply     {"id": 1, "ok": true, "result": ...}
 *             {"id": 1, "ok": false, "error": {"code": "not_found", "message": "..."}}
 *
 * A line that cannot be parsed gets a reply with `"id": null`. Requests on one connection run
 * one at a time, so replies come in request order. docs/operations.md documents it.
 */
import { SwitchboardError } from "../errors.ts";

export type RequestId = string | number | null;

export interface ControlRequest {
  readonly id: RequestId;
  readonly command: string;
  readonly args: readonly unknown[];
}

export type ControlReply =
  | { id: RequestId; ok: true; result: unknown }
  | { id: RequestId; ok: false; error: { code: string; message: string } };

export interface ControlProgress {
  id: RequestId;
  progress: unknown;
}

/** Error codes a reply may carry. */
/** What a running command may do besides returning its result. */
export interface CommandCall {
  /** Send a progress line before the reply. */
  progress(value: unknown): void;
}

/** Runs one request; returns the reply to send (never throws: errors become error replies). */
export type Dispatch = (request: ControlRequest, call: CommandCall) => Promise<ControlReply>;

export const ControlErrorCode = {
  BadJson: "bad_json",
  BadRequest: "bad_request",
  UnknownCommand: "unknown_command",
  BadArgs: "bad_args",
  NotFound: "not_found",
  LineTooLong: "line_too_long",
  Busy: "busy",
  /** No worker could run it (`serve --workers`: none running, or none answered in time). */
  Unavailable: "unavailable",
  Internal: "internal",
} as const;

/** An error a command handler throws to send a specific code in its error reply. */
export class ControlError extends SwitchboardError {}

/** Parse one request line. Returns the request, or an error reply to send back. */
export function parseRequest(line: string): ControlRequest | ControlReply {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return errorReply(null, ControlErrorCode.BadJson, `request is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return errorReply(null, ControlErrorCode.BadRequest, 'a request is a JSON object {"id", "command", "args"}');
  }
  const obj = value as Record<string, unknown>;
  const id = obj.id;
  const validId: RequestId = typeof id === "string" || (typeof id === "number" && Number.isFinite(id)) ? id : null;
  if (id !== undefined && id !== null && validId === null) {
    return errorReply(null, ControlErrorCode.BadRequest, '"id" must be a string or a number');
  }
  if (typeof obj.command !== "string" || obj.command === "") {
    return errorReply(validId, ControlErrorCode.BadRequest, '"command" must be a non-empty string');
  }
  if (obj.args !== undefined && !Array.isArray(obj.args)) {
    return errorReply(validId, ControlErrorCode.BadRequest, '"args" must be an array');
  }
  return { id: validId, command: obj.command, args: (obj.args as unknown[] | undefined) ?? [] };
}

export function errorReply(id: RequestId, code: string, message: string): ControlReply {
  return { id, ok: false, error: { code, message } };
}

export function isReply(value: ControlRequest | ControlReply): value is ControlReply {
  return "ok" in value;
}

export function encodeLine(message: ControlReply | ControlProgress | ControlRequest): string {
  return `${JSON.stringify(message)}\n`;
}
