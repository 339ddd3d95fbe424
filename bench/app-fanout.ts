/**
 * Room fan-out through the app layer: C clients in one room, P pushes of one small JSON
 * message each (serialised once, framed once, written C times). Bounded in count and time.
 *   node --conditions=source --import tsx bench/app-fanout.ts [clients=100] [pushes=200]
 * Prints one JSON line. Server and clients share this process, so the CPU figure is of both.
 */
import WebSocket from "ws";
import { createServer } from "../src/index.ts";

const clients = Number(process.argv[2] ?? 100);
const pushes = Number(process.argv[3] ?? 200);
const server = createServer({ port: 0, logger: { level: "silent" } });
const app = server.app("/bench");
await server.start();

let delivered = 0;
const total = clients * pushes;
let done!: () => void;
const finished = new Promise<void>((r) => (done = r));
await Promise.all(Array.from({ length: clients }, () => new Promise<void>((resolve, reject) => {
  const ws = new WebSocket(`${server.url("/bench")}?room=r`, "switchboard.v1");
  ws.on("error", reject);
  ws.on("message", (data) => {
    if (String(data).includes("switchboard.welcome")) return resolve();
    if (++delivered === total) done();
  });
})));

const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < pushes; i++) {
  app.rooms.push("r", "tick", { i, text: "a small message of the kind a chat pushes" });
  if (i % 20 === 19) await new Promise((r) => setImmediate(r));
}
const timer = setTimeout(() => { console.error(`timed out at ${delivered}/${total}`); process.exit(1); }, 60_000);
await finished;
clearTimeout(timer);
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({
  clients, pushes, deliveries: total, wallMs: Math.round(ms),
  deliveriesPerSecond: Math.round(total / (ms / 1000)),
  cpuMicrosPerDelivery: Number(((cpu.user + cpu.system) / total).toFixed(2)),
  pushCounters: app.stats().pushes,
}));
await server.stop();
