/**
 * Sessions: who is on the other end of a connection. A session is one function,
 * `session(req) → user | rejection`, run once at the upgrade. A rejection `reject(status,
 * reason)` is answered in a way browsers can read: the WebSocket is accepted and closed at once
 * with 4000 + status (401 → 4401) and the reason (docs/protocol.md, "Refusals").
 * Built in: anonymous (the default) and signed tokens (JWT, HS256, through `jose`).
 */
import { jwtVerify, SignJWT, errors as joseErrors } from "jose";
import { HandshakeRejection, OptionError, reject } from "../errors.ts";
import type { WireUser } from "../protocol/messages.ts";

/** A user: `id` and `name` always, plus what the session adds. */
export type User = WireUser;

/** The part of the upgrade request a session looks at (free of Node types). */
export interface SessionRequest {
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly remoteAddress?: string | undefined;
}

/** Return a user, or a rejection (`reject(401, "…")` → close 4401), or throw one. Anything else thrown → close 1011. */
export type Session = (req: SessionRequest) => User | HandshakeRejection | Promise<User | HandshakeRejection>;

/** Every connection gets a fresh `anon-<n>` user (counted per session object, not globally). */
export function anonymousSession(prefix = "anon"): Session {
  let n = 0;
  return () => anonymousUser(++n, prefix);
}

/** The anonymous user number `n`: `anon-<n>` for both fields (one string). */
export function anonymousUser(n: number, prefix = "anon"): User {
  const id = `${prefix}-${n}`;
  return { id, name: id };
}

export interface TokenSessionOptions {
  /** The HS256 secret (at least 32 bytes). */
  secret: string | Uint8Array;
  /** Without a token: refuse (4401, true, default) or fall back to an anonymous user. */
  required?: boolean;
  issuer?: string;
  audience?: string;
}

/**
 * Signed tokens: a JWT from `?session=`, the `session` cookie, or `Authorization: Bearer`.
 * Claims become the user: `sub` → id, `name` → name (default: the id), the rest as they are.
 */
export function tokenSession(options: TokenSessionOptions): Session {
  const key = secretKey(options.secret);
  const anonymous = anonymousSession();
  const required = options.required ?? true;
  return async (req) => {
    const token = findToken(req);
    if (token === undefined) return required ? reject(401, "session token required") : anonymous(req);
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: ["HS256"],
        ...(options.issuer === undefined ? {} : { issuer: options.issuer }),
        ...(options.audience === undefined ? {} : { audience: options.audience }),
      });
      if (typeof payload.sub !== "string" || payload.sub === "") return reject(401, "session token has no subject");
      const { sub, iat: _iat, exp: _exp, nbf: _nbf, iss: _iss, aud: _aud, jti: _jti, ...claims } = payload;
      return { ...claims, id: sub, name: typeof claims.name === "string" ? claims.name : sub };
    } catch (err) {
      // An expired or forged token is expected input: its answer is 4401, with the reason.
      if (err instanceof joseErrors.JOSEError) return reject(401, `bad session token: ${err.code}`);
      throw err;
    }
  };
}

/** Make a token that tokenSession() accepts (for a login endpoint, tests, the demo). */
export async function signSessionToken(
  secret: string | Uint8Array,
  user: { id: string; name?: string; [claim: string]: unknown },
  options: { expiresIn?: string | number; issuer?: string; audience?: string } = {},
): Promise<string> {
  const { id, ...claims } = user;
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setSubject(id).setIssuedAt();
  if (options.expiresIn !== undefined) jwt = jwt.setExpirationTime(options.expiresIn);
  if (options.issuer !== undefined) jwt = jwt.setIssuer(options.issuer);
  if (options.audience !== undefined) jwt = jwt.setAudience(options.audience);
  return await jwt.sign(secretKey(secret));
}

/** Where a token may come from, in order: ?session=, the `session` cookie, Authorization: Bearer. */
export function findToken(req: SessionRequest): string | undefined {
  const fromQuery = req.query.get("session");
  if (fromQuery) return fromQuery;
  const cookie = header(req, "cookie");
  if (cookie !== undefined) {
    for (const part of cookie.split(";")) {
      const [name, ...rest] = part.trim().split("=");
      if (name === "session" && rest.length > 0) return safeDecode(rest.join("="));
    }
  }
  const auth = header(req, "authorization");
  const match = auth === undefined ? null : /^Bearer\s+(\S+)$/i.exec(auth);
  return match?.[1];
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value; // not percent-encoded after all: the token check will judge it
  }
}

function header(req: SessionRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join("; ") : value;
}

function secretKey(secret: string | Uint8Array): Uint8Array {
  const key = typeof secret === "string" ? new TextEncoder().encode(secret) : secret;
  if (key.byteLength < 32) throw new OptionError("session.secret", "an HS256 secret needs at least 32 bytes");
  return key;
}
