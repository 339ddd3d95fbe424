/**
 * One http.Server per port. Upgrade requests are routed by exact path to an endpoint's
 * acceptor (unknown path → 404 before any WebSocket exists); plain requests go to /healthz,
 * registered GET routes and middleware, or get 426 on an endpoint path and 404 elsewhere.
 *
 * It also owns the two guards that protect the upgrade phase: the handshake timeout (a
 * client that opens TCP and never finishes its request is dropped) and the cap on pending
 * handshakes (a flood gets 503 instead of memory).
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server as NodeHttpServer, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Logger } from "../log.ts";

export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
/** Middleware: return true when it answered the request. */
export type HttpMiddleware = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export interface UpgradeRoute {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, done: () => void): void;
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
  /** Sockets still in their handshake phase → the timer that drops them. */
  readonly #handshakeTimers = new Map<Socket, NodeJS.Timeout>();
  #pendingUpgrades = 0;
  #stopping = false;

  constructor(options: HttpListenerOptions) {
    this.#options = options;
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

  get pendingHandshakes(): number {
    return this.#handshakeTimers.size;
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
    for (const socket of this.#handshakeTimers.keys()) socket.destroy();
    this.#server.closeIdleConnections();
    return closed;
  }

  /** Destroy every HTTP connection still open (at the end of a stop). */
  closeAll(): void {
    this.#server.closeAllConnections();
  }

  #onConnection(socket: Socket): void {
    const timer = setTimeout(() => {
      this.#options.log.debug({ remote: socket.remoteAddress }, "handshake timeout: dropping connection");
      socket.destroy();
    }, this.#options.handshakeTimeoutMs);
    timer.unref();
    this.#handshakeTimers.set(socket, timer);
    socket.once("close", () => this.#handshakeDone(socket));
  }

  #handshakeDone(socket: Socket): void {
    const timer = this.#handshakeTimers.get(socket);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.#handshakeTimers.delete(socket);
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
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      this.#pendingUpgrades--;
      this.#handshakeDone(socket as Socket);
    };
    socket.once("close", finish);
    route.handleUpgrade(req, socket, head, () => {
      socket.off("close", finish);
      finish();
    });
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    // A plain HTTP request: Node's own request timeouts take over from ours.
    this.#handshakeDone(req.socket);
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

/** Answer an upgrade request with an HTTP error and close the socket (no WebSocket was made). */
export function abortHandshake(socket: Duplex, status: number, reason: string, headers: Record<string, string> = {}): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join("");
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(reason)}\r\n${extra}\r\n${reason}`,
  );
}
