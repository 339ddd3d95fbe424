/**
 * The handshake as the transport seam sees it: the view of an upgrade request that the
 * transport builds (free of Node types, so that another runtime's transport can build the same
 * thing) and hands up to the endpoint's hooks, and the decision the endpoint hands back, which
 * the transport carries out (101 or an HTTP refusal). The transport owns these types; the
 * endpoint layer re-exports them.
 */

/** The decision on an upgrade: accept with a subprotocol and the connection's data, or refuse with a status. */
export type HandshakeDecision =
  | { readonly ok: true; readonly protocol: string; readonly data: unknown }
  | { readonly ok: false; readonly status: number; readonly reason: string };

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
