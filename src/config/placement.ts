/**
 * Where every setting of a resolved config goes when `switchboard serve` builds a server, so
 * that no key can be validated and then dropped:
 *
 * - LIMIT_PLACES has one row per limit of src/limits.ts (`satisfies Record<LimitName, …>`: a
 *   limit added there without a row here does not compile), and the option each row names is
 *   typed against that layer's options (ServerOptions, ClusterConfig, AppOptions, …).
 * - A limit a standalone server has no place for (raw TCP/UDP listeners, worker pools, the
 *   client library) is refused with an OptionError that says where it belongs.
 * - toServeOptions() is the only mapping from ResolvedConfig to the layers' options.
 */
import { OptionError } from "../errors.ts";
import type { LimitName } from "../limits.ts";
import type { ServerOptions } from "../options.ts";
import type { ClusterConfig } from "../cluster/index.ts";
import type { AppOptions } from "../app/app.ts";
import type { ControlServerOptions } from "../control/server.ts";
import type { ResolvedConfig } from "./resolve.ts";
import { tokenSession } from "../app/sessions.ts";

/** The control socket's limits (runtime/standalone.ts hands them to the ControlServer). */
export type ControlLimits = Pick<ControlServerOptions, "maxLineBytes" | "maxConnections" | "maxBufferedBytes" | "stopGraceMs">;

export type LimitPlace =
  /** createServer(): server-wide, or the default that every endpoint and the tasks app inherit. */
  | "server"
  /** createServer({ cluster }). */
  | "cluster"
  /** The default of every endpoint file that does not set its own, and the tasks app's endpoint. */
  | "endpoints"
  /** The tasks app at /app (the handler folder's tasks/). */
  | "app"
  /** The control socket, under its own option name. */
  | { readonly control: keyof ControlLimits }
  /** `switchboard serve --watch` (cli/watch.ts). */
  | "watch"
  /** The primary of `switchboard serve --workers` (cli/workers.ts). */
  | "workers"
  /** No place in a standalone server: why, and where to set it instead. */
  | { readonly nowhere: string };

const TCP = "it has no raw TCP listener to apply it to: set it in code, server.tcp({ … })";
const UDP = "it has no UDP listener to apply it to: set it in code, server.udp({ … })";

export const LIMIT_PLACES = {
  maxPayload: "server",
  maxFragments: "server",
  handshakeTimeoutMs: "server",
  maxPendingHandshakes: "server",
  maxHeaderBytes: "server",
  closeTimeoutMs: "server",
  heartbeatMs: "server",
  stopTimeoutMs: "server",
  stopGraceMs: "server",
  maxConnections: "endpoints",
  maxBufferedBytes: "server",
  maxRequestBodyBytes: "server",
  apiMaxPageSize: "server",
  taskTimeoutMs: "app",
  maxInFlightTasks: "app",
  maxBadMessages: "app",
  badMessageWindowMs: "app",
  maxRoomsPerConnection: "app",
  maxPushBufferedBytes: "app",
  workerMaxQueue: { nowhere: "a worker pool is made in your task file: pass it there, workerPool({ filename, maxQueue })" },
  maxOfflineQueue: { nowhere: "it is a setting of the client library: new Client(url, { maxOfflineQueue })" },
  connectTimeoutMs: { nowhere: "it is a setting of the client library: new Client(url, { connectTimeoutMs })" },
  maxLineBytes: { nowhere: TCP },
  maxFrameBytes: { nowhere: TCP },
  idleTimeoutMs: { nowhere: TCP },
  drainTimeoutMs: { nowhere: TCP },
  maxPendingDatagrams: { nowhere: UDP },
  maxDatagramBytes: { nowhere: UDP },
  serviceRestartLimit: "server",
  serviceRestartWindowMs: "server",
  serviceBackoffBaseMs: "server",
  serviceBackoffMaxMs: "server",
  serviceStopTimeoutMs: "server",
  controlMaxLineBytes: { control: "maxLineBytes" },
  controlMaxConnections: { control: "maxConnections" },
  controlMaxBufferedBytes: { control: "maxBufferedBytes" },
  controlStopGraceMs: { control: "stopGraceMs" },
  watchDebounceMs: "watch",
  watchMaxReloads: "watch",
  workerProcessStartTimeoutMs: "workers",
  workerProcessStopTimeoutMs: "workers",
  busMaxPayloadBytes: "cluster",
  busMaxChannelLength: "cluster",
  presenceHeartbeatMs: "cluster",
  presenceTtlMs: "cluster",
  redisReconnectMaxMs: "cluster",
  clusterReadyTimeoutMs: "cluster",
  historyMaxCount: "cluster",
  historyMaxAgeMs: "cluster",
  idempotencyWindowMs: "cluster",
  idempotencyMaxKeys: "cluster",
  handoverMaxPushes: "cluster",
  engineMetaTtlMs: "cluster",
  memoryRoomIdleMs: "cluster",
  ipcRequestTimeoutMs: "cluster",
} as const satisfies Record<LimitName, LimitPlace>;

type Places = typeof LIMIT_PLACES;
/** The limits placed at `P`. */
type At<P> = { [K in LimitName]: Places[K] extends P ? K : never }[LimitName];

/** What `switchboard serve` hands to each layer. */
export interface ServeOptions {
  /** createServer() options, without the logger (the runtime makes it). */
  server: Omit<ServerOptions, "logger">;
  /** The tasks app's options (used when the folder has tasks). */
  app: AppOptions;
  /** Defaults of every endpoint file. */
  endpointDefaults: { maxConnections?: number };
  /** The control socket's limits. */
  control: ControlLimits;
  /** Keys that only the tasks app takes, as set (for the warning when there are no tasks). */
  appKeys: string[];
  /** The limits of `--watch`, as set (cli/watch.ts has the defaults). */
  watch: { watchDebounceMs?: number; watchMaxReloads?: number };
  /** The limits of the `--workers` primary, as set (cli/workers.ts has the defaults). */
  workers: { workerProcessStartTimeoutMs?: number; workerProcessStopTimeoutMs?: number };
}

/** The layers' options for a resolved config; a limit with no place throws an OptionError naming it. */
export function toServeOptions(config: ResolvedConfig): ServeOptions {
  const server: ServeOptions["server"] = { port: config.port, host: config.host, perMessageDeflate: config.perMessageDeflate };
  const cluster: ClusterConfig = config.cluster.redis === undefined ? {} : { redis: config.cluster.redis, prefix: config.cluster.prefix };
  const app: AppOptions = {};
  const endpointDefaults: ServeOptions["endpointDefaults"] = {};
  const control: ControlLimits = {};
  const appKeys: string[] = [];
  const watch: ServeOptions["watch"] = {};
  const workers: ServeOptions["workers"] = {};
  for (const [name, value] of Object.entries(config.limits) as Array<[LimitName, number | undefined]>) {
    if (value === undefined) continue;
    const place: LimitPlace = LIMIT_PLACES[name];
    if (place === "server") server[name as At<"server">] = value;
    else if (place === "cluster") cluster[name as At<"cluster">] = value;
    else if (place === "app") {
      app[name as At<"app">] = value;
      appKeys.push(`limits.${name}`);
    } else if (place === "endpoints") {
      endpointDefaults[name as At<"endpoints">] = value;
      app.endpoint = { ...app.endpoint, [name]: value };
    } else if (place === "watch") watch[name as At<"watch">] = value;
    else if (place === "workers") workers[name as At<"workers">] = value;
    else if ("control" in place) control[place.control] = value;
    else throw new OptionError(`limits.${name}`, `not a setting of switchboard serve: ${place.nowhere} (from ${config.sources[`limits.${name}`] ?? "config"})`);
  }
  server.cluster = cluster;
  const tls = config.tls;
  if (tls.key !== undefined || tls.cert !== undefined || tls.ca !== undefined || tls.passphrase !== undefined) {
    // A missing half is refused by loadTls() ("tls.cert is required …"), not dropped.
    server.tls = { key: tls.key ?? "", cert: tls.cert ?? "", ...(tls.ca === undefined ? {} : { ca: tls.ca }), ...(tls.passphrase === undefined ? {} : { passphrase: tls.passphrase }) };
  }
  if (config.trustProxy !== false) server.trustProxy = config.trustProxy;
  const { enabled, path, port, token } = config.metrics;
  // createServer validates the values again and names metrics.* in its OptionError.
  if (enabled !== undefined || path !== undefined || port !== undefined || token !== undefined) {
    server.metrics = { ...(enabled === undefined ? {} : { enabled }), ...(path === undefined ? {} : { path }), ...(port === undefined ? {} : { port }), ...(token === undefined ? {} : { token }) };
  }
  if (config.api.key !== undefined) server.api = { ...server.api, key: config.api.key };
  if (config.admin.token !== undefined) server.admin = { token: config.admin.token };
  placeAppSettings(config, app, appKeys);
  return { server, app, endpointDefaults, control, appKeys, watch, workers };
}

/** The config's `app.*` keys onto the app at /app (each key is typed against AppOptions here). */
function placeAppSettings(config: ResolvedConfig, app: AppOptions, appKeys: string[]): void {
  const { presence, rooms, pushPolicy, sessionSecret, sessionRequired } = config.app;
  if (presence !== undefined) app.presence = presence;
  if (rooms !== undefined) app.rooms = rooms;
  if (pushPolicy !== undefined) app.pushPolicy = pushPolicy;
  if (sessionSecret !== undefined) app.session = tokenSession({ secret: sessionSecret, ...(sessionRequired === undefined ? {} : { required: sessionRequired }) });
  else if (sessionRequired !== undefined) {
    throw new OptionError("app.sessionRequired", `has no effect without app.sessionSecret (from ${config.sources["app.sessionRequired"] ?? "config"}): set the secret too, or drop it`);
  }
  for (const key of ["presence", "rooms", "pushPolicy", "sessionSecret", "sessionRequired"] as const) {
    if (config.app[key] !== undefined) appKeys.push(`app.${key}`);
  }
}
