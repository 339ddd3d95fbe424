/**
 * Build the transport-neutral HandshakeRequest from Node's IncomingMessage. ws has already
 * validated the upgrade headers when this runs (it is called from verifyClient).
 */
import type { IncomingMessage } from "node:http";
import type { HandshakeRequest } from "../endpoint/handshake.ts";

export function toHandshakeRequest(req: IncomingMessage, deflateEnabled: boolean): HandshakeRequest {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  const extensions = splitHeader(req.headers["sec-websocket-extensions"], ",");
  let query: URLSearchParams | undefined;
  return {
    path: q === -1 ? url : url.slice(0, q),
    url,
    // Parsed on first use: most endpoints never read the query.
    get query() {
      return (query ??= new URLSearchParams(q === -1 ? "" : url.slice(q + 1)));
    },
    origin: req.headers.origin ?? (req.headers["sec-websocket-origin"] as string | undefined),
    version: Number(req.headers["sec-websocket-version"] ?? 13),
    protocols: splitHeader(req.headers["sec-websocket-protocol"], ","),
    protocol: "",
    extensions,
    deflate: deflateEnabled && extensions.some((offer) => offer.split(";")[0]!.trim() === "permessage-deflate"),
    headers: req.headers,
    remoteAddress: req.socket.remoteAddress,
  };
}

function splitHeader(value: string | string[] | undefined, separator: string): string[] {
  if (value === undefined) return [];
  const joined = Array.isArray(value) ? value.join(separator) : value;
  return joined.split(separator).map((part) => part.trim()).filter((part) => part !== "");
}
