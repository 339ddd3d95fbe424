/** Switchboard's public API. */
export { createServer, Server, type StopOptions, type ServerStats } from "./server.ts";
export type { ServerOptions, EndpointOptions, EndpointLimits, DeflateOptions } from "./options.ts";
export { Endpoint, type EndpointStats } from "./endpoint/endpoint.ts";
export { Connection, type SlowConsumerPolicy } from "./endpoint/connection.ts";
export type { HandshakeRequest, HandshakeResult } from "./endpoint/handshake.ts";
export type { BroadcastOptions, BroadcastResult } from "./endpoint/broadcast.ts";
export type { ConnectionHandler } from "./transport/handler.ts";
export type { HttpHandler, HttpMiddleware } from "./transport/http.ts";
export { CloseCode, describeCloseCode, type CloseCodeInfo } from "./protocol/close-codes.ts";
export { SwitchboardError, OptionError, HandshakeRejection, StateError, reject } from "./errors.ts";
export { LIMITS, type LimitSpec, type LimitName } from "./limits.ts";
export type { Logger } from "./log.ts";

import type { EndpointOptions } from "./options.ts";
/** Type a handler's options where they are written (handler files, shared modules). */
export function defineEndpoint<D = Record<string, unknown>>(options: EndpointOptions<D>): EndpointOptions<D> {
  return options;
}
