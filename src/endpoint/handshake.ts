/**
 * What handshake hooks return and how the endpoint picks a subprotocol. The request view the
 * hooks see and the decision the endpoint reaches are the transport seam's types
 * (transport/handshake.ts), re-exported here for the endpoint's users.
 */
import type { HandshakeRejection } from "../errors.ts";

// The seam's own types: the transport builds the request and acts on the decision (transport/handshake.ts).
export type { HandshakeRequest, HandshakeDecision } from "../transport/handshake.ts";

/** What a handshake hook may return: nothing (accept), a rejection, or accept with changes. */
export type HandshakeResult<D> =
  | void
  | undefined
  | HandshakeRejection
  | { protocol?: string; data?: Partial<D> };

/**
 * Subprotocol choice: the first of the server's own list that the client offered.
 * Returns "" when the client offered none, undefined when it offered some and none match.
 */
export function chooseProtocol(serverList: readonly string[] | undefined, offered: readonly string[]): string | undefined {
  if (offered.length === 0 || serverList === undefined) return "";
  for (const candidate of serverList) if (offered.includes(candidate)) return candidate;
  return undefined;
}
