/**
 * TLS material for `createServer({ tls })`: each of key, cert and ca is PEM text (a string
 * holding "-----BEGIN", or a Buffer) or the path of a PEM file (any other string). Loading
 * checks everything Node would only report at the first handshake — a missing file, a file
 * that is not PEM, a key that does not match the certificate, a wrong passphrase — and
 * throws an OptionError naming the option and the path.
 *
 * Reload reads the files again and builds the secure context first: only a context that was
 * built is handed to the server (`setSecureContext`), so a bad file leaves the old
 * certificate in force. Open connections keep the session they negotiated; new handshakes
 * get the new certificate.
 */
import { readFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import type { Socket } from "node:net";
import { resolve } from "node:path";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import { OptionError } from "../errors.ts";

export type PemSource = string | Buffer;

export interface TlsOptions {
  /** The private key: PEM text, or the path of a PEM file. */
  key: PemSource;
  /** The certificate (with its chain, leaf first): PEM text, or the path of a PEM file. */
  cert: PemSource;
  /** CA certificates to trust instead of Node's defaults (only for client certificates). */
  ca?: PemSource | readonly PemSource[];
  /** Passphrase of an encrypted private key. */
  passphrase?: string;
}

/** What was loaded: the options for Node's TLS server, and facts about the certificate. */
export interface TlsMaterial {
  readonly context: Pick<SecureContextOptions, "key" | "cert" | "ca" | "passphrase">;
  readonly certificate: CertificateInfo;
  toJSON(): unknown;
}

export interface CertificateInfo {
  /** SHA-256 fingerprint, colon-separated hex (as `getPeerCertificate().fingerprint256`). */
  readonly fingerprint256: string;
  readonly subject: string;
  readonly validTo: string;
}

const TLS_KEYS = new Set(["key", "cert", "ca", "passphrase"]);

/** Validate `tls` options and load them (files read now, relative paths against `baseDir`). */
export function loadTls(options: TlsOptions, baseDir = process.cwd(), option = "tls"): TlsMaterial {
  if (typeof options !== "object" || options === null) throw new OptionError(option, "must be an object { key, cert, ca?, passphrase? }");
  for (const name of Object.keys(options)) {
    if (!TLS_KEYS.has(name)) throw new OptionError(`${option}.${name}`, `unknown TLS option (known: ca, cert, key, passphrase)`);
  }
  if (options.key === undefined || options.key === "") throw new OptionError(`${option}.key`, "is required with tls (PEM text or a file path)");
  if (options.cert === undefined || options.cert === "") throw new OptionError(`${option}.cert`, "is required with tls (PEM text or a file path)");
  if (options.passphrase !== undefined && typeof options.passphrase !== "string") throw new OptionError(`${option}.passphrase`, "must be a string");
  const key = readPem(options.key, `${option}.key`, baseDir);
  const cert = readPem(options.cert, `${option}.cert`, baseDir);
  const ca = options.ca === undefined ? undefined : (Array.isArray(options.ca) ? options.ca : [options.ca]).map((source: PemSource, i: number, all: readonly PemSource[]) =>
    readPem(source, all.length === 1 ? `${option}.ca` : `${option}.ca[${i}]`, baseDir));
  const context: TlsMaterial["context"] = {
    key: key.pem, cert: cert.pem,
    ...(ca === undefined ? {} : { ca: ca.map((c) => c.pem) }),
    ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
  };
  try {
    // Node checks the key against the certificate only here (and at the first handshake).
    createSecureContext(context);
  } catch (err) {
    throw contextError(err, option, key.where, cert.where);
  }
  const certificate = describeCertificate(cert.pem, `${option}.cert`, cert.where);
  // Logged or serialised (server.options in a log line), it shows the certificate, never the key.
  return { context, certificate, toJSON: () => ({ certificate, key: key.where, cert: cert.where }) };
}

interface Pem {
  readonly pem: Buffer;
  /** "file /x/y.pem" or "inline PEM", for error messages. */
  readonly where: string;
}

function readPem(source: PemSource, option: string, baseDir: string): Pem {
  if (Buffer.isBuffer(source)) return checkPem(source, option, "inline PEM");
  if (typeof source !== "string" || source === "") throw new OptionError(option, "must be PEM text or a file path");
  if (source.includes("-----BEGIN")) return checkPem(Buffer.from(source), option, "inline PEM");
  const path = resolve(baseDir, source);
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (err) {
    throw new OptionError(option, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return checkPem(pem, option, `file ${path}`);
}

function checkPem(pem: Buffer, option: string, where: string): Pem {
  if (!pem.includes("-----BEGIN")) throw new OptionError(option, `${where} is not PEM (no "-----BEGIN" line)`);
  return { pem, where };
}

function contextError(err: unknown, option: string, keyWhere: string, certWhere: string): OptionError {
  const message = (err as Error).message ?? String(err);
  if (/key values mismatch/i.test(message)) return new OptionError(option, `the key (${keyWhere}) does not match the certificate (${certWhere})`);
  if (/bad decrypt|bad password|passphrase/i.test(message)) return new OptionError(`${option}.passphrase`, `cannot decrypt the key (${keyWhere}): wrong or missing passphrase`);
  if (/key/i.test(message)) return new OptionError(`${option}.key`, `${keyWhere} is not a usable private key: ${message}`);
  return new OptionError(`${option}.cert`, `${certWhere} is not a usable certificate: ${message}`);
}

function describeCertificate(pem: Buffer, option: string, where: string): CertificateInfo {
  try {
    const x509 = new X509Certificate(pem);
    return { fingerprint256: x509.fingerprint256, subject: x509.subject.replace(/\n/g, ", "), validTo: x509.validTo };
  } catch (err) {
    throw new OptionError(option, `${where} is not a usable certificate: ${(err as Error).message}`);
  }
}

/**
 * The raw TCP sockets of one TLS listener that are still in their TLS handshake. Node hands
 * us the raw socket on 'connection' and, once the handshake is done, the TLS socket over it on
 * 'secureConnection', with no public link between the two; a live TCP connection to one
 * listening port is identified by its remote address and port, so that is the link. At most
 * `maxPendingHandshakes` entries (see admit()); one goes when its handshake finishes or its
 * socket closes.
 */
export class TlsHandshakes {
  readonly #pending = new Map<string, Socket>();
  /** 'tlsClientError's: handshakes that failed or timed out. */
  clientErrors = 0;
  /** Connections not admitted: `max` handshakes were in progress. */
  refused = 0;

  /** Take a new raw socket into its handshake, or refuse it (false) when `max` are in progress. */
  admit(raw: Socket, max: number): boolean {
    if (this.#pending.size >= max) {
      this.refused++;
      return false;
    }
    const key = peerKey(raw);
    if (key === undefined) return true; // already gone: its close comes next
    this.#pending.set(key, raw);
    raw.once("close", () => {
      if (this.#pending.get(key) === raw) this.#pending.delete(key);
    });
    return true;
  }

  /** The raw socket under `secure`, now out of its handshake; undefined if unknown. */
  finished(secure: Socket): Socket | undefined {
    const key = peerKey(secure);
    if (key === undefined) return undefined;
    const raw = this.#pending.get(key);
    this.#pending.delete(key);
    return raw;
  }

  get size(): number {
    return this.#pending.size;
  }
}

function peerKey(socket: Socket): string | undefined {
  const { remoteAddress, remotePort } = socket;
  return remoteAddress === undefined || remotePort === undefined ? undefined : `${remoteAddress}|${remotePort}`;
}
