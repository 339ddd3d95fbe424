/**
 * Which host a CII client is told to use in wcUrl and tsUrl.
 *
 * Bound to one address, that address is the only one that works, so it is advertised. Bound to
 * a wildcard (0.0.0.0, ::) the server has many addresses and "127.0.0.1" would send a remote
 * companion to itself: each client is told the host it connected to, read from the Host header
 * of its handshake (RFC 6455 §4.1 makes every client send it). The header rather than the
 * socket's local address because it is what the client itself dialled: a DNS or mDNS name stays
 * a name the companion resolves the same way, and the handshake view exposes it. A client can
 * write any Host it likes, but it only misleads itself: the URLs go to that one client. So the
 * value is checked to be a plain IP literal or DNS name before it goes into a URL.
 */
import { isIP } from "node:net";

const DNS_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const DNS_NAME = new RegExp(`^${DNS_LABEL}(?:\\.${DNS_LABEL})*\\.?$`);

export function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "[::]";
}

/** A host as it is written in a URL: IPv6 literals in brackets. */
export function urlHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

/**
 * The host part of a Host header ("name", "name:port", "[v6]", "[v6]:port") in URL form, or
 * undefined when it is missing or is not an IP literal or DNS name.
 */
export function hostFromHeader(header: string | string[] | undefined): string | undefined {
  if (typeof header !== "string") return undefined;
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(header);
  if (bracketed) return isIP(bracketed[1]!) === 6 ? `[${bracketed[1]!.toLowerCase()}]` : undefined;
  const plain = /^([^:]+)(?::\d{1,5})?$/.exec(header);
  if (!plain) return undefined;
  const name = plain[1]!;
  if (isIP(name) === 4) return name;
  return name.length <= 253 && DNS_NAME.test(name) ? name.toLowerCase() : undefined;
}
