/**
 * A standalone TLS server for tls-standalone.test.ts: an /echo endpoint on wss://, the key and
 * certificate files from SB_TLS_KEY / SB_TLS_CERT, the lock file and control socket from
 * SB_LOCK / SB_SOCKET. Logs JSON to stdout; prints "READY port=… pid=…" when it serves.
 */
import { createServer } from "../../../src/index.ts";
import { runStandalone } from "../../../src/runtime/standalone.ts";
import { createRuntimeLogger } from "../../../src/runtime/logging.ts";

const { logger } = createRuntimeLogger({ pretty: false });
const server = createServer({ port: 0, host: "127.0.0.1", logger, tls: { key: process.env.SB_TLS_KEY!, cert: process.env.SB_TLS_CERT! } });
server.endpoint("/echo", { message: (conn, data, isBinary) => { conn.send(data, isBinary); } });
try {
  await runStandalone(server, { lockFile: process.env.SB_LOCK!, controlSocket: process.env.SB_SOCKET! });
} catch (err) {
  process.stderr.write(`START FAILED: ${(err as Error).message}\n`);
  process.exit(1);
}
process.stdout.write(`READY port=${server.port} pid=${process.pid}\n`);
