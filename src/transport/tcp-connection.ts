/**
 * One raw TCP connection as user code sees it: id, per-connection data, send, close. It owns
 * the socket's framing decoder and its close bookkeeping (which code and reason the `close`
 * hook gets, exactly once). The listener in `tcp.ts` owns the set of these and the hooks.
 */
import type { Socket } from "node:net";
import { CloseCode } from "../protocol/close-codes.ts";
import type { FrameDecoder, Framing } from "./framing.ts";

export interface TcpConnection<D = unknown> {
  /** Readable id, `<idPrefix>-<n>` ("tcp-1", "tcp-2", …). */
  readonly id: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Per-connection user data, from the `defaultData` option. */
  data: D;
  /** Bytes queued and not yet handed to the kernel. */
  readonly bufferedAmount: number;
  /** False once a close has started: sends are then dropped (send returns false). */
  readonly isOpen: boolean;
  /** Send one message, framed by the listener's framing. False: dropped (closing) or the socket is buffering. */
  send(data: Buffer | Uint8Array | string): boolean;
  /** Finish pending writes, then close. The close hook gets `code`/`reason` (default 1000 "closed"). */
  close(code?: number, reason?: string): void;
}

export interface ConnectionSettings {
  /** A close that the peer does not complete in this time destroys the socket. */
  closeTimeoutMs: number;
  /** A send with more than this queued closes the connection with 4000. */
  maxBufferedBytes: number;
  onBytesOut(n: number): void;
}

export interface CloseInfo {
  code: number;
  reason: string;
}

export class TcpConnectionImpl<D> implements TcpConnection<D> {
  readonly id: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  data: D;
  readonly socket: Socket;
  readonly decoder: FrameDecoder;
  readonly #framing: Framing;
  readonly #settings: ConnectionSettings;
  /** Set when we start the close, or when the socket fails; read by the listener on 'close'. */
  closeInfo: CloseInfo | undefined;
  #closeTimer: NodeJS.Timeout | undefined;

  constructor(id: string, socket: Socket, framing: Framing, data: D, settings: ConnectionSettings) {
    this.id = id;
    this.socket = socket;
    this.remoteAddress = socket.remoteAddress ?? "";
    this.remotePort = socket.remotePort ?? 0;
    this.data = data;
    this.#framing = framing;
    this.decoder = framing.decoder();
    this.#settings = settings;
  }

  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  get isOpen(): boolean {
    return this.closeInfo === undefined && !this.socket.destroyed && this.socket.writable;
  }

  send(data: Buffer | Uint8Array | string): boolean {
    if (!this.isOpen) return false;
    // A peer that does not read must not make us buffer without bound.
    if (this.socket.writableLength > this.#settings.maxBufferedBytes) {
      this.close(CloseCode.SlowConsumer, "slow consumer");
      return false;
    }
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const encoded = this.#framing.encode(bytes);
    const parts = Array.isArray(encoded) ? encoded : [encoded];
    let flushed = true;
    // Corked, a prefix and its body (or a line and its "\n") leave in one writev.
    this.socket.cork();
    for (const part of parts) {
      flushed = this.socket.write(part);
      this.#settings.onBytesOut(part.length);
    }
    this.socket.uncork();
    return flushed;
  }

  close(code: number = CloseCode.Normal, reason = "closed"): void {
    if (this.closeInfo !== undefined) return;
    this.closeInfo = { code, reason };
    // end() sends FIN only after every queued write is flushed: this is what lets a handler's
    // last words arrive. A peer that never closes its side is destroyed after the timeout.
    this.socket.end();
    this.#closeTimer = setTimeout(() => this.socket.destroy(), this.#settings.closeTimeoutMs);
    this.#closeTimer.unref();
  }

  /** Destroy at once (stop timeout, framing abuse). Keeps the first close reason. */
  destroy(code: number, reason: string): void {
    this.closeInfo ??= { code, reason };
    this.socket.destroy();
  }

  /** The socket is gone: clear timers. Returns the close info the hook should get. */
  finish(hadError: boolean): CloseInfo {
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer);
    return this.closeInfo ?? (hadError ? { code: CloseCode.Abnormal, reason: "socket error" } : { code: CloseCode.Normal, reason: "peer closed" });
  }
}
