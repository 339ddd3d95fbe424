// Contender: one node of a two-node Switchboard cluster over Redis (REDIS_URL, NODE_INDEX).
// The `cluster` server option is not wired yet, so the bus is joined to the endpoint by hand,
// as docs/cluster.md describes: a message is broadcast to the local /fanout members (framed
// once) and published once on the bus as a string; the other node broadcasts what it hears.
import { createBus } from "../../src/cluster/index.ts";
import { createServer } from "../../src/index.ts";

const redis = process.env.REDIS_URL;
if (!redis) throw new Error("REDIS_URL is required");
const server = createServer({ port: Number(process.env.PORT ?? 0), host: "127.0.0.1", logger: { level: "silent" } });
const bus = createBus({ redis, prefix: "bench:", nodeId: `bench-${process.env.NODE_INDEX ?? "0"}-${process.pid}` });

const fan = server.endpoint("/fanout", {
  maxConnections: 100_000,
  message(_conn, data, isBinary) {
    fan.broadcast(data, { isBinary });
    bus.publish("fanout", isBinary ? data : data.toString("utf8"));
  },
});
bus.subscribe("fanout", (payload) => {
  if (typeof payload === "string") fan.broadcast(payload);
  else if (Buffer.isBuffer(payload)) fan.broadcast(payload, { isBinary: true });
});
await bus.ready();
await server.start();
console.log(`READY ${server.port}`);
process.on("SIGTERM", () => process.exit(0)); // lets --cpu-prof write its profile
