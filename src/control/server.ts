/**
 * The control socket: a UNIX socket (mode 0600: only the user running the server may talk to
 * it) that takes newline-delimited JSON requests and answers each with one reply line, maybe
 * after progress lines. What a request does is the `dispatch` function's business
 * (control/commands.ts); this file only does the socket, the framing and the lifecycle.
 *
 * Every socket it accepts has an error handler and ends destroyed: a served connection when it
 * closes (or at stop, after a deadline), a refused one ("busy") or a hung-up one ("line_too_long")
 * as soon as its last line is flushed. A connection runs its requests one at a time, in order,
 * and is not read while a request runs or while more than controlMaxBufferedBytes of its replies
 * wait to be sent: a client that does not read cannot grow the server's memory.
 */
import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { resolve } from "node:path";
import { SwitchboardError } from "../errors.ts";
import { asError } from "../endpoint/hooks.ts";
import { readLimit } from "../limits.ts";
import { createLogger, type Logger } from "../log.ts";
import { withTimeout } from "../runtime/timers.ts";
import type { Service } from "../runtime/service.ts";
import {
  ControlErrorCode, encodeLine, errorReply, isReply, parseRequest,
  type CommandCall, type ControlReply, type ControlRequest, type Dispatch,
} from "./protocol.ts";

// The command side's types live with the protocol (the command table, below server.ts, needs them; this socket is above it).
export type { CommandCall, Dispatch } from "./protocol.ts";

export const DEFAULT_CONTROL_SOCKET = "switchboard.sock";

export interface ControlServerOptions {
  path?: string;
  dispatch: Dispatch;
  logger?: Logger;
  maxLineBytes?: number;
  maxConnections?: number;
  /** Unsent reply bytes per connection above which it is not read (controlMaxBufferedBytes). */
  maxBufferedBytes?: number;
  stopGraceMs?: number;
}

export class ControlSocketError extends SwitchboardError {}

export class ControlServer {
  readonly path: string;
  readonly #dispatch: Dispatch;
  readonly #log: Logger;
  readonly #limits: ConnectionLimits;
  readonly #maxConnections: number;
  readonly #graceMs: number;
  /** Every accepted socket, refused ones too, until its 'close': stop() ends or destroys them all. */
  readonly #sockets = new Set<Socket>();
  /** The served connections: what controlMaxConnections counts. */
  readonly #connections = new Set<ControlConnection>();
  readonly #inFlight = new Set<Promise<unknown>>();
  #server: Server | undefined;

  constructor(options: ControlServerOptions) {
    this.path = resolve(options.path ?? DEFAULT_CONTROL_SOCKET);
    this.#dispatch = options.dispatch;
    this.#log = (options.logger ?? createLogger({ level: "silent" })).child({ component: "control" });
    this.#limits = {
      maxLineBytes: readLimit("controlMaxLineBytes", options.maxLineBytes),
      maxBufferedBytes: readLimit("controlMaxBufferedBytes", options.maxBufferedBytes),
    };
    this.#maxConnections = readLimit("controlMaxConnections", options.maxConnections);
    this.#graceMs = readLimit("controlStopGraceMs", options.stopGraceMs);
  }

  /** Clear a stale socket file, listen, restrict to 0600. */
  async start(): Promise<void> {
    await clearStaleSocket(this.path);
    // Half-open: `echo '{…}' | nc -U sock` ends its side at once and still gets its reply.
    const server = createServer({ allowHalfOpen: true }, (socket) => this.#accept(socket));
    await new Promise<void>((resolveListen, rejectListen) => {
      server.once("error", rejectListen);
      // The umask makes the socket 0600 from the moment it exists (no window where others may
      // connect); the chmod below covers platforms where bind ignores the umask.
      const oldMask = process.umask(0o177);
      try {
        server.listen(this.path, () => {
          server.off("error", rejectListen);
          resolveListen();
        });
      } finally {
        process.umask(oldMask);
      }
    }).catch((err: NodeJS.ErrnoException) => {
      throw new ControlSocketError("control_socket", `cannot listen on control socket ${this.path}: ${err.message}`, { cause: err });
    });
    chmodSync(this.path, 0o600);
    server.on("error", (err) => this.#log.error({ err }, "control socket error"));
    this.#server = server;
    this.#log.info({ path: this.path }, "control socket listening");
  }

  /** Stop accepting, remove the file, let running requests finish (bounded), close connections. */
  async stop(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    const closed = new Promise<void>((r) => server.close(() => r()));
    removeSocketFile(this.path, this.#log);
    for (const connection of this.#connections) connection.stopRequests();
    if (this.#inFlight.size > 0) {
      const done = await withTimeout(Promise.all(this.#inFlight), this.#graceMs);
      if (!done) this.#log.warn({ requests: this.#inFlight.size }, "control requests still running at stop; closing without reply");
    }
    for (const socket of this.#sockets) socket.end();
    const allClosed = Promise.all([...this.#sockets].map((s) => new Promise<void>((r) => s.once("close", () => r()))));
    if (!(await withTimeout(allClosed, this.#graceMs))) for (const s of this.#sockets) s.destroy();
    // Every accepted socket is in #sockets, so this only waits for the 'close' events of the
    // destroys above; bounded all the same.
    if (!(await withTimeout(closed, this.#graceMs))) this.#log.warn("control socket did not close in time");
  }

  get listening(): boolean {
    return this.#server !== undefined;
  }

  #accept(socket: Socket): void {
    socket.on("error", (err) => this.#log.debug({ err }, "control connection error"));
    this.#sockets.add(socket);
    socket.once("close", () => this.#sockets.delete(socket));
    if (this.#connections.size >= this.#maxConnections) {
      socket.write(encodeLine(errorReply(null, ControlErrorCode.Busy, `too many control connections (controlMaxConnections = ${this.#maxConnections})`)));
      socket.destroySoon(); // not left half-open: a refused peer holds no socket
      return;
    }
    const connection = new ControlConnection(socket, this.#limits, this.#log, (request, call) => this.#run(request, call));
    this.#connections.add(connection);
    socket.once("close", () => this.#connections.delete(connection));
  }

  /** Dispatch one request; resolves with its reply, never rejects (a throw is an "internal" reply). */
  #run(request: ControlRequest, call: CommandCall): Promise<ControlReply> {
    // Operators' routine (status polls every few seconds): debug, not info.
    this.#log.debug({ command: request.command, args: request.args }, "control command");
    // `dispatch` may be anyone's function: a synchronous throw must become a reply as well.
    const task = Promise.resolve()
      .then(() => this.#dispatch(request, call))
      .catch((err: unknown) => errorReply(request.id, ControlErrorCode.Internal, asError(err).message))
      .then((reply) => {
        this.#log.debug({ command: request.command, ok: reply.ok }, "control reply");
        return reply;
      })
      .finally(() => this.#inFlight.delete(task));
    this.#inFlight.add(task);
    return task;
  }
}

interface ConnectionLimits {
  readonly maxLineBytes: number;
  readonly maxBufferedBytes: number;
}

/**
 * One served control connection: splits what it reads into lines and runs them one at a time,
 * in order. The socket is paused while a request runs and while more than maxBufferedBytes of
 * replies are unsent; it resumes when a write flushes below that (a write callback rather than
 * 'drain', which fires only past the stream's own highWaterMark and so misses a lower bound).
 * What it holds unread is thus at most one read chunk beyond a partial line of maxLineBytes.
 */
class ControlConnection {
  readonly #socket: Socket;
  readonly #limits: ConnectionLimits;
  readonly #log: Logger;
  readonly #run: (request: ControlRequest, call: CommandCall) => Promise<ControlReply>;
  /** Text received and not yet run: complete lines, then at most one partial line. */
  #buffer = "";
  #running = false;
  /** Waiting for unsent replies to flush below maxBufferedBytes before reading on. */
  #backlogged = false;
  /** The client ended its side: run what is left, then end ours. */
  #ended = false;
  /** No further requests: hung up, stopping, or closed. */
  #done = false;
  readonly #afterWrite = (): void => {
    if (this.#backlogged && this.#socket.writableLength <= this.#limits.maxBufferedBytes) {
      this.#backlogged = false;
      this.#pump();
    }
  };

  constructor(socket: Socket, limits: ConnectionLimits, log: Logger, run: (request: ControlRequest, call: CommandCall) => Promise<ControlReply>) {
    this.#socket = socket;
    this.#limits = limits;
    this.#log = log;
    this.#run = run;
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      if (this.#done) return; // hung up: read and dropped, so that the close is clean
      this.#buffer += chunk;
      this.#pump();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#buffer += "\n"; // a last request without its newline still counts
      this.#pump();
    });
    socket.once("close", () => {
      this.#done = true;
    });
  }

  /** The server stops: run nothing more; stop() ends the socket once running requests replied. */
  stopRequests(): void {
    this.#done = true;
  }

  /** Run buffered lines while nothing runs and the backlog allows; read on only when all are run. */
  #pump(): void {
    while (!this.#done && !this.#running) {
      if (this.#socket.writableLength > this.#limits.maxBufferedBytes) {
        this.#backlogged = true;
        this.#socket.pause();
        return;
      }
      const newline = this.#buffer.indexOf("\n");
      if (newline === -1) break;
      const line = this.#buffer.slice(0, newline);
      this.#buffer = this.#buffer.slice(newline + 1);
      if (Buffer.byteLength(line) > this.#limits.maxLineBytes) return this.#hangUpTooLong();
      this.#start(line.endsWith("\r") ? line.slice(0, -1) : line);
    }
    if (this.#done || this.#running) return;
    // Without a newline in sight we cannot find the next request: answer and hang up.
    if (Buffer.byteLength(this.#buffer) > this.#limits.maxLineBytes) return this.#hangUpTooLong();
    if (this.#ended) {
      this.#done = true;
      this.#socket.end();
      return;
    }
    this.#socket.resume();
  }

  #start(line: string): void {
    if (line.trim() === "") return;
    const parsed = parseRequest(line);
    if (isReply(parsed)) {
      this.#send(parsed);
      return;
    }
    const request = parsed;
    let progressDropped = false;
    const call: CommandCall = {
      progress: (value) => {
        // Progress is advisory: a client that does not read loses it, never the reply.
        if (this.#socket.writableLength > this.#limits.maxBufferedBytes) {
          if (!progressDropped) this.#log.debug({ id: request.id }, "control progress dropped: the client is not reading");
          progressDropped = true;
          return;
        }
        this.#write(encodeLine({ id: request.id, progress: value }));
      },
    };
    this.#running = true;
    this.#socket.pause();
    this.#run(request, call)
      .then((reply) => this.#send(reply))
      .finally(() => {
        this.#running = false;
        this.#pump();
      })
      .catch((err: unknown) => this.#log.error({ err }, "control connection failed after a reply"));
  }

  #hangUpTooLong(): void {
    this.#done = true;
    this.#buffer = "";
    this.#send(errorReply(null, ControlErrorCode.LineTooLong, `request line longer than controlMaxLineBytes (${this.#limits.maxLineBytes})`));
    this.#socket.resume();
    this.#socket.destroySoon();
  }

  /** A reply, or an "internal" error reply when the result cannot be encoded (a BigInt, a cycle). */
  #send(reply: ControlReply): void {
    let line: string;
    try {
      line = encodeLine(reply);
    } catch (err) {
      line = encodeLine(errorReply(reply.id, ControlErrorCode.Internal, `the reply cannot be encoded as JSON: ${asError(err).message}`));
    }
    this.#write(line);
  }

  #write(line: string): void {
    if (!this.#socket.destroyed && this.#socket.writable) this.#socket.write(line, this.#afterWrite);
  }
}

/**
 * The control socket as a service of the supervisor. Critical and not restarted: a server that
 * cannot be controlled (socket in use, bad path) refuses to start rather than run unstoppable.
 */
export function controlService(server: ControlServer, name = "control"): Service {
  return { name, critical: true, restartLimit: 0, start: () => server.start(), stop: () => server.stop() };
}

/**
 * A socket file left by a crashed server is removed; one a live server listens on is an
 * error; a path that is not a socket at all is never deleted.
 */
export async function clearStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if (!isSocket) {
    throw new ControlSocketError("control_socket", `${path} exists and is not a socket; remove it or choose another controlSocket path`);
  }
  const live = await new Promise<boolean>((resolveProbe, rejectProbe) => {
    const probe = createConnection(path);
    probe.once("connect", () => {
      probe.destroy();
      resolveProbe(true);
    });
    probe.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ECONNREFUSED" || err.code === "ENOENT") resolveProbe(false);
      else rejectProbe(err);
    });
  });
  if (live) {
    throw new ControlSocketError("control_socket", `another server is using ${path}; stop it with \`switchboard stop\` or choose another controlSocket path`);
  }
  removeSocketFile(path);
}

function removeSocketFile(path: string, log?: Logger): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") log?.warn({ err, path }, "could not remove the control socket file");
  }
}
