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
import { checkLogLevel, setLoggerLevel, type LogLevelName } from "../log.ts";

/**
 * pino-pretty is loaded only when pretty output is chosen (`import "switchboard"` must not load
 * it). It is CommonJS, so require() loads it synchronously and createRuntimeLogger() stays sync.
 */
function loadPinoPretty(): typeof PinoPretty {
  return (createRequire(import.meta.url)("pino-pretty") as { PinoPretty: typeof PinoPretty }).PinoPretty;
}


export interface LoggingConfig {
  /** From the config file (`logLevel`); wins over LOG_LEVEL. */
  level?: string;
  /** From the config file (`logFile`); wins over LOG_FILE. "-" or "" means stdout. */
  file?: string;
  /** Force pretty output on or off; default: on when stdout is a terminal and no file is set. */
  pretty?: boolean;
  /**
   * Hold the lines bound for stdout until release() (or drop them with discard()): `serve`
   * prints its banner first, and a start-up that fails prints one friendly error, not the
   * JSON lines that led to it. Lines bound for a file are never held.
   */
  hold?: boolean;
}

/** At most this many lines are held before release(); later ones are counted and dropped (start-up logs a handful). */
export const MAX_HELD_LOG_LINES = 1000;

export interface LoggingSettings {
  readonly level: LogLevelName;
  readonly file: string | undefined;
  readonly pretty: boolean;
}

/** Decide the settings without creating anything (pure; tested on its own). */
export function resolveLogging(
  config: LoggingConfig = {},
  env: NodeJS.ProcessEnv = process.env,
  stdoutIsTTY: boolean = process.stdout.isTTY === true,
): LoggingSettings {
  const level = checkLogLevel(config.level ?? env.LOG_LEVEL ?? "info", config.level !== undefined ? "logLevel" : "LOG_LEVEL");
  const rawFile = config.file ?? env.LOG_FILE;
  const file = rawFile === undefined || rawFile === "" || rawFile === "-" ? undefined : rawFile;
  const pretty = config.pretty ?? (file === undefined && stdoutIsTTY);
  return { level, file, pretty };
}

export interface RuntimeLogger {
  readonly logger: Logger;
  readonly settings: LoggingSettings;
  /** Change the level of the logger and every child. Throws OptionError on an unknown level. */
  setLevel(level: string): LogLevelName;
  /** Write the held lines (config `hold`) and stop holding. Safe to call twice. */
  release(): void;
  /** Forget the held lines and stop holding; returns them (for DEBUG output). */
  discard(): string[];
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
  const gate = heldDestination(destination, config.hold === true && settings.file === undefined);
  const logger = pino({ level: settings.level, base: { pid: process.pid } }, gate.destination);
  return { logger, settings, setLevel: (level) => setLoggerLevel(logger, level), release: gate.release, discard: gate.discard };
}

/** A destination that keeps lines (bounded) while `holding`, then passes everything through. */
function heldDestination(target: DestinationStream, holding: boolean): { destination: DestinationStream; release(): void; discard(): string[] } {
  let held: string[] | undefined = holding ? [] : undefined;
  let dropped = 0;
  const take = (): string[] => {
    const lines = held ?? [];
    held = undefined;
    return lines;
  };
  return {
    destination: {
      write(line: string) {
        if (held === undefined) return target.write(line);
        if (held.length < MAX_HELD_LOG_LINES) held.push(line);
        else dropped++;
        return true;
      },
    },
    release() {
      const lines = take();
      for (const line of lines) target.write(line);
      if (dropped > 0) target.write(`${JSON.stringify({ level: 40, time: Date.now(), pid: process.pid, dropped, msg: `${dropped} start-up log line(s) over ${MAX_HELD_LOG_LINES} not shown` })}\n`);
      dropped = 0;
    },
    discard: take,
  };
}

