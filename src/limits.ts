/**
 * EVERY limit Switchboard enforces, in one table: its name (the option that sets it), its
 * default, and what happens when it is hit. docs/reference.md is generated from the same
 * facts, and validateLimit() is how every option that sets one is checked.
 *
 * To add a limit: add a row here (in its layer's section), read it with `limitDefault()`,
 * and give the answer when it is hit a test.
 */
export interface LimitSpec {
  /** The option name that sets it. */
  readonly name: string;
  readonly default: number;
  readonly unit: "bytes" | "ms" | "count" | "messages";
  /** Smallest allowed value (0 often means "off"; see `whenHit`). */
  readonly min: number;
  readonly scope: "server" | "endpoint" | "app" | "tcp" | "udp" | "runtime" | "cluster";
  /** The defined answer when the limit is hit. */
  readonly whenHit: string;
}

export const LIMITS = {
  // ── transport (HTTP server and upgrade) ─────────────────────────────────────────────
  maxPayload: {
    name: "maxPayload", default: 1024 * 1024, unit: "bytes", min: 1, scope: "endpoint",
    whenHit: "the connection is closed with 1009 Message Too Big",
  },
  maxFragments: {
    name: "maxFragments", default: 16_384, unit: "count", min: 0, scope: "endpoint",
    whenHit: "a message of more fragments closes the connection with 1008 Policy Violation (ws's answer); 0 = no limit (set it for Autobahn cases 9.3/9.4)",
  },
  handshakeTimeoutMs: {
    name: "handshakeTimeoutMs", default: 10_000, unit: "ms", min: 1, scope: "server",
    whenHit: "a TCP connection that has not completed its HTTP request or WebSocket upgrade by then is destroyed",
  },
  maxPendingHandshakes: {
    name: "maxPendingHandshakes", default: 1_000, unit: "count", min: 1, scope: "server",
    whenHit: "further upgrade requests are answered 503 until pending ones complete (handshake flood)",
  },
  maxHeaderBytes: {
    name: "maxHeaderBytes", default: 16 * 1024, unit: "bytes", min: 1024, scope: "server",
    whenHit: "Node answers 431 Request Header Fields Too Large and closes the socket",
  },
  closeTimeoutMs: {
    name: "closeTimeoutMs", default: 5_000, unit: "ms", min: 1, scope: "endpoint",
    whenHit: "a peer that does not answer our close frame in time has its socket destroyed",
  },
  heartbeatMs: {
    name: "heartbeatMs", default: 30_000, unit: "ms", min: 0, scope: "server",
    whenHit: "a connection that has not answered the previous ping by the next beat is terminated (0 = no heartbeat)",
  },
  stopTimeoutMs: {
    name: "stopTimeoutMs", default: 10_000, unit: "ms", min: 0, scope: "server",
    whenHit: "connections still open when a graceful stop reaches it are destroyed",
  },

  // ── endpoint ────────────────────────────────────────────────────────────────────────
  maxConnections: {
    name: "maxConnections", default: 10_000, unit: "count", min: 0, scope: "endpoint",
    whenHit: "further upgrades to the endpoint are answered 503 Service Unavailable",
  },
  maxBufferedBytes: {
    name: "maxBufferedBytes", default: 4 * 1024 * 1024, unit: "bytes", min: 1, scope: "endpoint",
    whenHit: "a send to a connection with more queued is handled by `slowConsumer`: \"close\" (4000 SlowConsumer, default) or \"drop\" (the message is skipped and counted)",
  },

  // ── app layer ───────────────────────────────────────────────────────────────────────

  // ── tcp / udp ───────────────────────────────────────────────────────────────────────

  // ── runtime ─────────────────────────────────────────────────────────────────────────

  // ── cluster ─────────────────────────────────────────────────────────────────────────
} as const satisfies Record<string, LimitSpec>;

export type LimitName = keyof typeof LIMITS;

export function limitDefault(name: LimitName): number {
  return LIMITS[name].default;
}
