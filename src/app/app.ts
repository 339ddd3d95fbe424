/**
 * An app: an endpoint that speaks the documented JSON protocol (docs/protocol.md) — tasks,
 * replies, pushes, rooms, presence, sessions. Built on the endpoint API (hooks, prepare,
 * sendPrepared), not beside it: `server.app(path, options)` mounts one.
 */
import { z } from "zod";
import { OptionError, HandshakeRejection, reject, toCloseCode } from "../errors.ts";
import { asError, runHook } from "../hooks.ts";
import { LIMITS, type LimitName } from "../limits.ts";
import type { Logger } from "../log.ts";
import { encodePush } from "../protocol/codec.ts";
import { refusalCloseCode } from "../protocol/close-codes.ts";
import { BuiltinTask, STREAMS_PARAM, SUBPROTOCOL, type StreamPosition } from "../protocol/messages.ts";
import type { Connection } from "../endpoint/connection.ts";
import type { Endpoint } from "../endpoint/endpoint.ts";
import type { HandshakeRequest } from "../endpoint/handshake.ts";
import type { EndpointOptions } from "../options.ts";
import type { PreparedMessage } from "../transport/socket.ts";
import { AppConn, type AppConnShared } from "./app-connection.ts";
import { AppConnections } from "./app-connections.ts";
import { PushGate, newPushCounters, type PushCounters, type PushPolicy } from "./push.ts";
import { Rooms, isRoomName, type PendingRoomJoin } from "./rooms.ts";
import { afterReply } from "./after-reply.ts";
import { encodeWelcome } from "./welcome.ts";
import { ClusterRooms } from "./cluster-rooms.ts";
import type { ClusterService } from "../cluster/index.ts";
import { Router, type RouterStats, type TaskObserver, type WorkTracker } from "./router.ts";
import { anonymousUser, type Session, type User } from "./sessions.ts";
import { TaskAbort, TaskError, type AppConnection, type TaskDefinition, type TaskHandler, type TaskOptions } from "./task.ts";

/**
 * Who may be in which room. true (default): anyone, anywhere. false: the rooms of `?room=` at
 * connect only (room.join / room.leave → forbidden). A function decides each case, including
 * "connect" (refused there: accepted, then closed with 4403).
 */
export type RoomAction = "connect" | "join" | "leave";
export type RoomPolicy = boolean | ((user: User, room: string, action: RoomAction) => boolean | Promise<boolean>);

export interface AppOptions {
  /** session(req) → user | rejection. Default: anonymous users. */
  session?: Session;
  /** Send room.joined / room.left pushes and list members in replies. Default false. */
  presence?: boolean;
  /** Room policy: `?room=` at connect (closed with 4403) and room.join / room.leave (`forbidden`). */
  rooms?: RoomPolicy;
  /** Over `maxPushBufferedBytes`: "drop" the push (default) or "close" the connection (4000). */
  pushPolicy?: PushPolicy;
  taskTimeoutMs?: number;
  maxInFlightTasks?: number;
  maxBadMessages?: number;
  badMessageWindowMs?: number;
  maxRoomsPerConnection?: number;
  maxPushBufferedBytes?: number;
  /**
   * Called when a connection has joined its rooms and been welcomed / when it is gone. Either
   * may be async. A throw or rejection of `open` is logged and closes that connection with
   * 1011; one of `close` is logged only.
   */
  open?(conn: AppConnection): void | Promise<void>;
  close?(conn: AppConnection, code: number, reason: string): void | Promise<void>;
  /** Endpoint settings passed through (maxConnections, maxPayload, idPrefix, …). */
  endpoint?: Omit<EndpointOptions<AppData>, "handshake" | "open" | "message" | "close" | "protocols" | "protocolMismatch" | "defaultData">;
}

/** What the handshake stores on the endpoint connection (replaced by its AppConn at open). */
export interface AppData {
  /** A number for an app without a session: its anonymous user `anon-<n>`, made when first read. */
  user: User | number;
  rooms: readonly string[];
  /** `?streams=1`: room pushes with their stream position (docs/protocol.md, "Room streams"). */
  streams: boolean;
  /**
   * Set when the app refused the connection. It is accepted at the WebSocket level and closed
   * at once with this code (docs/protocol.md, "Refusals"): a browser cannot read the HTTP
   * status of a refused upgrade, but it reads a close code. It never becomes an app connection.
   */
  refusal?: { code: number; reason: string };
}

export interface AppStats extends RouterStats {
  connections: number;
  rooms: number;
  pushes: PushCounters;
  /** Connections the app refused (accepted by the endpoint, then closed with a 44xx/1011/1013 code; docs/protocol.md, "Refusals"). */
  refused: number;
}

const APP_KEYS = new Set([
  "session", "presence", "rooms", "pushPolicy", "taskTimeoutMs", "maxInFlightTasks", "maxBadMessages",
  "badMessageWindowMs", "maxRoomsPerConnection", "maxPushBufferedBytes", "open", "close", "endpoint",
]);

const roomData = z.object({ room: z.string().min(1).max(256) });
const joinData = roomData.extend({
  since: z.object({ offset: z.number().int().min(0), epoch: z.string().min(1).max(128) }).optional(),
  history: z.number().int().min(0).optional(),
});

export class App {
  readonly rooms: Rooms;
  readonly #cluster: ClusterRooms;
  readonly #tasks = new Map<string, TaskDefinition<any, any, any>>();
  /** The live connections: a view of the endpoint's table, whose data is each one's AppConn. */
  readonly #conns = new AppConnections();
  /**
   * Connections whose `?room=` joins are settling, with the presence pushes and broadcasts that
   * came for them meanwhile: the welcome is their first frame, these follow it (at most
   * `handoverMaxPushes`, the engine's bound for the same window; more are dropped and counted).
   */
  readonly #welcoming = new Map<AppConn, PreparedMessage[]>();
  readonly #maxHeldPushes: number;
  readonly #router: Router;
  readonly #gate: PushGate;
  /** The push gate and the bad-message limits, shared by the connections without / with `?streams=1`. */
  readonly #connShared: readonly [plain: AppConnShared, streams: AppConnShared];
  readonly #log: Logger;
  /** Undefined: the default, anonymous users (`anon-1`, `anon-2`, … per app). */
  readonly #session: Session | undefined;
  #anonymousUsers = 0;
  readonly #limits: Record<"taskTimeoutMs" | "maxInFlightTasks" | "maxBadMessages" | "badMessageWindowMs" | "maxRoomsPerConnection" | "maxPushBufferedBytes", number>;
  #endpoint: Endpoint<AppSlot> | undefined;
  /** Connections refused at connect (closed before their welcome). */
  #refused = 0;

  constructor(readonly path: string, private readonly options: AppOptions, log: Logger, cluster: ClusterService, work?: WorkTracker) {
    this.#log = log.child({ app: path });
    for (const key of Object.keys(options)) {
      if (!APP_KEYS.has(key)) throw new OptionError(key, `unknown app option (known: ${[...APP_KEYS].join(", ")})`);
    }
    this.#limits = {
      taskTimeoutMs: appLimit(options, "taskTimeoutMs"),
      maxInFlightTasks: appLimit(options, "maxInFlightTasks"),
      maxBadMessages: appLimit(options, "maxBadMessages"),
      badMessageWindowMs: appLimit(options, "badMessageWindowMs"),
      maxRoomsPerConnection: appLimit(options, "maxRoomsPerConnection"),
      maxPushBufferedBytes: appLimit(options, "maxPushBufferedBytes"),
    };
    this.#session = options.session;
    this.#maxHeldPushes = cluster.limits.handoverMaxPushes;
    this.#gate = new PushGate(options.pushPolicy ?? "drop", this.#limits.maxPushBufferedBytes, newPushCounters());
    const budgetLimits = { max: this.#limits.maxBadMessages, windowMs: this.#limits.badMessageWindowMs };
    this.#connShared = [{ gate: this.#gate, budgetLimits, streams: false }, { gate: this.#gate, budgetLimits, streams: true }];
    this.#cluster = new ClusterRooms(path, cluster, {
      all: (text) => void this.#fanout(this.#conns.values(), text),
    }, this.#log);
    this.rooms = new Rooms(
      (members, text) => this.#fanout(members, text), (id) => this.#conns.get(id), options.presence === true, this.#cluster,
    );
    this.#router = new Router(this.#tasks, this.rooms, this.#limits, this.#log, undefined, work);
    this.#registerBuiltins();
  }

  /** Register a task: `task(name, handler)`, `task(name, { schema, guard, handler, … })` or `task(defineTask(…))`. */
  task<D = unknown, R = unknown>(name: string, handler: TaskHandler<D, R> | TaskOptions<D, R>): this;
  task<D = unknown, R = unknown>(definition: TaskDefinition<D, R>): this;
  task(nameOrDef: string | TaskDefinition<any, any, any>, spec?: TaskHandler<any, any, any> | TaskOptions<any, any, any>): this {
    const definition: TaskDefinition<any, any, any> =
      typeof nameOrDef === "string" ? (typeof spec === "function" ? { name: nameOrDef, handler: spec } : { ...spec, name: nameOrDef }) : nameOrDef;
    this.#define(definition, false);
    return this;
  }

  /**
   * Unregister a task: calls from now on get `unknown_task`; calls already running finish.
   * Returns whether it was registered. The built-in room.* and switchboard.* tasks stay.
   * (`switchboard serve --watch` removes and re-adds a task when its file changes.)
   */
  removeTask(name: string): boolean {
    if (name.startsWith("room.") || name.startsWith("switchboard.")) throw new OptionError("task", `"${name}": the built-in room.* and switchboard.* tasks cannot be removed`);
    return this.#tasks.delete(name);
  }

  /** Push to every connection of the app on every node (serialised once, framed once per node); returns how many it reached on this node. */
  broadcast(task: string, data: unknown, options: { except?: AppConnection } = {}): number {
    const text = encodePush(task, data);
    this.#cluster.publishAll(text);
    const members = [...this.#conns.values()].filter((conn) => conn.id !== options.except?.id);
    return this.#fanout(members, text);
  }

  /** The app's live connections, by id. */
  get connections(): ReadonlyMap<string, AppConnection> {
    return this.#conns;
  }

  stats(): AppStats {
    return { ...this.#router.stats, connections: this.#conns.size, rooms: this.rooms.list().length, pushes: { ...this.#gate.counters }, refused: this.#refused };
  }

  /**
   * The server has stopped waiting for tasks (it closes the connections next): every call
   * still running is answered `unavailable` now, on its still-open connection, and its signal
   * fires. A task that settles later sends nothing: one reply per call.
   */
  stop(): void {
    const reason = new TaskAbort("stopped", "the server is stopping");
    for (const conn of this.#conns.values()) if (conn.inFlight > 0) this.#router.abortAll(conn, reason);
  }

  /** @internal The server's task observer (metrics, debug lines): told once per task call. */
  observeTasks(observer: TaskObserver): void {
    this.#router.observer = observer;
  }

  /** @internal The connections are gone: stop hearing the other nodes. */
  detach(): void {
    this.#cluster.stop();
  }

  /** @internal The endpoint hooks that make the endpoint speak the protocol. */
  endpointOptions(): EndpointOptions<AppSlot> {
    return {
      ...this.options.endpoint,
      protocols: [SUBPROTOCOL],
      // A client that offers only other subprotocols is refused by the app (4406), not with 400.
      protocolMismatch: "accept",
      // Synchronous unless session() or the room policy is async: no promise, microtask or
      // client-gone watch for an upgrade that can be decided at once (most of them).
      handshake: (req) => {
        const data = this.#handshake(req);
        return data instanceof Promise ? data.then((settled) => handshakeResult(req, settled)) : handshakeResult(req, data);
      },
      open: (conn) => this.#open(conn),
      message: (conn, data, isBinary) => {
        const appConn = conn.data;
        if (appConn instanceof AppConn) this.#router.handle(appConn, data, isBinary);
      },
      close: (conn, code, reason) => this.#close(conn, code, reason),
    };
  }

  /** @internal */
  attach(endpoint: Endpoint<AppSlot>): void {
    this.#endpoint = endpoint;
    this.#conns.bind(endpoint.connections as ReadonlyMap<string, Connection<unknown>>);
    this.#cluster.start();
    this.#cluster.onRoomPush((push, recipients) => this.rooms.deliverPush(push, recipients));
  }

  /**
   * Admit the upgrade, or refuse it with a code of the 44xx block (docs/protocol.md, "Refusals").
   * Synchronous while session() and the room policy answer synchronously.
   */
  #handshake(req: HandshakeRequest): AppData | Promise<AppData> {
    try {
      const admitted = this.#admit(req);
      return admitted instanceof Promise ? admitted.then(undefined, (err: unknown) => this.#refusedAtConnect(err)) : admitted;
    } catch (err) {
      return this.#refusedAtConnect(err);
    }
  }

  #refusedAtConnect(err: unknown): AppData {
    if (err instanceof HandshakeRejection) return refused(refusalCloseCode(err.status), err.reason);
    // A bug of session() or the room policy, not the client's fault: 1011, which a client retries.
    this.#log.error({ err: asError(err) }, "session or room policy threw at connect; the connection is refused with 1011");
    return refused(refusalCloseCode(500), "internal error");
  }

  /** Throws (or rejects with) the refusal. */
  #admit(req: HandshakeRequest): AppData | Promise<AppData> {
    if (req.protocol === "" && req.protocols.length > 0) {
      throw reject(406, `subprotocol not supported; this server speaks ${SUBPROTOCOL}`);
    }
    const rooms = roomsAtConnect(req);
    if (rooms.some((room) => !isRoomName(room))) throw reject(400, "a room name is 1-256 characters");
    if (rooms.length > this.#limits.maxRoomsPerConnection) throw reject(400, "too many rooms");
    const session = this.#session;
    if (session === undefined) return this.#admitted(req, rooms, ++this.#anonymousUsers);
    const user = session(req);
    return isThenable(user) ? Promise.resolve(user).then((settled) => this.#admitUser(req, rooms, settled as User | HandshakeRejection)) : this.#admitUser(req, rooms, user);
  }

  #admitUser(req: HandshakeRequest, rooms: readonly string[], user: User | HandshakeRejection): AppData | Promise<AppData> {
    if (user instanceof HandshakeRejection) throw user;
    if (typeof user !== "object" || user === null || typeof user.id !== "string" || typeof user.name !== "string") {
      throw new Error("session() must return { id: string, name: string, … } or a rejection");
    }
    return this.#admitted(req, rooms, user);
  }

  /** The user is known (an anonymous one by its number): the room policy for `?room=`, then the data. */
  #admitted(req: HandshakeRequest, rooms: readonly string[], user: User | number): AppData | Promise<AppData> {
    const data: AppData = { user, rooms, streams: hasQuery(req) && req.query.get(STREAMS_PARAM) === "1" };
    if (rooms.length === 0 || typeof this.options.rooms !== "function") return data;
    // The policy reads the user: an anonymous one is made now, and kept.
    const known = typeof user === "number" ? (data.user = anonymousUser(user)) : user;
    const allowed = this.#connectRoomsAllowed(known, rooms, 0);
    return allowed === undefined ? data : allowed.then(() => data);
  }

  /**
   * The room policy for the `?room=` rooms, in order, from `from` on: returns once all are
   * allowed, throws (or rejects with) the 403 of the first that is not. A policy that answers
   * synchronously keeps the handshake synchronous.
   */
  #connectRoomsAllowed(user: User, rooms: readonly string[], from: number): undefined | Promise<void> {
    const policy = this.options.rooms ?? true;
    if (typeof policy !== "function") return undefined; // true or false: the rooms of ?room= are allowed at connect
    for (let i = from; i < rooms.length; i++) {
      const room = rooms[i]!;
      const answer = policy(user, room, "connect");
      if (isThenable(answer)) {
        return Promise.resolve(answer).then((settled) => {
          if (settled !== true) throw forbiddenAtConnect(room);
          return this.#connectRoomsAllowed(user, rooms, i + 1);
        });
      }
      if (answer !== true) throw forbiddenAtConnect(room);
    }
    return undefined;
  }

  #open(raw: Connection<AppSlot>): void {
    const data = raw.data as AppData; // open runs once, before which the data is the handshake's
    const refusal = data.refusal;
    if (refusal !== undefined) {
      // Its slot in maxConnections is held until the socket is gone (closeTimeoutMs at most).
      this.#refused++;
      this.#log.debug({ conn: raw.id, code: refusal.code, reason: refusal.reason }, "connection refused by the app");
      raw.close(refusal.code, refusal.reason);
      return;
    }
    const conn = new AppConn(raw as Connection<unknown>, data.user, this.#connShared[data.streams ? 1 : 0]);
    // From here on the endpoint connection's data is its AppConn: the handshake's object goes.
    raw.data = conn;
    this.#conns.opened();
    const rooms = data.rooms;
    // No `?room=` rooms: nothing to wait for, so the welcome goes out now (in the same write as
    // the 101 where the transport can) and no push can come before it.
    if (rooms.length === 0) return this.#welcome(raw, conn, rooms, NO_JOINS);
    this.#welcoming.set(conn, []);
    // The `?room=` rooms are joined BEFORE the welcome, and their live pushes start after it (the
    // same switch as a room.join reply): a push published once the client is welcomed reaches
    // it, and its welcome carries the position it recovers from. Joins never reject.
    void Promise.all(rooms.map((room) => this.rooms.joinPending(conn, room))).then(
      (joins) => this.#welcome(raw, conn, rooms, joins),
      (err: unknown) => {
        // Not expected (joinPending never rejects): treated like a failed open hook.
        this.#log.error({ err, conn: conn.id }, "connect-time room join failed; closing its connection with 1011");
        if (raw.isOpen) conn.close(toCloseCode(err), "internal error");
      },
    );
  }

  /** The connect-time joins took effect: the welcome, THEN their live pushes, THEN the open hook. */
  #welcome(raw: Connection<AppSlot>, conn: AppConn, rooms: readonly string[], joins: readonly PendingRoomJoin[]): void {
    // fromEntries, not assignment: a room named "__proto__" stays an own key.
    const positions = conn.streams ? Object.fromEntries(rooms.flatMap((room, i) => positionOf(room, joins[i]!))) : undefined;
    const held = this.#welcoming.get(conn) ?? NO_HELD;
    if (held !== NO_HELD) this.#welcoming.delete(conn);
    // Closing or gone meanwhile (then #close has run or will: out of its rooms, close hook called): no welcome, no open hook.
    const live = raw.isOpen;
    if (live) {
      conn.reply(encodeWelcome(conn.id, conn.welcomeUser, rooms, positions));
      for (const prepared of held) conn.pushPrepared(prepared);
    }
    for (const join of joins) join.resume();
    // No hook, no call: its arguments and error handler would be made per connection for nothing.
    if (!live || this.options.open === undefined) return;
    runHook(this.options.open, [conn], (err) => {
      // Like an endpoint hook that fails: logged, and its connection closed with 1011.
      this.#log.error({ err, conn: conn.id }, "app open hook failed; closing its connection with 1011");
      if (raw.isOpen) conn.close(toCloseCode(err), "internal error");
    });
  }

  #close(raw: Connection<AppSlot>, code: number, reason: string): void {
    const conn = raw.data;
    if (!(conn instanceof AppConn)) return; // refused at connect: never an app connection
    if (conn.inFlight > 0) this.#router.abortAll(conn, new TaskAbort("disconnected", `the client disconnected (${code})`));
    this.#conns.closed();
    if (this.#welcoming.size > 0) this.#welcoming.delete(conn);
    if (conn.rooms.size > 0) this.rooms.leaveAll(conn);
    if (this.options.close === undefined) return;
    runHook(this.options.close, [conn, code, reason], (err) => this.#log.error({ err, conn: conn.id }, "app close hook failed"));
  }

  /** Serialised once by the caller; framed once here; written to each member the gate admits. */
  #fanout(members: Iterable<AppConn>, text: string): number {
    if (this.#endpoint === undefined) return 0;
    const prepared = this.#endpoint.prepare(text, false);
    let reached = 0;
    // The welcome is the first frame: a presence push or broadcast for a connection still
    // joining its `?room=` rooms (its own room.joined included) is held and sent right after
    // its welcome. Stream pushes wait in the engine's handover instead. The map is empty but
    // while connections join.
    const welcoming = this.#welcoming.size > 0;
    for (const member of members) {
      const held = welcoming ? this.#welcoming.get(member) : undefined;
      if (held !== undefined) {
        if (held.length < this.#maxHeldPushes) held.push(prepared);
        else this.#gate.counters.dropped++;
        continue;
      }
      if (member.pushPrepared(prepared)) reached++;
    }
    return reached;
  }

  async #roomAllowed(user: User, room: string, action: RoomAction): Promise<boolean> {
    const policy = this.options.rooms ?? true;
    if (typeof policy === "function") return (await policy(user, room, action)) === true;
    return policy || action === "connect";
  }

  #define(definition: TaskDefinition<any, any, any>, builtin: boolean): void {
    const { name } = definition;
    if (typeof name !== "string" || !/^[\x21-\x7e]{1,128}$/.test(name)) throw new OptionError("task", `bad task name ${JSON.stringify(name)}`);
    if (!builtin && (name.startsWith("room.") || name.startsWith("switchboard."))) throw new OptionError("task", `"${name}": the room.* and switchboard.* names are reserved`);
    if (this.#tasks.has(name)) throw new OptionError("task", `a task "${name}" is already registered`);
    if (definition.handler === undefined && definition.worker === undefined) throw new OptionError("task", `"${name}" needs a handler or a worker`);
    if (definition.timeoutMs !== undefined && !(Number.isInteger(definition.timeoutMs) && definition.timeoutMs >= 1)) {
      throw new OptionError("timeoutMs", `task "${name}": must be an integer >= 1`);
    }
    this.#tasks.set(name, definition);
  }

  #registerBuiltins(): void {
    const roomGuard = (action: "join" | "leave") => (ctx: { data: { room: string }; user: User }) => this.#roomAllowed(ctx.user, ctx.data.room, action);
    const withMembers = async (room: string) => (this.options.presence === true ? { room, members: await this.rooms.clusterMembers(room) } : { room });
    // A room the connection is already in (joined at connect) may be re-joined with `since` to
    // recover, whatever the policy: membership does not change.
    const joinGuard = (ctx: { data: { room: string }; user: User; conn: AppConnection }) => ctx.conn.rooms.has(ctx.data.room) || roomGuard("join")(ctx);
    this.#define({
      name: BuiltinTask.RoomJoin, schema: joinData, guard: joinGuard,
      handler: async ({ data, conn, signal }) => {
        if (!conn.rooms.has(data.room) && conn.rooms.size >= this.#limits.maxRoomsPerConnection) throw new TaskError("bad_request", "too many rooms");
        // Replied once the cluster knows: pushes from any node reach the member from then on.
        const join = await this.rooms.joinPending(conn, data.room, { since: data.since, history: data.history });
        if (signal.aborted) join.resume(); // no reply will go out (timeout, disconnect): live now
        const reply: Record<string, unknown> = await withMembers(data.room);
        if ((conn as AppConn).streams) Object.assign(reply, { offset: join.offset, epoch: join.epoch });
        if (data.since !== undefined || data.history !== undefined) Object.assign(reply, { pushes: join.pushes, recovered: join.recovered });
        // The reply (with the replay) first, THEN the live pushes above its offset.
        return afterReply(reply, () => join.resume());
      },
    }, true);
    this.#define({
      name: BuiltinTask.RoomLeave, schema: roomData, guard: roomGuard("leave"),
      handler: ({ data, conn }) => {
        this.rooms.leave(conn, data.room);
        return { room: data.room };
      },
    }, true);
    this.#define({
      name: BuiltinTask.RoomMembers, schema: roomData,
      guard: ({ data, conn }: { data: { room: string }; conn: AppConnection }) => this.options.presence === true && conn.rooms.has(data.room),
      handler: ({ data }) => withMembers(data.room),
    }, true);
  }
}

/** `?room=` (repeatable); else the path of the page the client came from (Referer), as Zephclient did. */
function roomsAtConnect(req: HandshakeRequest): readonly string[] {
  const rooms = hasQuery(req) ? req.query.getAll("room") : NO_ROOMS;
  if (rooms.length > 0) return [...new Set(rooms)];
  const referer = req.headers.referer;
  // No rooms: one shared empty list (it stays in the connection's data for its whole life).
  if (typeof referer !== "string") return NO_ROOMS;
  try {
    return [new URL(referer).pathname];
  } catch {
    return NO_ROOMS; // an unparsable Referer is ignored: no room
  }
}

const NO_ROOMS: readonly string[] = [];

/** A URL without `?` has no parameters: its query (a URLSearchParams made on first read) is not needed. */
function hasQuery(req: HandshakeRequest): boolean {
  return req.url.includes("?");
}

/** The connect-time joins and held pushes of a connection with no `?room=` rooms (never written to). */
const NO_JOINS: readonly PendingRoomJoin[] = [];
const NO_HELD: readonly PreparedMessage[] = [];

/**
 * The handshake hook's answer. Browsers and ws fail an upgrade that offered subprotocols and
 * got none back, and would never read the 4406: the refusal selects the client's first offer
 * (and speaks nothing).
 */
function handshakeResult(req: HandshakeRequest, data: AppData): { data: AppData; protocol?: string } {
  return data.refusal !== undefined && req.protocol === "" && req.protocols.length > 0 ? { data, protocol: req.protocols[0]! } : { data };
}

function forbiddenAtConnect(room: string): HandshakeRejection {
  return reject(403, `may not join room ${room.slice(0, 64)}`);
}

/** A promise or any thenable (what `await` would wait for). Reads `then`: a getter of user code may throw. */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as { then?: unknown }).then === "function";
}

/** The handshake data of a refused connection: no user, no rooms; #open closes it with `code`. */
function refused(code: number, reason: string): AppData {
  return { user: { id: "", name: "" }, rooms: [], streams: false, refusal: { code, reason } };
}

function appLimit(options: AppOptions, name: LimitName & keyof AppOptions): number {
  const value = options[name];
  const spec = LIMITS[name];
  if (value === undefined) return spec.default;
  if (typeof value !== "number" || !Number.isInteger(value) || value < spec.min) {
    throw new OptionError(name, `must be an integer >= ${spec.min}, got ${String(value)}`);
  }
  return value;
}

/** An app endpoint connection's data: what the handshake admitted, then (from open on) its AppConn. */
type AppSlot = AppData | AppConn;

/** A connect-time room's welcome entry; none when the engine could not tell (its join failed). */
function positionOf(room: string, join: StreamPosition): [string, StreamPosition][] {
  return join.epoch === "" ? [] : [[room, { offset: join.offset, epoch: join.epoch }]];
}
