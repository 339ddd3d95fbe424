/**
 * A child process of admin-load.test.ts: holds COUNT raw WebSocket clients of an app (no
 * client library, so the parent and this process stay light), each in one of ROOMS rooms
 * with its own session user. Prints one JSON line when they are connected, then holds them
 * until its stdin closes (the parent ending), SIGTERM, or a hard deadline.
 *   node --import tsx admin-load-clients.ts PORT PATH FIRST COUNT ROOMS
 */
import { connect, type RawConn } from "../../bench/lib/wsclient.ts";

const [port, path, first, count, rooms] = [Number(process.argv[2]), process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]), Number(process.argv[6])];
const PARALLEL = 50;
const HARD_DEADLINE_MS = 5 * 60_000; // never outlives this, whatever the parent does

const conns: RawConn[] = [];
const failures: string[] = [];
let closed = 0;
let ready = false;
let next = 0;
const started = performance.now();

async function worker(): Promise<void> {
  while (next < count) {
    const i = first + next++;
    const target = `${path}?room=room-${i % rooms}&user=user-${i}`;
    try {
      // Ready when the welcome has arrived: the connection is in its room by then.
      const conn = await connect({ host: "127.0.0.1", port, path: target, steps: [{ expect: '{"task":"switchboard.welcome"' }] }, 60_000);
      conn.sock.on("error", () => undefined); // counted through 'close'
      conn.sock.on("close", () => {
        closed++;
        if (ready && closed === conns.length) end(); // the server has gone
      });
      conns.push(conn);
    } catch (err) {
      if (failures.length < 5) failures.push((err as Error).message);
    }
  }
}

await Promise.all(Array.from({ length: PARALLEL }, worker));
console.log(JSON.stringify({ connected: conns.length, failures, ms: Math.round(performance.now() - started) }));
ready = true;

function end(): void {
  for (const conn of conns) conn.sock.destroy();
  process.exit(0);
}
setTimeout(end, HARD_DEADLINE_MS).unref();
process.stdin.on("end", end).on("close", end).resume();
process.on("SIGTERM", end);
