/**
 * The transport-neutral HandshakeRequest, read from Node's IncomingMessage. ws has already
 * validated the upgrade headers when this runs (it is called from verifyClient).
 *
 * Every field that costs something (the query, the header lists, the peer address, which is
 * a system call) is computed on first read: most endpoints read none of them, and a handshake
 * should cost no more than ws's own.
 */
import type { IncomingMessage } from "node:http";
import type { HandshakeRequest } from "./handshake.ts";
import { clientAddress, type ProxyTrust } from "./forwarded.ts";

class NodeHandshakeRequest implements HandshakeRequest {
  readonly url: string;
  /** Set by the endpoint to its choice before the hook runs. */
  protocol = "";
  readonly #req: IncomingMessage;
  readonly #deflateEnabled: boolean;
  readonly #trustProxy: ProxyTrust | undefined;
  /** The client's address, once worked out (a hook may read it many times). */
  #client: { address: string | undefined } | undefined;
  readonly #q: number;
  #query: URLSearchParams | undefined;
  #protocols: string[] | undefined;
  #extensions: string[] | undefined;

  constructor(req: IncomingMessage, deflateEnabled: boolean, trustProxy: ProxyTrust | undefined) {
    this.#req = req;
    this.#deflateEnabled = deflateEnabled;
    this.#trustProxy = trustProxy;
    this.url = req.url ?? "/";
    this.#q = this.url.indexOf("?");
  }

  get path(): string {
    return this.#q === -1 ? this.url : this.url.slice(0, this.#q);
  }

  get query(): URLSearchParams {
    return (this.#query ??= new URLSearchParams(this.#q === -1 ? "" : this.url.slice(this.#q + 1)));
  }

  get origin(): string | undefined {
    return this.#req.headers.origin ?? (this.#req.headers["sec-websocket-origin"] as string | undefined);
  }

  get version(): number {
    return Number(this.#req.headers["sec-websocket-version"] ?? 13);
  }

  get protocols(): readonly string[] {
    return (this.#protocols ??= splitHeader(this.#req.headers["sec-websocket-protocol"]));
  }

  get extensions(): readonly string[] {
    return (this.#extensions ??= splitHeader(this.#req.headers["sec-websocket-extensions"]));
  }

  get deflate(): boolean {
    return this.#deflateEnabled && this.extensions.some((offer) => offer.split(";")[0]!.trim() === "permessage-deflate");
  }

  get headers(): Readonly<Record<string, string | string[] | undefined>> {
    return this.#req.headers;
  }

  get remoteAddress(): string | undefined {
    // Headers are only read when trustProxy is on and the peer is one of the proxies.
    return (this.#client ??= { address: clientAddress(this.#req.socket.remoteAddress, this.#req.headers, this.#trustProxy) }).address;
  }

  get peerAddress(): string | undefined {
    return this.#req.socket.remoteAddress;
  }

  onClientGone(listener: () => void): () => void {
    const socket = this.#req.socket;
    // destroyed comes before 'close' (which Node emits on a later tick): either means gone.
    if (socket.destroyed) {
      listener();
      return noop;
    }
    socket.once("close", listener);
    return () => void socket.off("close", listener);
  }

  /** A plain snapshot, for logs and JSON (getters are not own properties). */
  toJSON(): Omit<HandshakeRequest, "query" | "headers" | "onClientGone"> & { query: string } {
    return {
      path: this.path, url: this.url, query: this.query.toString(), origin: this.origin, version: this.version,
      protocols: this.protocols, protocol: this.protocol, extensions: this.extensions, deflate: this.deflate, remoteAddress: this.remoteAddress,
      peerAddress: this.peerAddress,
    };
  }
}

export function toHandshakeRequest(req: IncomingMessage, deflateEnabled: boolean, trustProxy?: ProxyTrust): HandshakeRequest {
  return new NodeHandshakeRequest(req, deflateEnabled, trustProxy);
}

function noop(): void {}

function splitHeader(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const joined = Array.isArray(value) ? value.join(",") : value;
  return joined.split(",").map((part) => part.trim()).filter((part) => part !== "");
}
