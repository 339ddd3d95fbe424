/**
 * The ONLY file that imports `ws`. It turns an HTTP upgrade into a TransportSocket and adds
 * the two things `ws` does not do for us on the hot path:
 *
 *  - per-tick corking: the first send of a tick corks the TCP socket and a nextTick uncorks
 *    it, so every message sent to one socket in one turn of the event loop leaves in ONE
 *    writev system call instead of one call per message (where ws spends most of its time);
 *  - frame once, write many: `prepare()` builds the frame bytes once; `sendPrepared()` writes
 *    the same Buffer to each socket, falling back to ws.send() when ws has frames queued (a
 *    compression in progress) so that per-connection order is kept.
 */
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Socket } from "node:net";
import { WebSocket, WebSocketServer, type PerMessageDeflateOptions } from "ws";
import type { HandshakeDecision } from "../endpoint/handshake.ts";
import type { PreparedMessage, TransportSocket, TransportSocketEvents } from "./socket.ts";

export interface DeflateOptions {
  /** Messages smaller than this many bytes are sent uncompressed. Default 1024. */
  threshold?: number;
  /** LZ77 window bits for what the server sends (8–15). */
  serverMaxWindowBits?: number;
  /** LZ77 window bits the client may use (8–15). */
  clientMaxWindowBits?: number;
  serverNoContextTakeover?: boolean;
  clientNoContextTakeover?: boolean;
}

export interface WebSocketAcceptorOptions {
  maxPayload: number;
  maxFragments: number;
  closeTimeoutMs: number;
  perMessageDeflate: false | DeflateOptions;
  /** Decide an upgrade after ws has validated its headers; may be async. */
  decide(req: IncomingMessage): HandshakeDecision | Promise<HandshakeDecision>;
  /** An accepted upgrade whose socket went away before it opened (undo its reservation). */
  abandoned(): void;
}

export type UpgradeCallback = (socket: TransportSocket, decision: HandshakeDecision & { ok: true }) => void;

const decisions = new WeakMap<IncomingMessage, HandshakeDecision>();

/** One per endpoint: endpoints may differ in payload limits and compression. */
export class WebSocketAcceptor {
  readonly #wss: WebSocketServer;
  readonly #abandoned: () => void;

  constructor(options: WebSocketAcceptorOptions) {
    this.#abandoned = options.abandoned;
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: options.maxPayload,
      maxFragments: options.maxFragments,
      closeTimeout: options.closeTimeoutMs,
      perMessageDeflate: toWsDeflate(options.perMessageDeflate),
      // ws calls this after it has checked the upgrade headers (400 for bad ones), so our
      // hooks only ever see well-formed WebSocket requests.
      verifyClient: (info: { req: IncomingMessage }, done: (ok: boolean, status?: number, reason?: string) => void) => {
        const settle = (decision: HandshakeDecision): void => {
          if (decision.ok && info.req.socket.destroyed) {
            options.abandoned(); // the client left while the hook ran
            done(false, 400, "Bad Request");
            return;
          }
          decisions.set(info.req, decision);
          if (decision.ok) done(true);
          else done(false, decision.status, decision.reason);
        };
        let decision: HandshakeDecision | Promise<HandshakeDecision>;
        try {
          decision = options.decide(info.req);
        } catch {
          done(false, 500, "Internal Server Error"); // decide() maps hook errors itself; this is a bug guard
          return;
        }
        if (decision instanceof Promise) decision.then(settle, () => done(false, 500, "Internal Server Error"));
        else settle(decision);
      },
      handleProtocols: (_offered: Set<string>, req: IncomingMessage) => {
        const decision = decisions.get(req);
        return decision?.ok && decision.protocol !== "" ? decision.protocol : false;
      },
    } as ConstructorParameters<typeof WebSocketServer>[0]);
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, accepted: UpgradeCallback): void {
    const onEarlyClose = () => {
      if (decisions.get(req)?.ok) this.#abandoned();
      decisions.delete(req);
    };
    socket.once("close", onEarlyClose);
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off("close", onEarlyClose);
      const decision = decisions.get(req);
      decisions.delete(req);
      if (!decision?.ok) {
        ws.terminate();
        return;
      }
      accepted(new WsTransportSocket(ws, socket as Socket), decision);
    });
  }
}

/** Build a frame once (server frames are never masked), to write the same bytes to many sockets. */
export function prepare(data: string | Buffer | Uint8Array, isBinary?: boolean): PreparedFrame {
  const binary = isBinary ?? typeof data !== "string";
  const payload = typeof data === "string" || Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return { data: payload, isBinary: binary, frame: encodeFrame(payload, binary) };
}

/** Up to this size a message's header and payload are copied into one buffer: one stream write. */
const MERGE_LIMIT = 16 * 1024;

/** An unmasked, unfragmented, uncompressed frame: header and payload in one buffer. */
export function encodeFrame(data: string | Buffer, binary: boolean): Buffer {
  const length = typeof data === "string" ? Buffer.byteLength(data) : data.length;
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  writeHeader(frame, binary, length, headerLength);
  if (typeof data === "string") frame.write(data, headerLength);
  else data.copy(frame, headerLength);
  return frame;
}

function writeHeader(target: Buffer, binary: boolean, length: number, headerLength: number): void {
  target[0] = binary ? 0x82 : 0x81; // FIN + opcode
  if (headerLength === 2) target[1] = length;
  else if (headerLength === 4) {
    target[1] = 126;
    target.writeUInt16BE(length, 2);
  } else {
    target[1] = 127;
    target.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    target.writeUInt32BE(length >>> 0, 6);
  }
}

interface PreparedFrame extends PreparedMessage {
  readonly frame: Buffer;
}

// ws's frame builder and sender state; not in @types/ws.
interface WsSender {
  _state: number;
  _queue: unknown[];
  _bufferedBytes: number;
}
interface WsInternals {
  _sender: WsSender | null;
  _extensions: Record<string, unknown>;
}
const SENDER_IDLE = 0;

const TEXT = { binary: false };
const BINARY = { binary: true };

class WsTransportSocket implements TransportSocket {
  readonly #ws: WebSocket;
  readonly #raw: Socket;
  /** permessage-deflate negotiated: sends go through ws, which compresses them. */
  readonly #deflate: boolean;
  #corked = false;

  constructor(ws: WebSocket, raw: Socket) {
    this.#ws = ws;
    this.#raw = raw;
    this.#deflate = "permessage-deflate" in (ws as unknown as WsInternals)._extensions;
  }

  get protocol(): string {
    return this.#ws.protocol;
  }

  get extensions(): string {
    return this.#ws.extensions;
  }

  get remoteAddress(): string | undefined {
    return this.#raw.remoteAddress;
  }

  get bufferedAmount(): number {
    // What ws's getter computes, read without its checks: this runs before every send.
    const sender = (this.#ws as unknown as WsInternals)._sender;
    return this.#raw.writableLength + (sender === null ? 0 : sender._bufferedBytes);
  }

  get isOpen(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  send(data: string | Buffer, isBinary: boolean): void {
    const ws = this.#ws;
    if (ws.readyState !== WebSocket.OPEN) return;
    this.#corkForTick();
    if (!this.#canWriteDirectly()) {
      ws.send(data, isBinary ? BINARY : TEXT);
      return;
    }
    // Our own framing: for small messages one allocation and one stream write instead of ws's two.
    // UTF-16 length for strings: a cheap bound, close enough to choose between copy and two writes.
    if (data.length <= MERGE_LIMIT) {
      this.#raw.write(encodeFrame(data, isBinary));
    } else {
      const payload = typeof data === "string" ? Buffer.from(data) : data;
      const headerLength = payload.length < 65536 ? 4 : 10;
      const header = Buffer.allocUnsafe(headerLength);
      writeHeader(header, isBinary, payload.length, headerLength);
      this.#raw.write(header);
      this.#raw.write(payload);
    }
  }

  /** No compression negotiated and nothing queued in ws: frames may go straight to the socket. */
  #canWriteDirectly(): boolean {
    const internals = this.#ws as unknown as WsInternals;
    const sender = internals._sender;
    return this.#deflate === false && sender !== null && sender._state === SENDER_IDLE && sender._queue.length === 0;
  }

  sendPrepared(message: PreparedMessage): void {
    const ws = this.#ws;
    if (ws.readyState !== WebSocket.OPEN) return;
    const frame = (message as PreparedFrame).frame;
    const sender = (ws as unknown as WsInternals)._sender;
    // Uncompressed frames are valid on a deflate connection too (RSV1 clear); only a busy ws queue forces the slow path.
    if (frame === undefined || sender === null || sender._state !== SENDER_IDLE || sender._queue.length > 0) {
      // ws is mid-compression or has a queue: go through it so this message stays in order.
      this.send(message.data, message.isBinary);
      return;
    }
    this.#corkForTick();
    this.#raw.write(frame);
  }

  close(code: number, reason: string): void {
    this.#ws.close(code, reason);
  }

  terminate(): void {
    this.#ws.terminate();
  }

  ping(): void {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.ping();
  }

  listen(events: TransportSocketEvents): void {
    const ws = this.#ws;
    ws.on("message", (data: Buffer, isBinary: boolean) => events.message(data, isBinary));
    ws.on("close", (code: number, reason: Buffer) => events.close(code, reason.toString()));
    ws.on("pong", () => events.pong());
    ws.on("error", (err: Error) => events.error(err));
  }

  #corkForTick(): void {
    if (this.#corked) return;
    this.#corked = true;
    this.#raw.cork();
    corkedThisTick.push(this);
    if (corkedThisTick.length === 1) process.nextTick(uncorkAll);
  }

  /** @internal called once per tick for every socket corked in it. */
  uncorkNow(): void {
    this.#corked = false;
    this.#raw.uncork();
  }
}

/**
 * The sockets corked in this tick. One nextTick callback uncorks them all, so a broadcast to
 * 10,000 sockets schedules one callback, not 10,000.
 */
let corkedThisTick: WsTransportSocket[] = [];

function uncorkAll(): void {
  const sockets = corkedThisTick;
  corkedThisTick = []; // a socket corked while we flush gets the next tick's callback
  for (const socket of sockets) socket.uncorkNow();
}

function toWsDeflate(options: false | DeflateOptions): false | PerMessageDeflateOptions {
  if (options === false) return false;
  return {
    threshold: options.threshold ?? 1024,
    serverMaxWindowBits: options.serverMaxWindowBits,
    clientMaxWindowBits: options.clientMaxWindowBits,
    serverNoContextTakeover: options.serverNoContextTakeover,
    clientNoContextTakeover: options.clientNoContextTakeover,
  };
}
