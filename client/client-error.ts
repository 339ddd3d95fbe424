/**
 * What the client's `error` event carries. The client never throws into the event loop and
 * never leaves a promise of its own rejected with no handler: whatever goes wrong after the
 * constructor returns is handled by the state machine and reported here, as one of these.
 */

export type ClientErrorKind =
  /**
   * A connection attempt failed (refused, an HTTP status instead of the upgrade, the WebSocket
   * constructor or the `session` function threw) or the socket reported an error; the `close`
   * event that follows says whether the client retries.
   */
  | "connect"
  /** The server sent a frame the client cannot read (binary, not JSON, a wrong shape), or an error reply with id null. */
  | "protocol"
  /** Code of the app threw: an event listener, a subscriber, or `reconnect.random`. */
  | "listener"
  /** A bug of the client itself, caught at the event-loop boundary so it cannot crash the program. */
  | "internal";

export class ClientError extends Error {
  readonly kind: ClientErrorKind;
  constructor(kind: ClientErrorKind, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "ClientError";
    this.kind = kind;
  }
}

/** A thrown value's message, for the text of a ClientError (anything may be thrown). */
export function messageOf(thrown: unknown): string {
  return thrown instanceof Error ? thrown.message : String(thrown);
}
