/**
 * Line echo over raw TCP: one handler per connection, "lines" framing, a goodbye on shutdown.
 *
 *   npx tsx --conditions=source examples/tcp-echo/server.ts [--port 7000]
 *   printf 'hello\nworld\n' | nc 127.0.0.1 7000
 *
 * Ctrl-C stops the server under control: every client gets "bye: server shutting down" after
 * whatever was already queued for it, then its connection closes.
 */
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { createServer, type Server, type TcpHandler, type TcpListener } from "switchboard";

/** The protocol: echo every line back, count them, say goodbye on shutdown. */
export function lineEcho(): TcpHandler<{ lines: number }> {
  return {
    open(conn) { conn.send(`welcome ${conn.id}`); },
    message(conn, line) {
      conn.data.lines += 1;
      conn.send(line);
    },
    shutdown(conn) { conn.send(`bye: server shutting down after ${conn.data.lines} lines`); },
  };
}

export async function startEchoServer(options: { port?: number; host?: string; logLevel?: string } = {}): Promise<{ server: Server; tcp: TcpListener<{ lines: number }> }> {
  // The HTTP side stays on an ephemeral port: this example only serves TCP.
  const server = createServer({ host: options.host ?? "127.0.0.1", port: 0, logger: { level: options.logLevel ?? "info" } });
  const tcp = server.tcp<{ lines: number }>({
    host: options.host ?? "127.0.0.1",
    port: options.port ?? 7000,
    framing: "lines",
    maxLineBytes: 4096,
    idleTimeoutMs: 60_000,
    defaultData: () => ({ lines: 0 }),
    protocol: lineEcho,
  });
  await server.start();
  return { server, tcp };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: "string", default: "7000" }, host: { type: "string", default: "127.0.0.1" } } });
  const { server, tcp } = await startEchoServer({ port: Number(values.port), host: values.host });
  console.log(`line echo on tcp://${values.host}:${tcp.port}`);
  const stop = (): void => void server.stop().then(() => console.log(JSON.stringify(tcp.stats())));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
