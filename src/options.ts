/**
 * Option types, defaults and validation for createServer() and server.endpoint(). Every
 * numeric limit is checked against its row in limits.ts; an unknown or bad option throws an
 * OptionError that names it.
 */
import { OptionError } from "./errors.ts";
import { readLimit, readPort, type LimitName } from "./limits.ts";
import type { Logger, LogOptions } from "./log.ts";
import type { Connection, SlowConsumerPolicy } from "./endpoint/connection.ts";
import type { HandshakeRequest, HandshakeResult } from "./endpoint/handshake.ts";
import type { DeflateOptions } from "./transport/websocket.ts";
import type { ConnectionHandler } from "./transport/handler.ts";
import type { ClusterConfig } from "./cluster/index.ts";
import type { MetricsOptions } from "./observe/metrics-options.ts";
import { loadTls, type TlsMaterial, type TlsOptions } from "./transport/tls.ts";
import { compileTrustProxy, type ProxyTrust, type TrustProxy } from "./transport/forwarded.ts";
import type { CommandTable } from "./control/commands.ts";

export type { DeflateOptions, TlsOptions, TrustProxy };

/** Limits and settings an endpoint inherits from the server and may override. */
export interface EndpointLimits {
  /** Largest message accepted, in bytes; larger → close 1009. Default 1 MiB. */
  maxPayload?: number;
  /** Most fragments in one message; more → close 1008 (ws's answer). 0 = no limit. */
  maxFragments?: number;
  /** Send-buffer size past which a connection is a slow consumer. Default 4 MiB. */
  maxBufferedBytes?: number;
  /** What happens to a send to a slow consumer: "close" (4000, default) or "drop". */
  slowConsumer?: SlowConsumerPolicy;
  /** How long to wait for the peer's answer to our close frame. */
  closeTimeoutMs?: number;
  /** permessage-deflate: off by default; `true` or settings to turn it on. */
  perMessageDeflate?: boolean | DeflateOptions;
}

export interface EndpointOptions<D = Record<string, unknown>>
  extends EndpointLimits,
    ConnectionHandler<Connection<D>, Buffer> {
  /** Most open connections; further upgrades → 503. Default 10,000. */
  maxConnections?: number;
  /** Accept upgrades (true, default). While false, upgrades → 503; open connections stay. */
  enabled?: boolean;
  /** Prefix of connection ids: `<idPrefix>-<n>`. Default: from the path ("/chat" → "chat"). */
  idPrefix?: string;
  /** Fresh per-connection data; handshake-hook data is merged over it. */
  defaultData?: () => D;
  /** Subprotocols the endpoint speaks, best first: the first one the client offered is chosen. */
  protocols?: readonly string[];
  /** When the client offers subprotocols and none is ours: "reject" (400, default) or "accept" without one. */
  protocolMismatch?: "reject" | "accept";
  /** Decide the upgrade: return `reject(status, reason)`, or `{ data, protocol }`, or nothing. */
  handshake?(req: HandshakeRequest): HandshakeResult<D> | Promise<HandshakeResult<D>>;
}

export interface ServerOptions extends EndpointLimits {
  /** TCP port; 0 picks a free one (see `server.port` after start). Default 8080. */
  port?: number;
  /** Interface to listen on. Default "127.0.0.1"; use "0.0.0.0" or "::" to serve other machines. */
  host?: string;
  /** A pino logger, or settings for a new one. */
  logger?: Logger | LogOptions;
  handshakeTimeoutMs?: number;
  maxPendingHandshakes?: number;
  maxHeaderBytes?: number;
  /** Ping interval; a connection that missed the previous pong is terminated. 0 = off. */
  heartbeatMs?: number;
  /** Default deadline of a graceful stop, counted from the call of stop(). */
  stopTimeoutMs?: number;
  /** After the stop deadline, how long aborted work and closing connections get before they are destroyed. */
  stopGraceMs?: number;
  /** Join a cluster: `{ redis: "redis://…", prefix }` (docs/cluster.md). Default: one node, in memory. */
  cluster?: ClusterConfig;
  /** Services (runtime/): restarts allowed within `serviceRestartWindowMs` before a service is failed. */
  serviceRestartLimit?: number;
  serviceRestartWindowMs?: number;
  serviceBackoffBaseMs?: number;
  serviceBackoffMaxMs?: number;
  serviceStopTimeoutMs?: number;
  /** Prometheus metrics at GET /metrics (docs/operations.md#metrics): off unless `enabled: true`. */
  metrics?: MetricsOptions;
  /**
   * Serve https:// and wss:// on the port: `{ key, cert, ca?, passphrase? }`, each PEM text or
   * a PEM file path (docs/operations.md#tls). `server.reloadTls()` re-reads the files.
   */
  tls?: TlsOptions;
  /**
   * Take the client's address from `Forwarded` / `X-Forwarded-For` when the direct peer is a
   * trusted proxy: `true` (any peer), or a list of proxy addresses / CIDRs. Default false.
   */
  trustProxy?: TrustProxy;
  /** The server API, `POST /api/…` (docs/api.md): off unless a key is set. */
  api?: ApiOptions;
  /** The admin dashboard at `/admin` (docs/admin.md): off unless a token is set. */
  admin?: AdminOptions;
  /** Largest POST body (the server API); larger → 413. Default 1 MiB. */
  maxRequestBodyBytes?: number;
  /** Largest page a server API listing returns. Default 500. */
  apiMaxPageSize?: number;
}

/** `api: { key }`: callers send `Authorization: Bearer <key>`. */
export interface ApiOptions {
  /** The API key: 16–1024 characters. */
  key?: string;
  /** Several keys (e.g. while rotating one): any of them is accepted. */
  keys?: readonly string[];
  /** The control commands `POST /api/command` may call. Default: the built-in ones (createCommandTable()). */
  commands?: CommandTable;
}

/** `admin: { token }`: the dashboard's browser code sends the token as its bearer. */
export interface AdminOptions {
  /** Required: 16–1024 characters. There is no admin page without one. */
  token: string;
}

export interface ResolvedApiOptions {
  /** Every credential accepted on /api/… (the API keys, and the admin token when the admin page is on). */
  keys: string[];
  commands: CommandTable | undefined;
  maxRequestBodyBytes: number;
  maxPageSize: number;
}

export interface ResolvedEndpointLimits {
  maxPayload: number;
  maxFragments: number;
  maxBufferedBytes: number;
  slowConsumer: SlowConsumerPolicy;
  closeTimeoutMs: number;
  perMessageDeflate: false | DeflateOptions;
}

export interface ResolvedServerOptions extends ResolvedEndpointLimits {
  port: number;
  host: string;
  handshakeTimeoutMs: number;
  maxPendingHandshakes: number;
  maxHeaderBytes: number;
  heartbeatMs: number;
  stopTimeoutMs: number;
  stopGraceMs: number;
  services: ResolvedServiceLimits;
  /** The key and certificate as loaded at start; undefined without TLS. */
  tls: TlsMaterial | undefined;
  /** Whether an address is a trusted proxy; undefined when trustProxy is off. */
  trustProxy: ProxyTrust | undefined;
  /** The server API and the admin page; undefined when both are off. */
  api: ResolvedApiOptions | undefined;
  /** The admin token; undefined when the admin page is off. */
  adminToken: string | undefined;
}

export interface ResolvedServiceLimits {
  restartLimit: number;
  restartWindowMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  stopTimeoutMs: number;
}

const ENDPOINT_LIMIT_KEYS = ["maxPayload", "maxFragments", "maxBufferedBytes", "slowConsumer", "closeTimeoutMs", "perMessageDeflate"] as const;
const SERVER_KEYS = new Set<string>([
  ...ENDPOINT_LIMIT_KEYS, "port", "host", "logger", "handshakeTimeoutMs", "maxPendingHandshakes", "maxHeaderBytes", "heartbeatMs", "stopTimeoutMs", "stopGraceMs",
  "serviceRestartLimit", "serviceRestartWindowMs", "serviceBackoffBaseMs", "serviceBackoffMaxMs", "serviceStopTimeoutMs", "cluster",
  "metrics",
  "api", "admin", "maxRequestBodyBytes", "apiMaxPageSize", "tls", "trustProxy",
]);
const ENDPOINT_KEYS = new Set<string>([
  ...ENDPOINT_LIMIT_KEYS, "maxConnections", "enabled", "idPrefix", "defaultData", "protocols", "protocolMismatch",
  "handshake", "open", "message", "close", "error",
]);
const HOOKS = ["handshake", "open", "message", "close", "error", "defaultData"] as const;

export function resolveServerOptions(options: ServerOptions = {}): ResolvedServerOptions {
  rejectUnknownKeys(options, SERVER_KEYS, "createServer");
  const port = readPort(options.port ?? 8080);
  if (options.host !== undefined && (typeof options.host !== "string" || options.host === "")) throw new OptionError("host", "must be a non-empty string");
  return {
    port,
    host: options.host ?? "127.0.0.1",
    handshakeTimeoutMs: limit(options, "handshakeTimeoutMs"),
    maxPendingHandshakes: limit(options, "maxPendingHandshakes"),
    maxHeaderBytes: limit(options, "maxHeaderBytes"),
    heartbeatMs: limit(options, "heartbeatMs"),
    stopTimeoutMs: limit(options, "stopTimeoutMs"),
    stopGraceMs: limit(options, "stopGraceMs"),
    services: {
      restartLimit: limit(options, "serviceRestartLimit"),
      restartWindowMs: limit(options, "serviceRestartWindowMs"),
      backoffBaseMs: limit(options, "serviceBackoffBaseMs"),
      backoffMaxMs: limit(options, "serviceBackoffMaxMs"),
      stopTimeoutMs: limit(options, "serviceStopTimeoutMs"),
    },
    ...resolveApiAndAdmin(options),
    tls: options.tls === undefined ? undefined : loadTls(options.tls),
    trustProxy: compileTrustProxy(options.trustProxy),
    ...resolveEndpointLimits(options, undefined),
  };
}

/** Secrets: long enough not to be guessed, short enough to compare cheaply. */
const SECRET_MIN = 16;
const SECRET_MAX = 1024;

function readSecret(option: string, value: unknown): string {
  if (typeof value !== "string" || value.length < SECRET_MIN || value.length > SECRET_MAX || value.trim() !== value) {
    throw new OptionError(option, `must be a string of ${SECRET_MIN}–${SECRET_MAX} characters without surrounding spaces (e.g. from "openssl rand -hex 32")`);
  }
  return value;
}

/**
 * `api` and `admin`. Neither is ever on by accident: `api` needs a key, `admin` a token (an
 * `admin` option without one is an error, not an open page).
 */
function resolveApiAndAdmin(options: ServerOptions): Pick<ResolvedServerOptions, "api" | "adminToken"> {
  const maxRequestBodyBytes = limit(options, "maxRequestBodyBytes");
  const maxPageSize = limit(options, "apiMaxPageSize");
  const keys: string[] = [];
  let commands: CommandTable | undefined;
  const api = options.api;
  if (api !== undefined) {
    if (typeof api !== "object" || api === null) throw new OptionError("api", "must be an object: { key } or { keys }");
    rejectUnknownKeys(api, new Set(["key", "keys", "commands"]), "api");
    if (api.key !== undefined) keys.push(readSecret("api.key", api.key));
    if (api.keys !== undefined) {
      if (!Array.isArray(api.keys)) throw new OptionError("api.keys", "must be an array of strings");
      api.keys.forEach((key, i) => keys.push(readSecret(`api.keys[${i}]`, key)));
    }
    if (keys.length === 0) throw new OptionError("api.key", "the server API needs a key (api: { key }): it is never open without one");
    if (api.commands !== undefined && (typeof api.commands !== "object" || api.commands === null || typeof api.commands.dispatcher !== "function")) {
      throw new OptionError("api.commands", "must be a CommandTable (createCommandTable())");
    }
    commands = api.commands;
  }
  let adminToken: string | undefined;
  const admin = options.admin;
  if (admin !== undefined) {
    if (typeof admin !== "object" || admin === null) throw new OptionError("admin", "must be an object: { token }");
    rejectUnknownKeys(admin, new Set(["token"]), "admin");
    if (admin.token === undefined) throw new OptionError("admin.token", "the admin page needs a token (admin: { token }): it is never open without one");
    adminToken = readSecret("admin.token", admin.token);
  }
  if (keys.length === 0 && adminToken === undefined) return { api: undefined, adminToken: undefined };
  return {
    api: { keys: adminToken === undefined ? keys : [...keys, adminToken], commands, maxRequestBodyBytes, maxPageSize },
    adminToken,
  };
}

export function resolveEndpointLimits(options: EndpointLimits, inherited: ResolvedEndpointLimits | undefined): ResolvedEndpointLimits {
  const slowConsumer = options.slowConsumer ?? inherited?.slowConsumer ?? "close";
  if (slowConsumer !== "close" && slowConsumer !== "drop") throw new OptionError("slowConsumer", `must be "close" or "drop", got ${JSON.stringify(slowConsumer)}`);
  return {
    maxPayload: limit(options, "maxPayload", inherited?.maxPayload),
    maxFragments: limit(options, "maxFragments", inherited?.maxFragments),
    maxBufferedBytes: limit(options, "maxBufferedBytes", inherited?.maxBufferedBytes),
    closeTimeoutMs: limit(options, "closeTimeoutMs", inherited?.closeTimeoutMs),
    slowConsumer,
    perMessageDeflate: resolveDeflate(options.perMessageDeflate, inherited?.perMessageDeflate),
  };
}

export function validateEndpointOptions(path: string, options: EndpointOptions<never>): void {
  if (typeof path !== "string" || !path.startsWith("/")) throw new OptionError("path", `an endpoint path must start with "/", got ${JSON.stringify(path)}`);
  if (/[?#]/.test(path)) throw new OptionError("path", `an endpoint path has no query or fragment, got ${JSON.stringify(path)}`);
  rejectUnknownKeys(options, ENDPOINT_KEYS, `endpoint ${path}`);
  for (const hook of HOOKS) {
    const value = options[hook];
    if (value !== undefined && typeof value !== "function") throw new OptionError(hook, `must be a function, got ${typeof value}`);
  }
  if (options.maxConnections !== undefined) limit(options, "maxConnections");
  if (options.idPrefix !== undefined && (typeof options.idPrefix !== "string" || !/^[A-Za-z0-9_.-]+$/.test(options.idPrefix))) {
    throw new OptionError("idPrefix", `must be letters, digits, "_", "." or "-", got ${JSON.stringify(options.idPrefix)}`);
  }
  if (options.protocols !== undefined && (!Array.isArray(options.protocols) || options.protocols.some((p) => typeof p !== "string" || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(p)))) {
    throw new OptionError("protocols", "must be an array of subprotocol tokens (RFC 6455 §4.1)");
  }
  if (options.protocolMismatch !== undefined && options.protocolMismatch !== "reject" && options.protocolMismatch !== "accept") {
    throw new OptionError("protocolMismatch", `must be "reject" or "accept", got ${JSON.stringify(options.protocolMismatch)}`);
  }
  if (options.enabled !== undefined && typeof options.enabled !== "boolean") throw new OptionError("enabled", "must be a boolean");
}

/** Read a numeric limit from an options object (see readLimit). */
export function limit(options: object, name: LimitName, inherited?: number): number {
  return readLimit(name, (options as Record<string, unknown>)[name], inherited);
}

function resolveDeflate(value: boolean | DeflateOptions | undefined, inherited: false | DeflateOptions | undefined): false | DeflateOptions {
  if (value === undefined) return inherited ?? false;
  if (value === false) return false;
  if (value === true) return {};
  if (typeof value !== "object" || value === null) throw new OptionError("perMessageDeflate", "must be a boolean or an object");
  for (const key of ["serverMaxWindowBits", "clientMaxWindowBits"] as const) {
    const bits = value[key];
    if (bits !== undefined && (!Number.isInteger(bits) || bits < 8 || bits > 15)) throw new OptionError(`perMessageDeflate.${key}`, `must be an integer from 8 to 15, got ${String(bits)}`);
  }
  if (value.threshold !== undefined && (!Number.isInteger(value.threshold) || value.threshold < 0)) throw new OptionError("perMessageDeflate.threshold", "must be an integer ≥ 0 (bytes)");
  return { ...value };
}

function rejectUnknownKeys(options: object, known: Set<string>, where: string): void {
  if (typeof options !== "object" || options === null) throw new OptionError(where, "options must be an object");
  for (const key of Object.keys(options)) {
    if (!known.has(key)) {
      const near = suggest(key, known);
      throw new OptionError(key, `unknown option for ${where}${near === undefined ? "" : ` (did you mean "${near}"?)`} (known: ${[...known].sort().join(", ")})`);
    }
  }
}

/** The closest known name (edit distance <= 2, case-insensitive), for "did you mean …"; config keys use it too. */
export function suggest(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
