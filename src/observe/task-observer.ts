/**
 * The server's TaskObserver (app/router.ts): one per app, told once per task call. It feeds
 * the task counter and latency histogram when metrics are on, and the `debug` line "task call"
 * (task, outcome, durationMs) when debug is on. With neither, `active` is false and the router
 * does not even time the call.
 */
import type { Logger } from "../log.ts";
import type { TaskObserver, TaskOutcome } from "../app/router.ts";
import type { ServerMetrics } from "./metrics.ts";

export class ServerTaskObserver implements TaskObserver {
  readonly #app: string;
  readonly #metrics: ServerMetrics | undefined;
  readonly #levels: { readonly debug: boolean };
  readonly #log: Logger;

  constructor(app: string, metrics: ServerMetrics | undefined, levels: { readonly debug: boolean }, log: Logger) {
    this.#app = app;
    this.#metrics = metrics;
    this.#levels = levels;
    this.#log = log;
  }

  get active(): boolean {
    return this.#metrics !== undefined || this.#levels.debug;
  }

  done(task: string, outcome: TaskOutcome, durationMs: number): void {
    this.#metrics?.taskDone(this.#app, task, outcome, durationMs);
    // `app` comes from the logger's bindings (the server passes a child with it).
    if (this.#levels.debug) this.#log.debug({ task, outcome, durationMs: Math.round(durationMs * 1000) / 1000 }, "task call");
  }
}
