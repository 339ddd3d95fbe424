/**
 * A pino logger whose lines a test can read: every line parsed into `lines`, and `logged(match)`
 * to wait (with a deadline) for the first line that matches.
 */
import { Writable } from "node:stream";
import { pino, type Level } from "pino";
import { deferred, within } from "./until.ts";

export type LogLine = Record<string, unknown> & { level: number; msg?: string; err?: { message?: string } };

export interface CapturedLogs {
  readonly lines: LogLine[];
  readonly logger: pino.Logger;
  /** The first line (already written or still to come) that `match` accepts. */
  logged(match: (line: LogLine) => boolean, what: string, ms?: number): Promise<LogLine>;
}

export function captureLogs(level: Level = "warn"): CapturedLogs {
  const lines: LogLine[] = [];
  let waiters: Array<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const text of String(chunk).split("\n")) {
        if (!text) continue;
        const line = JSON.parse(text) as LogLine;
        lines.push(line);
        waiters = waiters.filter((waiter) => (waiter.match(line) ? (waiter.resolve(line), false) : true));
      }
      done();
    },
  });
  const logged = (match: (line: LogLine) => boolean, what: string, ms = 5_000): Promise<LogLine> => {
    const found = lines.find(match);
    if (found !== undefined) return Promise.resolve(found);
    const waited = deferred<LogLine>();
    waiters.push({ match, resolve: waited.resolve });
    return within(waited.promise, ms, what);
  };
  return { lines, logger: pino({ level }, stream), logged };
}
