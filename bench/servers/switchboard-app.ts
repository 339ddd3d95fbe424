// Contender: Switchboard's app layer (protocol switchboard.v1). /echo: task "echo" replies
// {"id","data"} with its data. /fanout: clients join room "all" at connect (?room=all);
// task "fanout" pushes {"task":"fanout","data"} to the room (serialised and framed once).
// Optional env (issue 15's history benches): HISTORY_MAX_COUNT sets cluster.historyMaxCount
// (0 = no history kept; the room push still gets an offset); REDIS_URL makes this one node of a
// cluster over Redis (room streams in Redis), NODE_INDEX names it.
import { createServer } from "../../src/index.ts";

const env = process.env;
const historyMaxCount = env.HISTORY_MAX_COUNT === undefined ? {} : { historyMaxCount: Number(env.HISTORY_MAX_COUNT) };
const cluster = env.REDIS_URL === undefined ? historyMaxCount
  : { ...historyMaxCount, redis: env.REDIS_URL, prefix: "bench:", nodeId: `bench-app-${env.NODE_INDEX ?? "0"}-${process.pid}` };
const server = createServer({ port: Number(env.PORT ?? 0), host: "127.0.0.1", logger: { level: "silent" }, cluster });
const endpoint = { maxConnections: 100_000 };
server.app("/echo", { endpoint }).task("echo", ({ data }) => data);
server.app("/fanout", { endpoint }).task("fanout", ({ data, rooms }) => {
  rooms.push("all", "fanout", data);
  return null;
});
await server.start();
console.log(`READY ${server.port}`);
process.on("SIGTERM", () => process.exit(0)); // lets --cpu-prof write its profile
