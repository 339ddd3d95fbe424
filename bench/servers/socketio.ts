// Contender: Socket.IO 4, websocket transport only. Namespaces /echo and /fanout stand for the
// paths. "echo": plain event echoed back, or an acknowledged emit answered through the ack.
// "fanout": emitted to the room every /fanout socket joins.
import http from "node:http";
import { Server } from "socket.io";

const port = Number(process.env.PORT ?? 0);
const server = http.createServer();
const io = new Server(server, { transports: ["websocket"], serveClient: false });

io.of("/echo").on("connection", (socket) => {
  socket.on("echo", (data: unknown, ack?: (d: unknown) => void) => {
    if (typeof ack === "function") ack(data);
    else socket.emit("echo", data);
  });
});
const fan = io.of("/fanout");
fan.on("connection", (socket) => {
  void socket.join("all");
  socket.on("fanout", (data: unknown) => { fan.to("all").emit("fanout", data); });
});
server.listen(port, "127.0.0.1", () => {
  console.log(`READY ${(server.address() as { port: number }).port}`);
});
process.on("SIGTERM", () => process.exit(0)); // lets --cpu-prof write its profile
