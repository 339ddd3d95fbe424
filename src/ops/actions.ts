/**
 * The operations on a running server, one implementation each: the server API (api.ts) and
 * the admin page (whose browser code calls the same /api/… routes) are two front ends over
 * these. Each validates its input (zod) and throws an ApiError with a stable code.
 */
import { z } from "zod";
import { CloseCode, isSendableCloseCode } from "../protocol/close-codes.ts";
import type { App } from "../app/app.ts";
import type { AppConnection } from "../app/task.ts";
import type { Connection } from "../endpoint/connection.ts";
import type { Endpoint } from "../endpoint/endpoint.ts";
import type { ClusterService } from "../cluster/index.ts";
import type { Supervisor, ServiceStatus, ServiceState } from "../runtime/supervisor.ts";
import type { CommandTable } from "../control/commands.ts";
import type { ControlContext } from "../control/context.ts";
import type { ControlReply } from "../control/protocol.ts";
import type { PresenceMember } from "../protocol/messages.ts";
import { ApiError, badRequest } from "./errors.ts";
import { paging, pageOf, type Page } from "./paging.ts";
import { statsSnapshot, type StatsSnapshot } from "./stats.ts";

/** What the operations need of the server (Server implements it; see server.ts). */
export interface OpsHost {
  readonly endpoints: ReadonlyMap<string, Endpoint<unknown>>;
  apps(): readonly App[];
  readonly services: Supervisor;
  readonly cluster: ClusterService;
  uptimeSeconds(): number;
  pendingHandshakes(): number;
  /** The level in force, and a way to change it (throws OptionError on an unknown level). */
  logLevel(): string;
  setLogLevel(level: string): string;
  /** The control context POST /api/command runs commands against. */
  controlContext(): ControlContext;
}

/** RFC 6455 §5.5: a close frame carries at most 123 bytes of reason. */
const MAX_REASON_BYTES = 123;
/** Commands the API does not run: a stop over HTTP would cut off its own reply. */
const API_REFUSED_COMMANDS = new Set(["stop"]);

const appPath = z.string().min(1).max(1024).optional();
const roomName = z.string().min(1).max(256);
const closeCode = z.number().int().refine((c) => c === 1000 || (c >= 3000 && c <= 4999), "must be 1000 or 3000–4999 (the others are reserved by RFC 6455)").optional();
const closeReason = z.string().refine((r) => Buffer.byteLength(r) <= MAX_REASON_BYTES, `must be at most ${MAX_REASON_BYTES} bytes (RFC 6455 close frame)`).optional();

export const schemas = {
  publish: z.object({ app: appPath, room: roomName, task: z.string().min(1).max(128), data: z.unknown().optional(), idempotencyKey: z.string().min(1).max(256).optional() }).strict(),
  broadcast: z.object({ endpoint: z.string().min(1).max(1024), task: z.string().min(1).max(128).optional(), data: z.unknown().optional(), text: z.string().optional() }).strict(),
  disconnect: z.object({ connection: z.string().min(1).max(256), code: closeCode, reason: closeReason }).strict(),
  disconnectUser: z.object({ user: z.string().min(1).max(1024), app: appPath, code: closeCode, reason: closeReason }).strict(),
  presence: z.object({ app: appPath, room: roomName }).strict(),
  command: z.object({ command: z.string().min(1).max(32), args: z.array(z.union([z.string(), z.number()])).max(64).optional() }).strict(),
  endpoint: z.object({ endpoint: z.string().min(1).max(1024), enabled: z.boolean() }).strict(),
  service: z.object({ name: z.string().min(1).max(256) }).strict(),
  logLevel: z.object({ level: z.string().min(1).max(16) }).strict(),
};

/** Parse a body against a schema: a mismatch is bad_request naming the field. */
export function parse<S extends z.ZodTypeAny>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const where = issue.path.length > 0 ? issue.path.join(".") : "body";
  throw badRequest(`${where}: ${issue.message}`);
}

export interface ConnectionItem {
  id: string;
  endpoint: string;
  remoteAddress?: string;
  protocol: string;
  bufferedAmount: number;
  /** App connections only. */
  user?: { id: string; name: string };
  rooms?: string[];
}

export interface RoomItem {
  app: string;
  room: string;
  /** Members on this node. */
  members: number;
}

export interface ConnectionQuery {
  /** Numbers, or their text from a query string (checked by paging()). */
  offset?: unknown;
  limit?: unknown;
  /** Part of the connection id. */
  id?: string;
  endpoint?: string;
  room?: string;
  /** A session user's id. */
  user?: string;
}

export class Operations {
  readonly #host: OpsHost;
  readonly #commands: CommandTable | undefined;
  readonly #maxPage: number;

  constructor(host: OpsHost, options: { commands: CommandTable | undefined; maxPageSize: number }) {
    this.#host = host;
    this.#commands = options.commands;
    this.#maxPage = options.maxPageSize;
  }

  /** Push `task` with `data` to every member of a room, on every node. */
  async publish(body: unknown): Promise<{ app: string; room: string; members: number; offset: number; epoch: string; duplicate: boolean }> {
    const input = parse(schemas.publish, body);
    const app = this.#app(input.app);
    const options = input.idempotencyKey === undefined ? {} : { idempotencyKey: input.idempotencyKey };
    let result;
    try {
      result = await app.rooms.publish(input.room, input.task, input.data ?? null, options);
    } catch (err) {
      throw new ApiError("unavailable", `the room engine did not take the push (this node's members got it): ${(err as Error).message}`);
    }
    return { app: app.path, room: input.room, members: app.rooms.size(input.room), offset: result.offset, epoch: result.epoch, duplicate: result.duplicate };
  }

  /** An app endpoint: push `task` to every connection on every node. A plain endpoint: send `text` to each of its connections here. */
  broadcast(body: unknown): { endpoint: string; recipients: number } {
    const input = parse(schemas.broadcast, body);
    const app = this.#host.apps().find((a) => a.path === input.endpoint);
    if (app !== undefined) {
      if (input.task === undefined || input.text !== undefined) throw badRequest("task: an app endpoint takes { task, data } (a push), not text");
      return { endpoint: app.path, recipients: app.broadcast(input.task, input.data ?? null) };
    }
    const endpoint = this.#endpoint(input.endpoint);
    if (input.text === undefined || input.task !== undefined) throw badRequest("text: a plain endpoint takes { text } (a text message), not a task");
    return { endpoint: endpoint.path, recipients: endpoint.broadcast(input.text).sent };
  }

  /** Close one connection (any endpoint) with a close code. */
  disconnect(body: unknown): { connection: string; code: number; reason: string } {
    const input = parse(schemas.disconnect, body);
    const code = input.code ?? CloseCode.Kicked;
    const reason = input.reason ?? "kicked";
    const conn = this.#connection(input.connection);
    if (conn === undefined) throw new ApiError("unknown_connection", `no connection with id "${input.connection}" on this node`);
    conn.close(code, reason);
    return { connection: conn.id, code, reason };
  }

  /** Close every connection of a session user, on every app (or one) of this node. */
  disconnectUser(body: unknown): { user: string; closed: string[]; code: number; reason: string } {
    const input = parse(schemas.disconnectUser, body);
    const code = input.code ?? CloseCode.Kicked;
    const reason = input.reason ?? "kicked";
    const apps = input.app === undefined ? this.#host.apps() : [this.#app(input.app)];
    const matches: AppConnection[] = [];
    for (const app of apps) for (const conn of app.connections.values()) if (conn.user.id === input.user) matches.push(conn);
    if (matches.length === 0) throw new ApiError("unknown_user", `user "${input.user}" has no connection on this node`);
    for (const conn of matches) conn.close(code, reason);
    return { user: input.user, closed: matches.map((c) => c.id), code, reason };
  }

  /** Who is in a room, on every live node (this node's first). */
  async presence(body: unknown): Promise<{ app: string; room: string; members: PresenceMember[]; total: number }> {
    const input = parse(schemas.presence, body);
    const app = this.#app(input.app);
    const members = await app.rooms.clusterMembers(input.room);
    if (members.length === 0) throw new ApiError("unknown_room", `room "${input.room.slice(0, 64)}" of ${app.path} has no members`);
    // Bounded like every listing: the first page, and the total.
    return { app: app.path, room: input.room, members: members.slice(0, this.#maxPage), total: members.length };
  }

  /** Run a registered control command (the control socket's table). */
  async command(body: unknown): Promise<{ command: string; result: unknown }> {
    const input = parse(schemas.command, body);
    if (this.#commands === undefined) throw new ApiError("unknown_command", "no command table (api: { commands })");
    if (API_REFUSED_COMMANDS.has(input.command)) throw new ApiError("forbidden", `"${input.command}" is not run over HTTP: use the control socket or a signal`);
    if (this.#commands.get(input.command) === undefined) {
      throw new ApiError("unknown_command", `unknown command "${input.command}" (known: ${this.#commands.list().map((c) => c.name).filter((n) => !API_REFUSED_COMMANDS.has(n)).join(", ")})`);
    }
    const dispatch = this.#commands.dispatcher(this.#host.controlContext());
    const reply: ControlReply = await dispatch({ id: 1, command: input.command, args: input.args ?? [] }, { progress: () => undefined });
    if (!reply.ok) throw new ApiError(reply.error.code === "not_found" ? "not_found" : reply.error.code === "bad_args" ? "bad_request" : "command_failed", reply.error.message);
    return { command: input.command, result: reply.result };
  }

  setEndpointEnabled(body: unknown): { endpoint: string; enabled: boolean } {
    const input = parse(schemas.endpoint, body);
    const endpoint = this.#endpoint(input.endpoint);
    endpoint.enabled = input.enabled;
    return { endpoint: endpoint.path, enabled: endpoint.enabled };
  }

  async restartService(body: unknown): Promise<{ name: string; state: ServiceState }> {
    const input = parse(schemas.service, body);
    const known = this.#host.services.states();
    if (!known.some((s) => s.name === input.name)) throw new ApiError("unknown_service", `no service named "${input.name}" (known: ${known.map((s) => s.name).join(", ")})`);
    try {
      return { name: input.name, state: await this.#host.services.restart(input.name) };
    } catch (err) {
      throw new ApiError("forbidden", (err as Error).message);
    }
  }

  setLogLevel(body: unknown): { level: string } {
    const input = parse(schemas.logLevel, body);
    try {
      return { level: this.#host.setLogLevel(input.level) };
    } catch (err) {
      throw badRequest(`level: ${(err as Error).message}`);
    }
  }

  services(): ServiceStatus[] {
    return this.#host.services.states();
  }

  /**
   * A page of connections in connect order (each endpoint's Map keeps it: no sort). Without a
   * filter, endpoints wholly before the page are skipped by their size and the walk stops at
   * the page's end (the total is known). A room filter starts from the room's members, a user
   * filter walks the apps' own connections (the user is there): one comparison per item, no
   * allocation but for the page's items.
   */
  connections(query: ConnectionQuery): Page<ConnectionItem> {
    const { offset, limit } = paging(query, this.#maxPage);
    const apps = new Map(this.#host.apps().map((app) => [app.path, app]));
    const endpoints = query.endpoint === undefined ? [...this.#host.endpoints.values()] : [this.#endpoint(query.endpoint)];
    const items: ConnectionItem[] = [];
    let seen = 0;
    const take = (conn: Connection<unknown>, app: App | undefined): void => {
      if (seen >= offset && items.length < limit) items.push(connectionItem(conn, app?.connections.get(conn.id)));
      seen++;
    };
    const { id, user, room } = query;
    if (id === undefined && user === undefined && room === undefined) {
      const total = endpoints.reduce((n, e) => n + e.connections.size, 0);
      for (const endpoint of endpoints) {
        const size = endpoint.connections.size;
        if (seen + size <= offset || items.length === limit) {
          seen += size;
          continue;
        }
        const app = apps.get(endpoint.path);
        for (const conn of endpoint.connections.values()) {
          take(conn, app);
          if (items.length === limit) break;
        }
      }
      return { total, offset, limit, items };
    }
    for (const endpoint of endpoints) {
      const app = apps.get(endpoint.path);
      if (room !== undefined || user !== undefined) {
        if (app === undefined) continue; // rooms and users are the app layer's
        const members = room !== undefined ? app.rooms.members(room).map((m) => m.connection) : undefined;
        const source: Iterable<AppConnection | string> = members ?? app.connections.values();
        for (const entry of source) {
          const appConn = typeof entry === "string" ? app.connections.get(entry) : entry;
          if (appConn === undefined) continue;
          if (user !== undefined && appConn.user.id !== user) continue;
          if (id !== undefined && !appConn.id.includes(id)) continue;
          const conn = endpoint.connections.get(appConn.id);
          if (conn !== undefined) take(conn, app);
        }
        continue;
      }
      for (const conn of endpoint.connections.values()) if (conn.id.includes(id!)) take(conn, app);
    }
    return { total: seen, offset, limit, items };
  }

  /** A page of an app's rooms (or every app's) with their member counts on this node; `q`: part of the name. */
  rooms(query: { app?: string; q?: string; offset?: unknown; limit?: unknown }): Page<RoomItem> {
    const { offset, limit } = paging(query, this.#maxPage);
    const apps = query.app === undefined ? this.#host.apps() : [this.#app(query.app)];
    const q = query.q;
    const all = function* (): Generator<RoomItem> {
      for (const app of apps) for (const room of app.rooms.list()) yield { app: app.path, room, members: app.rooms.size(room) };
    };
    return pageOf(all(), (item) => q === undefined || item.room.includes(q), (item) => item, { offset, limit, total: undefined });
  }

  /** The figures the dashboard polls: server-side aggregates, O(endpoints + apps + services). */
  stats(): StatsSnapshot {
    return statsSnapshot(this.#host);
  }

  #app(path: string | undefined): App {
    const apps = this.#host.apps();
    if (path === undefined) {
      if (apps.length === 1) return apps[0]!;
      throw badRequest(`app: name the app (${apps.map((a) => a.path).join(", ") || "this server has none"})`);
    }
    const app = apps.find((a) => a.path === path);
    if (app === undefined) throw new ApiError("unknown_app", `no app at "${path}" (apps: ${apps.map((a) => a.path).join(", ") || "none"})`);
    return app;
  }

  #endpoint(path: string): Endpoint<unknown> {
    const endpoint = this.#host.endpoints.get(path);
    if (endpoint === undefined) throw new ApiError("unknown_endpoint", `no endpoint at "${path}" (endpoints: ${[...this.#host.endpoints.keys()].join(", ") || "none"})`);
    return endpoint;
  }

  #connection(id: string): Connection<unknown> | undefined {
    for (const endpoint of this.#host.endpoints.values()) {
      const conn = endpoint.connections.get(id);
      if (conn !== undefined) return conn;
    }
    return undefined;
  }
}

/** At most this many of a connection's rooms in a listing (a connection may be in many). */
const ROOMS_SHOWN = 8;

function connectionItem(conn: Connection<unknown>, appConn: AppConnection | undefined): ConnectionItem {
  const item: ConnectionItem = { id: conn.id, endpoint: conn.path, protocol: conn.protocol, bufferedAmount: conn.bufferedAmount };
  const address = conn.remoteAddress;
  if (address !== undefined) item.remoteAddress = address;
  if (appConn !== undefined) {
    item.user = { id: appConn.user.id, name: appConn.user.name };
    item.rooms = [...appConn.rooms].slice(0, ROOMS_SHOWN);
  }
  return item;
}
