/**
 * The ONLY file that imports `ws`. It turns an HTTP upgrade into a TransportSocket and adds
 * what `ws` does not do for us on the hot path:
 *
 *  - per-tick batching: when a socket will get more than one message in this turn of the event
 *    loop, its frames are held (held-writes.ts) and one nextTick writes them as ONE buffer, so
 *    those messages leave in one system call instead of one call per message (where ws spends
 *    most of its time); a broadcast's sockets all get the same frames, joined once. A write ws
 *    makes itself in that tick (compression, pong, close) goes into the stream corked for it,
 *    after what is held. "More than one" is known two ways: it is the socket's second send of
 *    the tick, or the message being handled is not the last of its read (more input follows in
 *    this tick, so more replies or broadcasts are likely). A lone message is written at once:
 *    no wait behind a long broadcast loop;
 *  - frame once, write many: `prepare()` builds the frame bytes once; `sendPrepared()` writes
 *    the same Buffer to each socket, falling back to ws.send() when ws has frames queued (a
 *    compression in progress) so that per-connection order is kept;
 *  - no errors built for nothing on close: see `skipEndWhenFinished`.
 *
 * The first two read private fields of ws (its sender's state, queue and queued bytes, its
 * parser's unparsed bytes; see `readWsPrivates`). They are checked on every new socket: a
 * socket whose ws does not have them as expected (a ws release renamed them) is served
 * through ws's public API only (ws.send, ws.bufferedAmount), and a warning says so once.
 */
import type { IncomingMessage } from "node:http";
import { Writable, type Duplex } from "node:stream";
import type { Socket } from "node:net";
import { WebSocket, WebSocketServer, type PerMessageDeflateOptions } from "ws";
import type { HandshakeDecision } from "./handshake.ts";
import type { PreparedMessage, TransportSocket, TransportSocketEvents } from "./socket.ts";
import { HeldWrites, forgetJoinedFrames } from "./held-writes.ts";

/**
 * ws's WebSocket with a slot for the transport socket that routes its events: its listeners are
 * four functions shared by every socket (`this` is the WebSocket), not four closures each.
 */
class RoutedWebSocket extends WebSocket {
  transport: WsTransportSocket | undefined = undefined;

  /**
   * ws's events for this socket go straight to its transport socket: no listener is registered,
   * so no listener table grows (about 100 bytes per idle connection). ws emits 'error' only to
   * listeners, so without a transport socket it is handed on like any other event (and throws
   * for want of one, as ws's would). Every ws event has at most two arguments.
   */
  override emit(event: string | symbol, a?: unknown, b?: unknown): boolean {
    const socket = this.transport;
    if (socket !== undefined) {
      switch (event) {
        case "message": socket.wsMessage(a as Buffer, b as boolean); return true;
        case "close": socket.wsClose(a as number, b as Buffer); return true;
        case "pong": socket.wsPong(); return true;
        case "error": socket.wsError(a as Error); return true;
      }
    }
    return arguments.length <= 1 ? super.emit(event) : arguments.length === 2 ? super.emit(event, a) : super.emit(event, a, b);
  }

  /** ws calls close() for every clean close, ours and the peer's: its first call (still open) begins one. */
  override close(code?: number, data?: string | Buffer): void {
    if (this.readyState === WebSocket.OPEN) this.transport?.skipPointlessEnds();
    super.close(code, data);
  }
}

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
  /**
   * An accepted decision whose socket went away before it opened (undo its reservation).
   * Called at most once per handshake, and never for a decision that was a refusal.
   */
  abandoned(): void;
  /** The client's address for an accepted socket (trustProxy: from Forwarded headers); default: the TCP peer's. */
  remoteAddress?(req: IncomingMessage): string | undefined;
}

export type UpgradeCallback = (socket: TransportSocket, decision: HandshakeDecision & { ok: true }) => void;

const decisions = new WeakMap<IncomingMessage, HandshakeDecision>();

/** One per endpoint: endpoints may differ in payload limits and compression. */
export class WebSocketAcceptor {
  readonly #wss: WebSocketServer;
  readonly #abandoned: () => void;
  readonly #remoteAddress: ((req: IncomingMessage) => string | undefined) | undefined;
  /**
   * ws calls verifyClient synchronously from handleUpgrade; an async decision leaves here the
   * promise of its settling, for handleUpgrade to return (the HTTP layer counts it as pending).
   */
  #settling: Promise<void> | undefined;

  constructor(options: WebSocketAcceptorOptions) {
    this.#abandoned = options.abandoned;
    this.#remoteAddress = options.remoteAddress;
    this.#wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      WebSocket: RoutedWebSocket,
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
        // decide() maps every hook error to a decision itself; a throw or rejection here is a
        // bug of ours, answered 500 rather than left to hang or crash.
        const failed = (): void => done(false, 500, "Internal Server Error");
        let decision: HandshakeDecision | Promise<HandshakeDecision>;
        try {
          decision = options.decide(info.req);
        } catch {
          failed();
          return;
        }
        if (decision instanceof Promise) this.#settling = decision.then(settle, failed);
        else settle(decision);
      },
      handleProtocols: (_offered: Set<string>, req: IncomingMessage) => {
        const decision = decisions.get(req);
        return decision?.ok && decision.protocol !== "" ? decision.protocol : false;
      },
    } as ConstructorParameters<typeof WebSocketServer>[0]);
  }

  /**
   * Take an upgrade: ws validates it (400 for bad headers), our decide() runs, ws answers.
   * Returns undefined when all that happened before returning, else a promise that resolves
   * once the async decision has settled and been answered (or dropped, the client gone).
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, accepted: UpgradeCallback): Promise<void> | undefined {
    const onEarlyClose = () => {
      if (decisions.get(req)?.ok) this.#abandoned();
      decisions.delete(req);
    };
    socket.once("close", onEarlyClose);
    this.#settling = undefined;
    // Corked while an upgrade decided at once completes: the 101 and what the open hooks send
    // in that call (an app's welcome) leave in one write, not one system call each. A refusal's
    // end() uncorks by itself; an async decision completes after this returns, uncorked.
    socket.cork();
    try {
      this.#wss.handleUpgrade(req, socket, head, (ws) => {
        socket.off("close", onEarlyClose);
        const decision = decisions.get(req);
        decisions.delete(req);
        if (!decision?.ok) {
          ws.terminate();
          return;
        }
        accepted(new WsTransportSocket(ws, socket as Socket, this.#remoteAddress?.(req)), decision);
      });
    } finally {
      if (socket.writableCorked > 0) socket.uncork();
    }
    const settling = this.#settling;
    this.#settling = undefined;
    return settling;
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
  /** 0 when idle: not compressing, not reading a Blob. */
  _state: number;
  /** Frames waiting behind a compression in progress. */
  _queue: unknown[];
  /** Bytes in `_queue` (part of ws's bufferedAmount). */
  _bufferedBytes: number;
}
// ws's frame parser (a Writable): bytes of the current read not parsed yet.
interface WsReceiver extends Writable {
  _bufferedBytes: number;
}
/** The private fields of one ws socket that the fast paths read. */
export interface WsPrivates {
  readonly sender: WsSender;
  readonly receiver: WsReceiver;
}
const SENDER_IDLE = 0;

/**
 * @internal Test seam: where ws's private fields are read from. A test points it at an object
 * without them to play a ws release that renamed them (ws itself keeps working).
 */
export const wsPrivatesSeam: { source(ws: WebSocket): object } = { source: (ws) => ws };

/**
 * ws's private fields as the fast paths expect them, or undefined (and a warning, once per
 * process) when this ws does not have them: the socket then uses ws's public API only.
 */
export function readWsPrivates(ws: WebSocket): WsPrivates | undefined {
  const source = wsPrivatesSeam.source(ws) as { _sender?: Partial<WsSender> | null; _receiver?: Partial<WsReceiver> | null };
  const sender = source._sender;
  const receiver = source._receiver;
  if (
    typeof sender === "object" && sender !== null && typeof sender._state === "number" && Array.isArray(sender._queue) &&
    typeof sender._bufferedBytes === "number" && receiver instanceof Writable && typeof receiver._bufferedBytes === "number"
  ) {
    return { sender: sender as WsSender, receiver: receiver as WsReceiver };
  }
  warnPrivatesMissing();
  return undefined;
}

let warnedPrivatesMissing = false;

function warnPrivatesMissing(): void {
  if (warnedPrivatesMissing) return;
  warnedPrivatesMissing = true;
  process.emitWarning(
    "ws does not have the private fields Switchboard's fast send path reads (_sender._state, _sender._queue, " +
      "_sender._bufferedBytes, _receiver._bufferedBytes): sockets use ws.send and ws.bufferedAmount instead. " +
      "Correct but slower; pin ws to the version range in Switchboard's package.json.",
    { code: "SWITCHBOARD_WS_PRIVATES" },
  );
}

const TEXT = { binary: false };
const BINARY = { binary: true };

class WsTransportSocket implements TransportSocket {
  readonly #ws: WebSocket;
  readonly #raw: Socket;
  /**
   * ws's private sender, or undefined: then every send goes through ws.send. Set only when
   * readWsPrivates found the parser's fields too (read from `ws._receiver` on each message:
   * one field less per connection).
   */
  readonly #sender: WsSender | undefined;
  /** permessage-deflate negotiated: sends go through ws, which compresses them. */
  readonly #deflate: boolean;
  /** This socket's writes held until the end of the tick (see held-writes.ts); made on the first one. */
  #held: HeldWrites | undefined;
  /** The tick (see `tick`) of this socket's last write not held. */
  #sentInTick = -1;

  /** Set when the client's address is not the TCP peer's (behind a trusted proxy). */
  readonly #address: string | undefined;
  /** Set by listen(): where this socket's events go, and the first argument they get. */
  #events: TransportSocketEvents<unknown> | undefined;
  #context: unknown;

  constructor(ws: WebSocket, raw: Socket, address?: string) {
    this.#ws = ws;
    this.#raw = raw;
    this.#address = address;
    const privates = readWsPrivates(ws);
    this.#sender = privates?.sender;
    this.#deflate = ws.extensions.includes("permessage-deflate");
  }

  /**
   * @internal RoutedWebSocket.close: a clean close begins, which is where ws's end() calls on
   * finished streams come (see skipEndWhenFinished). Not done at accept: an own property on the
   * TCP socket and the parser of every idle connection would cost it 16 bytes.
   */
  skipPointlessEnds(): void {
    skipEndWhenFinished(this.#raw);
    if (this.#sender !== undefined) skipEndWhenFinished(receiverOf(this.#ws));
  }

  get protocol(): string {
    return this.#ws.protocol;
  }

  get extensions(): string {
    return this.#ws.extensions;
  }

  get remoteAddress(): string | undefined {
    return this.#address ?? this.#raw.remoteAddress;
  }

  get bufferedAmount(): number {
    // What ws's getter computes, read without its checks: this runs before every send.
    const sender = this.#sender;
    // Held frames count too, so slow-consumer limits see them as they saw corked bytes.
    return sender === undefined ? this.#ws.bufferedAmount : this.#raw.writableLength + sender._bufferedBytes + (this.#held?.bytes ?? 0);
  }

  get isOpen(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  send(data: string | Buffer, isBinary: boolean): void {
    const ws = this.#ws;
    if (ws.readyState !== WebSocket.OPEN) return;
    const hold = this.holdForTick();
    if (!this.canWriteDirectly()) {
      // ws writes this one itself: with more due in this tick, into the stream corked for it.
      if (hold) this.corkStreamForTick();
      ws.send(data, isBinary ? BINARY : TEXT);
      return;
    }
    // Our own framing: for small messages one allocation and one stream write instead of ws's two.
    // UTF-16 length for strings: a cheap bound, close enough to choose between copy and two writes.
    if (data.length <= MERGE_LIMIT) {
      this.write(encodeFrame(data, isBinary), hold);
    } else {
      const payload = typeof data === "string" ? Buffer.from(data) : data;
      const headerLength = payload.length < 65536 ? 4 : 10;
      const header = Buffer.allocUnsafe(headerLength);
      writeHeader(header, isBinary, payload.length, headerLength);
      this.write(header, hold);
      this.write(payload, hold);
    }
  }

  // The helpers below are TS-private, not #private: #methods cost every instance a brand slot
  // (8 bytes per connection; issue 18's idle memory).

  /** Held until the end of the tick, or written now (see `holdForTick`). */
  private write(bytes: Buffer, hold: boolean): void {
    const held = this.#held;
    if (hold && held !== undefined && !held.corked) held.add(bytes);
    else this.#raw.write(bytes);
  }

  /** No compression negotiated and nothing queued in ws: frames may go straight to the socket. */
  private canWriteDirectly(): boolean {
    const sender = this.#sender;
    return this.#deflate === false && sender !== undefined && sender._state === SENDER_IDLE && sender._queue.length === 0;
  }

  sendPrepared(message: PreparedMessage): void {
    const ws = this.#ws;
    if (ws.readyState !== WebSocket.OPEN) return;
    const frame = (message as PreparedFrame).frame;
    const sender = this.#sender;
    // Uncompressed frames are valid on a deflate connection too (RSV1 clear); only a busy ws
    // queue (or a ws whose queue we cannot see) forces the slow path.
    if (frame === undefined || sender === undefined || sender._state !== SENDER_IDLE || sender._queue.length > 0) {
      // ws is mid-compression or has a queue: go through it so this message stays in order.
      this.send(message.data, message.isBinary);
      return;
    }
    this.write(frame, this.holdForTick());
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

  listen<C>(events: TransportSocketEvents<C>, context: C): void {
    this.#events = events as TransportSocketEvents<unknown>;
    this.#context = context;
    const ws = this.#ws;
    if (ws instanceof RoutedWebSocket) {
      ws.transport = this; // its emit() routes to us from now on
      return;
    }
    // Not made by our WebSocketServer (never expected): plain listeners do the same.
    ws.on("message", (data: Buffer, isBinary: boolean) => this.wsMessage(data, isBinary));
    ws.on("close", (code: number, reason: Buffer) => this.wsClose(code, reason));
    ws.on("pong", () => this.wsPong());
    ws.on("error", (err: Error) => this.wsError(err));
  }

  /** @internal ws's 'message' (through RoutedWebSocket.emit). */
  wsMessage(data: Buffer, isBinary: boolean): void {
    // ws emits every message of one read synchronously; bytes left mean more are coming now.
    inputPending = this.#sender !== undefined && receiverOf(this.#ws)._bufferedBytes > 0;
    try {
      this.#events!.message(this.#context, data, isBinary);
    } finally {
      inputPending = false;
    }
  }

  /** @internal ws's 'close'. */
  wsClose(code: number, reason: Buffer): void {
    this.#events!.close(this.#context, code, reason.toString());
  }

  /** @internal ws's 'pong'. */
  wsPong(): void {
    this.#events!.pong(this.#context);
  }

  /** @internal ws's 'error'. */
  wsError(err: Error): void {
    this.#events!.error(this.#context, err);
  }

  /** Before a write: true to hold it, when more writes to this socket are due in this tick (see the file comment). */
  private holdForTick(): boolean {
    const held = this.#held;
    if (held !== undefined && held.listed) return true;
    if (!inputPending && this.#sentInTick !== tick) {
      this.#sentInTick = tick; // a lone message so far: write it now
      endTickSoon();
      return false;
    }
    // Corked by its owner (the upgrade that is completing, with its 101): a write joins that
    // batch already, and holding it would send it after the uncork, in a write of its own.
    if (this.#raw.writableCorked > 0) return false;
    (this.#held ??= new HeldWrites(this.#raw)).listed = true;
    heldThisTick.push(this);
    endTickSoon();
    return true;
  }

  /** A write through ws joins this tick's: what is held goes into the stream, corked until the tick ends. */
  private corkStreamForTick(): void {
    const held = this.#held!;
    if (held.corked) return;
    held.corked = true;
    this.#raw.cork();
    held.release();
  }

  /** @internal called once per tick for every socket that held writes in it. */
  endOfTick(): void {
    const held = this.#held!;
    held.listed = false;
    held.release();
    if (held.corked) {
      held.corked = false;
      this.#raw.uncork();
    }
  }
}

/** ws's frame parser; only where readWsPrivates found it as expected (the socket's #sender is set). */
function receiverOf(ws: WebSocket): WsReceiver {
  return (ws as unknown as { _receiver: WsReceiver })._receiver;
}

/**
 * After a clean close, ws calls end() on its receiver twice and on the TCP socket once more,
 * all already finished. Each such call makes Node build an ERR_STREAM_ALREADY_FINISHED error,
 * stack trace included, and throw it away: about 15 % of the server's CPU per connection in a
 * connect-and-close loop. A bare end() on a finished or destroyed stream does nothing else, so
 * it is skipped here; every other end() goes to the stream's own.
 */
function skipEndWhenFinished(stream: Writable): void {
  stream.end = endUnlessFinished;
}

function endUnlessFinished(this: Writable, ...args: unknown[]): Writable {
  if (args.length === 0 && (this.writableFinished || this.destroyed)) return this;
  return (Object.getPrototypeOf(this) as Writable).end.apply(this, args as Parameters<Writable["end"]>);
}

/** True while a message that is not the last of its read is being handled. */
let inputPending = false;

/** Counts turns of the event loop in which something was sent; `endTick` moves it on. */
let tick = 0;
let tickEnding = false;

/**
 * The sockets that held writes in this tick. One nextTick callback writes them all, so a
 * broadcast to 10,000 sockets schedules one callback, not 10,000.
 */
let heldThisTick: WsTransportSocket[] = [];

function endTickSoon(): void {
  if (tickEnding) return;
  tickEnding = true;
  process.nextTick(endTick);
}

function endTick(): void {
  tickEnding = false;
  tick++;
  const sockets = heldThisTick;
  heldThisTick = []; // a socket that holds a write while we flush gets the next tick's callback
  for (const socket of sockets) socket.endOfTick();
  forgetJoinedFrames();
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
