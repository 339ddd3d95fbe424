// A user's server in plain JavaScript, run with plain `node` against the installed package.
import { readFileSync } from "node:fs";
import { createServer } from "switchboard";

const page = readFileSync(new URL("./page.html", import.meta.url));
const server = createServer({ port: 0 });

server.endpoint("/echo", {
  message(conn, data, isBinary) {
    conn.send(data, isBinary);
  },
});

const app = server.app("/app");
app.task("greet", ({ data }) => ({ greeting: `hello ${data.name}` }));

server.get("/", (_req, res) => {
  res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
  res.end(page);
});

await server.start();
// Before the line the test waits for: a SIGTERM right after it must find the handler.
process.once("SIGTERM", () => server.stop().then(() => process.exit(0)));
console.log(`listening on ${server.url("/", "http")}`);
