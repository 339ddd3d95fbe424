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
 *  - with TLS (an https.Server, same handlers): the deadline is armed on the raw socket at
 *    'connection', so it bounds the TLS handshake too, and moves to the TLS socket at
 *    'secureConnection'; a failed handshake ('tlsClientError') is counted and dropped;
 *  - the cap on pending handshakes (a flood gets 503 instead of memory). An upgrade is pending
 *    until its route has settled it (an async handshake hook counts until it settles, even if
 *    the client reset meanwhile), so the cap bounds the user hooks running at once.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server as NodeHttpServer, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server as NodeHttpsServer } from "node:https";
import type { Socket } from "node:net";
import type { SecureContextOptions, TLSSocket } from "node:tls";
import type { Duplex } from "node:stream";
import type { Logger } from "../log.ts";
import { TlsHandshakes } from "./tls.ts";
import { listen } from "./listen.ts";

export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
/** Middleware: return true when it answered the request. */
export type HttpMiddleware = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

/** A POST route's handler: gets the request body parsed as JSON. */
export type JsonPostHandler = (req: IncomingMessage, res: ServerResponse, body: unknown) => void | Promise<void>;

/** Why a request to a POST route was refused before its handler ran. */
export type PostRefusal = "method_not_allowed" | "unsupported_media_type" | "payload_too_large" | "bad_json" | "body_timeout";

export interface PostRouteOptions {
  /**
   * Runs before the body is read; returns false once it has answered (a 401, say), so the body
   * of a request that will be refused is never read.
   */
  admit?(req: IncomingMessage, res: ServerResponse): boolean;
  /** How a refusal is answered (the route's own error format). Default: plain text. */
  refuse?(res: ServerResponse, status: number, code: PostRefusal, message: string, headers: Record<string, string>): void;
}

interface PostRoute extends PostRouteOptions {
  handle: JsonPostHandler;
}

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
  /** Largest POST body; larger → 413 (the body is not read further). */
  maxRequestBodyBytes: number;
  log: Logger;
  /** Find the upgrade route for a path, or undefined. */
  route(path: string): UpgradeRoute | undefined;
  health(): Record<string, unknown>;
  /** Serve HTTPS / wss:// with this key and certificate (transport/tls.ts loads them). */
  tls?: SecureContextOptions | undefined;
  /** `/readyz`: ready (200) or not (503), with the reasons; absent → no /readyz route. */
  ready?(): { readonly ready: boolean };
}

export class HttpListener {
  readonly #options: HttpListenerOptions;
  readonly #server: NodeHttpServer | NodeHttpsServer;
  /** TLS only: raw sockets in their TLS handshake, and failed handshakes counted. */
  readonly #tls: TlsHandshakes | undefined;
  readonly #routes = new Map<string, HttpHandler>();
  readonly #posts = new Map<string, PostRoute>();
  readonly #middleware: HttpMiddleware[] = [];
  /** Every HTTP connection not yet upgraded → its handshake deadline. Bounded by the open sockets. */
  readonly #deadlines = new Map<Socket, HandshakeDeadline>();
  /** Upgrades taken by a route and not settled yet (see UpgradeRoute). */
  #pendingUpgrades = 0;
  /** Upgrades this listener refused before any endpoint saw them (404 unknown path, 503 stopping / pending cap), by status. */
  readonly refusedByStatus: Record<number, number> = {};
  /** One handler for every socket's 'error' (a reset, a write to a closed peer): log, destroy. */
  readonly #onSocketError: (this: Socket, err: NodeJS.ErrnoException) => void;
  /**
   * One 'close' handler for every socket (`this` is the socket), taken off again when the socket
   * becomes a WebSocket: a per-socket `once` closure would stay for the WebSocket's whole life
   * (about 400 bytes per idle connection with the listener array it grows).
   */
  readonly #onSocketClose: (this: Socket) => void;
  #stopping = false;

  constructor(options: HttpListenerOptions) {
    this.#options = options;
    const log = options.log;
    this.#onSocketError = function (this: Socket, err: NodeJS.ErrnoException): void {
      log.debug({ err: err.code ?? err.message, remote: this.remoteAddress }, "socket error: dropping connection");
      this.destroy();
    };
    const forget = (socket: Socket): void => this.#forgetDeadline(socket);
    this.#onSocketClose = function (this: Socket): void {
      forget(this);
    };
    if (options.tls === undefined) {
      this.#server = createServer({ maxHeaderSize: options.maxHeaderBytes });
    } else {
      // Node's own TLS handshake timeout as well as our deadline (which covers the TLS
      // handshake too: it is armed on the raw socket and moves to the TLS socket).
      this.#server = createHttpsServer({ maxHeaderSize: options.maxHeaderBytes, handshakeTimeout: options.handshakeTimeoutMs, ...options.tls });
      this.#tls = new TlsHandshakes();
      this.#server.on("secureConnection", (socket: TLSSocket) => this.#onSecureConnection(socket));
      this.#server.on("tlsClientError", (err: NodeJS.ErrnoException, socket: TLSSocket) => this.#onTlsClientError(err, socket));
    }
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

  /** TLS handshakes that failed (garbage, plain HTTP, a reset, a timeout); 0 without TLS. */
  get tlsClientErrors(): number {
    return this.#tls?.clientErrors ?? 0;
  }

  /** TCP connections closed at once because maxPendingHandshakes TLS handshakes were in progress. */
  get tlsRefused(): number {
    return this.#tls?.refused ?? 0;
  }

  /** New TLS handshakes use this key and certificate; open connections keep theirs. */
  setSecureContext(context: SecureContextOptions): void {
    if (!("setSecureContext" in this.#server)) throw new Error("setSecureContext() on a listener without TLS");
    this.#server.setSecureContext(context);
  }

  get(path: string, handler: HttpHandler): void {
    this.#routes.set(path, handler);
  }

  /**
   * Answer POST requests at an exact path with a JSON body: 415 unless the Content-Type is
   * application/json, 413 over maxRequestBodyBytes, 400 for a body that is not JSON, 408 when
   * the body is not in within handshakeTimeoutMs, 405 for another method.
   */
  post(path: string, handler: JsonPostHandler, options: PostRouteOptions = {}): void {
    this.#posts.set(path, { ...options, handle: handler });
  }

  use(middleware: HttpMiddleware): void {
    this.#middleware.push(middleware);
  }

  listen(): Promise<void> {
    return listen(this.#server, this.#options.port, this.#options.host);
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
    // TLS: a handshake costs CPU before any HTTP exists; past the cap a new one is not begun.
    if (this.#tls !== undefined && !this.#tls.admit(socket, this.#options.maxPendingHandshakes)) {
      this.#options.log.debug({ remote: socket.remoteAddress }, "too many TLS handshakes in progress: dropping connection");
      socket.destroy();
      return;
    }
    const deadline = new HandshakeDeadline(socket, this.#options.handshakeTimeoutMs, this.#options.log);
    this.#deadlines.set(socket, deadline);
    deadline.arm();
    socket.on("close", this.#onSocketClose);
  }

  /**
   * TLS: the handshake is done and the TLS socket is what HTTP reads from now: it gets the
   * error handler, and the raw socket's deadline (still counting from accept) moves to it.
   */
  #onSecureConnection(socket: TLSSocket): void {
    socket.on("error", this.#onSocketError);
    const raw = this.#tls?.finished(socket);
    const deadline = raw === undefined ? undefined : this.#deadlines.get(raw);
    if (raw !== undefined && deadline !== undefined) {
      this.#deadlines.delete(raw);
      deadline.rebind(socket);
      this.#deadlines.set(socket, deadline);
    } else {
      const fresh = new HandshakeDeadline(socket, this.#options.handshakeTimeoutMs, this.#options.log);
      this.#deadlines.set(socket, fresh);
      fresh.arm();
    }
    socket.on("close", this.#onSocketClose);
  }

  /** A TLS handshake failed: count it and drop the connection (there is no HTTP to answer in). */
  #onTlsClientError(err: NodeJS.ErrnoException, socket: TLSSocket): void {
    this.#tls!.clientErrors++;
    this.#options.log.debug({ err: err.code ?? err.message, remote: socket.remoteAddress }, "TLS handshake failed: dropping connection");
    socket.destroy();
  }

  /** The socket is a WebSocket now, or gone: no more HTTP deadline for it. */
  #forgetDeadline(socket: Socket): void {
    this.#deadlines.get(socket)?.disarm();
    this.#deadlines.delete(socket);
    socket.off("close", this.#onSocketClose);
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = pathOf(req.url);
    const route = this.#stopping ? undefined : this.#options.route(path);
    if (this.#stopping) return this.#refuse(socket, 503, "server is stopping");
    if (route === undefined) return this.#refuse(socket, 404, `no WebSocket endpoint at ${path}`);
    if (this.#pendingUpgrades >= this.#options.maxPendingHandshakes) {
      return this.#refuse(socket, 503, "too many pending handshakes", { "Retry-After": "1" });
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
        // A WebSocket now: ws has put its own 'error' handler on the socket (it stays, as a no-op
        // after the first error, until the socket is destroyed), so ours comes off and the
        // socket keeps no two-listener array for its whole life.
        socket.off("error", this.#onSocketError);
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

  #refuse(socket: Duplex, status: number, reason: string, headers?: Record<string, string>): void {
    this.refusedByStatus[status] = (this.refusedByStatus[status] ?? 0) + 1;
    this.#options.log.debug({ status, reason }, "handshake refused");
    abortHandshake(socket, status, reason, headers);
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
    if (path === "/readyz" && isRead && this.#options.ready !== undefined) {
      const readiness = this.#options.ready();
      const body = JSON.stringify(readiness);
      res.writeHead(readiness.ready ? 200 : 503, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), "Cache-Control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : body);
      return;
    }
    const handler = this.#routes.get(path);
    const post = this.#posts.get(path);
    if (handler !== undefined && isRead) {
      await handler(req, res);
      return;
    }
    if (post !== undefined && req.method === "POST") return this.#answerPost(req, res, post);
    if (handler !== undefined || post !== undefined) {
      const allow = [...(handler !== undefined ? ["GET", "HEAD"] : []), ...(post !== undefined ? ["POST"] : [])].join(", ");
      return refusePost(post, res, 405, "method_not_allowed", `${req.method ?? "?"} is not allowed here (allowed: ${allow})`, { Allow: allow });
    }
    if (this.#options.route(path) !== undefined) {
      return sendText(res, 426, "Upgrade Required: this path is a WebSocket endpoint", { Upgrade: "websocket", Connection: "Upgrade" });
    }
    for (const middleware of this.#middleware) {
      if (await middleware(req, res)) return;
    }
    sendText(res, 404, "Not Found");
  }

  async #answerPost(req: IncomingMessage, res: ServerResponse, route: PostRoute): Promise<void> {
    if (route.admit !== undefined && !route.admit(req, res)) return;
    const type = (req.headers["content-type"] ?? "").split(";", 1)[0]!.trim().toLowerCase();
    if (type !== "application/json") {
      return refusePost(route, res, 415, "unsupported_media_type", "the body must be JSON (Content-Type: application/json)", { Connection: "close" });
    }
    const max = this.#options.maxRequestBodyBytes;
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > max) return refusePost(route, res, 413, "payload_too_large", `the body is over ${max} bytes (maxRequestBodyBytes)`, { Connection: "close" });
    const body = await readBody(req, max, this.#options.handshakeTimeoutMs);
    if (body === "too_large") return refusePost(route, res, 413, "payload_too_large", `the body is over ${max} bytes (maxRequestBodyBytes)`, { Connection: "close" });
    if (body === "timeout") return refusePost(route, res, 408, "body_timeout", "the body did not arrive in time", { Connection: "close" });
    if (body === "aborted") return; // the client went away: nobody to answer
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch (err) {
      return refusePost(route, res, 400, "bad_json", `the body is not JSON: ${(err as Error).message}`, {});
    }
    await route.handle(req, res, parsed);
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

function refusePost(route: PostRoute | undefined, res: ServerResponse, status: number, code: PostRefusal, message: string, headers: Record<string, string>): void {
  if (route?.refuse !== undefined) route.refuse(res, status, code, message, headers);
  else sendText(res, status, message, headers);
}

/**
 * A request body, at most `max` bytes, within `ms`. Over the limit it stops reading (the
 * answer says Connection: close, so the rest is never read); a client gone → "aborted".
 */
function readBody(req: IncomingMessage, max: number, ms: number): Promise<Buffer | "too_large" | "timeout" | "aborted"> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (result: Buffer | "too_large" | "timeout" | "aborted"): void => {
      clearTimeout(timer);
      req.off("data", onData).off("end", onEnd).off("error", onGone).off("close", onClose);
      if (typeof result === "string" && result !== "aborted") req.pause();
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > max) finish("too_large");
      else chunks.push(chunk);
    };
    const onEnd = (): void => finish(Buffer.concat(chunks, size));
    // The socket has its own error handler (from 'connection'); here a reset only ends the read.
    const onGone = (): void => finish("aborted");
    const onClose = (): void => {
      if (!req.complete) finish("aborted");
    };
    const timer = setTimeout(() => finish("timeout"), ms);
    timer.unref();
    req.on("data", onData).on("end", onEnd).on("error", onGone).on("close", onClose);
  });
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
  #socket: Socket;
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

  /** TLS: the deadline armed on the raw socket goes on (same timer) for the TLS socket over it. */
  rebind(socket: Socket): void {
    this.#socket = socket;
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
