/**
 * The kinds of handler file, one table entry each. An entry says where its files live, what
 * name a file serves, how to tell a good export from a wrong one, and how to mount it on the
 * server. The loader (directory.ts) knows nothing else about any kind.
 *
 * To add a kind (tasks, services): write its entry next to ENDPOINT_FILES and add it to
 * FILE_KINDS. Its folder is taken out of the endpoint tree automatically.
 */
import type { Server } from "../server.ts";
import type { EndpointOptions } from "../options.ts";
import type { ScanKind } from "./scan.ts";

/** Settings from the standalone config that mounted files inherit. */
export interface MountContext {
  /** Defaults for endpoint options a file does not set (limits.maxConnections). */
  readonly endpointDefaults: { maxConnections?: number };
}

export interface FileKind<T = unknown> extends ScanKind {
  /** What the default export must be, for error messages: `defineEndpoint({ … })`. */
  readonly expected: string;
  /** What is wrong with a default export, or undefined when it fits. */
  check(value: unknown): string | undefined;
  /** Put it on the server (may throw an OptionError; the loader adds the file name). */
  mount(server: Server, name: string, value: T, context: MountContext): void;
  /** The banner line's URL or label for one mounted file. */
  describe(server: Server, name: string): string;
}

/** Endpoint files: the handler directory itself; `games/tetris.ts` → /games/tetris. */
export const ENDPOINT_FILES: FileKind<EndpointOptions> = {
  kind: "endpoint",
  folder: "",
  expected: "defineEndpoint({ … })",
  name: (segments) => "/" + segments.join("/"),
  check(value) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return `the default export must be an object made with defineEndpoint({ … }), got ${describeValue(value)}`;
    }
    return undefined; // the options themselves are checked by server.endpoint(), which names the option
  },
  mount: (server, name, value, context) => void server.endpoint(name, { ...context.endpointDefaults, ...value }),
  describe: (server, name) => server.url(name, "ws"),
};

export const FILE_KINDS: readonly FileKind<any>[] = [
  ENDPOINT_FILES,
  // ── further kinds of handler file register here (tasks/, services/) ──
];

export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "function") return "a function";
  return typeof value === "object" ? "an object" : `${typeof value} ${JSON.stringify(value)}`;
}
