/**
 * EVERY limit Switchboard enforces, in one table: its name (the option that sets it), its
 * default, and what happens when it is hit. docs/reference.md is generated from the same
 * facts, and validateLimit() is how every option that sets one is checked.
 *
 * To add a limit: add a row here (in its layer's section), read it with `limitDefault()`,
 * and give the answer when it is hit a test.
 */
import { OptionError } from "./errors.ts";

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
    whenHit: "a TCP connection that has not completed its next HTTP request or WebSocket upgrade this long after it was accepted, or after its previous response finished (keep-alive), is destroyed; the time a response takes is not counted. Also bounds a handshake hook that never answers (its client is dropped)",
  },
  maxPendingHandshakes: {
    name: "maxPendingHandshakes", default: 1_000, unit: "count", min: 1, scope: "server",
    whenHit: "further upgrade requests are answered 503 until pending ones are decided (handshake flood). An upgrade is pending until ws has validated it and its handshake hook has settled, even if its client reset meanwhile: this bounds the user hooks running at once. With `tls`, a TCP connection that arrives while this many TLS handshakes are in progress is closed at once (stats().tls.refused)",
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
    whenHit: "counted from the call of stop(): in-flight work still running is aborted and every connection still open is closed (1001); what is still open `stopGraceMs` later is destroyed. stop() resolves within stopTimeoutMs + stopGraceMs + serviceStopTimeoutMs, whatever user code does",
  },
  stopGraceMs: {
    name: "stopGraceMs", default: 1_000, unit: "ms", min: 0, scope: "server",
    whenHit: "after the stop deadline, aborted work, closing handshakes and TCP/UDP drains get this long more (at most `stopTimeoutMs`); then connections and TCP sockets are destroyed, UDP handlers and work still running are left behind, each logged",
  },

  maxRequestBodyBytes: {
    name: "maxRequestBodyBytes", default: 1024 * 1024, unit: "bytes", min: 1, scope: "server",
    whenHit: "a POST request body (the server API, /api/…) larger than this is answered 413 Payload Too Large and its connection closed; the body is not read further",
  },
  apiMaxPageSize: {
    name: "apiMaxPageSize", default: 500, unit: "count", min: 1, scope: "server",
    whenHit: "server API listings (GET /api/connections, /api/rooms): a `limit` above this is answered 400 bad_request (the default page is 50, or this if smaller); POST /api/presence lists at most this many members, with their total",
  },

  // ── endpoint ────────────────────────────────────────────────────────────────────────
  maxConnections: {
    name: "maxConnections", default: 10_000, unit: "count", min: 0, scope: "endpoint",
    whenHit: "further upgrades to the endpoint are answered 503 Service Unavailable; on a TCP listener a further connection is accepted and destroyed at once, no handler made (stats().refused)",
  },
  maxBufferedBytes: {
    name: "maxBufferedBytes", default: 4 * 1024 * 1024, unit: "bytes", min: 1, scope: "endpoint",
    whenHit: "a send to a connection with more queued is handled by `slowConsumer`: \"close\" (4000 SlowConsumer, default) or \"drop\" (the message is skipped and counted); on a TCP listener the connection is closed with 4000 \"slow consumer\" and the send returns false",
  },

  // ── app layer ───────────────────────────────────────────────────────────────────────
  taskTimeoutMs: {
    name: "taskTimeoutMs", default: 10_000, unit: "ms", min: 1, scope: "app",
    whenHit: "the task's AbortSignal fires and the caller gets a `timeout` error reply (a task may set its own)",
  },
  maxInFlightTasks: {
    name: "maxInFlightTasks", default: 64, unit: "count", min: 1, scope: "app",
    whenHit: "a further request on that connection gets an `overloaded` error reply",
  },
  maxBadMessages: {
    name: "maxBadMessages", default: 10, unit: "messages", min: 1, scope: "app",
    whenHit: "each bad message gets a `bad_request` reply; one more than this within `badMessageWindowMs` closes the connection with 1008",
  },
  badMessageWindowMs: {
    name: "badMessageWindowMs", default: 10_000, unit: "ms", min: 1, scope: "app",
    whenHit: "the sliding window over which `maxBadMessages` is counted",
  },
  maxRoomsPerConnection: {
    name: "maxRoomsPerConnection", default: 32, unit: "count", min: 1, scope: "app",
    whenHit: "more `?room=` at connect: accepted, then closed with 4400 (a refusal); a further `room.join`: `bad_request`",
  },
  maxPushBufferedBytes: {
    name: "maxPushBufferedBytes", default: 1024 * 1024, unit: "bytes", min: 1, scope: "app",
    whenHit: "a push to a connection with more queued is handled by `pushPolicy`: \"drop\" (default; skipped and counted) or \"close\" (4000 SlowConsumer)",
  },
  workerMaxQueue: {
    name: "workerMaxQueue", default: 256, unit: "count", min: 0, scope: "app",
    whenHit: "a worker-pool task called when this many wait gets an `overloaded` error reply",
  },
  maxOfflineQueue: {
    name: "maxOfflineQueue", default: 1_000, unit: "messages", min: 0, scope: "app",
    whenHit: "client library: a send while offline with the queue full returns false; a call rejects with `queue_full`",
  },
  connectTimeoutMs: {
    name: "connectTimeoutMs", default: 10_000, unit: "ms", min: 0, scope: "app",
    whenHit: "client library: a connection attempt not welcomed in this time (socket open + the server's welcome; 0 = none) is dropped, reported as an `error` (kind connect) and retried with backoff",
  },

  // ── tcp / udp ───────────────────────────────────────────────────────────────────────
  maxLineBytes: {
    name: "maxLineBytes", default: 64 * 1024, unit: "bytes", min: 1, scope: "tcp",
    whenHit: "framing \"lines\": a line longer than this (no \\n yet) closes the connection: close hook gets 1009 \"line too long\"",
  },
  maxFrameBytes: {
    name: "maxFrameBytes", default: 1024 * 1024, unit: "bytes", min: 1, scope: "tcp",
    whenHit: "framing \"length\": a 4-byte length prefix above this closes the connection before the body is read: close hook gets 1009 \"frame too big\"",
  },
  idleTimeoutMs: {
    name: "idleTimeoutMs", default: 300_000, unit: "ms", min: 0, scope: "tcp",
    whenHit: "a TCP connection with no bytes either way for this long is ended: close hook gets 1001 \"idle timeout\" (0 = never)",
  },
  drainTimeoutMs: {
    name: "drainTimeoutMs", default: 5_000, unit: "ms", min: 0, scope: "tcp",
    whenHit: "TCP stop(): sockets whose shutdown hook and pending writes have not finished by then are destroyed; UDP stop(): `handle` calls still running are left behind, their replies not sent (stats().abandoned). Under a Server, its stop deadline cuts this short",
  },
  maxPendingDatagrams: {
    name: "maxPendingDatagrams", default: 1_000, unit: "count", min: 1, scope: "udp",
    whenHit: "while this many `handle` calls are still running (async), further datagrams are dropped unread; counted in stats().dropped.busy",
  },
  maxDatagramBytes: {
    name: "maxDatagramBytes", default: 8 * 1024, unit: "bytes", min: 1, scope: "udp",
    whenHit: "a larger datagram is dropped before the handler sees it; counted in stats().dropped.oversize",
  },

  // ── runtime ─────────────────────────────────────────────────────────────────────────
  serviceRestartLimit: {
    name: "serviceRestartLimit", default: 5, unit: "count", min: 0, scope: "runtime",
    whenHit: "a service that crashed more often than this within `serviceRestartWindowMs` is marked failed and not restarted; if it is `critical`, the server stops (exit code 1)",
  },
  serviceRestartWindowMs: {
    name: "serviceRestartWindowMs", default: 60_000, unit: "ms", min: 1, scope: "runtime",
    whenHit: "crashes older than this no longer count towards `serviceRestartLimit`",
  },
  serviceBackoffBaseMs: {
    name: "serviceBackoffBaseMs", default: 100, unit: "ms", min: 0, scope: "runtime",
    whenHit: "the first restart of a crashed service waits this long; each further restart in the window waits twice as long",
  },
  serviceBackoffMaxMs: {
    name: "serviceBackoffMaxMs", default: 10_000, unit: "ms", min: 0, scope: "runtime",
    whenHit: "the restart delay stops doubling at this value",
  },
  serviceStopTimeoutMs: {
    name: "serviceStopTimeoutMs", default: 10_000, unit: "ms", min: 1, scope: "runtime",
    whenHit: "a server stop gives all services' stop() (in reverse order) this long together: one still stopping then is logged as stuck and left behind, and the ones after it are still asked to stop; after a crash or for a restart, one service's stop() gets this long",
  },
  controlMaxLineBytes: {
    name: "controlMaxLineBytes", default: 1024 * 1024, unit: "bytes", min: 64, scope: "runtime",
    whenHit: "a control request line longer than this gets an error reply (code \"line_too_long\") and the control connection is closed; nothing sent after that line is run",
  },
  controlMaxConnections: {
    name: "controlMaxConnections", default: 16, unit: "count", min: 1, scope: "runtime",
    whenHit: "further control connections get one error reply (code \"busy\") and are closed",
  },
  controlMaxBufferedBytes: {
    name: "controlMaxBufferedBytes", default: 1024 * 1024, unit: "bytes", min: 1, scope: "runtime",
    whenHit: "a control connection with more unsent reply bytes than this (its client is not reading) is not read further, so its next request waits, and progress lines are dropped, until the replies flush below it",
  },
  controlStopGraceMs: {
    name: "controlStopGraceMs", default: 2_000, unit: "ms", min: 0, scope: "runtime",
    whenHit: "control requests still running when the control socket stops get no reply; their connections are closed",
  },

  watchDebounceMs: {
    name: "watchDebounceMs", default: 100, unit: "ms", min: 0, scope: "runtime",
    whenHit: "`switchboard serve --watch` reloads a changed file once no further change has come for this long (an editor's save is often two or three writes)",
  },
  watchMaxReloads: {
    name: "watchMaxReloads", default: 1_000, unit: "count", min: 1, scope: "runtime",
    whenHit: "every reload under `--watch` keeps the old module in memory (ES modules cannot be unloaded): after this many reloads the watcher stops, logs that the server must be restarted, and the code loaded last keeps running",
  },
  workerProcessStartTimeoutMs: {
    name: "workerProcessStartTimeoutMs", default: 60_000, unit: "ms", min: 1, scope: "runtime",
    whenHit: "`serve --workers` and runWorkers(): a worker process that has not loaded its files (run its `start`) and listened this long after its fork is killed (SIGKILL); at start-up the start fails with an error naming the worker, later it counts as a death (restart with backoff), in `command reload` the reload fails and the old worker keeps serving",
  },
  workerProcessStopTimeoutMs: {
    name: "workerProcessStopTimeoutMs", default: 30_000, unit: "ms", min: 1, scope: "runtime",
    whenHit: "`serve --workers` and runWorkers(): a worker still running this long after the primary asked it to stop (stop, reload; over IPC, or SIGTERM while it starts) is killed (SIGKILL). Keep it above stopTimeoutMs + stopGraceMs + serviceStopTimeoutMs, the worker's own stop deadline",
  },

  // ── cluster ─────────────────────────────────────────────────────────────────────────
  busMaxPayloadBytes: {
    name: "busMaxPayloadBytes", default: 8 * 1024 * 1024, unit: "bytes", min: 1, scope: "cluster",
    whenHit: "publish()/say() throws OptionError(\"payload\") and nothing is sent (size counted after encoding)",
  },
  busMaxChannelLength: {
    name: "busMaxChannelLength", default: 256, unit: "count", min: 1, scope: "cluster",
    whenHit: "publish()/subscribe() with a longer channel name (in characters) throws OptionError(\"channel\")",
  },
  presenceHeartbeatMs: {
    name: "presenceHeartbeatMs", default: 5_000, unit: "ms", min: 10, scope: "cluster",
    whenHit: "every beat a node refreshes the expiry of its presence keys in Redis (and rewrites any that vanished); must be below presenceTtlMs",
  },
  presenceTtlMs: {
    name: "presenceTtlMs", default: 15_000, unit: "ms", min: 50, scope: "cluster",
    whenHit: "a node that has not refreshed its keys for this long (crashed, or cut off from Redis) disappears from nodes() and its members from members()",
  },
  redisReconnectMaxMs: {
    name: "redisReconnectMaxMs", default: 5_000, unit: "ms", min: 10, scope: "cluster",
    whenHit: "reconnect attempts to Redis back off from 50 ms, doubling, up to this delay between attempts (forever; the node keeps serving locally)",
  },
  clusterReadyTimeoutMs: {
    name: "clusterReadyTimeoutMs", default: 3_000, unit: "ms", min: 1, scope: "cluster",
    whenHit: "server.start() waits this long for Redis; then it serves local clients and joins the cluster when Redis answers (logged once)",
  },
  historyMaxCount: {
    name: "historyMaxCount", default: 100, unit: "count", min: 0, scope: "cluster",
    whenHit: "older pushes leave the room's history; a room.join `since` a position before them answers recovered: false, and `history: N` is capped at it (0 = no history)",
  },
  historyMaxAgeMs: {
    name: "historyMaxAgeMs", default: 300_000, unit: "ms", min: 1, scope: "cluster",
    whenHit: "pushes older than this leave the room's history (a position before them answers recovered: false)",
  },
  idempotencyWindowMs: {
    name: "idempotencyWindowMs", default: 60_000, unit: "ms", min: 1, scope: "cluster",
    whenHit: "an idempotency key older than this is forgotten: a repeat of it publishes again",
  },
  idempotencyMaxKeys: {
    name: "idempotencyMaxKeys", default: 10_000, unit: "count", min: 1, scope: "cluster",
    whenHit: "memory engine: per room, the oldest idempotency keys are forgotten first (a repeat of one publishes again)",
  },
  handoverMaxPushes: {
    name: "handoverMaxPushes", default: 10_000, unit: "count", min: 1, scope: "cluster",
    whenHit: "a joining member's buffer of live pushes during its replay overflows: its room.join answers recovered: false",
  },
  engineMetaTtlMs: {
    name: "engineMetaTtlMs", default: 86_400_000, unit: "ms", min: 1, scope: "cluster",
    whenHit: "Redis: a room idle this long loses its offset and epoch (a new epoch next time: old positions answer recovered: false)",
  },
  memoryRoomIdleMs: {
    name: "memoryRoomIdleMs", default: 86_400_000, unit: "ms", min: 1, scope: "cluster",
    whenHit: "memory engine: a room with no kept push, no member, idle this long is forgotten with its epoch (old positions answer recovered: false)",
  },
  ipcRequestTimeoutMs: {
    name: "ipcRequestTimeoutMs", default: 10_000, unit: "ms", min: 1, scope: "cluster",
    whenHit: "IPC engine (workers of one machine): a request its primary's hub has not answered in this time fails with `unavailable` (the join, publish or members call fails; pushes of a failed publish reach this worker's members only)",
  },
} as const satisfies Record<string, LimitSpec>;

export type LimitName = keyof typeof LIMITS;

export function limitDefault(name: LimitName): number {
  return LIMITS[name].default;
}

/**
 * Read a limit option: the value if given (checked against its row), else the inherited value,
 * else the row's default. A bad value throws an OptionError that names the option.
 */
export function readLimit(name: LimitName, value: unknown, inherited?: number): number {
  const spec = LIMITS[name];
  if (value === undefined) return inherited ?? spec.default;
  if (typeof value !== "number" || !Number.isInteger(value) || value < spec.min) {
    throw new OptionError(spec.name, `must be an integer ≥ ${spec.min} (${spec.unit}), got ${JSON.stringify(value)}`);
  }
  return value;
}

/** A TCP/UDP port option: an integer 0–65535 (0 = any free port). */
export function readPort(value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 65535) {
    throw new OptionError("port", `must be an integer from 0 to 65535, got ${String(value)}`);
  }
  return value;
}
