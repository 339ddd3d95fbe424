/**
 * The shape of a switchboard config file (switchboard.config.ts / .js / .json) and
 * `defineConfig()`, which only exists to type it:
 *
 *   import { defineConfig } from "switchboard";
 *   export default defineConfig({ port: 8080, handlers: "./handlers" });
 *
 * Every key is optional; precedence is CLI flag > SWITCHBOARD_* env > file > default.
 * The keys, their env names and their checks are in schema.ts.
 */
import type { LimitName } from "../limits.ts";
import type { Server } from "../server.ts";
import type { App } from "../app/app.ts";
import type { EndpointOptions } from "../options.ts";
import type { ServiceContext } from "../runtime/service.ts";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export interface DeflateConfig {
  /** Messages smaller than this many bytes are sent uncompressed. */
  threshold?: number;
}

export interface SwitchboardConfig {
  /** TCP port to listen on (0 = any free port; the banner prints the bound one). Default 8080. */
  port?: number;
  /** Address to listen on. Default "127.0.0.1"; "0.0.0.0" for every interface. */
  host?: string;
  /**
   * Worker processes that share the port (node:cluster; docs/standalone.md#workers): 1 to 64, or
   * "auto" for one per core. Default 1: the server runs in this one process.
   */
  workers?: number | "auto";
  /** The handler directory (relative paths: to the config file). Default "./handlers". */
  handlers?: string;
  /** A directory served as static files (relative paths: to the config file). Default: none. */
  static?: string;
  /**
   * Any limit of src/limits.ts by its name, e.g. { maxPayload: 65536, maxConnections: 100 }.
   * Those of raw TCP/UDP listeners, worker pools and the client library have no place in a
   * standalone server and stop start-up with an error that says where to set them.
   */
  limits?: Partial<Record<LimitName, number>>;
  /** permessage-deflate: false (default), true, or options. */
  perMessageDeflate?: boolean | DeflateConfig;
  /** Reserved for the runtime: the UNIX control socket path. */
  controlSocket?: string;
  /** Reserved for the runtime: the lock file path. */
  lockFile?: string;
  /** Log level. Default "info". */
  logLevel?: LogLevel;
  /** Reserved for the runtime: write logs to this file instead of stdout. */
  logFile?: string;
  /** A Redis URL joins this node to a cluster; prefix default "switchboard:", as in the library. */
  cluster?: { redis?: string; prefix?: string };
  /**
   * Serve https:// and wss:// on the port: PEM files (relative paths: to the config file).
   * SIGHUP or `switchboard command reload-tls` re-reads them without dropping connections.
   */
  tls?: { key?: string; cert?: string; ca?: string; passphrase?: string };
  /** Client address from Forwarded / X-Forwarded-For when the peer is a trusted proxy: true, or proxy addresses / CIDRs. Default false. */
  trustProxy?: boolean | string[];
  /** Prometheus metrics (docs/operations.md#metrics). Off unless `enabled`. */
  metrics?: { enabled?: boolean; path?: string; port?: number; token?: string };
  /** The server API (docs/api.md): on when a key is set. */
  api?: { key?: string };
  /** The admin dashboard (docs/admin.md): on when a token is set. */
  admin?: { token?: string };
  /**
   * The app at /app (the folder's tasks/; docs/standalone.md). Its task and room limits are
   * `limits.*` (taskTimeoutMs, maxInFlightTasks, maxRoomsPerConnection, …).
   */
  app?: AppConfig;
}

export interface AppConfig {
  /** Send room.joined / room.left pushes and list members in replies. Default false. */
  presence?: boolean;
  /** May clients join rooms (`?room=`, room.join)? Default true. */
  rooms?: boolean;
  /** Over maxPushBufferedBytes: "drop" the push (default) or "close" the connection (4000). */
  pushPolicy?: "drop" | "close";
  /** Signed session tokens (HS256, at least 32 bytes): tokenSession({ secret }). Default: anonymous users. */
  sessionSecret?: string;
  /** With sessionSecret: refuse a connection without a token with 401 (true, default) or let it in anonymous. */
  sessionRequired?: boolean;
}

/**
 * What a file of a served folder can reach besides its own definition: the server, and the
 * apps mounted on it (`app()` is the tasks app at /app, whose rooms a service pushes to).
 */
export interface ServedContext {
  readonly server: Server;
  /**
   * The app at `path` (default "/app"). Throws a SwitchboardError ("not_found") naming the apps
   * that exist. The app at /app exists when the folder has tasks/ or services/ files, or when an
   * endpoint factory asks for it while it loads.
   */
  app(path?: string): App;
}

/** The second argument of a served service's start() / main(): the supervisor's context and the served handle. */
export interface ServedServiceContext extends ServiceContext, ServedContext {}

/**
 * An endpoint file may export a factory instead of options; it is called once when the file is
 * loaded, with the served handle:
 *
 *   export default (served: ServedContext) => defineEndpoint({ message(conn, data) { … served.app().rooms … } });
 */
export type ServedEndpointFactory = (served: ServedContext) => EndpointOptions<any>;

/** Identity function that gives a config file its type. */
export function defineConfig(config: SwitchboardConfig): SwitchboardConfig {
  return config;
}
