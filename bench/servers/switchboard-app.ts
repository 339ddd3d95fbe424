// Contender: Switchboard's app layer (protocol switchboard.v1). /echo: task "echo" replies
// {"id","data"} with its data. /fanout: clients join room "all" at connect (?room=all);
// task "fanout" pushes {"task":"fanout","data"} to the room (serialised and framed once).
import { createServer } from "../../src/index.ts";

const server = createServer({ port: Number(process.env.PORT ?? 0), host: "127.0.0.1", logger: { level: "silent" } });
const endpoint = { maxConnections: 100_000 };
server.app("/echo", { endpoint }).task("echo", ({ data }) => data);
server.app("/fanout", { endpoint }).task("fanout", ({ data, rooms }) => {
  rooms.push("all", "fanout", data);
  return null;
});
await server.start();
console.log(`READY ${server.port}`);
process.on("SIGTERM", () => process.exit(0)); // lets --cpu-prof write its profile
