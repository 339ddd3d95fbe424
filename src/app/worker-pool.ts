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
 * piscina is imported when the first pool is made, not by `import "switchboard"`: most servers
 * never make one.
 */
import { fileURLToPath } from "node:url";
import type { Piscina } from "piscina";
import { OptionError } from "../errors.ts";
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
  readonly maxQueue: number;
  readonly #options: ConstructorParameters<typeof Piscina>[0];
  #pool: Piscina | undefined;
  #loading: Promise<Piscina> | undefined;
  #closed = false;

  constructor(options: WorkerPoolOptions) {
    checkOptions(options); // here, not when piscina is loaded: a bad option fails at workerPool()
    const filename = options.filename instanceof URL ? fileURLToPath(options.filename) : options.filename;
    this.maxQueue = options.maxQueue ?? limitDefault("workerMaxQueue");
    this.#options = {
      filename,
      ...(options.minThreads === undefined ? {} : { minThreads: options.minThreads }),
      ...(options.maxThreads === undefined ? {} : { maxThreads: options.maxThreads }),
      maxQueue: this.maxQueue,
    };
    // Start now, so that minThreads are up before the first call. A failed start is not lost:
    // run() starts again and its caller gets the error.
    this.#start().catch(() => undefined);
  }

  /** Calls waiting for a free thread. */
  get queued(): number {
    return this.#pool?.queueSize ?? 0;
  }

  get threads(): number {
    return this.#pool?.threads.length ?? 0;
  }

  /** Run one call; the signal cancels it (a running worker is stopped by Piscina). */
  async run(data: unknown, signal: AbortSignal): Promise<unknown> {
    if (this.#closed) throw new Error("the worker pool is closed");
    const pool = this.#pool ?? (await this.#start());
    if (pool.queueSize >= this.maxQueue) throw new TaskError("overloaded", "the worker pool's queue is full");
    try {
      return await pool.run(data, { signal });
    } catch (err) {
      if (err instanceof Error && err.message === "Task queue is at limit") {
        throw new TaskError("overloaded", "the worker pool's queue is full");
      }
      throw err;
    }
  }

  /** Import piscina and create the pool, once; calls that come meanwhile wait for the same one. */
  #start(): Promise<Piscina> {
    this.#loading ??= import("piscina").then(
      ({ Piscina }) => (this.#pool = new Piscina(this.#options)),
      (err: unknown) => {
        this.#loading = undefined; // the next call tries again; this one fails with the error
        throw err;
      },
    );
    return this.#loading;
  }

  async close(): Promise<void> {
    this.#closed = true;
    // A pool still starting is closed once it exists; one whose start failed has nothing to close
    // (the failure went to the call that was waiting for it).
    const pool = this.#pool ?? (await this.#loading?.catch(() => undefined));
    await pool?.close({ force: true });
  }
}

function checkOptions({ filename, minThreads, maxThreads, maxQueue }: WorkerPoolOptions): void {
  if (typeof filename !== "string" && !(filename instanceof URL)) throw new OptionError("filename", "the worker module: a path or a file: URL");
  const isInt = (n: number | undefined, min: number) => n === undefined || (Number.isInteger(n) && n >= min);
  if (!isInt(minThreads, 0)) throw new OptionError("minThreads", `an integer >= 0, got ${minThreads}`);
  if (!isInt(maxThreads, 1)) throw new OptionError("maxThreads", `an integer >= 1, got ${maxThreads}`);
  if (minThreads !== undefined && maxThreads !== undefined && minThreads > maxThreads) {
    throw new OptionError("minThreads", `${minThreads} is more than maxThreads (${maxThreads})`);
  }
  if (!isInt(maxQueue, 0)) throw new OptionError("maxQueue", `an integer >= 0, got ${maxQueue}`);
}

export function workerPool(options: WorkerPoolOptions): WorkerPool {
  return new WorkerPool(options);
}
