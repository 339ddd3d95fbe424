/**
 * One http.Server per port. Upgrade requests are routed by exact path to an endpoint's
 * acceptor (unknown path → 404 before any WebSocket exists); plain requests go to /healthz,
 * registered GET routes and middleware, or get 426 on an endpoint path and 404 elsewhere.
 *
 * It also owns the guards that protect the upgrade phase:
 *  - every socket has an error handler from accept ('connection') to destroy: Node's own is
 *    removed when it emits 'upgrade', and a peer's reset must never be an unhandled 'error';
 *  - the handshake deadline: a connection must complete its next request or upgrade within
 *    handshakeTimeoutMs of being accepted, and again of each plain response finishing
 *    (keep-alive), else it is destroyed: no slowloris after a first request;
 *  - the cap on pending handshakes (a flood gets 503 instead of memory). An upgrade is pending
 *    until its route has settled it (an async handshake hook counts until it settles, even if
 *    the client reset meanwhile), so the cap bounds the user hooks running at once.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server as NodeHttpServer, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Logger } from "../log.ts";

export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
/** Middleware: return true when it answered the request. */
export type HttpMiddleware = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export interface UpgradeRoute {
  /**
   * Take an upgrade. `done` is called when it became a WebSocket. Returns undefined when the
   * upgrade was settled before returning (answered, refused or dropped), else a promise that
   * resolves when it is (an async handshake hook has settled): until then it is pending.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, done: () => void): Promise<void> | undefined;
}

export interface HttpListenerOptions {
  port: number;
  host: string;
  handshakeTimeoutMs: number;
  maxPendingHandshakes: number;
  maxHeaderBytes: number;
  log: Logger;
  /** Find the upgrade route for a path, or undefined. */
  route(path: string): UpgradeRoute | undefined;
  health(): Record<string, unknown>;
}

export class HttpListener {
  readonly #options: HttpListenerOptions;
  readonly #server: NodeHttpServer;
  readonly #routes = new Map<string, HttpHandler>();
  readonly #middleware: HttpMiddleware[] = [];
  /** Every HTTP connection not yet upgraded → its handshake deadline. Bounded by the open sockets. */
  readonly #deadlines = new Map<Socket, HandshakeDeadline>();
  /** Upgrades taken by a route and not settled yet (see UpgradeRoute). */
  #pendingUpgrades = 0;
  /** One handler for every socket's 'error' (a reset, a write to a closed peer): log, destroy. */
  readonly #onSocketError: (this: Socket, err: NodeJS.ErrnoException) => void;
  #stopping = false;

  constructor(options: HttpListenerOptions) {
    this.#options = options;
    const log = options.log;
    this.#onSocketError = function (this: Socket, err: NodeJS.ErrnoException): void {
      log.debug({ err: err.code ?? err.message, remote: this.remoteAddress }, "socket error: dropping connection");
      this.destroy();
    };
    this.#server = createServer({ maxHeaderSize: options.maxHeaderBytes });
    this.#server.on("connection", (socket: Socket) => this.#onConnection(socket));
    this.#server.on("request", (req: IncomingMessage, res: ServerResponse) => this.#onRequest(req, res));
    this.#server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#onUpgrade(req, socket, head));
    this.#server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => this.#onClientError(err, socket));
  }

  get port(): number {
    const address = this.#server.address();
    return typeof address === "object" && address !== null ? address.port : this.#options.port;
  }

  get listening(): boolean {
    return this.#server.listening;
  }

  /** Upgrade requests being decided: ws validating them, or a handshake hook still running. */
  get pendingHandshakes(): number {
    return this.#pendingUpgrades;
  }

  get(path: string, handler: HttpHandler): void {
    this.#routes.set(path, handler);
  }

  use(middleware: HttpMiddleware): void {
    this.#middleware.push(middleware);
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.#server.once("error", onError);
      this.#server.listen(this.#options.port, this.#options.host, () => {
        this.#server.off("error", onError);
        resolve();
      });
    });
  }

  /** Stop accepting; answer new upgrades 503; drop sockets still in their handshake. */
  stopAccepting(): Promise<void> {
    this.#stopping = true;
    const closed = new Promise<void>((resolve) => {
      if (!this.#server.listening) resolve();
      else this.#server.close(() => resolve());
    });
    for (const [socket, deadline] of this.#deadlines) if (deadline.armed) socket.destroy();
    this.#server.closeIdleConnections();
    return closed;
  }

  /** Destroy every HTTP connection still open (at the end of a stop). */
  closeAll(): void {
    this.#server.closeAllConnections();
  }

  #onConnection(socket: Socket): void {
    // First, before anything can fail: this handler stays until the socket is destroyed.
    socket.on("error", this.#onSocketError);
    const deadline = new HandshakeDeadline(socket, this.#options.handshakeTimeoutMs, this.#options.log);
    this.#deadlines.set(socket, deadline);
    deadline.arm();
    socket.once("close", () => this.#forgetDeadline(socket));
  }

  /** The socket is a WebSocket now, or gone: no more HTTP deadline for it. */
  #forgetDeadline(socket: Socket): void {
    this.#deadlines.get(socket)?.disarm();
    this.#deadlines.delete(socket);
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = pathOf(req.url);
    const route = this.#stopping ? undefined : this.#options.route(path);
    if (this.#stopping) return abortHandshake(socket, 503, "server is stopping");
    if (route === undefined) return abortHandshake(socket, 404, `no WebSocket endpoint at ${path}`);
    if (this.#pendingUpgrades >= this.#options.maxPendingHandshakes) {
      return abortHandshake(socket, 503, "too many pending handshakes", { "Retry-After": "1" });
    }
    this.#pendingUpgrades++;
    let settled = false;
    const settle = (): void => {
      if (settled) return;
      settled = true;
      this.#pendingUpgrades--;
    };
    let pending: Promise<void> | undefined;
    try {
      pending = route.handleUpgrade(req, socket, head, () => {
        settle();
        this.#forgetDeadline(socket as Socket);
      });
    } catch (err) {
      // A bug below us, not the peer's doing: log it and drop this socket, keep the server.
      this.#options.log.error({ err, url: req.url }, "upgrade handler threw");
      socket.destroy();
    }
    // The handshake deadline keeps running (and drops the socket) while a hook runs; the
    // pending count waits for the hook itself.
    if (pending === undefined) settle();
    else pending.then(settle, (err: unknown) => {
      this.#options.log.error({ err, url: req.url }, "upgrade handler failed");
      settle();
    });
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    // A plain HTTP request arrived in time: its handling is the handler's business (and
    // Node's request timeouts). When its response is over, the connection owes us its next
    // request within handshakeTimeoutMs again.
    const deadline = this.#deadlines.get(req.socket);
    if (deadline !== undefined) {
      deadline.requestStarted();
      res.once("close", () => deadline.requestEnded());
    }
    this.#answer(req, res).catch((err: unknown) => {
      this.#options.log.error({ err, url: req.url }, "HTTP handler threw");
      if (!res.headersSent) sendText(res, 500, "Internal Server Error");
      else res.destroy();
    });
  }

  async #answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req.url);
    const isRead = req.method === "GET" || req.method === "HEAD";
    if (path === "/healthz" && isRead) {
      res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-store" });
      res.end(JSON.stringify(this.#options.health()));
      return;
    }
    const handler = this.#routes.get(path);
    if (handler !== undefined) {
      if (!isRead) return sendText(res, 405, "Method Not Allowed", { Allow: "GET, HEAD" });
      await handler(req, res);
      return;
    }
    if (this.#options.route(path) !== undefined) {
      return sendText(res, 426, "Upgrade Required: this path is a WebSocket endpoint", { Upgrade: "websocket", Connection: "Upgrade" });
    }
    for (const middleware of this.#middleware) {
      if (await middleware(req, res)) return;
    }
    sendText(res, 404, "Not Found");
  }

  #onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    this.#options.log.debug({ err: err.code ?? err.message }, "HTTP client error");
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }
}

export function pathOf(url: string | undefined): string {
  if (url === undefined) return "/";
  const q = url.indexOf("?");
  return q === -1 ? url : url.slice(0, q);
}

function sendText(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": Buffer.byteLength(body), ...headers });
  res.end(body);
}

/**
 * The handshake deadline of one HTTP connection: armed while the connection owes us a request
 * or an upgrade (from accept, and again each time its last response in flight has finished),
 * paused while a plain request is being answered. When it fires the socket is destroyed.
 */
class HandshakeDeadline {
  readonly #socket: Socket;
  readonly #ms: number;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  /** Plain requests on this connection whose responses are not over (pipelining). */
  #requests = 0;

  constructor(socket: Socket, ms: number, log: Logger) {
    this.#socket = socket;
    this.#ms = ms;
    this.#log = log;
  }

  get armed(): boolean {
    return this.#timer !== undefined;
  }

  arm(): void {
    this.disarm();
    this.#timer = setTimeout(() => {
      this.#log.debug({ remote: this.#socket.remoteAddress }, "handshake timeout: dropping connection");
      this.#socket.destroy();
    }, this.#ms);
    this.#timer.unref();
  }

  disarm(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  requestStarted(): void {
    this.#requests++;
    this.disarm();
  }

  requestEnded(): void {
    this.#requests--;
    if (this.#requests === 0 && !this.#socket.destroyed) this.arm();
  }
}

/**
 * Answer an upgrade request with an HTTP error and close the socket (no WebSocket was made).
 * The socket is destroyed once the answer is written, as ws does for its own refusals; its
 * error handler (from 'connection') covers a peer that reset meanwhile.
 */
export function abortHandshake(socket: Duplex, status: number, reason: string, headers: Record<string, string> = {}): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join("");
  socket.once("finish", () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(reason)}\r\n${extra}\r\n${reason}`,
  );
}
