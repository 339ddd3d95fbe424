/** Switchboard's public API. */
export { createServer, Server, type StopOptions, type ServerStats } from "./server.ts";
export type { ServerOptions, EndpointOptions, EndpointLimits, DeflateOptions } from "./options.ts";
// ops: the server API (docs/api.md) and the admin page (docs/admin.md)
export type { ApiOptions, AdminOptions, TlsOptions, TrustProxy } from "./options.ts";
export type { MetricsOptions } from "./observe/metrics-options.ts";
export type { Readiness } from "./observe/readiness.ts";
export type { CertificateInfo } from "./transport/tls.ts";
export { ApiError, API_ERRORS, type ApiErrorCode, type StatsSnapshot, type EndpointSnapshot, type ConnectionItem, type RoomItem, type Page } from "./ops/index.ts";
export { Endpoint, type EndpointStats } from "./endpoint/endpoint.ts";
export { Connection, type SlowConsumerPolicy } from "./endpoint/connection.ts";
export type { HandshakeRequest, HandshakeResult } from "./endpoint/handshake.ts";
export type { BroadcastOptions, BroadcastResult } from "./endpoint/broadcast.ts";
export type { ConnectionHandler } from "./transport/handler.ts";
export type { HttpHandler, HttpMiddleware, JsonPostHandler, PostRouteOptions, PostRefusal } from "./transport/http.ts";
export { CloseCode, describeCloseCode, isRefusalCloseCode, refusalCloseCode, type CloseCodeInfo } from "./protocol/close-codes.ts";
export { SwitchboardError, OptionError, HandshakeRejection, StateError, UnavailableError, WorkerStartError, reject } from "./errors.ts";
export { FramingError, MalformedDatagram } from "./errors.ts";
export { TcpListener, type TcpOptions, type TcpHandler, type TcpConnection, type TcpStats } from "./transport/tcp.ts";
export { UdpListener, type UdpOptions, type UdpHandle, type UdpPeer, type UdpReplyContext, type UdpStats } from "./transport/udp.ts";
export type { FramingName } from "./transport/framing.ts";
export { LIMITS, type LimitSpec, type LimitName } from "./limits.ts";
export type { Logger } from "./log.ts";
export { App, type AppOptions, type AppStats, type RoomPolicy, type RoomAction } from "./app/app.ts";
export { defineTask, TaskError, type TaskDefinition, type TaskOptions, type TaskHandler, type TaskContext, type AppConnection } from "./app/task.ts";
export { anonymousSession, tokenSession, signSessionToken, type Session, type SessionRequest, type User, type TokenSessionOptions } from "./app/sessions.ts";
export { workerPool, WorkerPool, type WorkerPoolOptions } from "./app/worker-pool.ts";
export type { RoomsApi } from "./app/rooms.ts";
export type { ClusterService, ClusterStats, ClusterConfig, BusStatus, BusStats, BusHandler, NodeInfo } from "./cluster/index.ts";
// Workers of one machine without Redis: a primary runs both hubs and adds each worker's channel
// (childPort(worker)); each worker's server has cluster: { ipc: true } (docs/engine.md).
export { IpcBusHub } from "./cluster/index.ts";
export { IpcEngineHub } from "./engine/ipc-hub.ts";
export { childPort, processPort, type IpcPort } from "./cluster/ipc-port.ts";
export type { PushPolicy, PushCounters } from "./app/push.ts";
export * as protocol from "./protocol/messages.ts";
export { defineConfig, type SwitchboardConfig, type AppConfig, type ServedContext, type ServedServiceContext, type ServedEndpointFactory } from "./config/define.ts";

import type { EndpointOptions } from "./options.ts";
/** Type a handler's options where they are written (handler files, shared modules). */
export function defineEndpoint<D = Record<string, unknown>>(options: EndpointOptions<D>): EndpointOptions<D> {
  return options;
}

// runtime: services, standalone process, control commands (docs/operations.md)
export { defineService, type Service, type ServiceContext } from "./runtime/service.ts";
export { Supervisor, ServiceFailedError, type ServiceState, type ServiceStatus, type StateChange } from "./runtime/supervisor.ts";
export { runStandalone, type StandaloneOptions, type Standalone } from "./runtime/standalone.ts";
// N worker processes of one server on one port (docs/standalone.md, "Workers from code").
export { runWorkers, type RunWorkersOptions, type RunWorkersLimits, type WorkerStartContext, type WorkersPrimaryRun, type WorkerRun } from "./runtime/run-workers.ts";
export { type WorkersStatus, type WorkerRow, type ReloadResult } from "./runtime/workers-primary.ts";
export { createRuntimeLogger, type LoggingConfig } from "./runtime/logging.ts";
export { LockError } from "./runtime/lockfile.ts";
export { createCommandTable } from "./control/builtin-commands.ts";
export { CommandTable, type CommandSpec, type ArgSpec } from "./control/commands.ts";
export { ControlError } from "./control/protocol.ts";
export type { ControlContext } from "./control/context.ts";
