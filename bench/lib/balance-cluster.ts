/**
 * The node:cluster side of bench/workers-balance.ts: a primary with N workers sharing one port
 * on 127.0.0.1, under the scheduling policy given (rr = SCHED_RR, the primary accepts and hands
 * each socket to a free worker; none = SCHED_NONE, every worker accepts from the one shared
 * listening socket). Each worker writes one byte on accept, "0" + its index, so the client
 * knows which worker took the connection; it answers a peer's end with its own and otherwise
 * keeps the connection.
 *   node --conditions=source --import tsx bench/lib/balance-cluster.ts rr|none N
 * The primary prints one JSON line `{"ev":"ready","port","pids"}` and exits (with its workers)
 * when its stdin closes, or after 10 minutes whatever happens.
 */
import cluster from "node:cluster";
import net from "node:net";

const LIFETIME_MS = 10 * 60_000;
const say = (line: object): void => { process.stdout.write(JSON.stringify(line) + "\n"); };

if (cluster.isPrimary) {
  const policy = process.argv[2];
  const count = Number(process.argv[3]);
  if ((policy !== "rr" && policy !== "none") || !Number.isInteger(count) || count < 1 || count > 9) {
    process.stderr.write("usage: balance-cluster.ts rr|none N (1..9)\n");
    process.exit(2);
  }
  // Must be set before the first fork; the workers inherit it through the environment too.
  cluster.schedulingPolicy = policy === "rr" ? cluster.SCHED_RR : cluster.SCHED_NONE;
  const pids: number[] = [];
  let port = 0;
  let listening = 0;
  for (let index = 0; index < count; index++) {
    const worker = cluster.fork({ BALANCE_INDEX: String(index) });
    pids[index] = worker.process.pid ?? -1;
    worker.on("error", (err) => process.stderr.write(`worker ${index}: ${err.message}\n`));
    worker.once("listening", (address) => {
      port = address.port;
      if (++listening === count) say({ ev: "ready", port, pids });
    });
  }
  // A worker the bench kills stays dead: this primary measures, it does not supervise.
  cluster.on("exit", (worker, code, signal) => say({ ev: "exit", pid: worker.process.pid, code, signal }));
  const quit = (): void => {
    for (const pid of pids) {
      try { process.kill(pid, "SIGKILL"); } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err; // ESRCH: already gone
      }
    }
    process.exit(0);
  };
  process.stdin.on("end", quit).resume();
  setTimeout(quit, LIFETIME_MS).unref();
} else {
  const index = Number(process.env.BALANCE_INDEX);
  const mark = Buffer.from(String(index));
  const server = net.createServer((socket) => {
    socket.on("error", () => socket.destroy()); // a peer's reset is part of the experiment
    socket.on("data", () => { /* the churn client's one byte */ });
    socket.on("end", () => socket.end());
    socket.write(mark);
  });
  server.on("error", (err) => { process.stderr.write(`worker ${index}: ${err.message}\n`); process.exit(1); });
  // Port 0 in a cluster worker: every worker gets the same port, chosen by the primary.
  server.listen(0, "127.0.0.1");
  process.on("disconnect", () => process.exit(0)); // the primary is gone
}
