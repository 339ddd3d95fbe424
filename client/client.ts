/**
 * The Switchboard client, for browsers and Node >= 20. It speaks the app protocol of
 * docs/protocol.md and imports nothing but src/protocol/ (and, in Node without a global
 * WebSocket, the `ws` package on demand).
 *
 *   const client = new Client<ChatTasks, ChatPushes>("ws://host/chat", { room: "lobby" });
 *   client.subscribe("chat.said", (msg) => show(msg));
 *   await client.call("chat.say", { text: "hi" }, { timeoutMs: 5000 });
 */
import { parseServerMessage, encodeRequest, isPush, ProtocolError } from "../src/protocol/codec.ts";
import {
  BuiltinPush, BuiltinTask, STREAMS_PARAM, SUBPROTOCOL,
  type PresenceMember, type Push, type ReplayedPush, type ServerMessage, type StreamPosition, type TaskSpec, type Welcome,
} from "../src/protocol/messages.ts";
import { CloseCode, describeCloseCode, isRefusalCloseCode, refusalCloseCode } from "../src/protocol/close-codes.ts";
import { CallError } from "./call-error.ts";
import { ClientError, messageOf } from "./client-error.ts";
import { Emitter, logUnheard } from "./events.ts";
import { OfflineQueue } from "./offline-queue.ts";
import { Backoff, isRetryableClose, type ReconnectOptions } from "./reconnect.ts";
import { resolveServerUrl } from "./server-url.ts";

/** Any constructor with the browser WebSocket's shape (the global one, or `ws`'s WebSocket). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => any;

export interface ClientOptions {
  /** Room(s) to join at connect, rejoined after every reconnect. Browser default: location.pathname; null: none. */
  room?: string | string[] | null;
  /** Session token sent as `?session=`, or a function read at every (re)connect. */
  session?: string | (() => string | undefined);
  /** Reconnect after a retryable close (default true), with these backoff settings. */
  reconnect?: boolean | ReconnectOptions;
  /** WebSocket implementation. Default: the global one; in Node 20, `ws` (imported on demand). */
  WebSocket?: WebSocketConstructor;
  /** Bound on frames kept while offline (default 1000). */
  maxOfflineQueue?: number;
  /** Default timeout of call() (default 30 000 ms; 0 = none; at most 2^31-1). */
  callTimeoutMs?: number;
  /**
   * Each connection attempt must be welcomed within this time (socket open + the server's
   * welcome), else it is dropped and retried with backoff. Default 10 000 ms (the
   * `connectTimeoutMs` row of docs/reference.md); 0 = wait forever.
   */
  connectTimeoutMs?: number;
}

/** The default of `connectTimeoutMs` (the client cannot import src/limits.ts; a unit test keeps the two equal). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export interface ClientEvents {
  [event: string]: unknown[];
  /**
   * The server accepted the connection and welcomed it: `client.welcome` is this connection's
   * welcome (first time and after every reconnect). Calls and sends go out from here on.
   */
  open: [];
  /** The socket closed; `willReconnect` says whether the client will try again. */
  close: [code: number, reason: string, willReconnect: boolean];
  /** The socket is open again after it was lost; `attempts` it took. */
  reconnect: [attempts: number];
  /**
   * A room's pushes could not all be recovered after a reconnect (the server restarted: a new
   * epoch; or its history no longer reaches back far enough): refetch the room's state. The
   * client continues with the live pushes from the room's new position.
   */
  unrecovered: [info: UnrecoveredRoom];
  /**
   * Something went wrong and the client handled it: a failed connection attempt (the `close`
   * that follows says whether it retries), a refusal by the server (kind "refused", with
   * `code`, `reason` and `permanent`; a permanent one ends the client: state "failed"), an
   * unreadable frame, a listener that threw. See ClientError's `kind`.
   */
  error: [error: ClientError];
}

export interface UnrecoveredRoom {
  room: string;
  /** "epoch": the room's history was lost; "history": it no longer covers the gap; "gap": a live push skipped offsets. */
  reason: "epoch" | "history" | "gap";
}

/** What room.join answers (offset/epoch: always to this client; pushes/recovered: when asked). */
export interface JoinReply {
  room: string;
  members?: PresenceMember[];
  offset?: number;
  epoch?: string;
  pushes?: ReplayedPush[];
  recovered?: boolean;
}

/**
 * connecting: an attempt is under way (the socket opens, or waits for the welcome);
 * open: welcomed; reconnecting: waiting for the next attempt's backoff delay;
 * closed: close() was called; failed: ended by the server or by giving up (see `failure`).
 */
export type ClientState = "connecting" | "open" | "reconnecting" | "closed" | "failed";

type AnyTasks = Record<string, TaskSpec>;
type AnyPushes = Record<string, unknown>;
type Subscriber = (data: unknown) => void;

interface PendingCall {
  readonly task: string;
  resolve(value: unknown): void;
  reject(err: CallError): void;
  timer: ReturnType<typeof setTimeout> | undefined;
  sent: boolean;
  /**
   * Runs when the reply is read, before the next frame is (a promise continuation may run only
   * after it: `ws` dispatches the frames of one chunk in one go). room.join uses it to deliver
   * its replay and take its position before any live push that follows the reply.
   */
  onReply?: ((data: unknown) => void) | undefined;
}

const OPEN = 1;
/** The longest delay setTimeout keeps (a longer one fires at once). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * T maps task names to { data, reply }; P maps push names to their data. Plain interfaces
 * work (no index signature needed).
 */
export class Client<T extends { [K in keyof T]: TaskSpec } = AnyTasks, P extends { [K in keyof P]: unknown } = AnyPushes> {
  /** The server's URL as the client uses it: absolute, ws: or wss: (http(s): given is mapped). */
  readonly url: string;
  /** The server's welcome on the current connection (user, connection id, rooms): set before `open` fires, every time. */
  welcome: Welcome | undefined;
  /** Why the client ended without close() (a permanent refusal, a final close, reconnects used up); undefined until then. */
  failure: ClientError | undefined;
  private socket: InstanceType<WebSocketConstructor> | undefined;
  /** The current socket fired `open` (its errors are then not connect failures). */
  private socketOpened = false;
  /** The current socket got its welcome: frames go out (nothing is sent to a connection the server may still refuse). */
  private ready = false;
  /** The HTTP status the current socket's upgrade was answered with (Node's `ws` only). */
  private httpStatus: { status: number; text: string } | undefined;
  /** `ws`, once loaded, where the runtime has no global WebSocket. */
  private loadedWebSocket: WebSocketConstructor | undefined;
  private readonly events = new Emitter<ClientEvents>((event, thrown) => this.listenerThrew(`an "${event}" listener`, thrown));
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  private readonly pending = new Map<number, PendingCall>();
  private readonly queue: OfflineQueue;
  private readonly backoff: Backoff | undefined;
  private readonly rooms: Set<string>;
  /** Per room: the position of the last push delivered (or of the join reply): where a reconnect recovers from. */
  private readonly positions = new Map<string, StreamPosition>();
  /**
   * Rooms whose room.join + since is in flight after a reconnect. Their live pushes until its
   * reply are dropped: each is also in the reply's replay (the server reads the history after
   * the rejoin took effect) or comes again after it.
   */
  private readonly recovering = new Set<string>();
  private nextId = 1;
  private closed = false;
  /** close() was called (as opposed to a final, non-retryable close from the server). */
  private closedByUser = false;
  private lost = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Settles the promise close() returned, once the socket has closed. */
  private closing: { promise: Promise<void>; resolve(): void } | undefined;
  private readonly callTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  /** The current attempt's deadline for its welcome. */
  private connectTimer: ReturnType<typeof setTimeout> | undefined;

  /** Throws (synchronously) for a bad URL or option; after that, nothing the client does throws into the event loop. */
  constructor(url: string, private readonly options: ClientOptions = {}) {
    this.url = resolveServerUrl(url).href;
    this.queue = new OfflineQueue(options.maxOfflineQueue);
    this.backoff = options.reconnect === false ? undefined : new Backoff(options.reconnect === true ? {} : options.reconnect);
    this.rooms = new Set(initialRooms(options.room));
    this.callTimeoutMs = checkTimeout(options.callTimeoutMs ?? 30_000, "callTimeoutMs");
    this.connectTimeoutMs = checkTimeout(options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, "connectTimeoutMs");
    // After the constructor returns, so that listeners added next hear of the first attempt.
    queueMicrotask(() => this.guard(() => this.connect()));
  }

  /** Welcomed on an open socket. */
  get connected(): boolean {
    return this.ready && this.socket?.readyState === OPEN;
  }

  get state(): ClientState {
    if (this.closedByUser) return "closed";
    if (this.closed) return "failed";
    if (this.connected) return "open";
    return this.retryTimer === undefined ? "connecting" : "reconnecting";
  }

  /** Rooms this client is in (joined at connect or with join()); rejoined after a reconnect. */
  get joinedRooms(): string[] {
    return [...this.rooms];
  }

  on<K extends keyof ClientEvents & string>(event: K, listener: (...args: ClientEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }
  off<K extends keyof ClientEvents & string>(event: K, listener: (...args: ClientEvents[K]) => void): void {
    this.events.off(event, listener);
  }

  /** Fire-and-forget. Queued while offline; false when the offline queue is full. */
  send<K extends keyof T & string>(task: K, data: T[K]["data"]): boolean {
    const text = encodeRequest(task, data);
    if (this.write(text)) return true;
    return !this.closed && this.queue.push({ text });
  }

  /** Ask for a reply. Rejects with a CallError carrying the error `code`. */
  call<K extends keyof T & string>(task: K, data: T[K]["data"], options: { timeoutMs?: number } = {}): Promise<T[K]["reply"]> {
    return this.request(task, data, options) as Promise<T[K]["reply"]>;
  }

  private request(task: string, data: unknown, options: { timeoutMs?: number }, onReply?: (data: unknown) => void): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        if (this.closedByUser) return reject(new CallError("closed", "the client is closed", task));
        if (this.failure?.kind === "refused") return reject(new CallError("refused", this.failure.message, task));
        return reject(new CallError("disconnected", "the connection closed for good", task));
      }
      // A throw in here (bad timeoutMs, data JSON cannot encode) rejects this call's promise.
      const timeoutMs = options.timeoutMs === undefined ? this.callTimeoutMs : checkTimeout(options.timeoutMs, "timeoutMs");
      const id = this.nextId++;
      const text = encodeRequest(task, data, id);
      const call: PendingCall = { task, resolve, reject, timer: undefined, sent: false, onReply };
      if (timeoutMs > 0) {
        call.timer = setTimeout(() => {
          this.pending.delete(id);
          this.queue.remove(id);
          reject(new CallError("timeout", `no reply to "${task}" within ${timeoutMs} ms`, task));
        }, timeoutMs);
      }
      this.pending.set(id, call);
      if (this.write(text)) call.sent = true;
      else if (!this.queue.push({ text, id })) this.settle(id, new CallError("queue_full", "the offline queue is full", task));
    });
  }

  subscribe<K extends keyof P & string>(task: K, callback: (data: P[K]) => void): () => void {
    let set = this.subscribers.get(task);
    if (set === undefined) this.subscribers.set(task, (set = new Set()));
    set.add(callback as Subscriber);
    return () => this.unsubscribe(task, callback);
  }

  unsubscribe<K extends keyof P & string>(task: K, callback: (data: P[K]) => void): void {
    const set = this.subscribers.get(task);
    set?.delete(callback as Subscriber);
    if (set?.size === 0) this.subscribers.delete(task);
  }

  /**
   * Join a room now and after every reconnect (rejoined from its last position: the pushes
   * missed meanwhile are delivered, in order, before the live ones). `history: N` also delivers
   * the room's last N pushes to the subscribers now (and returns them in `pushes`).
   */
  async join(room: string, options: { history?: number } = {}): Promise<JoinReply> {
    const data = options.history === undefined ? { room } : { room, history: options.history };
    return (await this.request(BuiltinTask.RoomJoin, data, {}, (reply) => {
      this.rooms.add(room);
      this.joined(room, reply as JoinReply, undefined);
    })) as JoinReply;
  }

  async leave(room: string): Promise<void> {
    await this.request(BuiltinTask.RoomLeave, { room }, {});
    this.rooms.delete(room);
    this.positions.delete(room);
  }

  /** The last position this client delivered in `room` (what a reconnect recovers from). */
  position(room: string): StreamPosition | undefined {
    const position = this.positions.get(room);
    return position === undefined ? undefined : { ...position };
  }

  /** A join reply: deliver its replay in order, then take its position (the live pushes follow it). */
  private joined(room: string, reply: JoinReply, since: StreamPosition | undefined): void {
    if (since !== undefined && reply.recovered === false) {
      this.events.emit("unrecovered", { room, reason: reply.epoch !== since.epoch ? "epoch" : "history" });
    }
    for (const push of reply.pushes ?? []) this.deliver(push.task, push.data);
    if (typeof reply.offset === "number" && typeof reply.epoch === "string" && reply.epoch !== "") {
      this.positions.set(room, { offset: reply.offset, epoch: reply.epoch });
    }
  }

  /**
   * The welcome: its positions are those of the rooms joined at connect (their live pushes
   * follow it), kept like a join reply's. A room recovering after a reconnect keeps its old
   * position (its rejoin's `since`); one that has a position already keeps it.
   */
  private welcomed(welcome: Welcome): void {
    this.welcome = welcome;
    const positions: unknown = welcome.positions;
    if (typeof positions !== "object" || positions === null) return;
    for (const [room, position] of Object.entries(positions as Record<string, unknown>)) {
      if (!this.rooms.has(room) || this.recovering.has(room) || this.positions.has(room) || !isPosition(position)) continue;
      this.positions.set(room, { offset: position.offset, epoch: position.epoch });
    }
  }

  /** After a reconnect: each room with a position (rejoined by `?room=`) recovers from it. */
  private recover(): void {
    this.recovering.clear();
    for (const [room, since] of this.positions) {
      if (!this.rooms.has(room)) continue;
      this.recovering.add(room);
      this.request(BuiltinTask.RoomJoin, { room, since }, {}, (reply) => {
        this.recovering.delete(room);
        this.joined(room, reply as JoinReply, since);
      }).then(
        () => undefined,
        (err: unknown) => {
          this.recovering.delete(room);
          // "disconnected": the next reconnect tries again from the same position.
          if (!(err instanceof CallError && (err.code === "disconnected" || err.code === "closed" || err.code === "refused"))) {
            this.report(new ClientError("internal", `could not rejoin room ${room}: ${messageOf(err)}`, err));
          }
        },
      );
    }
  }

  /**
   * Close for good: no reconnect; pending calls reject with "closed". Resolves once the socket
   * has closed (bounded by the WebSocket's own close timeout: 30 s in `ws`) and never rejects.
   * A code or reason a browser would refuse throws here, in Node too, and changes nothing.
   */
  close(code: number = CloseCode.Normal, reason = ""): Promise<void> {
    checkCloseFrame(code, reason);
    if (!this.closedByUser) {
      this.closed = true;
      this.closedByUser = true;
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
      this.failAll("closed", "the client was closed");
      const socket = this.socket;
      if (socket !== undefined) {
        let resolve!: () => void;
        this.closing = { promise: new Promise<void>((r) => (resolve = r)), resolve };
        try {
          socket.close(code, reason);
        } catch (err) {
          // A WebSocket that cannot close will not say it closed: count it as closed now.
          this.internalError(err);
          this.guard(() => this.onClose(socket, CloseCode.Abnormal, "close() failed"));
        }
      }
    }
    return this.closing?.promise ?? Promise.resolve();
  }

  /** One connection attempt. A failure (a throwing constructor or session function) is handled like a refused connection. */
  private connect(): void {
    this.retryTimer = undefined;
    if (this.closed) return;
    const Ctor = this.options.WebSocket ?? this.loadedWebSocket ?? globalWebSocket();
    if (Ctor === undefined) return this.loadWs();
    let socket: InstanceType<WebSocketConstructor> | undefined;
    try {
      socket = new Ctor(this.connectUrl(), SUBPROTOCOL);
      this.socket = socket;
      this.socketOpened = false;
      this.ready = false;
      this.httpStatus = undefined;
      this.readHttpRefusal(socket);
      socket.onopen = () => this.guard(() => this.onOpen(socket));
      socket.onmessage = (event: { data: unknown }) => {
        // Inline rather than guard(): this is the per-message path, so no closure per message.
        try {
          this.onMessage(socket, event.data);
        } catch (err) {
          this.internalError(err);
        }
      };
      socket.onclose = (event: { code: number; reason: string }) => this.guard(() => this.onClose(socket, Number(event.code), String(event.reason ?? "")));
      socket.onerror = (event: unknown) => this.guard(() => this.onSocketError(socket, event));
      this.armConnectTimer(socket);
    } catch (err) {
      if (socket !== undefined && this.socket === socket) this.socket = undefined;
      this.report(new ClientError("connect", `could not connect to ${this.url}: ${messageOf(err)}`, err));
      this.connectionLost(CloseCode.Abnormal, messageOf(err));
    }
  }

  /**
   * A server that accepts and never welcomes (or a socket that never opens) must not leave the
   * client "connecting" for ever: at the deadline the attempt is dropped, reported, and retried
   * with backoff like any lost connection.
   */
  private armConnectTimer(socket: InstanceType<WebSocketConstructor>): void {
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    if (this.connectTimeoutMs === 0) return;
    this.connectTimer = setTimeout(() => this.guard(() => {
      this.connectTimer = undefined;
      if (socket !== this.socket || this.ready) return;
      this.socket = undefined; // its own close event, whenever it comes, is ignored
      const what = this.socketOpened ? "opened but sent no welcome" : "did not open";
      try {
        if (typeof socket.terminate === "function") socket.terminate();
        else socket.close();
      } catch (err) {
        // Closing a socket we are abandoning anyway: nothing else to do with the failure.
        this.internalError(err);
      }
      this.report(new ClientError("connect", `the connection to ${this.url} ${what} within ${this.connectTimeoutMs} ms (connectTimeoutMs)`));
      this.connectionLost(CloseCode.Abnormal, `no welcome within ${this.connectTimeoutMs} ms`);
    }), this.connectTimeoutMs);
  }

  /** Node without a global WebSocket: load `ws` once, then connect. */
  private loadWs(): void {
    import("ws")
      .then(
        (mod) => {
          this.loadedWebSocket = mod.WebSocket as unknown as WebSocketConstructor;
          this.guard(() => this.connect());
        },
        (err: unknown) => {
          // Retrying cannot help: this runtime has no WebSocket at all.
          this.report(new ClientError("connect", `no WebSocket: this runtime has none and the "ws" package did not load (${messageOf(err)}); pass { WebSocket }`, err));
          this.connectionLost(CloseCode.Abnormal, "no WebSocket implementation", false);
        },
      )
      .catch((err: unknown) => this.internalError(err));
  }

  private connectUrl(): string {
    const url = new URL(this.url);
    url.searchParams.set(STREAMS_PARAM, "1");
    for (const room of this.rooms) url.searchParams.append("room", room);
    const session = typeof this.options.session === "function" ? this.options.session() : this.options.session;
    if (session !== undefined) url.searchParams.set("session", session);
    return url.toString();
  }

  /**
   * Node's `ws` lets a client read the HTTP status of a refused upgrade (a browser never can):
   * keep it, so the close that follows is reported as that refusal. With a listener, `ws` no
   * longer aborts on its own: terminate() does, with the usual error and 1006 close events.
   */
  private readHttpRefusal(socket: InstanceType<WebSocketConstructor>): void {
    if (typeof socket.once !== "function" || typeof socket.terminate !== "function") return; // a browser's or undici's WebSocket
    socket.once("unexpected-response", (_req: unknown, res: { statusCode?: number; statusMessage?: string }) =>
      this.guard(() => {
        if (socket !== this.socket) return;
        this.httpStatus = { status: Number(res.statusCode), text: String(res.statusMessage ?? "") };
        socket.terminate();
      }),
    );
  }

  /** The socket is open; the connection is not yet accepted: that is the welcome (or a refusal close). */
  private onOpen(socket: unknown): void {
    if (socket !== this.socket) return;
    this.socketOpened = true;
  }

  /** The welcome: the server accepted this connection. Frames go out, rooms recover, then `open`. */
  private onWelcome(welcome: Welcome): void {
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    const first = !this.ready;
    if (first) {
      this.ready = true;
      const attempts = this.backoff?.attempts ?? 0;
      this.backoff?.reset();
      this.queue.drain((frame) => {
        if (!this.write(frame.text)) return false;
        const call = frame.id === undefined ? undefined : this.pending.get(frame.id);
        if (call) call.sent = true;
        return true;
      });
      // Before welcomed(): a recovering room keeps its own position, not the welcome's.
      if (this.lost) this.recover();
      this.welcomed(welcome);
      this.events.emit("open");
      if (this.lost) this.events.emit("reconnect", attempts);
      return;
    }
    this.welcomed(welcome);
  }

  private onMessage(socket: unknown, raw: unknown): void {
    if (socket !== this.socket) return;
    if (typeof raw !== "string") {
      this.report(new ClientError("protocol", "the server sent a binary frame, which protocol v1 does not use"));
      return;
    }
    const message = parseServerMessage(raw, true);
    if (message instanceof ProtocolError) {
      this.report(new ClientError("protocol", `unreadable frame from the server: ${message.message}`));
      return;
    }
    this.dispatch(message);
  }

  private dispatch(message: ServerMessage): void {
    if (isPush(message)) {
      if (message.task === BuiltinPush.Welcome) this.onWelcome(message.data as Welcome);
      if (message.offset !== undefined && !this.inStream(message)) return;
      this.deliver(message.task, message.data);
      return;
    }
    if ("error" in message) {
      if (message.id === null) {
        this.report(new ClientError("protocol", `the server could not read a frame: ${message.error.message}`));
        return;
      }
      const call = this.pending.get(message.id);
      if (call) this.settle(message.id, new CallError(message.error.code, message.error.message, call.task));
      return;
    }
    const call = this.pending.get(message.id);
    if (call === undefined) return; // its timeout passed already
    this.pending.delete(message.id);
    clearTimeout(call.timer);
    if (call.onReply !== undefined) {
      try {
        call.onReply(message.data);
      } catch (err) {
        this.internalError(err);
      }
    }
    call.resolve(message.data);
  }

  private deliver(task: string, data: unknown): void {
    for (const callback of [...(this.subscribers.get(task) ?? [])]) {
      try {
        callback(data);
      } catch (err) {
        this.listenerThrew(`a subscriber of "${task}"`, err);
      }
    }
  }

  /** A live room push: false for a duplicate (at or below the last delivered); a gap or new epoch is reported. */
  private inStream(push: Push): boolean {
    const room = push.room!;
    const offset = push.offset!;
    const epoch = push.epoch!;
    if (this.recovering.has(room)) return false; // in the rejoin's replay, or after it
    const last = this.positions.get(room);
    if (last !== undefined && last.epoch === epoch && offset <= last.offset) return false;
    if (last !== undefined && (last.epoch !== epoch || offset > last.offset + 1)) {
      this.events.emit("unrecovered", { room, reason: last.epoch !== epoch ? "epoch" : "gap" });
    }
    this.positions.set(room, { offset, epoch });
    return true;
  }

  private onClose(socket: unknown, code: number, reason: string): void {
    if (socket !== this.socket) return;
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.socket = undefined;
    this.ready = false;
    this.connectionLost(code, reason, true, this.closedByUser ? undefined : this.refusalOf(code, reason));
    if (this.closedByUser) this.closing?.resolve();
  }

  /** The refusal a close stands for: a 44xx or 4002 close, or (Node) the HTTP status the upgrade got. */
  private refusalOf(code: number, reason: string): ClientError | undefined {
    const http = this.httpStatus;
    if (http !== undefined) {
      const equivalent = refusalCloseCode(http.status);
      const permanent = !describeCloseCode(equivalent).retryable;
      const details = { code: equivalent, reason: http.text, permanent, status: http.status };
      return new ClientError("refused", `${this.url} refused the upgrade with HTTP ${http.status} ${http.text}`.trim(), undefined, details);
    }
    if (!(isRefusalCloseCode(code) || code === CloseCode.SessionRejected)) return undefined;
    const { retryable, meaning } = describeCloseCode(code);
    const why = reason === "" ? meaning : reason;
    return new ClientError("refused", `the server refused the connection (${code}): ${why}`, undefined, { code, reason, permanent: !retryable });
  }

  /**
   * The one place a connection ends, with a socket (its close event) or without (an attempt
   * that failed before there was one, as 1006): retry with backoff after a retryable code,
   * otherwise close for good.
   */
  private connectionLost(code: number, reason: string, mayRetry = true, refusal?: ClientError): void {
    // Calls that went out may or may not have run: the caller decides whether to retry. (A
    // refused connection ran none; nothing is sent before the welcome anyway.)
    for (const [id, call] of this.pending) {
      if (!call.sent) continue;
      if (refusal !== undefined) this.settle(id, new CallError("refused", refusal.message, call.task));
      else this.settle(id, new CallError("disconnected", `connection closed (${code}) before the reply`, call.task));
    }
    const retryable = refusal === undefined ? isRetryableClose(code) : !refusal.permanent;
    const delay = mayRetry && !this.closed && retryable ? this.nextDelay() : undefined;
    // The refusal first: a `close` listener that reads `failure` or `state` sees the outcome.
    if (refusal !== undefined) this.report(refusal);
    if (delay === undefined && !this.closed) {
      this.closed = true;
      this.failure = refusal ?? new ClientError("connect", `connection closed (${code}${reason === "" ? "" : ` ${reason}`}) and will not reconnect`, undefined, {
        code, reason, permanent: !retryable || !mayRetry,
      });
      this.failAll(refusal === undefined ? "disconnected" : "refused", refusal?.message ?? `connection closed (${code}) and will not reconnect`);
      this.events.emit("close", code, reason, false);
      return;
    }
    // An `error` listener may have called close() just now: then there is no retry.
    this.events.emit("close", code, reason, delay !== undefined && !this.closed);
    if (this.closed || delay === undefined) return; // close() was called, maybe by a close listener just now
    this.lost = true;
    this.retryTimer = setTimeout(() => this.guard(() => this.connect()), delay);
  }

  /** The next backoff delay; undefined when attempts are used up (or `reconnect.random` threw). */
  private nextDelay(): number | undefined {
    if (this.backoff === undefined) return undefined;
    try {
      return this.backoff.next();
    } catch (err) {
      this.listenerThrew("reconnect.random", err, "; the client stops reconnecting");
      return undefined;
    }
  }

  private onSocketError(socket: unknown, event: unknown): void {
    // Closing on purpose makes `ws` report an aborted handshake: that is not an error. Nor is
    // the abort after an HTTP refusal: its close reports the refusal itself.
    if (socket !== this.socket || this.closedByUser || this.httpStatus !== undefined) return;
    const cause = (event as { error?: unknown } | null)?.error ?? event;
    const detail = (event as { message?: unknown } | null)?.message;
    // Browsers give no detail (on purpose); the close event that follows has the code.
    const why = typeof detail === "string" && detail !== "" ? detail : "the WebSocket reported an error";
    const what = this.socketOpened ? `the connection to ${this.url} failed` : `could not connect to ${this.url}`;
    this.report(new ClientError("connect", `${what}: ${why}`, cause));
  }

  /** To the app's `error` listeners; a bug nobody listens for goes to console.error (connect and protocol errors do not: the close event carries them). */
  private report(error: ClientError): void {
    if (this.events.has("error")) this.events.emit("error", error);
    else if (error.kind === "listener" || error.kind === "internal") logUnheard(error);
  }

  /** App code threw (`where` names it). An `error` listener's own throw goes to console.error, so it cannot loop. */
  private listenerThrew(where: string, thrown: unknown, consequence = ""): void {
    const error = new ClientError("listener", `${where} threw${consequence}: ${messageOf(thrown)}`, thrown);
    if (where === `an "error" listener`) logUnheard(error);
    else this.report(error);
  }

  private internalError(err: unknown): void {
    this.report(new ClientError("internal", `switchboard client bug, caught: ${messageOf(err)}`, err));
  }

  /** Where the event loop calls in (socket events, timers): nothing may escape to it. */
  private guard(run: () => void): void {
    try {
      run();
    } catch (err) {
      this.internalError(err);
    }
  }

  private write(text: string): boolean {
    if (!this.ready || this.socket?.readyState !== OPEN) return false;
    this.socket.send(text);
    return true;
  }

  private settle(id: number, err: CallError): void {
    const call = this.pending.get(id);
    if (call === undefined) return;
    this.pending.delete(id);
    clearTimeout(call.timer);
    call.reject(err);
  }

  private failAll(code: "closed" | "disconnected" | "refused", message: string): void {
    this.queue.clear();
    for (const id of [...this.pending.keys()]) this.settle(id, new CallError(code, message, this.pending.get(id)!.task));
  }
}

function initialRooms(room: string | string[] | null | undefined): string[] {
  if (room === null) return [];
  if (room !== undefined) return Array.isArray(room) ? room : [room];
  // As Zephclient did: a page's room is its own path.
  const location = (globalThis as { location?: { pathname?: string } }).location;
  return location?.pathname ? [location.pathname] : [];
}

function globalWebSocket(): WebSocketConstructor | undefined {
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  return typeof global === "function" ? global : undefined;
}

function checkTimeout(ms: number, name: string): number {
  if (!(Number.isFinite(ms) && ms >= 0 && ms <= MAX_TIMEOUT_MS)) {
    throw new RangeError(`${name} must be a number of ms from 0 (none) to ${MAX_TIMEOUT_MS}, got ${ms}`);
  }
  return ms;
}

/** The rules a browser's WebSocket.close() enforces; the same in Node, so one program behaves the same in both. */
function checkCloseFrame(code: number, reason: string): void {
  if (!(code === CloseCode.Normal || (Number.isInteger(code) && code >= 3000 && code <= 4999))) {
    throw new RangeError(`close code must be 1000 or an integer from 3000 to 4999 (what a browser lets a client send), got ${code}`);
  }
  const bytes = new TextEncoder().encode(String(reason)).length;
  if (bytes > 123) throw new SyntaxError(`close reason must be at most 123 bytes of UTF-8 (it goes in one control frame), got ${bytes}`);
}

/** A position as the server sends it (the welcome is not checked by the parser beyond its shape). */
function isPosition(value: unknown): value is StreamPosition {
  if (typeof value !== "object" || value === null) return false;
  const { offset, epoch } = value as Record<string, unknown>;
  return typeof offset === "number" && Number.isSafeInteger(offset) && offset >= 0 && typeof epoch === "string" && epoch !== "";
}
