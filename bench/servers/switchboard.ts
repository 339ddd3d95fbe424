// Contender: Switchboard's endpoint layer. /echo sends every message back; /fanout
// broadcasts it (framed once, the same bytes written to every connection).
import { createServer } from "../../src/index.ts";

// METRICS=1 (the switchboard-metrics contender, issue 16): the same server with Prometheus metrics on.
const metrics = process.env.METRICS === "1" ? { metrics: { enabled: true } } : {};
const server = createServer({ port: Number(process.env.PORT ?? 0), host: "127.0.0.1", logger: { level: "silent" }, ...metrics });
server.endpoint("/echo", {
  maxConnections: 100_000,
  message(conn, data, isBinary) { conn.send(data, isBinary); },
});
const fan = server.endpoint("/fanout", {
  maxConnections: 100_000,
  message(_conn, data, isBinary) { fan.broadcast(data, { isBinary }); },
});
await server.start();
console.log(`READY ${server.port}`);
process.on("SIGTERM", () => process.exit(0)); // lets --cpu-prof write its profile
