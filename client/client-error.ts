/**
 * What the client's `error` event carries. The client never throws into the event loop and
 * never leaves a promise of its own rejected with no handler: whatever goes wrong after the
 * constructor returns is handled by the state machine and reported here, as one of these.
 */

export type ClientErrorKind =
  /**
   * A connection attempt failed (refused at the TCP level, the WebSocket constructor or the
   * `session` function threw) or the socket reported an error; the `close` event that follows
   * says whether the client retries.
   */
  | "connect"
  /**
   * The server refused the connection: it closed it with a code of the refusal block
   * (4400–4499, e.g. 4401 for a bad session token) or 4002 (session rejected), or — in Node,
   * where the HTTP response of a failed upgrade is readable — it answered the upgrade with an
   * HTTP status. `code`, `reason` and `permanent` say which and whether the client retries.
   */
  | "refused"
  /** The server sent a frame the client cannot read (binary, not JSON, a wrong shape), or an error reply with id null. */
  | "protocol"
  /** Code of the app threw: an event listener, a subscriber, or `reconnect.random`. */
  | "listener"
  /** A bug of the client itself, caught at the event-loop boundary so it cannot crash the program. */
  | "internal";

/** The close behind an error, when there is one (always for "refused"). */
export interface ClientErrorDetails {
  /** The close code (for an HTTP status read in Node: its equivalent, 401 → 4401, 503 → 1013). */
  readonly code: number;
  /** The close reason (for an HTTP status: its status text). */
  readonly reason: string;
  /** True when reconnecting cannot help (bad token, forbidden, unknown path, protocol version): the client does not retry. */
  readonly permanent: boolean;
  /** The HTTP status the upgrade was answered with, where it could be read (Node only; a browser never sees it). */
  readonly status?: number | undefined;
}

export class ClientError extends Error {
  readonly kind: ClientErrorKind;
  /** The close code (see ClientErrorDetails); undefined when no close is behind the error. */
  readonly code: number | undefined;
  readonly reason: string | undefined;
  /** The client will not retry because of this (false for every error but a permanent refusal or a final close). */
  readonly permanent: boolean;
  readonly status: number | undefined;
  constructor(kind: ClientErrorKind, message: string, cause?: unknown, details?: ClientErrorDetails) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "ClientError";
    this.kind = kind;
    this.code = details?.code;
    this.reason = details?.reason;
    this.permanent = details?.permanent ?? false;
    this.status = details?.status;
  }
}

/** A thrown value's message, for the text of a ClientError (anything may be thrown). */
export function messageOf(thrown: unknown): string {
  return thrown instanceof Error ? thrown.message : String(thrown);
}
