/**
 * The server API's errors: a stable `code` and the HTTP status it is answered with. On the
 * wire: `{ "error": { "code": "…", "message": "…" } }` (docs/api.md lists every code).
 */
import { SwitchboardError } from "../errors.ts";

export const API_ERRORS = {
  bad_request: 400,
  bad_json: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  unknown_app: 404,
  unknown_endpoint: 404,
  unknown_room: 404,
  unknown_connection: 404,
  unknown_user: 404,
  unknown_service: 404,
  unknown_command: 404,
  method_not_allowed: 405,
  body_timeout: 408,
  payload_too_large: 413,
  unsupported_media_type: 415,
  command_failed: 422,
  unavailable: 503,
  internal: 500,
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends SwitchboardError {
  readonly status: number;
  constructor(code: ApiErrorCode, message: string) {
    super(code, message);
    this.status = API_ERRORS[code];
  }
}

export function badRequest(message: string): ApiError {
  return new ApiError("bad_request", message);
}
