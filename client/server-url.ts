/**
 * The server URL a Client is given, checked once at construction, so a bad one is a
 * synchronous error that names it instead of a failure inside a later connect.
 *
 * The rules are the browser WebSocket's (WHATWG WebSockets, "new WebSocket(url)"): a
 * relative URL resolves against the page, `http:` and `https:` mean `ws:` and `wss:`, any
 * other scheme and any `#fragment` are a SyntaxError. Node has no page, so there a URL must be
 * absolute. (`ws`'s `ws+unix:` is left out: a browser cannot use it.)
 */

const EXPECTED = "expected ws://host:port/path or wss://host:port/path (http:// and https:// mean ws:// and wss://)";

const SCHEMES: Readonly<Record<string, string>> = { "ws:": "ws:", "wss:": "wss:", "http:": "ws:", "https:": "wss:" };

/** The ws:/wss: URL to connect to; a SyntaxError, naming `url`, for anything a WebSocket would refuse. */
export function resolveServerUrl(url: string, base: string | undefined = pageUrl()): URL {
  let parsed: URL;
  try {
    parsed = new URL(url, base);
  } catch {
    // URL's own TypeError says only "Invalid URL": ours names it and the form we expect.
    throw refused(url, base === undefined ? "not an absolute URL" : "not a URL");
  }
  const scheme = SCHEMES[parsed.protocol];
  if (scheme === undefined) throw refused(url, `the scheme "${parsed.protocol}" is not one a WebSocket can use`);
  if (parsed.hash !== "" || url.includes("#")) throw refused(url, "a WebSocket URL cannot have a #fragment");
  parsed.protocol = scheme;
  return parsed;
}

function refused(url: string, why: string): SyntaxError {
  return new SyntaxError(`switchboard client: ${JSON.stringify(url)} is not a WebSocket URL (${why}); ${EXPECTED}`);
}

/** The page's address in a browser (relative URLs resolve against it); undefined in Node. */
function pageUrl(): string | undefined {
  const href = (globalThis as { location?: { href?: unknown } }).location?.href;
  return typeof href === "string" ? href : undefined;
}
