/**
 * One node of a two-server chat at the endpoint level (the app layer's rooms will do this for
 * you once they sit on the cluster bus): every text message a client sends goes to the clients
 * of this node (framed once) and, as one raw string over the bus, to every other node, which
 * hands it to its own clients.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 PORT=8081 npx tsx examples/cluster/chat-node.ts
 *   REDIS_URL=redis://127.0.0.1:6379 PORT=8082 npx tsx examples/cluster/chat-node.ts
 *
 * Without REDIS_URL it is a one-node chat on the in-memory bus.
 */
import { createServer } from "../../src/index.ts";
import { createBus } from "../../src/cluster/index.ts";

const port = Number(process.env.PORT ?? 8081);
const bus = createBus({ redis: process.env.REDIS_URL, prefix: "example-chat:" });
const server = createServer({ port, host: "127.0.0.1" });

const chat = server.endpoint("/chat", {
  idPrefix: "chat",
  open(conn) {
    conn.send(`welcome ${conn.id}, you are on node ${bus.nodeId}`);
  },
  message(conn, data, isBinary) {
    if (isBinary) return; // a text chat: binary frames are ignored
    const line = `${conn.id}@${bus.nodeId}: ${data.toString()}`;
    chat.broadcast(line); // this node's clients
    bus.publish("said", line); // the other nodes (never back to us: no includeSelf)
  },
});

// What the other nodes said: to this node's clients. The string arrives as sent (no JSON).
bus.subscribe("said", (line) => chat.broadcast(line as string));

// The nginx example health-checks this.
server.get("/node", (_req, res) => {
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ nodeId: bus.nodeId, cluster: bus.status, connections: chat.connections.size }));
});

await server.start();
await bus.ready({ signal: AbortSignal.timeout(10_000) }).catch((err: unknown) => {
  console.error(`cluster not reachable yet (${String(err)}); serving local clients meanwhile`);
});
// One JSON line on stdout, for scripts and the example's test.
console.log(JSON.stringify({ ev: "listening", port: server.port, nodeId: bus.nodeId, url: server.url("/chat") }));

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void server.stop({ timeoutMs: 5_000 }).then(() => bus.close()).then(() => process.exit(0));
  });
}
