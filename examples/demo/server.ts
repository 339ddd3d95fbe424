/**
 * The demo started by `npm start`: an echo endpoint at /echo and a page at / that connects
 * to it and shows each round trip. PORT (default 8080) and HOST (default 127.0.0.1) from env.
 */
import { readFileSync } from "node:fs";
import { createServer } from "switchboard";

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

server.get("/", (_req, res) => {
  res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
  res.end(page);
});

await server.start();
console.log(`Switchboard demo
  page:      ${server.url("/", "http")}
  endpoint:  ${server.url("/echo")}
  health:    ${server.url("/healthz", "http")}
Stop with Ctrl-C.`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    server.stop().then(() => process.exit(0));
  });
}
