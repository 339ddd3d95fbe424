/**
 * A small WebSocket client for the CII and TS CLI clients (and tests): a queue of received
 * JSON messages with `next()` that waits for one, bounded by a timeout. Uses `ws`, as Node 20
 * has no WebSocket client of its own.
 */
import WebSocket from "ws";

export class JsonSocket {
  readonly ws: WebSocket;
  readonly #queue: unknown[] = [];
  #waiter: (() => void) | undefined;
  /** Resolves with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (data, isBinary) => {
      const text = isBinary ? "" : data.toString();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = { invalidJson: text };
      }
      this.#queue.push(parsed);
      this.#wake();
    });
    // A failed connect rejects open(); a later error is followed by 'close', which next() reports.
    ws.on("error", () => undefined);
    this.closed = new Promise((resolve) => ws.once("close", (code, reason) => {
      this.#wake();
      resolve({ code, reason: reason.toString() });
    }));
  }

  static async open(url: string, timeoutMs = 5_000): Promise<JsonSocket> {
    // Listen before the handshake completes: a server may send in the same packet as its 101.
    const socket = new JsonSocket(new WebSocket(url));
    const { ws } = socket;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { ws.terminate(); reject(new Error(`no connection to ${url} in ${timeoutMs} ms`)); }, timeoutMs);
      ws.once("open", () => { clearTimeout(timer); resolve(); });
      ws.once("error", (err) => { clearTimeout(timer); reject(err); });
    });
    return socket;
  }

  /** The next message, waiting at most `timeoutMs`. */
  async next<T = Record<string, unknown>>(timeoutMs = 5_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length === 0) {
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error("socket closed while waiting for a message");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => { clearTimeout(timer); resolve(); };
      });
    }
    return this.#queue.shift() as T;
  }

  /** Messages received and not yet taken by next(). */
  get queued(): number {
    return this.#queue.length;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  close(): void {
    this.ws.close(1000);
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }
}
