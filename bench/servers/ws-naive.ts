// Contender: plain `ws` 8 with bufferutil, the way most people write it.
// /echo sends every message back; /fanout loops over every /fanout socket and sends.
import http from "node:http";
import { WebSocketServer, type WebSocket } from "ws";

const port = Number(process.env.PORT ?? 0);
const server = http.createServer((_req, res) => { res.writeHead(404).end(); });
const echo = new WebSocketServer({ noServer: true });
const fanout = new WebSocketServer({ noServer: true });

echo.on("connection", (ws: WebSocket) => {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
});
fanout.on("connection", (ws: WebSocket) => {
  ws.on("message", (data, isBinary) => {
    for (const c of fanout.clients) c.send(data, { binary: isBinary });
  });
});

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
