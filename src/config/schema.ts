/**
 * Every config key in one table: its dotted name, its SWITCHBOARD_* environment variable, and
 * the check that turns a file value (any JSON-ish value) or a text value (env, CLI flag) into
 * a typed one. Validation, env parsing and docs/standalone.md all follow this table, so a new
 * key is one row here (plus its type in define.ts).
 *
 * `limits.*` rows come from src/limits.ts: every limit there is a key here by its name, and
 * placement.ts says which layer each one reaches (or why `switchboard serve` refuses it).
 */
import { LIMITS, type LimitName } from "../limits.ts";
import { DEFAULT_PREFIX } from "../cluster/index.ts";
import { compileTrustProxy } from "../transport/forwarded.ts";
import { LOG_LEVEL_NAMES } from "../log.ts";

export type Checked = { ok: true; value: unknown } | { ok: false; expected: string };

export interface ConfigField {
  /** Dotted key as written in a config file: "port", "limits.maxPayload", "cluster.redis". */
  readonly key: string;
  /** The environment variable that sets it. */
  readonly env: string;
  /** A value from a config file (already a JS value). */
  readonly check: (value: unknown) => Checked;
  /** A value given as text (env or CLI flag); usually parses, then `check`s. */
  readonly fromText: (text: string) => Checked;
  /** Relative paths are resolved against the config file's folder (file) or the cwd (env, CLI). */
  readonly isPath?: boolean;
  readonly doc: string;
}

/** The log levels (log.ts holds the one list). */
export const LOG_LEVELS = LOG_LEVEL_NAMES;

const ok = (value: unknown): Checked => ({ ok: true, value });
const bad = (expected: string): Checked => ({ ok: false, expected });

function integer(min: number, max: number): (value: unknown) => Checked {
  const expected = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
  return (value) => (typeof value === "number" && Number.isInteger(value) && value >= min && value <= max ? ok(value) : bad(expected));
}

/** Text → number only for plain decimal digits: "8080" yes; "8080abc", "0x10", "1e3", "" no. */
function integerText(check: (value: unknown) => Checked): (text: string) => Checked {
  return (text) => (/^\d+$/.test(text.trim()) ? check(Number(text.trim())) : check(text));
}

function nonEmptyString(value: unknown): Checked {
  return typeof value === "string" && value.trim() !== "" ? ok(value) : bad("a non-empty string");
}

function boolText(text: string): Checked {
  const t = text.trim().toLowerCase();
  if (t === "true" || t === "1" || t === "yes") return ok(true);
  if (t === "false" || t === "0" || t === "no") return ok(false);
  return bad('true or false');
}

function deflate(value: unknown): Checked {
  if (typeof value === "boolean") return ok(value);
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const entries = Object.entries(value);
    for (const [name, v] of entries) {
      if (name !== "threshold") return bad(`true, false or { threshold } (unknown key "${name}")`);
      if (!(typeof v === "number" && Number.isInteger(v) && v >= 0)) return bad("{ threshold: an integer >= 0 }");
    }
    return ok(value);
  }
  return bad("true, false or { threshold: number }");
}

function logLevel(value: unknown): Checked {
  return typeof value === "string" && (LOG_LEVELS as readonly string[]).includes(value) ? ok(value) : bad(`one of ${LOG_LEVELS.join(", ")}`);
}

function bool(value: unknown): Checked {
  return typeof value === "boolean" ? ok(value) : bad("true or false");
}

function pushPolicy(value: unknown): Checked {
  return value === "drop" || value === "close" ? ok(value) : bad('"drop" or "close"');
}

/** tokenSession() needs an HS256 secret of at least 32 bytes. */
function sessionSecret(value: unknown): Checked {
  return typeof value === "string" && Buffer.byteLength(value) >= 32 ? ok(value) : bad("a string of at least 32 bytes (e.g. from `openssl rand -hex 32`)");
}

function redisUrl(value: unknown): Checked {
  return typeof value === "string" && /^rediss?:\/\/\S+$/.test(value) ? ok(value) : bad('a Redis URL such as "redis://127.0.0.1:6379"');
}

function field(key: string, check: (value: unknown) => Checked, doc: string, extra: Partial<ConfigField> = {}): ConfigField {
  return { key, env: envName(key), check, fromText: check, doc, ...extra };
}

/** "limits.maxPayload" → SWITCHBOARD_MAX_PAYLOAD; "cluster.redis" → SWITCHBOARD_CLUSTER_REDIS. */
export function envName(key: string): string {
  const bare = key.startsWith("limits.") ? key.slice("limits.".length) : key;
  return "SWITCHBOARD_" + bare.replace(/\./g, "_").replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
}

const port = integer(0, 65535);

/** `serve --workers`: how many worker processes share the port (docs/standalone.md#workers). */
export const MAX_WORKERS = 64;
const workerCount = integer(1, MAX_WORKERS);
function workers(value: unknown): Checked {
  return value === "auto" || workerCount(value).ok ? ok(value) : bad(`an integer from 1 to ${MAX_WORKERS}, or "auto" (one per core)`);
}

/** trustProxy: true, false, or a list of proxy addresses / CIDRs (as text: true, false or "10.0.0.1,10.1.0.0/16"). */
function trustProxy(value: unknown): Checked {
  const expected = 'true, false or a list of proxy addresses / CIDRs such as ["127.0.0.1", "10.0.0.0/8"]';
  if (typeof value !== "boolean" && !Array.isArray(value)) return bad(expected);
  try {
    compileTrustProxy(value as boolean | string[]);
  } catch (err) {
    return bad(`${expected} (${(err as Error).message})`);
  }
  return ok(value);
}

function trustProxyText(text: string): Checked {
  const asBool = boolText(text);
  return asBool.ok ? asBool : trustProxy(text.split(",").map((part) => part.trim()));
}

const limitFields: ConfigField[] = (Object.keys(LIMITS) as LimitName[]).map((name) => {
  const spec = LIMITS[name];
  const check = integer(spec.min, Number.MAX_SAFE_INTEGER);
  return field(`limits.${name}`, check, `${spec.unit}, default ${spec.default}: ${spec.whenHit}`, { fromText: integerText(check) });
});

export const CONFIG_FIELDS: readonly ConfigField[] = [
  field("port", port, "TCP port (0 = any free port). Default 8080.", { fromText: integerText(port) }),
  field("host", nonEmptyString, 'Listen address. Default "127.0.0.1".'),
  field("workers", workers, 'Worker processes sharing the port (1-64, or "auto": one per core). Default 1: one process.', { fromText: (text) => (text.trim() === "auto" ? ok("auto") : integerText(workers)(text)) }),
  field("handlers", nonEmptyString, 'Handler directory. Default "./handlers".', { isPath: true }),
  field("static", nonEmptyString, "Directory served as static files. Default: none.", { isPath: true }),
  ...limitFields,
  field("perMessageDeflate", deflate, "permessage-deflate: false (default), true, or { threshold }.", { fromText: boolText }),
  field("controlSocket", nonEmptyString, "UNIX control socket path (runtime).", { isPath: true }),
  field("lockFile", nonEmptyString, "Lock file path (runtime).", { isPath: true }),
  field("logLevel", logLevel, 'Log level. Default "info".'),
  field("logFile", nonEmptyString, "Log to this file instead of stdout (runtime).", { isPath: true }),
  field("cluster.redis", redisUrl, "Redis URL: join a cluster (cluster)."),
  field("cluster.prefix", nonEmptyString, `Redis key/channel prefix. Default ${JSON.stringify(DEFAULT_PREFIX)} (the library's).`),
  // TLS on the port (https://, wss://): PEM files; relative paths are against the config file. SIGHUP re-reads them.
  field("tls.key", nonEmptyString, "TLS private key, a PEM file: serve https:// and wss:// (with tls.cert).", { isPath: true }),
  field("tls.cert", nonEmptyString, "TLS certificate (chain, leaf first), a PEM file (with tls.key).", { isPath: true }),
  field("tls.ca", nonEmptyString, "CA certificates to trust (PEM file) for client certificates. Default: Node's.", { isPath: true }),
  field("tls.passphrase", nonEmptyString, "Passphrase of an encrypted tls.key."),
  field("trustProxy", trustProxy, "Client address from Forwarded / X-Forwarded-For when the peer is a trusted proxy: true, false (default) or a list of addresses / CIDRs.", { fromText: trustProxyText }),
  // The app at /app (the folder's tasks/); its task and room limits are limits.* rows.
  field("app.presence", bool, "The app at /app sends room.joined / room.left and lists members. Default false.", { fromText: boolText }),
  field("app.rooms", bool, "Clients of the app at /app may join rooms (?room=, room.join). Default true.", { fromText: boolText }),
  field("app.pushPolicy", pushPolicy, 'Over maxPushBufferedBytes: "drop" the push (default) or "close" the connection (4000).'),
  field("app.sessionSecret", sessionSecret, "HS256 secret: the app at /app takes signed session tokens (tokenSession). Default: anonymous users."),
  field("app.sessionRequired", bool, "With app.sessionSecret: a connection without a token gets 401 (true, default) or is anonymous.", { fromText: boolText }),
  // Operations (docs/operations.md#metrics, docs/api.md, docs/admin.md): each off unless set.
  field("metrics.enabled", bool, "Serve Prometheus metrics at GET /metrics (docs/operations.md#metrics). Default false.", { fromText: boolText }),
  field("metrics.path", nonEmptyString, 'Path of the metrics. Default "/metrics".'),
  field("metrics.port", port, "Serve metrics (and /readyz) on a listener of their own on host. Default: the main port.", { fromText: integerText(port) }),
  field("metrics.token", nonEmptyString, "Bearer token every scrape must send (16–1024 characters); without one or with a wrong one → 401."),
  field("api.key", nonEmptyString, "Turns on the server API (POST /api/…, docs/api.md): its bearer key, 16–1024 characters."),
  field("admin.token", nonEmptyString, "Turns on the admin dashboard (/admin, docs/admin.md): its bearer token, 16–1024 characters."),
];

export const FIELDS_BY_KEY: ReadonlyMap<string, ConfigField> = new Map(CONFIG_FIELDS.map((f) => [f.key, f]));

/** Keys that hold an object of further keys in a config file. */
export const SECTIONS = ["limits", "cluster", "app", "tls", "metrics", "api", "admin"] as const;

/** Closest known key, for "did you mean …" (edit distance <= 2): the same rule as endpoint options. */
export { suggest } from "../options.ts";
