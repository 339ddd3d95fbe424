/**
 * trustProxy: the client's address behind a reverse proxy, from `Forwarded: for=` (RFC 7239)
 * or `X-Forwarded-For` — pure parsing, no I/O, so every case is a unit test.
 *
 * Those headers are written by whoever sent the request, so they mean something only when the
 * direct peer is a proxy we trust. The rule (the one nginx's realip and Express's proxy-addr
 * follow): walk the hops from the right (the one nearest to us) while the address we are at
 * is trusted; the first untrusted address is the client. With `trustProxy: true` every hop is
 * trusted and the leftmost address is the client.
 *
 * A malformed header is ignored as a whole (the peer address stays): a half-understood chain
 * could let a client choose its own address. A hop whose `for` is `unknown` or an obfuscated
 * identifier (`_hidden`) has no address: the walk stops at the proxy that reported it.
 */
import { BlockList, isIP } from "node:net";
import { OptionError } from "../errors.ts";

/** `false` (default): headers ignored. `true`: any direct peer is a proxy. A list: these addresses / CIDRs are. */
export type TrustProxy = boolean | readonly string[];

/** Decides whether an address is a trusted proxy. Built once, from the option. */
export type ProxyTrust = (address: string) => boolean;

/** Validate the option and build its matcher; undefined when trustProxy is off. */
export function compileTrustProxy(value: TrustProxy | undefined, option = "trustProxy"): ProxyTrust | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return () => true;
  if (!Array.isArray(value)) throw new OptionError(option, `must be true, false or a list of addresses / CIDRs, got ${JSON.stringify(value)}`);
  if (value.length === 0) return undefined;
  const list = new BlockList();
  for (const entry of value) {
    if (typeof entry !== "string") throw new OptionError(option, `entries must be strings, got ${JSON.stringify(entry)}`);
    const slash = entry.indexOf("/");
    const address = normalize(slash === -1 ? entry : entry.slice(0, slash));
    const family = isIP(address);
    if (family === 0) throw new OptionError(option, `${JSON.stringify(entry)} is not an IP address or CIDR (e.g. "10.0.0.0/8", "::1")`);
    const type = family === 4 ? "ipv4" : "ipv6";
    if (slash === -1) {
      list.addAddress(address, type);
      continue;
    }
    const bitsText = entry.slice(slash + 1);
    const bits = /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : NaN;
    if (!(bits >= 0 && bits <= (family === 4 ? 32 : 128))) throw new OptionError(option, `${JSON.stringify(entry)}: the prefix length must be 0–${family === 4 ? 32 : 128}`);
    list.addSubnet(address, bits, type);
  }
  return (address) => {
    const bare = normalize(address);
    const family = isIP(bare);
    return family !== 0 && list.check(bare, family === 4 ? "ipv4" : "ipv6");
  };
}

/**
 * The client's address: `peer` itself unless it is trusted and the request carries a
 * well-formed `Forwarded` (preferred) or `X-Forwarded-For` header.
 */
export function clientAddress(
  peer: string | undefined,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  trusted: ProxyTrust | undefined,
): string | undefined {
  if (trusted === undefined || peer === undefined || !trusted(peer)) return peer;
  const forwarded = headers.forwarded;
  const hops = forwarded !== undefined ? parseForwarded(joined(forwarded)) : parseXForwardedFor(joined(headers["x-forwarded-for"]));
  if (hops === undefined) return peer;
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (hop === UNKNOWN) return client; // the trusted proxy at `client` did not know its client
    client = hop;
    if (!trusted(hop)) return hop;
  }
  return client;
}

/** A hop with no address: `for=unknown`, an obfuscated identifier, or no `for` at all. */
export const UNKNOWN = "";

/**
 * `Forwarded` (RFC 7239 §4) → the `for` of each element, left to right (UNKNOWN for a hop
 * without an address); undefined when malformed.
 */
export function parseForwarded(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const elements = splitOutsideQuotes(value, ",");
  if (elements === undefined) return undefined;
  const hops: string[] = [];
  for (const element of elements) {
    const pairs = splitOutsideQuotes(element, ";");
    if (pairs === undefined) return undefined;
    let hop: string | undefined;
    const seen = new Set<string>();
    for (const pair of pairs) {
      const trimmed = pair.trim();
      if (trimmed === "" && pairs.length > 1) continue; // "for=a;" — an empty pair is tolerated
      const eq = trimmed.indexOf("=");
      if (eq <= 0) return undefined;
      const name = trimmed.slice(0, eq).toLowerCase();
      if (!TOKEN.test(name) || seen.has(name)) return undefined; // each parameter at most once (§4)
      seen.add(name);
      const raw = readValue(trimmed.slice(eq + 1));
      if (raw === undefined) return undefined;
      if (name === "for") {
        hop = parseNode(raw);
        if (hop === undefined) return undefined;
      }
    }
    hops.push(hop ?? UNKNOWN);
  }
  return hops.length === 0 ? undefined : hops;
}

/** `X-Forwarded-For: client, proxy1, proxy2` → the addresses; undefined when any entry is not an address. */
export function parseXForwardedFor(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const hops: string[] = [];
  for (const part of value.split(",")) {
    const address = parseAddress(part.trim());
    if (address === undefined) return undefined;
    hops.push(address);
  }
  return hops;
}

// RFC 7230 token characters.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const OBFUSCATED = /^_[A-Za-z0-9._-]+$/;

/** A parameter value: a token, or a quoted-string (RFC 7230 §3.2.6) unquoted. */
function readValue(text: string): string | undefined {
  if (!text.startsWith('"')) return TOKEN.test(text) ? text : undefined;
  if (text.length < 2 || !text.endsWith('"')) return undefined;
  let out = "";
  for (let i = 1; i < text.length - 1; i++) {
    let ch = text[i]!;
    if (ch === "\\") {
      i++;
      if (i >= text.length - 1) return undefined;
      ch = text[i]!;
    } else if (ch === '"') return undefined;
    out += ch;
  }
  return out;
}

/** A `for` node (RFC 7239 §6): IPv4, "[IPv6]", either with ":port", "unknown" or "_obfuscated". */
function parseNode(node: string): string | undefined {
  if (node.toLowerCase() === "unknown" || OBFUSCATED.test(node)) return UNKNOWN;
  let host = node;
  let port: string | undefined;
  if (node.startsWith("[")) {
    const close = node.indexOf("]");
    if (close === -1) return undefined;
    host = node.slice(1, close);
    const rest = node.slice(close + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) return undefined;
      port = rest.slice(1);
    }
    if (isIP(host) !== 6) return undefined;
  } else {
    const colon = node.indexOf(":");
    if (colon !== -1) [host, port] = [node.slice(0, colon), node.slice(colon + 1)];
    if (isIP(host) !== 4) return undefined; // a bare IPv6 must be in brackets (§6)
  }
  if (port !== undefined && !/^\d{1,5}$/.test(port) && !OBFUSCATED.test(port)) return undefined;
  if (host.toLowerCase().startsWith("::ffff:")) return normalize(host);
  return host;
}

/** An X-Forwarded-For entry: IPv4, IPv6, "[IPv6]", each optionally with ":port". */
function parseAddress(entry: string): string | undefined {
  if (isIP(entry) !== 0) return normalize(entry);
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(entry);
  if (bracketed !== null) return isIP(bracketed[1]!) === 6 ? normalize(bracketed[1]!) : undefined;
  const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(entry);
  if (withPort !== null && isIP(withPort[1]!) === 4) return withPort[1]!;
  return undefined;
}

/** "::ffff:10.0.0.1" (a dual-stack socket's view of an IPv4 peer) → "10.0.0.1". */
function normalize(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped !== null ? mapped[1]! : address;
}

/** Split on `separator` outside quoted-strings; undefined for an unterminated quote. */
function splitOutsideQuotes(text: string, separator: string): string[] | undefined {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === "\\") i++;
      else if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === separator) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (quoted) return undefined;
  parts.push(text.slice(start));
  return parts;
}

function joined(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(",") : value;
}
