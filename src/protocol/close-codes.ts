/**
 * WebSocket close codes: the RFC 6455 ones we use, and Switchboard's own registry in the
 * 4000–4999 range that RFC 6455 §7.4.2 reserves for private use.
 *
 * Pure data: imported by the server and by the client (which uses `retryable` to decide
 * whether reconnecting can help).
 *
 * The 4400–4499 block is the app layer's refusals (docs/protocol.md, "Refusals"): a browser
 * cannot read the HTTP status of a refused upgrade, so an app accepts the WebSocket and closes
 * it at once with 4000 + the HTTP status it would have answered (401 → 4401). A client reads
 * the code in every environment.
 */
export const CloseCode = {
  /** 1000: the purpose of the connection is fulfilled. */
  Normal: 1000,
  /** 1001: the server is going down (graceful stop) or the page is navigating away. */
  GoingAway: 1001,
  /** 1002: the peer broke the framing protocol (ws detects this). */
  ProtocolError: 1002,
  /** 1003: a data type the endpoint cannot accept. */
  UnsupportedData: 1003,
  /** 1005: no status code was present (never sent on the wire). */
  NoStatus: 1005,
  /** 1006: the connection dropped without a closing handshake (never sent on the wire). */
  Abnormal: 1006,
  /** 1007: a text message was not valid UTF-8. */
  InvalidPayload: 1007,
  /** 1008: the peer broke a policy of the endpoint (too many bad messages, …). */
  PolicyViolation: 1008,
  /** 1009: a message exceeded `maxPayload`. */
  MessageTooBig: 1009,
  /** 1011: a handler threw; the server is fine, this connection is not. */
  InternalError: 1011,
  /** 1012: the server is restarting. */
  ServiceRestart: 1012,
  /** 1013: the server is overloaded; try again later. */
  TryAgainLater: 1013,

  /** 4000: the connection read too slowly and its send buffer passed `maxBufferedBytes`. */
  SlowConsumer: 4000,
  /** 4001: an operator kicked the connection (control socket `kick`). */
  Kicked: 4001,
  /** 4002: the session was rejected or expired after the connection opened. */
  SessionRejected: 4002,

  /** 4400: the app refused the connection: a bad request at connect (a bad `?room=` name, too many rooms). */
  BadRequest: 4400,
  /** 4401: the app refused the connection: no session token, or a bad or expired one. */
  Unauthorized: 4401,
  /** 4403: the app refused the connection: the session may not connect, or may not join a `?room=` room. */
  Forbidden: 4403,
  /** 4404: the app refused the connection: something it names (a room, a resource) does not exist. */
  NotFound: 4404,
  /** 4406: the app does not speak the subprotocol (protocol version) the client offered. */
  ProtocolNotSupported: 4406,
  /** 4429: the app refused the connection for now (too many connections or attempts); retry later. */
  TooManyRequests: 4429,
} as const;

export type CloseCodeName = keyof typeof CloseCode;
export type CloseCodeValue = (typeof CloseCode)[CloseCodeName];

/** What a client should do after a close with this code. */
export interface CloseCodeInfo {
  readonly code: number;
  readonly name: string;
  /** Reconnecting may succeed (with backoff). False: reconnecting would fail the same way. */
  readonly retryable: boolean;
  /** One line for logs and docs. */
  readonly meaning: string;
}

const RETRYABLE = new Set<number>([
  CloseCode.GoingAway,
  CloseCode.Abnormal,
  CloseCode.InternalError,
  CloseCode.ServiceRestart,
  CloseCode.TryAgainLater,
  CloseCode.SlowConsumer,
  CloseCode.TooManyRequests,
]);

const MEANINGS: Record<number, string> = {
  1000: "normal closure",
  1001: "server stopping (graceful stop) or client navigating away",
  1002: "the peer broke RFC 6455 framing",
  1003: "a data type the endpoint cannot accept",
  1005: "no code in the close frame (never sent)",
  1006: "connection lost without a closing handshake (never sent)",
  1007: "invalid UTF-8 in a text message",
  1008: "policy violation (too many fragments, too many bad messages)",
  1009: "message larger than maxPayload",
  1011: "a handler threw; only this connection is closed",
  1012: "server restarting",
  1013: "server overloaded; try again later",
  4000: "slow consumer: send buffer over maxBufferedBytes",
  4001: "kicked by an operator",
  4002: "session rejected or expired",
  4400: "refused by the app: bad request at connect (room name, too many rooms)",
  4401: "refused by the app: session token missing, bad or expired",
  4403: "refused by the app: forbidden (the session, or a ?room= room)",
  4404: "refused by the app: not found",
  4406: "refused by the app: subprotocol (protocol version) not supported",
  4429: "refused by the app for now: too many connections or attempts; retry with backoff",
};

const NAMES = new Map<number, string>(Object.entries(CloseCode).map(([name, code]) => [code, name]));

export function describeCloseCode(code: number): CloseCodeInfo {
  const refusal = isRefusalCloseCode(code);
  return {
    code,
    name: NAMES.get(code) ?? (refusal ? "Refused" : code >= 4000 && code <= 4999 ? "Application" : "Unknown"),
    retryable: RETRYABLE.has(code),
    meaning: MEANINGS[code] ?? (refusal ? `refused by the app (HTTP ${code - 4000})` : code >= 4000 && code <= 4999 ? "application-defined" : "not a code Switchboard sends"),
  };
}

/** A code of the app's refusal block, 4400–4499: the connection was refused, not lost. */
export function isRefusalCloseCode(code: number): boolean {
  return Number.isInteger(code) && code >= 4400 && code <= 4499;
}

/**
 * The close code that stands for an HTTP refusal status: 4xx → 4000 + status (401 → 4401),
 * 503 → 1013 (try again later), any other 5xx → 1011. The app closes a refused connection with
 * it; the Node client maps a status it read the same way, so both arrive as one code. Any other
 * answer to an upgrade (a 200 page, a redirect) → 1002: no WebSocket server there.
 */
export function refusalCloseCode(status: number): number {
  if (!Number.isInteger(status) || status < 400 || status > 599) return CloseCode.ProtocolError;
  if (status <= 499) return 4000 + status;
  return status === 503 ? CloseCode.TryAgainLater : CloseCode.InternalError;
}

/** True for a code that an endpoint may send in a close frame (RFC 6455 §7.4). */
export function isSendableCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999)
  );
}
