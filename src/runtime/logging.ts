/**
 * Logging settings for a standalone server: level and destination from the config file, else
 * the environment (LOG_LEVEL, LOG_FILE), else "info" on stdout. On a terminal the lines are
 * pretty-printed (pino-pretty, in-process); anywhere else they stay JSON, one object a line,
 * for log collectors. The level can change at run time (`switchboard command log-level debug`):
 * child loggers follow because pino children read their level through their parent.
 */
import { createRequire } from "node:module";
import { pino, type Logger, type DestinationStream } from "pino";
import type { PinoPretty } from "pino-pretty";
import { OptionError } from "../errors.ts";

/**
 * pino-pretty is loaded only when pretty output is chosen (`import "switchboard"` must not load
 * it). It is CommonJS, so require() loads it synchronously and createRuntimeLogger() stays sync.
 */
function loadPinoPretty(): typeof PinoPretty {
  return (createRequire(import.meta.url)("pino-pretty") as { PinoPretty: typeof PinoPretty }).PinoPretty;
}

export const LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LevelName = (typeof LEVELS)[number];

export interface LoggingConfig {
  /** From the config file (`logLevel`); wins over LOG_LEVEL. */
  level?: string;
  /** From the config file (`logFile`); wins over LOG_FILE. "-" or "" means stdout. */
  file?: string;
  /** Force pretty output on or off; default: on when stdout is a terminal and no file is set. */
  pretty?: boolean;
}

export interface LoggingSettings {
  readonly level: LevelName;
  readonly file: string | undefined;
  readonly pretty: boolean;
}

/** Decide the settings without creating anything (pure; tested on its own). */
export function resolveLogging(
  config: LoggingConfig = {},
  env: NodeJS.ProcessEnv = process.env,
  stdoutIsTTY: boolean = process.stdout.isTTY === true,
): LoggingSettings {
  const level = checkLevel(config.level ?? env.LOG_LEVEL ?? "info", config.level !== undefined ? "logLevel" : "LOG_LEVEL");
  const rawFile = config.file ?? env.LOG_FILE;
  const file = rawFile === undefined || rawFile === "" || rawFile === "-" ? undefined : rawFile;
  const pretty = config.pretty ?? (file === undefined && stdoutIsTTY);
  return { level, file, pretty };
}

export interface RuntimeLogger {
  readonly logger: Logger;
  readonly settings: LoggingSettings;
  /** Change the level of the logger and every child. Throws OptionError on an unknown level. */
  setLevel(level: string): LevelName;
}

export function createRuntimeLogger(
  config: LoggingConfig = {},
  env: NodeJS.ProcessEnv = process.env,
  stdoutIsTTY: boolean = process.stdout.isTTY === true,
): RuntimeLogger {
  const settings = resolveLogging(config, env, stdoutIsTTY);
  let destination: DestinationStream;
  if (settings.file !== undefined) {
    // sync: a line is on disk before process.exit(); server logs are not the hot path.
    destination = pino.destination({ dest: settings.file, mkdir: true, sync: true });
  } else if (settings.pretty) {
    // sync: the last lines before process.exit() are not lost.
    destination = loadPinoPretty()({ colorize: stdoutIsTTY, translateTime: "SYS:HH:MM:ss.l", ignore: "hostname", sync: true });
  } else {
    destination = pino.destination({ dest: 1, sync: true });
  }
  const logger = pino({ level: settings.level, base: { pid: process.pid } }, destination);
  return { logger, settings, setLevel: (level) => setLevel(logger, level) };
}

export function setLevel(logger: Logger, level: string): LevelName {
  const checked = checkLevel(level, "level");
  logger.level = checked;
  return checked;
}

export function checkLevel(level: string, option: string): LevelName {
  const lower = String(level).toLowerCase();
  if (!(LEVELS as readonly string[]).includes(lower)) {
    throw new OptionError(option, `unknown log level ${JSON.stringify(level)}; use one of ${LEVELS.join(", ")}`);
  }
  return lower as LevelName;
}
