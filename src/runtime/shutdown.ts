/**
 * Signals → graceful stop. The first SIGTERM or SIGINT runs the stop callback and exits with 0
 * when it resolves (1 if it throws). A second signal while stopping exits at once with
 * 128 + the signal number (130 for SIGINT, 143 for SIGTERM), the shell convention for "killed".
 */
import { constants } from "node:os";
import type { Logger } from "../log.ts";

export const ExitCode = {
  /** Clean stop. */
  Ok: 0,
  /** Could not start (lock held, bad config, critical service failed) or the stop failed. */
  Error: 1,
} as const;

export type ShutdownSignal = "SIGTERM" | "SIGINT";

/** The part of `process` we use; tests pass a fake one. */
export interface SignalSource {
  on(signal: ShutdownSignal, listener: () => void): unknown;
  off(signal: ShutdownSignal, listener: () => void): unknown;
}

export interface ShutdownOptions {
  /** The graceful stop. Its reason is the signal name. */
  stop(reason: string): Promise<void>;
  logger?: Logger;
  signals?: readonly ShutdownSignal[];
  exit?: (code: number) => void;
  process?: SignalSource;
}

export interface ShutdownHandle {
  /**
   * Start the graceful stop ourselves (`switchboard stop`, a critical failure); same path as a
   * signal. `code` replaces the exit code of a clean stop (1 after a critical failure).
   */
  trigger(reason: string, code?: number): Promise<number>;
  /** Remove the signal listeners. */
  uninstall(): void;
}

export function installShutdown(options: ShutdownOptions): ShutdownHandle {
  const proc = options.process ?? (process as unknown as SignalSource);
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const log = options.logger;
  const signals = options.signals ?? ["SIGTERM", "SIGINT"];
  let stopping: Promise<number> | undefined;

  const trigger = (reason: string, cleanCode: number = ExitCode.Ok): Promise<number> => {
    if (stopping !== undefined) return stopping;
    log?.info({ reason }, "stopping gracefully (send the signal again to force an exit)");
    // Every path ends in exit(): the promise never rejects, so nothing is left unhandled.
    stopping = options.stop(reason).then(
      () => {
        return cleanCode;
      },
      (err: unknown) => {
        log?.error({ err }, "error while stopping");
        return ExitCode.Error;
      },
    ).then((code) => {
      log?.info({ code }, "exiting");
      exit(code);
      return code;
    });
    return stopping;
  };

  const listeners = new Map<ShutdownSignal, () => void>();
  for (const signal of signals) {
    const onSignal = (): void => {
      if (stopping === undefined) {
        void trigger(signal);
        return;
      }
      const code = 128 + (constants.signals[signal] ?? 15);
      log?.warn({ signal, code }, "second signal: forcing exit without waiting");
      exit(code);
    };
    listeners.set(signal, onSignal);
    proc.on(signal, onSignal);
  }
  return {
    trigger,
    uninstall: () => {
      for (const [signal, fn] of listeners) proc.off(signal, fn);
    },
  };
}
