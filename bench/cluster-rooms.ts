/**
 * Room pushes across two server processes (test/fixtures/app-node.ts) over a private
 * redis-server: C clients per node in one room; one client on node 0 calls the `say` task M
 * times (at most W calls in flight); every client of both nodes must receive every push.
 * Bounded in count and time.
 *   node --conditions=source --import tsx bench/cluster-rooms.ts [pushes=2000] [clientsPerNode=25] [window=50]
 * Prints one JSON line: pushes/s, deliveries/s, and node 0's bus counters (one publish per push).
 */
import WebSocket from "ws";
import { redisServerPath, startRedis } from "../test/helpers/redis.ts";
import { APP_NODE_SCRIPT, startNodes, stopNodes } from "../test/helpers/cluster-nodes.ts";

const pushes = Math.min(Number(process.argv[2] ?? 2_000), 50_000);
const perNode = Math.min(Number(process.argv[3] ?? 25), 500);
const WINDOW = Math.max(1, Number(process.argv[4] ?? 50));
const TIME_LIMIT_MS = 60_000;

const bin = redisServerPath();
if (bin === undefined) {
  console.log(JSON.stringify({ skipped: "redis-server not found: apt-get install -y redis-server" }));
  process.exit(0);
}
const redis = await startRedis(bin);
const nodes = await startNodes(redis.url, 2, { prefix: "bench:", script: APP_NODE_SCRIPT, heartbeatMs: 1_000, ttlMs: 5_000 });
const sockets: WebSocket[] = [];
try {
  const ports = nodes.map((node) => node.all("started")[0]!.port as number);
  let delivered = 0;
  let allDone!: () => void;
  const finished = new Promise<void>((resolve) => (allDone = resolve));
  const total = pushes * perNode * 2;

  /** Open a client in room "bench"; resolves after its room.members reply (subscriptions confirmed). */
  async function client(port: number, count: boolean): Promise<WebSocket> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/app?room=bench`, ["switchboard.v1"]);
    sockets.push(ws);
    const ready = new Promise<void>((resolve, reject) => {
      ws.once("error", reject);
      ws.on("message", (data: Buffer) => {
        const text = data.toString();
        if (text.includes('"members"')) resolve();
        else if (count && text.includes('"said"') && ++delivered === total) allDone();
      });
    });
    await new Promise((resolve) => ws.once("open", resolve));
    ws.send(JSON.stringify({ task: "room.members", data: { room: "bench" }, id: 1 }));
    await ready;
    return ws;
  }
  for (const port of ports) for (let i = 0; i < perNode; i++) await client(port, true);

  // The sender: outside the room; its replies pace the window.
  const sender = new WebSocket(`ws://127.0.0.1:${ports[0]}/app`, ["switchboard.v1"]);
  sockets.push(sender);
  await new Promise((resolve) => sender.once("open", resolve));
  let replied = 0;
  let caughtUp: (() => void) | undefined;
  sender.on("message", (data: Buffer) => {
    if (data.toString().includes('"id"')) {
      replied++;
      caughtUp?.();
    }
  });
  const before = process.cpuUsage();
  const t0 = performance.now();
  const timer = setTimeout(allDone, TIME_LIMIT_MS);
  for (let sent = 0; sent < pushes && performance.now() - t0 < TIME_LIMIT_MS; sent++) {
    while (sent - replied >= WINDOW) await new Promise<void>((resolve) => (caughtUp = resolve));
    sender.send(JSON.stringify({ task: "say", data: { room: "bench", text: `m${sent}` }, id: sent + 2 }));
  }
  await finished;
  clearTimeout(timer);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(before);
  const stats = (await nodes[0]!.request("stats")) as { cluster: { bus: unknown } };
  console.log(JSON.stringify({
    pushes, clientsPerNode: perNode, window: WINDOW, delivered, expected: total, ms: Math.round(ms),
    pushesPerSec: Math.round(pushes / (ms / 1000)), deliveriesPerSec: Math.round(delivered / (ms / 1000)),
    benchClientCpuMs: Math.round((cpu.user + cpu.system) / 1000), node0Bus: stats.cluster.bus,
  }));
} finally {
  for (const ws of sockets) ws.terminate();
  await stopNodes(nodes);
  await redis.stop();
}
