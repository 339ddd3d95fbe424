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
  BuiltinPush, BuiltinTask, SUBPROTOCOL,
  type PresenceMember, type ServerMessage, type TaskSpec, type Welcome,
} from "../src/protocol/messages.ts";
import { CloseCode } from "../src/protocol/close-codes.ts";
import { CallError } from "./call-error.ts";
import { Emitter, reportListenerError } from "./events.ts";
import { OfflineQueue } from "./offline-queue.ts";
import { Backoff, isRetryableClose, type ReconnectOptions } from "./reconnect.ts";

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
  /** Default timeout of call() (default 30 000 ms; 0 = none). */
  callTimeoutMs?: number;
}

export interface ClientEvents {
  [event: string]: unknown[];
  /** The socket is open (first time and after every reconnect). */
  open: [];
  /** The socket closed; `willReconnect` says whether the client will try again. */
  close: [code: number, reason: string, willReconnect: boolean];
  /** The socket is open again after it was lost; `attempts` it took. */
  reconnect: [attempts: number];
  /** The server sent something this client could not read. */
  error: [error: Error];
}

type AnyTasks = Record<string, TaskSpec>;
type AnyPushes = Record<string, unknown>;
type Subscriber = (data: unknown) => void;

interface PendingCall {
  readonly task: string;
  resolve(value: unknown): void;
  reject(err: CallError): void;
  timer: ReturnType<typeof setTimeout> | undefined;
  sent: boolean;
}

const OPEN = 1;

/**
 * T maps task names to { data, reply }; P maps push names to their data. Plain interfaces
 * work (no index signature needed).
 */
export class Client<T extends { [K in keyof T]: TaskSpec } = AnyTasks, P extends { [K in keyof P]: unknown } = AnyPushes> {
  /** The server's welcome on the current connection (user, connection id, rooms). */
  welcome: Welcome | undefined;
  private socket: InstanceType<WebSocketConstructor> | undefined;
  private readonly events = new Emitter<ClientEvents>();
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  private readonly pending = new Map<number, PendingCall>();
  private readonly queue: OfflineQueue;
  private readonly backoff: Backoff | undefined;
  private readonly rooms: Set<string>;
  private nextId = 1;
  private closed = false;
  /** close() was called (as opposed to a final, non-retryable close from the server). */
  private closedByUser = false;
  private lost = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly callTimeoutMs: number;

  constructor(readonly url: string, private readonly options: ClientOptions = {}) {
    this.queue = new OfflineQueue(options.maxOfflineQueue);
    this.backoff = options.reconnect === false ? undefined : new Backoff(options.reconnect === true ? {} : options.reconnect);
    this.rooms = new Set(initialRooms(options.room));
    this.callTimeoutMs = options.callTimeoutMs ?? 30_000;
    void this.connect();
  }

  get connected(): boolean {
    return this.socket?.readyState === OPEN;
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

  private request(task: string, data: unknown, options: { timeoutMs?: number }): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        const code = this.closedByUser ? "closed" : "disconnected";
        return reject(new CallError(code, code === "closed" ? "the client is closed" : "the connection closed for good", task));
      }
      const id = this.nextId++;
      const text = encodeRequest(task, data, id);
      const call: PendingCall = { task, resolve, reject, timer: undefined, sent: false };
      const timeoutMs = options.timeoutMs ?? this.callTimeoutMs;
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

  /** Join a room now and after every reconnect. */
  async join(room: string): Promise<{ room: string; members?: PresenceMember[] }> {
    const reply = (await this.request(BuiltinTask.RoomJoin, { room }, {})) as { room: string; members?: PresenceMember[] };
    this.rooms.add(room);
    return reply;
  }

  async leave(room: string): Promise<void> {
    await this.request(BuiltinTask.RoomLeave, { room }, {});
    this.rooms.delete(room);
  }

  /** Close for good: no reconnect; pending calls reject with "closed". */
  close(code: number = CloseCode.Normal, reason = ""): void {
    if (this.closed && this.closedByUser) return;
    this.closed = true;
    this.closedByUser = true;
    clearTimeout(this.retryTimer);
    this.socket?.close(code, reason);
    this.failAll("closed", "the client was closed");
  }

  private async connect(): Promise<void> {
    let Ctor: WebSocketConstructor;
    try {
      Ctor = await resolveWebSocket(this.options.WebSocket);
    } catch (err) {
      this.events.emit("error", err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (this.closed) return;
    const socket = new Ctor(this.connectUrl(), SUBPROTOCOL);
    this.socket = socket;
    socket.onopen = () => this.onOpen();
    socket.onmessage = (event: { data: unknown }) => this.onMessage(event.data);
    socket.onclose = (event: { code: number; reason: string }) => this.onClose(socket, event.code, String(event.reason ?? ""));
    // Errors are always followed by a close event, which is where they are handled.
    socket.onerror = () => undefined;
  }

  private connectUrl(): string {
    const url = new URL(this.url);
    for (const room of this.rooms) url.searchParams.append("room", room);
    const session = typeof this.options.session === "function" ? this.options.session() : this.options.session;
    if (session !== undefined) url.searchParams.set("session", session);
    return url.toString();
  }

  private onOpen(): void {
    const attempts = this.backoff?.attempts ?? 0;
    this.backoff?.reset();
    this.queue.drain((frame) => {
      if (!this.write(frame.text)) return false;
      const call = frame.id === undefined ? undefined : this.pending.get(frame.id);
      if (call) call.sent = true;
      return true;
    });
    this.events.emit("open");
    if (this.lost) this.events.emit("reconnect", attempts);
  }

  private onMessage(raw: unknown): void {
    if (typeof raw !== "string") {
      this.events.emit("error", new Error("the server sent a binary frame, which protocol v1 does not use"));
      return;
    }
    const message = parseServerMessage(raw);
    if (message instanceof ProtocolError) {
      this.events.emit("error", new Error(`unreadable frame from the server: ${message.message}`));
      return;
    }
    this.dispatch(message);
  }

  private dispatch(message: ServerMessage): void {
    if (isPush(message)) {
      if (message.task === BuiltinPush.Welcome) this.welcome = message.data as Welcome;
      for (const callback of [...(this.subscribers.get(message.task) ?? [])]) {
        try {
          callback(message.data);
        } catch (err) {
          reportListenerError(err);
        }
      }
      return;
    }
    if ("error" in message) {
      if (message.id === null) {
        this.events.emit("error", new Error(`the server could not read a frame: ${message.error.message}`));
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
    call.resolve(message.data);
  }

  private onClose(socket: unknown, code: number, reason: string): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    // Calls that went out may or may not have run: the caller decides whether to retry.
    for (const [id, call] of this.pending) {
      if (call.sent) this.settle(id, new CallError("disconnected", `connection closed (${code}) before the reply`, call.task));
    }
    const delay = !this.closed && this.backoff !== undefined && isRetryableClose(code) ? this.backoff.next() : undefined;
    this.events.emit("close", code, reason, delay !== undefined);
    if (this.closed) return;
    if (delay === undefined) {
      this.closed = true;
      this.failAll("disconnected", `connection closed (${code}) and will not reconnect`);
      return;
    }
    this.lost = true;
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }

  private write(text: string): boolean {
    if (this.socket?.readyState !== OPEN) return false;
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

  private failAll(code: "closed" | "disconnected", message: string): void {
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

async function resolveWebSocket(given: WebSocketConstructor | undefined): Promise<WebSocketConstructor> {
  if (given !== undefined) return given;
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (typeof global === "function") return global;
  const mod = await import("ws");
  return mod.WebSocket as unknown as WebSocketConstructor;
}
