/**
 * The `metrics` option of createServer(): Prometheus text at GET /metrics, off by default.
 * Validated up front; every error names the option it is about.
 */
import { OptionError } from "../errors.ts";

export interface MetricsOptions {
  /** Serve metrics. Default false (also false when `metrics` is absent). */
  enabled?: boolean;
  /** The path metrics are served at. Default "/metrics". */
  path?: string;
  /**
   * Serve metrics on a listener of their own, on the server's host, instead of the main port
   * (0 picks a free one: `server.metricsPort`). Default: the main port.
   */
  port?: number;
  /** Require `Authorization: Bearer <token>` (16–1024 characters); without or wrong → 401. */
  token?: string;
}

export interface ResolvedMetricsOptions {
  path: string;
  /** undefined: served on the main port. */
  port: number | undefined;
  token: string | undefined;
}

const KEYS = new Set(["enabled", "path", "port", "token"]);
const TOKEN_MIN = 16;
const TOKEN_MAX = 1024;

/** undefined when metrics are off. */
export function resolveMetricsOptions(value: MetricsOptions | undefined): ResolvedMetricsOptions | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new OptionError("metrics", "must be an object: { enabled, path, port, token }");
  for (const key of Object.keys(value)) {
    if (!KEYS.has(key)) throw new OptionError(`metrics.${key}`, `unknown option (known: ${[...KEYS].join(", ")})`);
  }
  if (value.enabled !== undefined && typeof value.enabled !== "boolean") throw new OptionError("metrics.enabled", "must be a boolean");
  const path = value.path ?? "/metrics";
  if (typeof path !== "string" || !/^\/[^?#\s]*$/.test(path)) throw new OptionError("metrics.path", `must be a path starting with "/" (no query, fragment or spaces), got ${JSON.stringify(path)}`);
  if (path === "/healthz" || path === "/readyz") throw new OptionError("metrics.path", `${path} is the server's own route`);
  const port = value.port;
  if (port !== undefined && (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new OptionError("metrics.port", `must be an integer from 0 to 65535, got ${String(port)}`);
  }
  const token = value.token;
  if (token !== undefined && (typeof token !== "string" || token.length < TOKEN_MIN || token.length > TOKEN_MAX || token.trim() !== token)) {
    throw new OptionError("metrics.token", `must be a string of ${TOKEN_MIN}–${TOKEN_MAX} characters without surrounding spaces (e.g. from \`openssl rand -hex 32\`)`);
  }
  if (value.enabled !== true) return undefined;
  return { path, port, token };
}
