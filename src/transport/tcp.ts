/**
 * Raw TCP: Kamaelia's ServerCore made whole. A factory makes one handler per connection (the
 * same hook names as a WebSocket endpoint), a framing cuts the byte stream into messages, and
 * stop() is a controlled shutdown — the part Kamaelia left on its To-do list: every handler is
 * told (`shutdown` hook), its pending writes drain, then the sockets close, all bounded by
 * `drainTimeoutMs`.
 *
 * A TcpListener is a runtime service: start(signal) / stop().
 */
import { createServer, type Server, type Socket } from "node:net";
import { FramingError, OptionError, StateError, toCloseCode } from "../errors.ts";
import { asError, runHook } from "../hooks.ts";
import { createLogger, type Logger, type LogOptions } from "../log.ts";
import { CloseCode } from "../protocol/close-codes.ts";
import type { ConnectionHandler } from "./handler.ts";
import { createFraming, type Framing, type FramingName } from "./framing.ts";
import { readLimit, readPort } from "../limits.ts";
import { TcpConnectionImpl, type TcpConnection } from "./tcp-connection.ts";

export type { TcpConnection } from "./tcp-connection.ts";

/** The WebSocket handler shape, plus `shutdown`: the server is stopping, say goodbye now. */
export interface TcpHandler<D = unknown> extends ConnectionHandler<TcpConnection<D>, Buffer> {
  /** Called once when stop() begins. Sends made here (even after an await) are delivered before the socket closes. */
  shutdown?(conn: TcpConnection<D>): void | Promise<void>;
}

export interface TcpOptions<D = unknown> {
  port: number;
  /** Interface to listen on. Default "127.0.0.1"; "0.0.0.0" or "::" to serve other machines. */
  host?: string;
  /** Called once per accepted connection: returns that connection's handler. */
  protocol: () => TcpHandler<D>;
  framing?: FramingName;
  /** Connection id prefix (default "tcp"): ids are "tcp-1", "tcp-2", … */
  idPrefix?: string;
  defaultData?: () => D;
  maxConnections?: number;
  idleTimeoutMs?: number;
  maxLineBytes?: number;
  maxFrameBytes?: number;
  drainTimeoutMs?: number;
  /** Most bytes queued for one connection before a send closes it with 4000 slow consumer. */
  maxBufferedBytes?: number;
  logger?: Logger | LogOptions;
  /** Shared id generator (the server's), so ids are unique across its listeners. */
  ids?: { next(prefix: string): string };
}

export interface TcpStats {
  readonly kind: "tcp";
  readonly port: number;
  readonly framing: FramingName;
  readonly connections: number;
  readonly accepted: number;
  /** Connections destroyed at accept because `maxConnections` were open. */
  readonly refused: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly framingErrors: number;
  readonly idleTimeouts: number;
  readonly hookErrors: number;
}

interface Counters {
  accepted: number; refused: number; bytesIn: number; bytesOut: number;
  framingErrors: number; idleTimeouts: number; hookErrors: number;
}

export class TcpListener<D = unknown> {
  readonly #options: TcpOptions<D>;
  readonly #framing: Framing;
  readonly #limits: { maxConnections: number; idleTimeoutMs: number; drainTimeoutMs: number; maxBufferedBytes: number };
  readonly #log: Logger;
  readonly #connections = new Map<string, { conn: TcpConnectionImpl<D>; handler: TcpHandler<D> }>();
  readonly #counters: Counters = { accepted: 0, refused: 0, bytesIn: 0, bytesOut: 0, framingErrors: 0, idleTimeouts: 0, hookErrors: 0 };
  #nextId = 0;
  #boundPort: number | undefined;
  #server: Server | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: TcpOptions<D>) {
    readPort(options.port);
    if (typeof options.protocol !== "function") throw new OptionError("protocol", "must be a function that returns a handler");
    const framing = options.framing ?? "raw";
    if (framing !== "raw" && framing !== "lines" && framing !== "length") {
      throw new OptionError("framing", `must be "raw", "lines" or "length", got ${String(framing)}`);
    }
    this.#options = options;
    this.#framing = createFraming(framing, {
      maxLineBytes: readLimit("maxLineBytes", options.maxLineBytes),
      maxFrameBytes: readLimit("maxFrameBytes", options.maxFrameBytes),
    });
    this.#limits = {
      maxConnections: readLimit("maxConnections", options.maxConnections),
      idleTimeoutMs: readLimit("idleTimeoutMs", options.idleTimeoutMs),
      drainTimeoutMs: readLimit("drainTimeoutMs", options.drainTimeoutMs),
      maxBufferedBytes: readLimit("maxBufferedBytes", options.maxBufferedBytes),
    };
    this.#log = createLogger(options.logger).child({ component: "tcp" });
  }

  /** The bound port (after start()); the configured one before. */
  get port(): number {
    return this.#boundPort ?? this.#options.port;
  }

  get connections(): ReadonlyMap<string, TcpConnection<D>> {
    return new Map([...this.#connections].map(([id, entry]) => [id, entry.conn]));
  }

  stats(): TcpStats {
    return { kind: "tcp", port: this.port, framing: this.#framing.name, connections: this.#connections.size, ...this.#counters };
  }

  /** Listen. Resolves once bound; an abort of `signal` stops the listener. */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.#server !== undefined) throw new StateError("TcpListener already started");
    const server = createServer((socket) => this.#accept(socket));
    this.#server = server;
    await listen(server, this.#options.port, this.#options.host ?? "127.0.0.1");
    const address = server.address();
    this.#boundPort = typeof address === "object" && address !== null ? address.port : this.#options.port;
    server.on("error", (err) => this.#log.error({ err }, "tcp listener error"));
    this.#log.info({ port: this.port, framing: this.#framing.name }, "tcp listening");
    if (signal?.aborted) await this.stop();
    else signal?.addEventListener("abort", () => void this.stop(), { once: true });
  }

  /** Controlled shutdown: refuse new connections, tell every handler, drain writes, close. */
  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  async #shutdown(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const entries = [...this.#connections.values()];
    const gone = entries.map(({ conn }) => new Promise<void>((resolve) => {
      if (conn.socket.destroyed) resolve(); else conn.socket.once("close", () => resolve());
    }));
    for (const { conn, handler } of entries) void this.#sayGoodbye(conn, handler);
    const timer = setTimeout(() => {
      for (const { conn } of this.#connections.values()) conn.destroy(CloseCode.GoingAway, "shutdown");
    }, this.#limits.drainTimeoutMs);
    await Promise.all(gone);
    clearTimeout(timer);
    await closed;
    this.#log.info({ port: this.port }, "tcp stopped");
  }

  async #sayGoodbye(conn: TcpConnectionImpl<D>, handler: TcpHandler<D>): Promise<void> {
    // A connection already closing has had its last word.
    if (handler.shutdown !== undefined && conn.closeInfo === undefined) {
      try {
        await handler.shutdown(conn);
      } catch (err) {
        this.#hookFailed(conn, handler, asError(err), false);
      }
    }
    conn.close(CloseCode.GoingAway, "shutdown");
  }

  #accept(socket: Socket): void {
    if (this.#stopping !== undefined || this.#connections.size >= this.#limits.maxConnections) {
      this.#counters.refused += 1;
      socket.destroy();
      return;
    }
    this.#counters.accepted += 1;
    const prefix = this.#options.idPrefix ?? "tcp";
    const id = this.#options.ids?.next(prefix) ?? `${prefix}-${++this.#nextId}`;
    const data = (this.#options.defaultData?.() ?? undefined) as D;
    const conn = new TcpConnectionImpl<D>(id, socket, this.#framing, data, {
      closeTimeoutMs: this.#limits.drainTimeoutMs,
      maxBufferedBytes: this.#limits.maxBufferedBytes,
      onBytesOut: (n) => { this.#counters.bytesOut += n; },
    });
    let handler: TcpHandler<D>;
    try {
      handler = this.#options.protocol();
    } catch (err) {
      this.#counters.hookErrors += 1;
      this.#log.error({ err, conn: id }, "tcp protocol factory threw; connection dropped");
      socket.destroy();
      return;
    }
    this.#connections.set(id, { conn, handler });
    socket.setNoDelay(true);
    if (this.#limits.idleTimeoutMs > 0) socket.setTimeout(this.#limits.idleTimeoutMs);

    socket.on("data", (chunk: Buffer) => this.#onData(conn, handler, chunk));
    socket.on("timeout", () => {
      this.#counters.idleTimeouts += 1;
      conn.close(CloseCode.GoingAway, "idle timeout");
    });
    socket.on("error", (err) => {
      // ECONNRESET and friends: the peer is gone. The 'close' event follows and runs the hook.
      conn.closeInfo ??= { code: CloseCode.Abnormal, reason: err.message };
      runHook(handler.error, [conn, err], (hookErr) => this.#log.error({ err: hookErr, conn: id }, "tcp error hook threw"));
    });
    socket.on("close", (hadError) => {
      this.#connections.delete(id);
      const { code, reason } = conn.finish(hadError);
      runHook(handler.close, [conn, code, reason], (err) => this.#hookFailed(conn, handler, err, false));
    });
    runHook(handler.open, [conn], (err) => this.#hookFailed(conn, handler, err, true));
  }

  #onData(conn: TcpConnectionImpl<D>, handler: TcpHandler<D>, chunk: Buffer): void {
    this.#counters.bytesIn += chunk.length;
    // After a close has started the rest of the stream is read (so FIN arrives) but not handled.
    if (conn.closeInfo !== undefined) return;
    let frames: Buffer[];
    try {
      frames = conn.decoder.push(chunk);
    } catch (err) {
      if (!(err instanceof FramingError)) throw err;
      this.#counters.framingErrors += 1;
      this.#log.warn({ conn: conn.id, code: err.code }, err.message);
      runHook(handler.error, [conn, err], (hookErr) => this.#log.error({ err: hookErr, conn: conn.id }, "tcp error hook threw"));
      conn.close(toCloseCode(err), err.code === "line_too_long" ? "line too long" : "frame too big");
      return;
    }
    const isBinary = this.#framing.name !== "lines";
    for (const frame of frames) {
      if (conn.closeInfo !== undefined) return;
      runHook(handler.message, [conn, frame, isBinary], (err) => this.#hookFailed(conn, handler, err, true));
    }
  }

  /** A hook threw: log it, tell the error hook, and (for open/message) close with 1011. */
  #hookFailed(conn: TcpConnectionImpl<D>, handler: TcpHandler<D>, err: Error, closeConnection: boolean): void {
    this.#counters.hookErrors += 1;
    this.#log.error({ err, conn: conn.id }, "tcp handler hook threw");
    if (handler.error !== undefined) {
      try {
        handler.error(conn, err);
      } catch (hookErr) {
        this.#log.error({ err: hookErr, conn: conn.id }, "tcp error hook threw");
      }
    }
    if (closeConnection) conn.close(toCloseCode(err), "internal error");
  }
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}
