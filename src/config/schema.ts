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

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

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

const limitFields: ConfigField[] = (Object.keys(LIMITS) as LimitName[]).map((name) => {
  const spec = LIMITS[name];
  const check = integer(spec.min, Number.MAX_SAFE_INTEGER);
  return field(`limits.${name}`, check, `${spec.unit}, default ${spec.default}: ${spec.whenHit}`, { fromText: integerText(check) });
});

export const CONFIG_FIELDS: readonly ConfigField[] = [
  field("port", port, "TCP port (0 = any free port). Default 8080.", { fromText: integerText(port) }),
  field("host", nonEmptyString, 'Listen address. Default "127.0.0.1".'),
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
];

export const FIELDS_BY_KEY: ReadonlyMap<string, ConfigField> = new Map(CONFIG_FIELDS.map((f) => [f.key, f]));

/** Keys that hold an object of further keys in a config file. */
export const SECTIONS = ["limits", "cluster"] as const;

/** Closest known key, for "did you mean …" (edit distance <= 2). */
export function suggest(key: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = distance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
