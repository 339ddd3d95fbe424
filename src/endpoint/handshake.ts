/**
 * The view of an upgrade request that handshake hooks see — built by the transport, free of
 * Node types so that another runtime's transport can build the same thing — and the decision
 * the endpoint reaches about it.
 */
import type { HandshakeRejection } from "../errors.ts";

export interface HandshakeRequest {
  /** The resource path, without the query (mod_pywebsocket's ws_resource). */
  readonly path: string;
  /** The full request target, path and query. */
  readonly url: string;
  readonly query: URLSearchParams;
  /** The Origin header, if any (ws_origin). */
  readonly origin: string | undefined;
  /** Sec-WebSocket-Version (13 for every current client). */
  readonly version: number;
  /** Subprotocols the client offered, in its order (ws_requested_protocols). */
  readonly protocols: readonly string[];
  /** The subprotocol the endpoint's `protocols` list chose ("" for none); a hook may change it by returning `{ protocol }`. */
  protocol: string;
  /** Extensions the client offered, one entry per offer, as sent (ws_requested_extensions). */
  readonly extensions: readonly string[];
  /** True when permessage-deflate will be negotiated on this connection (ws_deflate). */
  readonly deflate: boolean;
  /** Request headers, lower-cased names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /**
   * The client's IP address. Read it while the hook runs: once a refused socket is gone it is
   * unknown. With `trustProxy`, when the direct peer is a trusted proxy, it is the client's
   * address from `Forwarded: for=` / `X-Forwarded-For` (docs/operations.md#behind-a-proxy).
   */
  readonly remoteAddress: string | undefined;
  /** The direct peer's IP address (the proxy's, behind one): `remoteAddress` without trustProxy. */
  readonly peerAddress: string | undefined;
  /**
   * Call `listener` once when the client's connection closes (a reset, or the handshake
   * timeout dropping it) — at once if it already has. Returns a function that stops watching.
   * An async hook can use it to stop early; the endpoint uses it to give back the client's
   * connection slot as soon as the client has gone.
   */
  onClientGone(listener: () => void): () => void;
}

/** What a handshake hook may return: nothing (accept), a rejection, or accept with changes. */
export type HandshakeResult<D> =
  | void
  | undefined
  | HandshakeRejection
  | { protocol?: string; data?: Partial<D> };

export type HandshakeDecision =
  | { readonly ok: true; readonly protocol: string; readonly data: unknown }
  | { readonly ok: false; readonly status: number; readonly reason: string };

/**
 * Subprotocol choice: the first of the server's own list that the client offered.
 * Returns "" when the client offered none, undefined when it offered some and none match.
 */
export function chooseProtocol(serverList: readonly string[] | undefined, offered: readonly string[]): string | undefined {
  if (offered.length === 0 || serverList === undefined) return "";
  for (const candidate of serverList) if (offered.includes(candidate)) return candidate;
  return undefined;
}
