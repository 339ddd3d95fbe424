/**
 * Logging: one pino logger per server, child loggers per component and per connection.
 * Level from the `logger` option, else LOG_LEVEL, else "info".
 */
import { pino, type Logger, type LoggerOptions, type DestinationStream } from "pino";
import { OptionError } from "./errors.ts";

export type { Logger };

export interface LogOptions {
  level?: string;
  /** Where JSON lines go (a pino destination or any writable stream). Default: stdout. */
  destination?: DestinationStream;
}

export function createLogger(options: LogOptions | Logger | undefined): Logger {
  if (isLogger(options)) return options;
  const config: LoggerOptions = {
    level: options?.level ?? process.env.LOG_LEVEL ?? "info",
    base: { pid: process.pid },
  };
  return options?.destination ? pino(config, options.destination) : pino(config);
}

function isLogger(value: unknown): value is Logger {
  return typeof value === "object" && value !== null && typeof (value as Logger).child === "function";
}

/**
 * Whether `debug` and `trace` are on for a logger, kept current from pino's `level-change`
 * event (whoever changes the level: `server.setLogLevel`, the runtime's logger, a test). Paths
 * that run per message or per connection read these booleans instead of calling into pino.
 */
export class LevelFlags {
  debug = false;
  trace = false;
  readonly #logger: Logger;
  readonly #update = (): void => {
    this.debug = this.#logger.isLevelEnabled("debug");
    this.trace = this.#logger.isLevelEnabled("trace");
  };

  constructor(logger: Logger) {
    this.#logger = logger;
    this.#update();
    // Also fires when a child (sharing the root's emitter) changes its own level: re-reading the root's is harmless.
    // A logger-like object without pino's events keeps the flags of its level at creation.
    if (typeof logger.on === "function") logger.on("level-change", this.#update);
  }

  /** Stop watching (a stopped server must not keep a listener on a logger it was given). */
  dispose(): void {
    if (typeof this.#logger.off === "function") this.#logger.off("level-change", this.#update);
  }
}

/** The log levels: pino's, plus "silent". The one list (config schema, CLI flag, control command, setLogLevel). */
export const LOG_LEVEL_NAMES = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevelName = (typeof LOG_LEVEL_NAMES)[number];

/** A level name, any case, checked: an OptionError naming `option` otherwise. */
export function checkLogLevel(level: unknown, option: string): LogLevelName {
  const lower = typeof level === "string" ? level.toLowerCase() : level;
  if (!(LOG_LEVEL_NAMES as readonly unknown[]).includes(lower)) {
    throw new OptionError(option, `unknown log level ${JSON.stringify(level)}; use one of ${LOG_LEVEL_NAMES.join(", ")}`);
  }
  return lower as LogLevelName;
}

/** Change a logger's level at run time; its children follow (pino children read their level through their parent). */
export function setLoggerLevel(logger: Logger, level: string): LogLevelName {
  const checked = checkLogLevel(level, "level");
  logger.level = checked;
  return checked;
}
