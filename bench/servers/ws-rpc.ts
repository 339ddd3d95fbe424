// Contender: a hand-rolled JSON RPC on `ws`, what users write without a framework.
// Client → {"task","data","id"}; reply {"id","data"}. Task "fanout" pushes
// {"task":"fanout","data"} to every /fanout socket (one JSON.stringify, then a send loop).
import http from "node:http";
import { WebSocketServer, type WebSocket } from "ws";

type Handler = (data: unknown, ws: WebSocket) => unknown;
const port = Number(process.env.PORT ?? 0);
const server = http.createServer((_req, res) => { res.writeHead(404).end(); });
const echo = new WebSocketServer({ noServer: true });
const fanout = new WebSocketServer({ noServer: true });

const handlers = new Map<string, Handler>([
  ["echo", (data) => data],
  ["fanout", (data) => {
    const push = JSON.stringify({ task: "fanout", data });
    for (const c of fanout.clients) c.send(push);
    return null;
  }],
]);

function onMessage(ws: WebSocket, raw: Buffer): void {
  let msg: { task?: unknown; data?: unknown; id?: unknown };
  try { msg = JSON.parse(raw.toString()); } catch { ws.send(JSON.stringify({ error: "bad json" })); return; }
  const h = typeof msg.task === "string" ? handlers.get(msg.task) : undefined;
  if (!h) { ws.send(JSON.stringify({ id: msg.id, error: "unknown task" })); return; }
  ws.send(JSON.stringify({ id: msg.id, data: h(msg.data, ws) }));
}

for (const wss of [echo, fanout]) {
  wss.on("connection", (ws: WebSocket) => { ws.on("message", (raw: Buffer) => onMessage(ws, raw)); });
}
server.on("upgrade", (req, socket, head) => {
  const path = (req.url ?? "").split("?")[0];
  const wss = path === "/echo" ? echo : path === "/fanout" ? fanout : null;
  if (!wss) { socket.end("HTTP/1.1 404 Not Found\r\n\r\n"); return; }
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
});
server.listen(port, "127.0.0.1", () => {
  console.log(`READY ${(server.address() as { port: number }).port}`);
});
process.on("SIGTERM", () => process.exit(0)); // lets --cpu-prof write its profile
