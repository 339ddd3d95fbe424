/**
 * The demo started by `npm start`: a chat at / (rooms from `?room=`, names, presence; its app
 * at /chat/ws), an echo endpoint at /echo with a page at /echo.html that shows each round
 * trip, and the console at /console.html (raw text or switchboard.v1 to any endpoint here).
 * PORT (default 8080) and HOST (default 127.0.0.1) from env.
 */
import { readFileSync } from "node:fs";
import { createServer } from "switchboard";
import { mountChat } from "./chat.ts";
import { CONSOLE_PAGE, mountConsole } from "./console.ts";

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? "127.0.0.1";
const page = readFileSync(new URL("./echo.html", import.meta.url));

const server = createServer({ port, host });

server.endpoint("/echo", {
  idPrefix: "echo",
  message(conn, data, isBinary) {
    conn.send(data, isBinary);
  },
});

mountChat(server, "/"); // the chat: a page at /?room=NAME&name=YOU, its app at /chat/ws
mountConsole(server);

server.get("/echo.html", (_req, res) => {
  res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
  res.end(page);
});

await server.start();
console.log(`Switchboard demo
  chat:      ${server.url("/", "http")}?room=lobby
  echo page: ${server.url("/echo.html", "http")}
  console:   ${server.url(CONSOLE_PAGE, "http")}?path=/chat/ws&mode=app
  endpoint:  ${server.url("/echo")}
  health:    ${server.url("/healthz", "http")}
Stop with Ctrl-C.`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    server.stop().then(() => process.exit(0));
  });
}
