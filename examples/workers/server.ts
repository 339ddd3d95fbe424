/**
 * One server on every core, from code: runWorkers() forks a worker per core that share one
 * port, and rooms work across them (a push reaches the members on every worker once). Run:
 *   node --conditions=source --import tsx examples/workers/server.ts      (PORT, WORKERS: default 8080, auto)
 * then connect a few clients to ws://127.0.0.1:8080/app and call "whoami" (which worker
 * answered) or "room.join" { room } and "say" { room, text }. `kill -HUP <primary pid>`
 * replaces the workers one at a time; Ctrl+C stops them all (clients get 1001).
 */
import { createServer, runWorkers } from "switchboard";

const workers = process.env.WORKERS === undefined || process.env.WORKERS === "auto" ? "auto" : Number(process.env.WORKERS);

// The same file runs in the primary and in every worker: `start` is only called in workers.
const run = await runWorkers({
  workers,
  start: ({ index, cluster }) => {
    // `cluster` is { ipc: true, … }: rooms, presence and app.broadcast go through the primary.
    const server = createServer({ port: Number(process.env.PORT ?? 8080), cluster, logger: { level: "warn" } });
    const app = server.app("/app", { presence: true });
    app.task("whoami", () => ({ worker: index, pid: process.pid }));
    app.task("say", ({ data, rooms }) => {
      const { room, text } = data as { room: string; text: string };
      return rooms.push(room, "said", { text, worker: index });
    });
    return server; // runWorkers starts it
  },
});

if (run.role === "primary") {
  console.log(`${run.pids().length} workers on ws://127.0.0.1:${run.port}/app (pids ${run.pids().join(", ")}; primary ${process.pid})`);
  process.on("SIGHUP", () => {
    run.reload().then(
      ({ replaced }) => console.log(`reloaded: ${replaced.map((r) => `${r.from} → ${r.to}`).join(", ")}`),
      (err: Error) => console.error(`reload failed: ${err.message}`),
    );
  });
}
