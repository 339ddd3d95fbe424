/**
 * The error a failed `call()` rejects with. `code` is one of the protocol's error codes
 * (docs/protocol.md) or one the client adds on its own side.
 */
import type { ErrorCode } from "../src/protocol/messages.ts";

/** Codes that never travel on the wire: the client reached them by itself. */
export type ClientErrorCode =
  /** The connection closed after the call was sent and before its reply came. */
  | "disconnected"
  /** The offline queue was full, so the call was never sent. */
  | "queue_full"
  /** The client was closed with `close()`. */
  | "closed"
  /**
   * The server refused the connection (a 44xx close, 4002, or an HTTP status in Node); the
   * message carries its code and reason. Permanent refusals fail every pending call at once;
   * the server runs nothing a refused connection sends.
   */
  | "refused";

export type CallErrorCode = ErrorCode | ClientErrorCode;

export class CallError extends Error {
  readonly code: CallErrorCode;
  readonly task: string;
  constructor(code: CallErrorCode, message: string, task: string) {
    super(message);
    this.name = "CallError";
    this.code = code;
    this.task = task;
  }
}
