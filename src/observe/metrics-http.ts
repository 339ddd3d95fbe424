/**
 * Serving the metrics: the GET handler (with the optional bearer token) and, when
 * `metrics.port` is set, a small HTTP listener of its own that answers only the metrics path.
 */
import { createServer, type IncomingMessage, type Server as NodeHttpServer, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Logger } from "../log.ts";
import type { ServerMetrics } from "./metrics.ts";
import { listen } from "../transport/listen.ts";
import { BearerKeys } from "../transport/bearer.ts";

export function metricsHandler(metrics: ServerMetrics, token: string | undefined, log: Logger): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const keys = token === undefined ? undefined : new BearerKeys([token]);
  return async (req, res) => {
    if (keys !== undefined && !keys.admits(req)) {
      log.debug({ remote: req.socket.remoteAddress, given: req.headers.authorization !== undefined }, "metrics scrape refused: bad or missing bearer token");
      const body = "Unauthorized: send Authorization: Bearer <metrics.token>";
      res.writeHead(401, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": Buffer.byteLength(body), "WWW-Authenticate": 'Bearer realm="metrics"' });
      res.end(req.method === "HEAD" ? undefined : body);
      return;
    }
    const { contentType, body } = await metrics.scrape();
    res.writeHead(200, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(body), "Cache-Control": "no-store" });
    res.end(req.method === "HEAD" ? undefined : body);
  };
}

export interface MetricsListenerOptions {
  host: string;
  port: number;
  path: string;
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  log: Logger;
  /** What /readyz answers here (the same as on the main port). */
  ready: () => { readonly ready: boolean };
  /** Request/headers deadline (the main listener's handshakeTimeoutMs): a slow client cannot hold a socket. */
  timeoutMs: number;
}

/**
 * The listener of `metrics.port`: the metrics path and `/readyz` (an operations port that stays
 * up while the main listener drains), GET/HEAD only; everything else 404/405.
 */
export class MetricsListener {
  readonly #options: MetricsListenerOptions;
  readonly #server: NodeHttpServer;

  constructor(options: MetricsListenerOptions) {
    this.#options = options;
    const log = options.log;
    this.#server = createServer({ requestTimeout: options.timeoutMs, headersTimeout: options.timeoutMs });
    this.#server.on("connection", (socket: Socket) => {
      socket.on("error", (err: NodeJS.ErrnoException) => {
        log.debug({ err: err.code ?? err.message }, "metrics socket error: dropping connection");
        socket.destroy();
      });
    });
    this.#server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
      log.debug({ err: err.code ?? err.message }, "metrics HTTP client error");
      socket.destroy();
    });
    this.#server.on("request", (req: IncomingMessage, res: ServerResponse) => this.#answer(req, res));
  }

  get port(): number {
    const address = this.#server.address();
    return typeof address === "object" && address !== null ? address.port : this.#options.port;
  }

  listen(): Promise<void> {
    return listen(this.#server, this.#options.port, this.#options.host);
  }

  /** Stop: a scrape is short, so open connections are simply closed. */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => (this.#server.listening ? this.#server.close(() => resolve()) : resolve()));
    this.#server.closeAllConnections();
    return closed;
  }

  #answer(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q === -1 ? url : url.slice(0, q);
    if (path !== this.#options.path && path !== "/readyz") return plain(res, 404, "Not Found");
    if (req.method !== "GET" && req.method !== "HEAD") return plain(res, 405, "Method Not Allowed", { Allow: "GET, HEAD" });
    if (path === "/readyz") {
      const readiness = this.#options.ready();
      const body = JSON.stringify(readiness);
      res.writeHead(readiness.ready ? 200 : 503, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), "Cache-Control": "no-store" });
      res.end(req.method === "HEAD" ? undefined : body);
      return;
    }
    this.#options.handler(req, res).catch((err: unknown) => {
      this.#options.log.error({ err }, "metrics scrape failed");
      if (!res.headersSent) plain(res, 500, "Internal Server Error");
      else res.destroy();
    });
  }
}

function plain(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": Buffer.byteLength(body), ...headers });
  res.end(body);
}
