/**
 * A WebSocket client written by hand over a `net` socket, for sending what a well-behaved
 * client library refuses to send: invalid UTF-8, bad frames, half handshakes.
 */
import { connect as netConnect, type Socket } from "node:net";
import { randomBytes } from "node:crypto";
import { withTimeout, WAIT_MS } from "./ws-client.ts";

export class RawSocket {
  readonly socket: Socket;
  #buffer = Buffer.alloc(0);
  #waiters: Array<() => void> = [];
  readonly ended: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.ended = new Promise((resolve) => socket.once("close", () => {
      resolve();
      for (const wake of this.#waiters.splice(0)) wake();
    }));
    socket.on("error", () => undefined); // surfaced through `ended`
  }

  static async open(port: number): Promise<RawSocket> {
    const socket = netConnect(port, "127.0.0.1");
    await withTimeout(new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject)), WAIT_MS, "no TCP connection");
    return new RawSocket(socket);
  }

  /** Send a valid upgrade request for `path` and wait for the 101. */
  async upgrade(path: string): Promise<void> {
    const key = randomBytes(16).toString("base64");
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    const head = await this.readUntil("\r\n\r\n");
    if (!head.startsWith("HTTP/1.1 101")) throw new Error(`upgrade refused: ${head.split("\r\n")[0]}`);
  }

  /** Write one masked client frame. */
  sendFrame(opcode: number, payload: Buffer, fin = true): void {
    const mask = randomBytes(4);
    const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
    let header: Buffer;
    if (payload.length < 126) header = Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | payload.length]);
    else if (payload.length < 65536) {
      header = Buffer.alloc(4);
      header[0] = (fin ? 0x80 : 0) | opcode;
      header[1] = 0x80 | 126;
      header.writeUInt16BE(payload.length, 2);
    } else {
      header = Buffer.alloc(10);
      header[0] = (fin ? 0x80 : 0) | opcode;
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(BigInt(payload.length), 2);
    }
    this.socket.write(Buffer.concat([header, mask, masked]));
  }

  /** Read frames until a close frame arrives; return its code (1005 when it has none). */
  async readCloseCode(): Promise<number> {
    for (;;) {
      const frame = await this.readFrame();
      if (frame.opcode === 0x8) return frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
    }
  }

  async readUntil(marker: string, timeoutMs = WAIT_MS): Promise<string> {
    return withTimeout((async () => {
      for (;;) {
        const at = this.#buffer.indexOf(marker);
        if (at !== -1) {
          const text = this.#buffer.subarray(0, at + marker.length).toString("latin1");
          this.#buffer = this.#buffer.subarray(at + marker.length);
          return text;
        }
        await this.#more();
      }
    })(), timeoutMs, `"${JSON.stringify(marker)}" not received`);
  }

  /** All bytes received so far, and those that arrive until the peer closes. */
  async readToEnd(timeoutMs = WAIT_MS): Promise<string> {
    await withTimeout(this.ended, timeoutMs, "the server did not close the socket");
    return this.#buffer.toString("latin1");
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** The next whole frame the server sent. */
  async readFrame(): Promise<{ opcode: number; payload: Buffer }> {
    return withTimeout((async () => {
      for (;;) {
        const b = this.#buffer;
        if (b.length >= 2) {
          let length = b[1]! & 0x7f;
          let offset = 2;
          if (length === 126) { if (b.length < 4) { await this.#more(); continue; } length = b.readUInt16BE(2); offset = 4; }
          else if (length === 127) { if (b.length < 10) { await this.#more(); continue; } length = Number(b.readBigUInt64BE(2)); offset = 10; }
          if (b.length >= offset + length) {
            this.#buffer = b.subarray(offset + length);
            return { opcode: b[0]! & 0x0f, payload: b.subarray(offset, offset + length) };
          }
        }
        await this.#more();
      }
    })(), WAIT_MS, "no frame received");
  }

  #more(): Promise<void> {
    if (this.socket.destroyed) return Promise.reject(new Error("socket closed before the data arrived"));
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
