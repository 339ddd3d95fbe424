/**
 * Bearer credentials (`Authorization: Bearer <key>`; the scheme is case-insensitive, RFC 7235
 * §2.1), compared in constant time: the one check behind the server API's keys and the metrics
 * token. Both sides are hashed first (SHA-256), so timingSafeEqual always compares 32 bytes and
 * neither a key's length nor its first differing byte shows in the time taken; every key is
 * compared, so which one matched does not show either.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest();

export class BearerKeys {
  readonly #digests: Buffer[];

  constructor(keys: readonly string[]) {
    this.#digests = keys.map(digest);
  }

  /** True when the request carries one of the keys. */
  admits(req: IncomingMessage): boolean {
    const header = req.headers.authorization;
    if (typeof header !== "string") return false;
    const match = /^Bearer +(\S+) *$/i.exec(header);
    if (match === null) return false;
    const given = digest(match[1]!);
    let ok = false;
    for (const key of this.#digests) ok = timingSafeEqual(given, key) || ok;
    return ok;
  }
}
