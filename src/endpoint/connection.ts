/**
 * One live WebSocket connection of an endpoint: its id, its data, send and close, and its
 * backpressure state. Knows nothing of `ws` or Node sockets (the transport seam).
 */
import { CloseCode, isSendableCloseCode } from "../protocol/close-codes.ts";
import { OptionError } from "../errors.ts";
import type { PreparedMessage, TransportSocket } from "../transport/socket.ts";
import type { Endpoint } from "./endpoint.ts";

/** What to do with a send to a connection whose buffer is over `maxBufferedBytes`. */
export type SlowConsumerPolicy = "close" | "drop";

export interface SendPolicy {
  readonly maxBufferedBytes: number;
  readonly slowConsumer: SlowConsumerPolicy;
  /** Called when a send is refused, so the endpoint can count it. */
  onRefused(conn: Connection<unknown>, policy: SlowConsumerPolicy): void;
  /** The endpoint's send counters: one increment per message written (metrics read them at scrape). */
  readonly sent: SentCounters;
  /** Cached "trace is on" (log.ts LevelFlags): when true, each send's size is logged through `traceSend`. */
  readonly levels: { readonly trace: boolean };
  traceSend(conn: Connection<unknown>, bytes: number): void;
}

/** Messages and payload bytes written (a text message counts its length in UTF-16 units: bytes for ASCII). */
export interface SentCounters {
  messagesOut: number;
  bytesOut: number;
}

const MAX_REASON_BYTES = 123; // RFC 6455 §5.5: a control frame payload is at most 125 bytes.

export class Connection<D = Record<string, unknown>> {
  /** Readable id, unique per server: `echo-1`, `echo-2`, … */
  readonly id: string;
  /** Per-connection user data: `defaultData()` merged with what the handshake hook returned (without defaultData, the hook's object itself; `{}` with neither). */
  data: D;
  /** The endpoint this connection belongs to: `conn.endpoint.broadcast(…)` from a handler file. */
  readonly endpoint: Endpoint<D>;
  /** @internal heartbeat bookkeeping: set on pong, cleared on each beat. */
  alive = true;
  readonly #socket: TransportSocket;
  readonly #policy: SendPolicy;

  constructor(id: string, endpoint: Endpoint<D>, data: D, socket: TransportSocket, policy: SendPolicy) {
    this.id = id;
    this.endpoint = endpoint;
    this.data = data;
    this.#socket = socket;
    this.#policy = policy;
  }

  /** The endpoint path this connection belongs to. */
  get path(): string {
    return this.endpoint.path;
  }

  /** The peer's IP address (read from the socket on first use). */
  get remoteAddress(): string | undefined {
    return this.#socket.remoteAddress;
  }

  /** The negotiated subprotocol, "" for none. */
  get protocol(): string {
    return this.#socket.protocol;
  }

  /** The negotiated extensions header value, "" for none. */
  get extensions(): string {
    return this.#socket.extensions;
  }

  /** Bytes queued and not yet written to the kernel. */
  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  get isOpen(): boolean {
    return this.#socket.isOpen;
  }

  /**
   * Send one message: a string as text, bytes as binary unless `isBinary` is false.
   * Returns false when it was not sent: the connection is closing, or it is a slow consumer
   * (then the endpoint's `slowConsumer` policy has dropped the message or closed the connection).
   */
  send(data: string | Buffer | Uint8Array, isBinary?: boolean): boolean {
    if (!this.admit()) return false;
    const binary = isBinary ?? typeof data !== "string";
    this.#socket.send(typeof data === "string" || Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength), binary);
    this.counted(data.length);
    return true;
  }

  /** Send a message framed once by `endpoint.prepare()` (what broadcast uses). */
  sendPrepared(message: PreparedMessage): boolean {
    if (!this.admit()) return false;
    this.#socket.sendPrepared(message);
    this.counted(message.data.length);
    return true;
  }

  /**
   * Start the closing handshake. If the peer does not answer within `closeTimeoutMs` the
   * socket is destroyed. `reason` is cut to 123 bytes (the most a close frame can carry).
   */
  close(code: number = CloseCode.Normal, reason = ""): void {
    if (!isSendableCloseCode(code)) {
      throw new OptionError("code", `${code} is not a close code an endpoint may send (1000–1003, 1007–1014, 3000–4999)`);
    }
    this.#socket.close(code, truncateUtf8(reason, MAX_REASON_BYTES));
  }

  /** Destroy the connection at once, without a closing handshake (the peer sees 1006). */
  terminate(): void {
    this.#socket.terminate();
  }

  /** @internal used by the heartbeat. */
  ping(): void {
    this.#socket.ping();
  }

  // TS-private, not #private: a class with #methods gives every instance a brand slot (8 bytes
  // per connection; issue 18's idle memory).

  /** Two increments; the trace line only when trace is on (a cached boolean, not a pino call). */
  private counted(length: number): void {
    const policy = this.#policy;
    policy.sent.messagesOut++;
    policy.sent.bytesOut += length;
    if (policy.levels.trace) policy.traceSend(this as Connection<unknown>, length);
  }

  private admit(): boolean {
    if (!this.#socket.isOpen) return false;
    if (this.#socket.bufferedAmount <= this.#policy.maxBufferedBytes) return true;
    const policy = this.#policy.slowConsumer;
    this.#policy.onRefused(this as Connection<unknown>, policy);
    if (policy === "close") this.#socket.close(CloseCode.SlowConsumer, "slow consumer");
    return false;
  }
}

function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text);
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  // Step back over UTF-8 continuation bytes so we never cut a character in half.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString();
}
