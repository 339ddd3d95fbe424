/**
 * One node of a two-server chat: the demo's chat app (examples/demo/chat.ts: rooms, names,
 * presence, the page at /) on a server that joins a cluster over Redis. Nothing in the app
 * knows about the cluster: `rooms.push` reaches the room's members on every node (serialised
 * once, one PUBLISH, framed once per node) and presence lists the members of every node.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 PORT=8081 npx tsx examples/cluster/chat-node.ts
 *   REDIS_URL=redis://127.0.0.1:6379 PORT=8082 npx tsx examples/cluster/chat-node.ts
 *
 * Without REDIS_URL it is a one-node chat on the in-memory bus.
 */
import { createServer } from "switchboard";
import { mountChat, CHAT_APP } from "../demo/chat.ts";

const port = Number(process.env.PORT ?? 8081);
const server = createServer({
  port,
  host: "127.0.0.1",
  logger: { level: process.env.LOG_LEVEL ?? "info" },
  cluster: process.env.REDIS_URL === undefined ? {} : { redis: process.env.REDIS_URL, prefix: "example-chat:" },
});
mountChat(server, "/"); // the page at /?room=NAME&name=YOU, its app at /chat/ws

// The nginx example health-checks this: which node answered, and the cluster as it sees it.
server.get("/node", (_req, res) => {
  const { connections, cluster } = server.stats();
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ nodeId: cluster.nodeId, status: cluster.status, connections, nodes: cluster.nodes }));
});

// start() waits a bounded time for Redis, then serves local clients and joins when Redis answers.
await server.start();
// One JSON line on stdout, for scripts and the example's test.
console.log(JSON.stringify({ ev: "listening", port: server.port, nodeId: server.cluster.nodeId, url: server.url(CHAT_APP) }));

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void server.stop({ timeoutMs: 5_000 }).then(() => process.exit(0));
  });
}
