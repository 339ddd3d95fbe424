/** switchboard/client: the client library for browsers and Node >= 20. */
export { Client, DEFAULT_CONNECT_TIMEOUT_MS, type ClientOptions, type ClientEvents, type ClientState, type WebSocketConstructor } from "./client.ts";
export { CallError, type CallErrorCode, type ClientErrorCode } from "./call-error.ts";
export { ClientError, type ClientErrorKind, type ClientErrorDetails } from "./client-error.ts";
export { resolveServerUrl } from "./server-url.ts";
export { Backoff, isRetryableClose, type ReconnectOptions } from "./reconnect.ts";
export { OfflineQueue, DEFAULT_MAX_OFFLINE_QUEUE } from "./offline-queue.ts";
export {
  SUBPROTOCOL, PROTOCOL_VERSION, ERROR_CODES, BuiltinPush, BuiltinTask,
  type ErrorCode, type TaskSpec, type Welcome, type PresenceEvent, type PresenceMember, type WireUser,
} from "../src/protocol/messages.ts";
export { CloseCode, describeCloseCode, isRefusalCloseCode, refusalCloseCode } from "../src/protocol/close-codes.ts";
