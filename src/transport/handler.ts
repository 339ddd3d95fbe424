/**
 * The one handler shape shared by WebSocket endpoints, raw TCP protocols and UDP: the same
 * hook names with the same meaning, so a handler reads the same whatever carries it.
 *
 * `C` is the connection type of the transport (endpoint `Connection`, `TcpConnection`);
 * `M` is what one message is (a WebSocket message, a TCP frame).
 */
export interface ConnectionHandler<C, M> {
  /** The connection is open and registered; sends are allowed. */
  open?(conn: C): void | Promise<void>;
  /** One whole message (WebSocket) or one frame (TCP, after framing). */
  message?(conn: C, data: M, isBinary: boolean): void | Promise<void>;
  /** The connection is gone; `code`/`reason` say why (a close code, or 1006 with no handshake). */
  close?(conn: C, code: number, reason: string): void | Promise<void>;
  /**
   * An error on this connection (a hook threw, the socket failed). Informational only; like
   * every hook it is called through runHook, so what it throws (or a promise it returns rejects
   * with) is logged, never rethrown.
   */
  error?(conn: C, err: Error): void | Promise<void>;
}
