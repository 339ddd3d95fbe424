/**
 * A test client on `ws` that turns events into promises: `next()` resolves with the next
 * message, `closed` with the close code and reason. Every wait is bounded by a timeout that
 * fails the test instead of hanging it.
 */
import WebSocket from "ws";
import type { ClientOptions } from "ws";

export const WAIT_MS = 5_000;

export interface Received {
  data: Buffer;
  isBinary: boolean;
  text: string;
}

/** A `ws` client connection seen through its close: what every test client shares. */
export class ClosableClient {
  readonly ws: WebSocket;
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(ws: WebSocket) {
    this.ws = ws;
    this.closed = new Promise((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on("error", () => undefined); // errors surface through `closed` (and a subclass's own promises)
  }

  waitClosed(timeoutMs = WAIT_MS): Promise<{ code: number; reason: string }> {
    return withTimeout(this.closed, timeoutMs, "the connection did not close");
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close();
    await this.waitClosed();
  }
}

export class TestClient extends ClosableClient {
  readonly opened: Promise<void>;
  readonly #queue: Received[] = [];
  readonly #waiters: Array<(message: Received) => void> = [];

  constructor(url: string, protocols?: string | string[], options?: ClientOptions) {
    super(new WebSocket(url, protocols, options));
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("unexpected-response", (_req, res) => reject(new HttpRefusal(res.statusCode ?? 0, res.statusMessage ?? "")));
      this.ws.once("error", reject);
    });
    this.opened.catch(() => undefined); // observed by whoever awaits it
    this.ws.on("message", (data: Buffer, isBinary: boolean) => {
      const message = { data, isBinary, text: data.toString() };
      const waiter = this.#waiters.shift();
      if (waiter) waiter(message);
      else this.#queue.push(message);
    });
  }

  /** The next message, or a rejection after `timeoutMs`. */
  next(timeoutMs = WAIT_MS): Promise<Received> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    return withTimeout(new Promise<Received>((resolve) => this.#waiters.push(resolve)), timeoutMs, "no message arrived");
  }

  /** How many messages arrived and were not read yet. */
  get pending(): number {
    return this.#queue.length;
  }

  send(data: string | Buffer, binary?: boolean): void {
    this.ws.send(data, { binary: binary ?? typeof data !== "string" });
  }
}

export class HttpRefusal extends Error {
  constructor(readonly status: number, readonly statusText: string) {
    super(`HTTP ${status} ${statusText}`);
  }
}

/** Open a client and wait until it is open. */
export async function connect(url: string, protocols?: string | string[], options?: ClientOptions): Promise<TestClient> {
  const client = new TestClient(url, protocols, options);
  await withTimeout(client.opened, WAIT_MS, `could not connect to ${url}`);
  return client;
}

/** The HTTP status with which an upgrade is refused (fails if it is accepted). */
export async function refusedStatus(url: string, protocols?: string | string[], options?: ClientOptions): Promise<number> {
  const client = new TestClient(url, protocols, options);
  try {
    await withTimeout(client.opened, WAIT_MS, "no answer");
  } catch (err) {
    if (err instanceof HttpRefusal) return err.status;
    throw err;
  }
  await client.close();
  throw new Error(`expected ${url} to be refused, but it was accepted`);
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
