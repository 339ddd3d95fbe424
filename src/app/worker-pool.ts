/**
 * Opt-in worker threads for CPU-heavy tasks, through `piscina`. The worker file's default
 * export gets the request's `data` (structured-cloned) and returns the reply:
 *
 *   // primes.worker.ts
 *   export default function (data: { limit: number }) { … return count; }
 *   // app
 *   const pool = workerPool({ filename: new URL("./primes.worker.ts", import.meta.url) });
 *   app.task("primes", { worker: pool, schema: z.object({ limit: z.number().int() }) });
 *
 * Workers inherit the process's --import/--conditions flags, so .ts worker files run under tsx.
 */
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import { limitDefault } from "../limits.ts";
import { TaskError } from "./task.ts";

export interface WorkerPoolOptions {
  /** The worker module (path or file: URL). */
  filename: string | URL;
  minThreads?: number;
  /** Default: Piscina's (from the number of cores). */
  maxThreads?: number;
  /** Calls waiting for a thread beyond this get `overloaded` (limits.ts `workerMaxQueue`). */
  maxQueue?: number;
}

export class WorkerPool {
  private readonly pool: Piscina;
  readonly maxQueue: number;

  constructor(options: WorkerPoolOptions) {
    const filename = options.filename instanceof URL ? fileURLToPath(options.filename) : options.filename;
    this.maxQueue = options.maxQueue ?? limitDefault("workerMaxQueue");
    this.pool = new Piscina({
      filename,
      ...(options.minThreads === undefined ? {} : { minThreads: options.minThreads }),
      ...(options.maxThreads === undefined ? {} : { maxThreads: options.maxThreads }),
      maxQueue: this.maxQueue,
    });
  }

  /** Calls waiting for a free thread. */
  get queued(): number {
    return this.pool.queueSize;
  }

  get threads(): number {
    return this.pool.threads.length;
  }

  /** Run one call; the signal cancels it (a running worker is stopped by Piscina). */
  async run(data: unknown, signal: AbortSignal): Promise<unknown> {
    if (this.pool.queueSize >= this.maxQueue) throw new TaskError("overloaded", "the worker pool's queue is full");
    try {
      return await this.pool.run(data, { signal });
    } catch (err) {
      if (err instanceof Error && err.message === "Task queue is at limit") {
        throw new TaskError("overloaded", "the worker pool's queue is full");
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.pool.close({ force: true });
  }
}

export function workerPool(options: WorkerPoolOptions): WorkerPool {
  return new WorkerPool(options);
}
