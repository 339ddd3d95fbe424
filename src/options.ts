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

export type { DeflateOptions };

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
    ...resolveEndpointLimits(options, undefined),
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
    if (!known.has(key)) throw new OptionError(key, `unknown option for ${where} (known: ${[...known].sort().join(", ")})`);
  }
}
