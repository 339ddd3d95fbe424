/**
 * The control socket: a UNIX socket (mode 0600: only the user running the server may talk to
 * it) that takes newline-delimited JSON requests and answers each with one reply line, maybe
 * after progress lines. What a request does is the `dispatch` function's business
 * (control/commands.ts); this file only does the socket, the framing and the lifecycle.
 */
import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { resolve } from "node:path";
import { SwitchboardError } from "../errors.ts";
import { asError } from "../endpoint/hooks.ts";
import { limitDefault } from "../limits.ts";
import { createLogger, type Logger } from "../log.ts";
import { withTimeout } from "../runtime/timers.ts";
import type { Service } from "../runtime/service.ts";
import {
  ControlErrorCode, encodeLine, errorReply, isReply, parseRequest,
  type ControlReply, type ControlRequest,
} from "./protocol.ts";

export const DEFAULT_CONTROL_SOCKET = "switchboard.sock";

/** What a running command may do besides returning its result. */
export interface CommandCall {
  /** Send a progress line before the reply. */
  progress(value: unknown): void;
}

/** Runs one request; returns the reply to send (never throws: errors become error replies). */
export type Dispatch = (request: ControlRequest, call: CommandCall) => Promise<ControlReply>;

export interface ControlServerOptions {
  path?: string;
  dispatch: Dispatch;
  logger?: Logger;
  maxLineBytes?: number;
  maxConnections?: number;
  stopGraceMs?: number;
}

export class ControlSocketError extends SwitchboardError {}

export class ControlServer {
  readonly path: string;
  readonly #dispatch: Dispatch;
  readonly #log: Logger;
  readonly #maxLine: number;
  readonly #maxConnections: number;
  readonly #graceMs: number;
  readonly #sockets = new Set<Socket>();
  /** Requests still running per connection, to end a half-closed one after its last reply. */
  readonly #pending = new WeakMap<Socket, number>();
  readonly #inFlight = new Set<Promise<void>>();
  #server: Server | undefined;

  constructor(options: ControlServerOptions) {
    this.path = resolve(options.path ?? DEFAULT_CONTROL_SOCKET);
    this.#dispatch = options.dispatch;
    this.#log = (options.logger ?? createLogger({ level: "silent" })).child({ component: "control" });
    this.#maxLine = options.maxLineBytes ?? limitDefault("controlMaxLineBytes");
    this.#maxConnections = options.maxConnections ?? limitDefault("controlMaxConnections");
    this.#graceMs = options.stopGraceMs ?? limitDefault("controlStopGraceMs");
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
    if (this.#inFlight.size > 0) {
      const done = await withTimeout(Promise.all(this.#inFlight), this.#graceMs);
      if (!done) this.#log.warn({ requests: this.#inFlight.size }, "control requests still running at stop; closing without reply");
    }
    for (const socket of this.#sockets) socket.end();
    const allClosed = Promise.all([...this.#sockets].map((s) => new Promise<void>((r) => s.once("close", () => r()))));
    if (!(await withTimeout(allClosed, this.#graceMs))) for (const s of this.#sockets) s.destroy();
    await closed;
  }

  get listening(): boolean {
    return this.#server !== undefined;
  }

  #accept(socket: Socket): void {
    if (this.#sockets.size >= this.#maxConnections) {
      socket.end(encodeLine(errorReply(null, ControlErrorCode.Busy, `too many control connections (controlMaxConnections = ${this.#maxConnections})`)));
      return;
    }
    this.#sockets.add(socket);
    socket.setEncoding("utf8");
    let buffer = "";
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf("\n")) !== -1) {
        const line = buffer.slice(0, newline).replace(/\r$/, "");
        buffer = buffer.slice(newline + 1);
        if (line.trim() !== "") this.#handle(socket, line);
      }
      if (Buffer.byteLength(buffer) > this.#maxLine) {
        // Without a newline in sight we cannot find the next request: answer and hang up.
        buffer = "";
        socket.end(encodeLine(errorReply(null, ControlErrorCode.LineTooLong, `request line longer than controlMaxLineBytes (${this.#maxLine})`)));
      }
    });
    socket.on("error", (err) => this.#log.debug({ err }, "control connection error"));
    socket.on("end", () => {
      // A last request without its newline still counts.
      if (buffer.trim() !== "") this.#handle(socket, buffer.replace(/\r$/, ""));
      buffer = "";
      if ((this.#pending.get(socket) ?? 0) === 0) socket.end();
    });
    socket.on("close", () => this.#sockets.delete(socket));
  }

  #handle(socket: Socket, line: string): void {
    const parsed = parseRequest(line);
    if (isReply(parsed)) {
      write(socket, encodeLine(parsed));
      return;
    }
    const request = parsed;
    this.#log.info({ command: request.command, args: request.args }, "control command");
    const call: CommandCall = { progress: (value) => write(socket, encodeLine({ id: request.id, progress: value })) };
    const task = this.#dispatch(request, call)
      .catch((err: unknown) => errorReply(request.id, ControlErrorCode.Internal, asError(err).message))
      .then((reply) => {
        this.#log.debug({ command: request.command, ok: reply.ok }, "control reply");
        write(socket, encodeLine(reply));
      })
      .finally(() => {
        this.#inFlight.delete(task);
        const left = (this.#pending.get(socket) ?? 1) - 1;
        this.#pending.set(socket, left);
        if (left === 0 && socket.readableEnded) socket.end();
      });
    this.#pending.set(socket, (this.#pending.get(socket) ?? 0) + 1);
    this.#inFlight.add(task);
  }
}

/**
 * The control socket as a service of the supervisor. Critical and not restarted: a server that
 * cannot be controlled (socket in use, bad path) refuses to start rather than run unstoppable.
 */
export function controlService(server: ControlServer, name = "control"): Service {
  return { name, critical: true, restartLimit: 0, start: () => server.start(), stop: () => server.stop() };
}

function write(socket: Socket, line: string): void {
  if (!socket.destroyed && socket.writable) socket.write(line);
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
