/**
 * The transport seam: what the endpoint layer needs from one WebSocket, and nothing more.
 * `transport/websocket.ts` implements it on `ws`; a later Bun transport implements the same
 * interface, and nothing above this line changes.
 */

/** A message framed once by the transport, to be written unchanged to many sockets. */
export interface PreparedMessage {
  readonly data: string | Buffer;
  readonly isBinary: boolean;
}

export interface TransportSocket {
  /** The negotiated subprotocol, "" for none. */
  readonly protocol: string;
  /** The negotiated extensions as sent in the handshake response, "" for none. */
  readonly extensions: string;
  /** The peer's IP address. */
  readonly remoteAddress: string | undefined;
  /** Bytes queued for this socket and not yet handed to the kernel. */
  readonly bufferedAmount: number;
  /** False once a close has started or the socket is gone: sends are then dropped. */
  readonly isOpen: boolean;
  send(data: string | Buffer, isBinary: boolean): void;
  /** Write a message framed by `prepare()`; ordered with `send()`. */
  sendPrepared(message: PreparedMessage): void;
  /** Start the closing handshake; the socket is destroyed if the peer does not answer in time. */
  close(code: number, reason: string): void;
  /** Destroy the socket at once (dead peer, stop timeout). */
  terminate(): void;
  ping(): void;
  /**
   * Route the socket's events to `events`, each called with `context` first. Called once, right
   * after the upgrade. One `events` object serves every socket of an endpoint: no closures are
   * made per connection (they were about 700 bytes of each idle connection).
   */
  listen<C>(events: TransportSocketEvents<C>, context: C): void;
}

export interface TransportSocketEvents<C> {
  message(context: C, data: Buffer, isBinary: boolean): void;
  close(context: C, code: number, reason: string): void;
  pong(context: C): void;
  error(context: C, err: Error): void;
}

export type PrepareMessage = (data: string | Buffer | Uint8Array, isBinary?: boolean) => PreparedMessage;
