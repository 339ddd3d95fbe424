/**
 * The adapter from a real Server to ControlContext: what the control commands see. Stopping
 * and the log level belong to the process around the server (runtime/standalone.ts), so they
 * are passed in.
 */
import type { Server } from "../server.ts";
import { setLevel } from "../runtime/logging.ts";
import { notFound } from "./builtin-commands.ts";
import type { ConnectionInfo, ControlContext, EndpointInfo } from "./context.ts";

export interface ServerContextOptions {
  /** The graceful stop of the whole process (see ControlContext.stop). */
  stop: ControlContext["stop"];
  /** Default: set the level of the server's logger. */
  setLogLevel?: (level: string) => string;
  nodeId?: () => string | undefined;
  /** Rooms of an app endpoint (the app layer supplies it). */
  rooms?: (path: string) => number | undefined;
}

export function serverContext(server: Server, options: ServerContextOptions): ControlContext {
  const endpoint = (path: string) => {
    const ep = server.endpoints.get(path);
    if (ep === undefined) throw notFound(`no endpoint at "${path}"`, [...server.endpoints.keys()]);
    return ep;
  };
  return {
    uptimeMs: () => Math.round(server.stats().uptimeSeconds * 1000),
    nodeId: () => options.nodeId?.(),
    endpoints: (): EndpointInfo[] => [...server.endpoints.values()].map((ep) => {
      const rooms = options.rooms?.(ep.path);
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
    setLogLevel: options.setLogLevel ?? ((level) => setLevel(server.log, level)),
    stop: options.stop,
  };
}
