/**
 * startServer(): a real server on 127.0.0.1, port 0, with a silent logger unless the test
 * passes its own; stopped by the returned `stop()` (use it in `after`/`t.after`).
 */
import { createServer, type Server, type ServerOptions } from "../../src/index.ts";

export async function startServer(options: ServerOptions = {}, setup?: (server: Server) => void): Promise<Server> {
  const server = createServer({ port: 0, host: "127.0.0.1", logger: { level: "silent" }, ...options });
  setup?.(server);
  await server.start();
  return server;
}
