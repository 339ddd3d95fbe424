/**
 * A CPU-heavy task on a worker-thread pool. Run:
 *   node --conditions=source --import tsx examples/worker-pool/server.ts
 * then call the task "primes" with { "limit": 2000000 } at ws://127.0.0.1:8081/work: other
 * tasks ("ping") keep answering while the workers count.
 */
import { z } from "zod";
import { createServer, workerPool } from "switchboard";

const server = createServer({ port: Number(process.env.PORT ?? 8081) });
const app = server.app("/work");
const pool = workerPool({ filename: new URL("./primes.worker.ts", import.meta.url), maxThreads: 2 });

app.task("primes", {
  schema: z.object({ limit: z.number().int().min(2).max(50_000_000) }),
  timeoutMs: 60_000,
  worker: pool,
});
app.task("ping", () => "pong");

await server.start();
console.log(`worker-pool example on ${server.url("/work")}`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void server.stop().then(() => pool.close()).then(() => process.exit(0)));
}
