/**
 * The adapter from a real Server to ControlContext: what the control commands see. Stopping
 * and the log level belong to the process around the server (runtime/standalone.ts), so they
 * are passed in.
 *
 * It names the server by the shape it uses (ControlledServer), not by importing server.ts:
 * server.ts builds this context itself for `POST /api/command`, and an import back would be a
 * cycle between the layers.
 */
import type { App } from "../app/app.ts";
import type { Endpoint } from "../endpoint/endpoint.ts";
import type { ClusterService } from "../cluster/index.ts";
import type { Supervisor } from "../runtime/supervisor.ts";
import type { Logger } from "../log.ts";
import { setLoggerLevel } from "../log.ts";
import { notFound } from "./builtin-commands.ts";
import type { ConnectionInfo, ControlContext, EndpointInfo, PushInfo, RoomInfo, RoomsInfo } from "./context.ts";

export interface ServerContextOptions {
  /** The graceful stop of the whole process (see ControlContext.stop). */
  stop: ControlContext["stop"];
  /** Default: set the level of the server's logger. */
  setLogLevel?: (level: string) => string;
  nodeId?: () => string | undefined;
  /** Rooms of an app endpoint (default: from `apps`). */
  rooms?: (path: string) => number | undefined;
  /** The apps on the server, by path: what `status` lists rooms of and `push` publishes through. */
  apps?: () => ReadonlyMap<string, App>;
}

/** What of a Server the control commands use (Server has all of it). */
export interface ControlledServer {
  readonly endpoints: ReadonlyMap<string, Endpoint<unknown>>;
  readonly cluster: ClusterService;
  readonly services: Supervisor;
  readonly log: Logger;
  readonly logLevel: string;
  stats(): { uptimeSeconds: number };
}

export function serverContext(server: ControlledServer, options: ServerContextOptions): ControlContext {
  const endpoint = (path: string) => {
    const ep = server.endpoints.get(path);
    if (ep === undefined) throw notFound(`no endpoint at "${path}"`, [...server.endpoints.keys()]);
    return ep;
  };
  return {
    uptimeMs: () => Math.round(server.stats().uptimeSeconds * 1000),
    nodeId: () => options.nodeId?.() ?? server.cluster.nodeId,
    cluster: async () => {
      const { nodeId, kind, status, bus } = server.cluster.stats();
      return { nodeId, kind, status, bus, nodes: await server.cluster.nodes() };
    },
    endpoints: (): EndpointInfo[] => [...server.endpoints.values()].map((ep) => {
      const rooms = options.rooms?.(ep.path) ?? options.apps?.().get(ep.path)?.rooms.list().length;
      return { path: ep.path, enabled: ep.enabled, connections: ep.connections.size, ...(rooms !== undefined ? { rooms } : {}) };
    }),
    setEndpointEnabled: (path, enabled) => {
      endpoint(path).enabled = enabled;
    },
    connections: (path): ConnectionInfo[] => {
      const eps = path === undefined ? [...server.endpoints.values()] : [endpoint(path)];
      return eps.flatMap((ep) => [...ep.connections.values()].map((c) => ({
        id: c.id, path: c.path, protocol: c.protocol, bufferedAmount: c.bufferedAmount,
        ...(c.remoteAddress !== undefined ? { remoteAddress: c.remoteAddress } : {}),
      })));
    },
    kick: (id, code, reason) => {
      for (const ep of server.endpoints.values()) {
        const conn = ep.connections.get(id);
        if (conn !== undefined) {
          conn.close(code, reason);
          return;
        }
      }
      throw notFound(`no connection with id "${id}"; \`switchboard command connections\` lists them`);
    },
    broadcast: (path, message) => endpoint(path).broadcast(message).sent,
    services: () => server.services.states(),
    restartService: (name) => server.services.restart(name),
    ...(options.apps === undefined ? {} : roomCommands(options.apps)),
    setLogLevel: options.setLogLevel ?? ((level) => setLoggerLevel(server.log, level)),
    logLevel: () => server.logLevel,
    stop: options.stop,
  };
}

/** `status` rooms and `push`, through each app's own rooms (so the engine, offsets and history apply). */
function roomCommands(apps: () => ReadonlyMap<string, App>): Pick<ControlContext, "rooms" | "push"> {
  const appAt = (path: string): App => {
    const app = apps().get(path);
    if (app === undefined) throw notFound(`no app at "${path}"`, [...apps().keys()]);
    return app;
  };
  return {
    rooms(limit: number): RoomsInfo {
      const all: RoomInfo[] = [];
      for (const [path, app] of apps()) for (const room of app.rooms.list()) all.push({ app: path, room, members: app.rooms.size(room) });
      all.sort((a, b) => b.members - a.members || a.room.localeCompare(b.room));
      return { total: all.length, rooms: all.slice(0, limit) };
    },
    async push(path, room, task, data): Promise<PushInfo> {
      const app = appAt(path);
      // Every node's members, so a room whose members are all on another node is still found.
      const members = (await app.rooms.clusterMembers(room)).length;
      if (members === 0) {
        const local = app.rooms.list();
        const shown = local.slice(0, 20).join(", ") + (local.length > 20 ? `, … (${local.length} in all)` : "");
        throw notFound(`no room "${room}" on ${path}: it has no members on any node (rooms on this node: ${shown || "none"})`);
      }
      const { offset, epoch } = await app.rooms.publish(room, task, data);
      return { app: path, room, task, offset, epoch, members };
    },
  };
}
