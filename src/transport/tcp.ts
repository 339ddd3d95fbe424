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
import { asError, runHook, type HookErrorHandler } from "../hooks.ts";
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
    for (const { conn, handler } of entries) {
      this.#sayGoodbye(conn, handler).catch((err: unknown) => this.#log.error({ err: asError(err), conn: conn.id }, "tcp goodbye failed"));
    }
    const timer = setTimeout(() => this.#destroyAll("drain timeout"), this.#limits.drainTimeoutMs);
    await Promise.all(gone);
    clearTimeout(timer);
    await closed;
    this.#log.info({ port: this.port }, "tcp stopped");
  }

  /**
   * The owner's stop deadline is here (the Server's, which may come before `drainTimeoutMs`):
   * destroy every connection still open, whatever its hooks are doing. Starts stop() if needed.
   */
  terminate(): Promise<void> {
    const stopping = this.stop();
    this.#destroyAll("stop deadline");
    return stopping;
  }

  #destroyAll(why: string): void {
    if (this.#connections.size === 0) return;
    this.#log.warn({ port: this.port, open: this.#connections.size }, `tcp ${why}: destroying connections still open`);
    for (const { conn } of this.#connections.values()) conn.destroy(CloseCode.GoingAway, "shutdown");
  }

  async #sayGoodbye(conn: TcpConnectionImpl<D>, handler: TcpHandler<D>): Promise<void> {
    // A connection already closing has had its last word.
    if (handler.shutdown !== undefined && conn.closeInfo === undefined) {
      try {
        await handler.shutdown(conn);
      } catch (err) {
        this.#hookFailed("shutdown", conn, handler, asError(err));
      }
    }
    conn.close(CloseCode.GoingAway, "shutdown");
  }

  #accept(socket: Socket): void {
    // First, before anything can fail: from accept to destroy the socket has an error handler,
    // so a peer's reset at any stage is an event, never an uncaught 'error'.
    let entry: { conn: TcpConnectionImpl<D>; handler: TcpHandler<D> } | undefined;
    socket.on("error", (err) => {
      if (entry === undefined) {
        this.#log.debug({ err }, "tcp socket error before its handler was made");
        return;
      }
      // ECONNRESET and friends: the peer is gone. The 'close' event follows and runs the hook.
      entry.conn.closeInfo ??= { code: CloseCode.Abnormal, reason: err.message };
      this.#tellErrorHook(entry.conn, entry.handler, err);
    });
    if (this.#stopping !== undefined || this.#connections.size >= this.#limits.maxConnections) {
      this.#counters.refused += 1;
      socket.destroy();
      return;
    }
    this.#counters.accepted += 1;
    const prefix = this.#options.idPrefix ?? "tcp";
    const id = this.#options.ids?.next(prefix) ?? `${prefix}-${++this.#nextId}`;
    // protocol() and defaultData() are user code too: a failure drops this connection only.
    const dropped = (what: string): HookErrorHandler => (err) => {
      this.#counters.hookErrors += 1;
      this.#log.error({ err, conn: id }, `tcp ${what}; connection dropped`);
    };
    const handler = this.#makeHandler(id, dropped);
    if (handler === undefined) {
      socket.destroy();
      return;
    }
    const defaultData = this.#options.defaultData;
    const data = defaultData === undefined ? undefined : guardedValue(() => defaultData.call(this.#options), dropped("defaultData() threw"));
    if (data === FAILED) {
      socket.destroy();
      return;
    }
    const conn = new TcpConnectionImpl<D>(id, socket, this.#framing, data as D, {
      closeTimeoutMs: this.#limits.drainTimeoutMs,
      maxBufferedBytes: this.#limits.maxBufferedBytes,
      onBytesOut: (n) => { this.#counters.bytesOut += n; },
    });
    entry = { conn, handler };
    this.#connections.set(id, entry);
    socket.setNoDelay(true);
    if (this.#limits.idleTimeoutMs > 0) socket.setTimeout(this.#limits.idleTimeoutMs);

    socket.on("data", (chunk: Buffer) => this.#onData(conn, handler, chunk));
    socket.on("timeout", () => {
      this.#counters.idleTimeouts += 1;
      conn.close(CloseCode.GoingAway, "idle timeout");
    });
    socket.on("close", (hadError) => {
      this.#connections.delete(id);
      const { code, reason } = conn.finish(hadError);
      runHook(handler.close, [conn, code, reason], (err) => this.#hookFailed("close", conn, handler, err));
    });
    runHook(handler.open, [conn], (err) => this.#hookFailed("open", conn, handler, err));
  }

  #onData(conn: TcpConnectionImpl<D>, handler: TcpHandler<D>, chunk: Buffer): void {
    this.#counters.bytesIn += chunk.length;
    // After a close has started the rest of the stream is read (so FIN arrives) but not handled.
    if (conn.closeInfo !== undefined) return;
    let frames: Buffer[];
    try {
      frames = conn.decoder.push(chunk);
    } catch (thrown) {
      // A FramingError is the peer's fault (1009); anything else would be a decoder bug (1011).
      // Either way only this connection ends: nothing thrown here may escape the 'data' event.
      const err = asError(thrown);
      this.#counters.framingErrors += 1;
      if (err instanceof FramingError) this.#log.warn({ conn: conn.id, code: err.code }, err.message);
      else this.#log.error({ err, conn: conn.id }, "tcp framing failed");
      this.#tellErrorHook(conn, handler, err);
      conn.close(toCloseCode(err), err instanceof FramingError ? (err.code === "line_too_long" ? "line too long" : "frame too big") : "internal error");
      return;
    }
    const isBinary = this.#framing.name !== "lines";
    for (const frame of frames) {
      if (conn.closeInfo !== undefined) return;
      runHook(handler.message, [conn, frame, isBinary], (err) => this.#hookFailed("message", conn, handler, err));
    }
  }

  /** A hook threw: log it, tell the error hook, and (for open/message) close with 1011. */
  #hookFailed(hook: "open" | "message" | "close" | "shutdown", conn: TcpConnectionImpl<D>, handler: TcpHandler<D>, err: Error): void {
    this.#counters.hookErrors += 1;
    this.#log.error({ err, conn: conn.id, hook }, `tcp ${hook} hook threw`);
    this.#tellErrorHook(conn, handler, err);
    // After close there is nothing to end; after shutdown the goodbye closes it with 1001 anyway.
    if (hook === "open" || hook === "message") conn.close(toCloseCode(err), "internal error");
  }

  /** The error hook is user code like the others: a throw or a rejection is logged and counted, never rethrown. */
  #tellErrorHook(conn: TcpConnectionImpl<D>, handler: TcpHandler<D>, err: Error): void {
    runHook(handler.error, [conn, err], (hookErr) => {
      this.#counters.hookErrors += 1;
      this.#log.error({ err: hookErr, conn: conn.id }, "tcp error hook threw");
    });
  }

  /** This connection's handler from protocol(), checked; undefined (logged, counted) if there is none to use. */
  #makeHandler(id: string, dropped: (what: string) => HookErrorHandler): TcpHandler<D> | undefined {
    const made: unknown = guardedValue(() => this.#options.protocol(), dropped("protocol() threw"));
    if (made === FAILED) return undefined;
    if (isThenable(made)) {
      // An async factory: its promise must not reject unhandled once the connection is dropped.
      made.then(undefined, (err: unknown) => this.#log.warn({ err: asError(err), conn: id }, "tcp protocol() promise rejected"));
    }
    const problem = handlerProblem(made);
    if (problem !== undefined) {
      dropped("protocol() returned no usable handler")(new TypeError(`protocol() ${problem}`));
      return undefined;
    }
    return made as TcpHandler<D>;
  }
}

const FAILED = Symbol("failed");

/** Call user code that returns a value, through runHook: the value, or FAILED after `onError` had the error. */
function guardedValue<T>(fn: () => T, onError: HookErrorHandler): T | typeof FAILED {
  let value: T | typeof FAILED = FAILED;
  runHook(() => { value = fn(); }, [], onError);
  return value;
}

const HOOK_NAMES = ["open", "message", "close", "error", "shutdown"] as const;

/** What is wrong with a handler protocol() returned, or undefined if it can be used. */
function handlerProblem(made: unknown): string | undefined {
  if (typeof made !== "object" || made === null) return `must return a handler object, got ${made === null ? "null" : typeof made}`;
  if (isThenable(made)) return "must return the handler itself, not a promise";
  const hooks = made as Record<string, unknown>;
  const bad = HOOK_NAMES.find((name) => hooks[name] !== undefined && typeof hooks[name] !== "function");
  return bad === undefined ? undefined : `returned a handler whose ${bad} is not a function`;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as PromiseLike<unknown>).then === "function";
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
