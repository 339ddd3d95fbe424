// Contender: one node of a two-node Switchboard cluster over Redis (REDIS_URL, NODE_INDEX),
// through the `cluster` server option: a message is broadcast to the local /fanout members
// (framed once) and published once on the cluster bus as a string; the other node
// broadcasts what it hears (framed once for all of its members).
import { createServer } from "../../src/index.ts";

const redis = process.env.REDIS_URL;
if (!redis) throw new Error("REDIS_URL is required");
const server = createServer({
  port: Number(process.env.PORT ?? 0), host: "127.0.0.1", logger: { level: "silent" },
  cluster: { redis, prefix: "bench:", nodeId: `bench-${process.env.NODE_INDEX ?? "0"}-${process.pid}` },
});

const fan = server.endpoint("/fanout", {
  maxConnections: 100_000,
  message(_conn, data, isBinary) {
    fan.broadcast(data, { isBinary });
    server.cluster.publish("fanout", isBinary ? data : data.toString("utf8"));
  },
});
server.cluster.subscribe("fanout", (payload) => {
  if (typeof payload === "string") fan.broadcast(payload);
  else if (Buffer.isBuffer(payload)) fan.broadcast(payload, { isBinary: true });
});
await server.start(); // the cluster service starts first and waits for Redis
console.log(`READY ${server.port}`);
process.on("SIGTERM", () => process.exit(0)); // lets --cpu-prof write its profile
