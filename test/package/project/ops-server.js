// The operations features from the installed package (plain node, dist only): metrics
// (prom-client loaded on demand), the server API and the admin page with its assets.
import { createServer } from "switchboard";

const server = createServer({
  port: 0,
  metrics: { enabled: true },
  api: { key: "packed-api-key-0123456789" },
  admin: { token: "packed-admin-token-0123456789" },
});
server.app("/app");

await server.start();
process.once("SIGTERM", () => server.stop().then(() => process.exit(0)));
console.log(`listening on ${server.url("/", "http")}`);
