/**
 * Logging: one pino logger per server, child loggers per component and per connection.
 * Level from the `logger` option, else LOG_LEVEL, else "info".
 */
import { pino, type Logger, type LoggerOptions, type DestinationStream } from "pino";

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
