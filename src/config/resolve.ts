/**
 * One resolved config from four layers, highest first: CLI flags > SWITCHBOARD_* env >
 * config file > defaults. Every value is checked against schema.ts; a bad value or an
 * unknown key throws an OptionError naming the key and where the value came from.
 */
import { dirname, resolve } from "node:path";
import { availableParallelism } from "node:os";
import { OptionError } from "../errors.ts";
import type { LimitName } from "../limits.ts";
import { resolveServerOptions } from "../options.ts";
import { DEFAULT_PREFIX } from "../cluster/index.ts";
import type { AppConfig, DeflateConfig, LogLevel } from "./define.ts";
import { findConfigFile, readConfigFile } from "./load.ts";
import { CONFIG_FIELDS, FIELDS_BY_KEY, MAX_WORKERS, SECTIONS, suggest, type Checked, type ConfigField } from "./schema.ts";

export interface ResolvedConfig {
  port: number;
  host: string;
  /** Worker processes sharing the port ("auto" resolved to the machine's cores, at most 64); 1: one process. */
  workers: number;
  /** Absolute path. */
  handlers: string;
  /** Absolute path, or undefined for no static files. */
  static: string | undefined;
  limits: Partial<Record<LimitName, number>>;
  perMessageDeflate: false | DeflateConfig;
  controlSocket: string | undefined;
  lockFile: string | undefined;
  logLevel: LogLevel;
  logFile: string | undefined;
  cluster: { redis: string | undefined; prefix: string };
  /** The app at /app (the folder's tasks/): each key undefined when not set. */
  app: AppConfig;
  /** TLS files (absolute paths), each undefined when not set. */
  tls: { key: string | undefined; cert: string | undefined; ca: string | undefined; passphrase: string | undefined };
  trustProxy: boolean | string[];
  /** Prometheus metrics, each undefined when not set. */
  metrics: { enabled: boolean | undefined; path: string | undefined; port: number | undefined; token: string | undefined };
  /** The server API's key and the admin dashboard's token (undefined: off). */
  api: { key: string | undefined };
  admin: { token: string | undefined };
  /** The config file that was read, if any. */
  configFile: string | undefined;
  /** Where each set key came from: "default", "file", "env SWITCHBOARD_PORT", "--port". */
  sources: Record<string, string>;
  /** Non-fatal notes (an unknown SWITCHBOARD_* variable, …) for the banner. */
  warnings: string[];
}

export interface ResolveInput {
  cwd: string;
  env: Record<string, string | undefined>;
  /** CLI values as text, by config key ("port", "host", "handlers", …). */
  cli: Record<string, string | undefined>;
  /** --config FILE */
  configPath?: string | undefined;
}

/** What createServer() does with no options: the config's defaults are the library's, never a copy. */
const LIBRARY = resolveServerOptions();

const DEFAULTS: Record<string, unknown> = {
  port: LIBRARY.port,
  host: LIBRARY.host,
  workers: 1,
  handlers: "./handlers",
  perMessageDeflate: LIBRARY.perMessageDeflate,
  logLevel: "info",
  "cluster.prefix": DEFAULT_PREFIX,
};

/** Env variables that are not config keys but are still ours. */
const OTHER_ENV = new Set(["SWITCHBOARD_CONFIG", "SWITCHBOARD_WORKER_INDEX"]);

interface Setting { value: unknown; source: string }

export async function resolveConfig(input: ResolveInput): Promise<ResolvedConfig> {
  const settings = new Map<string, Setting>();
  for (const [key, value] of Object.entries(DEFAULTS)) {
    settings.set(key, { value: FIELDS_BY_KEY.get(key)?.isPath ? resolve(input.cwd, value as string) : value, source: "default" });
  }

  const configFile = findConfigFile(input.cwd, input.configPath ?? input.env.SWITCHBOARD_CONFIG);
  if (configFile !== undefined) {
    for (const [key, value] of flattenFile(await readConfigFile(configFile), configFile)) {
      settings.set(key, { value: checked(FIELDS_BY_KEY.get(key)!, value, (f) => f.check(value), configFile, dirname(configFile)), source: configFile });
    }
  }

  const warnings: string[] = [];
  const byEnv = new Map(CONFIG_FIELDS.map((f) => [f.env, f]));
  for (const [name, text] of Object.entries(input.env)) {
    if (!name.startsWith("SWITCHBOARD_") || text === undefined) continue;
    const f = byEnv.get(name);
    if (f === undefined) {
      // The environment is shared with other tools, so an unknown name warns instead of failing.
      if (!OTHER_ENV.has(name)) warnings.push(`unknown environment variable ${name} ignored${hint(name, byEnv.keys())}`);
      continue;
    }
    settings.set(f.key, { value: checked(f, text, (x) => x.fromText(text), `env ${name}`, input.cwd), source: `env ${name}` });
  }

  for (const [key, text] of Object.entries(input.cli)) {
    if (text === undefined) continue;
    const f = FIELDS_BY_KEY.get(key);
    if (f === undefined) throw new OptionError(key, "not a config key (internal: the CLI passed an unknown flag)");
    const flag = key === "handlers" ? "DIR argument" : `--${key.replace(/([A-Z])/g, "-$1").toLowerCase()}`;
    settings.set(key, { value: checked(f, text, (x) => x.fromText(text), flag, input.cwd), source: flag });
  }

  const get = <T>(key: string): T => settings.get(key)?.value as T;
  const limits: Partial<Record<LimitName, number>> = {};
  for (const [key, s] of settings) if (key.startsWith("limits.")) limits[key.slice(7) as LimitName] = s.value as number;
  const deflate = get<boolean | DeflateConfig>("perMessageDeflate");

  return {
    port: get("port"),
    host: get("host"),
    workers: get<number | "auto">("workers") === "auto" ? Math.min(MAX_WORKERS, availableParallelism()) : get<number>("workers"),
    handlers: get("handlers"),
    static: get("static"),
    limits,
    perMessageDeflate: deflate === true ? {} : deflate,
    controlSocket: get("controlSocket"),
    lockFile: get("lockFile"),
    logLevel: get("logLevel"),
    logFile: get("logFile"),
    cluster: { redis: get("cluster.redis"), prefix: get("cluster.prefix") },
    tls: { key: get("tls.key"), cert: get("tls.cert"), ca: get("tls.ca"), passphrase: get("tls.passphrase") },
    trustProxy: get<boolean | string[] | undefined>("trustProxy") ?? false,
    metrics: { enabled: get("metrics.enabled"), path: get("metrics.path"), port: get("metrics.port"), token: get("metrics.token") },
    api: { key: get("api.key") },
    admin: { token: get("admin.token") },
    app: {
      presence: get("app.presence"), rooms: get("app.rooms"), pushPolicy: get("app.pushPolicy"),
      sessionSecret: get("app.sessionSecret"), sessionRequired: get("app.sessionRequired"),
    },
    configFile,
    sources: Object.fromEntries([...settings].map(([k, s]) => [k, s.source])),
    warnings,
  };
}

/** A config file's object as dotted keys; unknown keys and non-object sections throw. */
export function flattenFile(config: unknown, file: string): Map<string, unknown> {
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new OptionError("config", `${file} must export an object (got ${show(config)})`);
  }
  const out = new Map<string, unknown>();
  for (const [key, value] of Object.entries(config)) {
    if (value === undefined) continue;
    if ((SECTIONS as readonly string[]).includes(key)) {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new OptionError(key, `expected an object, got ${show(value)} (in ${file})`);
      }
      for (const [sub, subValue] of Object.entries(value)) {
        if (subValue === undefined) continue;
        const dotted = `${key}.${sub}`;
        if (!FIELDS_BY_KEY.has(dotted)) throw unknownKey(dotted, file);
        out.set(dotted, subValue);
      }
    } else if (FIELDS_BY_KEY.has(key)) {
      out.set(key, value);
    } else {
      throw unknownKey(key, file);
    }
  }
  return out;
}

function checked(f: ConfigField, raw: unknown, check: (f: ConfigField) => Checked, source: string, base: string): unknown {
  const result = check(f);
  if (!result.ok) throw new OptionError(f.key, `expected ${result.expected}, got ${show(raw)} (from ${source})`);
  return f.isPath ? resolve(base, result.value as string) : result.value;
}

function unknownKey(key: string, file: string): OptionError {
  const known = [...FIELDS_BY_KEY.keys(), ...SECTIONS];
  return new OptionError(key, `unknown key in ${file}${hint(key, known)}`);
}

function hint(key: string, known: Iterable<string>): string {
  const near = suggest(key, known);
  return near === undefined ? "" : ` (did you mean "${near}"?)`;
}

function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "a function";
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    // A cyclic object cannot be shown as JSON; its type is enough to say what was wrong.
    return typeof value;
  }
}
