/**
 * A small WebSocket client for the CII and TS CLI clients (and tests): a queue of received
 * messages with `nextText()` that waits for one, bounded by a timeout, and `next()` that also
 * parses it as JSON. Uses `ws`, as Node 20 has no WebSocket client of its own.
 */
import WebSocket from "ws";

/** A received message that is not JSON text; `text` is what came (binary: undefined). */
export class NotJsonError extends Error {
  constructor(readonly text: string | undefined) {
    super(text === undefined ? "received a binary message, not JSON text" : `received a message that is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
  }
}

/** A received message as it came: text, or binary (kept as undefined: nothing here reads binary). */
interface Received {
  text: string | undefined;
}

export class JsonSocket {
  readonly ws: WebSocket;
  readonly #queue: Received[] = [];
  #waiter: (() => void) | undefined;
  /** Resolves with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (data, isBinary) => {
      this.#queue.push({ text: isBinary ? undefined : data.toString() });
      this.#wake();
    });
    // A failed connect rejects open(); a later error is followed by 'close', which next() reports.
    ws.on("error", () => undefined);
    this.closed = new Promise((resolve) => ws.once("close", (code, reason) => {
      this.#wake();
      resolve({ code, reason: reason.toString() });
    }));
  }

  /** `headers` are extra handshake headers (a test may set Host). */
  static async open(url: string, timeoutMs = 5_000, headers?: Record<string, string>): Promise<JsonSocket> {
    // Listen before the handshake completes: a server may send in the same packet as its 101.
    const socket = new JsonSocket(new WebSocket(url, headers === undefined ? {} : { headers }));
    const { ws } = socket;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { ws.terminate(); reject(new Error(`no connection to ${url} in ${timeoutMs} ms`)); }, timeoutMs);
      ws.once("open", () => { clearTimeout(timer); resolve(); });
      ws.once("error", (err) => { clearTimeout(timer); reject(err); });
    });
    return socket;
  }

  /** The next message parsed as JSON (unchecked: the caller validates), waiting at most `timeoutMs`. NotJsonError if it is not JSON. */
  async next<T = Record<string, unknown>>(timeoutMs = 5_000): Promise<T> {
    const text = await this.nextText(timeoutMs);
    if (text === undefined) throw new NotJsonError(undefined);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new NotJsonError(text);
    }
  }

  /** The next message's text (undefined for a binary message), waiting at most `timeoutMs`. */
  async nextText(timeoutMs = 5_000): Promise<string | undefined> {
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
    return this.#queue.shift()!.text;
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
