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
}

/** Identity function that gives a config file its type. */
export function defineConfig(config: SwitchboardConfig): SwitchboardConfig {
  return config;
}
