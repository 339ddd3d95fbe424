/**
 * Raw TCP and UDP test clients: every wait resolves on an event and fails after a bounded time
 * (never a sleep).
 */
import { connect, type Socket } from "node:net";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { once } from "node:events";

export const WAIT_MS = 5_000;

/** Resolve with the promise, or fail with `what` after `ms`. */
export function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A TCP client that collects everything it reads. */
export class TcpTestClient {
  readonly socket: Socket;
  #received: Buffer = Buffer.alloc(0);
  #waiters: Array<() => void> = [];
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#received = Buffer.concat([this.#received, chunk]);
      this.#wake();
    });
    this.closed = new Promise((resolve) => socket.once("close", () => {
      this.#wake();
      resolve();
    }));
    socket.on("error", () => {
      // a reset by the server is an expected outcome in several tests; 'close' follows
    });
  }

  static async open(port: number, host = "127.0.0.1"): Promise<TcpTestClient> {
    const socket = connect(port, host);
    await within(once(socket, "connect"), "tcp connect");
    return new TcpTestClient(socket);
  }

  get received(): Buffer {
    return this.#received;
  }

  get text(): string {
    return this.#received.toString("utf8");
  }

  /** Wait until `done(received)` holds (checked on every chunk and at close). */
  async until(done: (received: Buffer) => boolean, what: string, ms = WAIT_MS): Promise<Buffer> {
    await within(new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (done(this.#received)) resolve();
        else if (this.socket.destroyed || this.socket.readableEnded) reject(new Error(`socket closed before ${what}; got ${this.#received.length} bytes`));
        else this.#waiters.push(check);
      };
      check();
    }), what, ms);
    return this.#received;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
  }
}

/** Send one datagram and wait for `count` replies. */
export async function udpExchange(port: number, message: Buffer, count = 1, ms = WAIT_MS): Promise<Buffer[]> {
  const socket = createSocket("udp4");
  try {
    const replies: Buffer[] = [];
    const done = new Promise<void>((resolve) => {
      socket.on("message", (data) => {
        replies.push(data);
        if (replies.length >= count) resolve();
      });
    });
    socket.send(message, port, "127.0.0.1");
    await within(done, `${count} udp replies`, ms);
    return replies;
  } finally {
    socket.close();
  }
}

export function udpClient(): UdpSocket {
  return createSocket("udp4");
}
