/**
 * The client side of bench/workers-fanout.ts, in its own process so the servers' CPU is theirs
 * alone: C clients split over the given ports join room "r"; one publisher sends P `say` tasks
 * (8 in flight); reports when every client has its P pushes. JSON lines on stdout.
 *   node ... bench/workers-fanout-clients.ts PORTS(comma) CLIENTS PUSHES
 */
import WebSocket from "ws";

const ports = process.argv[2]!.split(",").map(Number);
const clients = Number(process.argv[3]);
const pushes = Number(process.argv[4]);
const say = (line: object) => process.stdout.write(JSON.stringify(line) + "\n");

let delivered = 0;
let complete = 0;
let extra = 0;
const total = clients * pushes;
const counts: number[] = [];
let done!: () => void;
const finished = new Promise<void>((r) => (done = r));
const sockets: WebSocket[] = [];
for (let i = 0; i < clients; i += 50) {
  await Promise.all(Array.from({ length: Math.min(50, clients - i) }, (_, k) => new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${ports[(i + k) % ports.length]}/app?room=r`, "switchboard.v1");
    const me = sockets.length;
    counts[me] = 0;
    sockets.push(ws);
    ws.on("error", reject);
    ws.on("message", (data) => {
      const text = String(data);
      if (text.includes("switchboard.welcome")) return resolve();
      if (!text.includes('"said"')) return;
      delivered += 1;
      counts[me]! += 1;
      // Done when every client has all P pushes; a push beyond P is a duplicate and is counted.
      if (counts[me] === pushes && ++complete === clients) done();
      else if (counts[me]! > pushes) extra += 1;
    });
  })));
}
say({ ev: "connected", clients });
await new Promise<void>((resolve) => process.stdin.once("data", () => resolve())); // the bench's "go"

const publisher = new WebSocket(`ws://127.0.0.1:${ports[0]}/app`, "switchboard.v1");
await new Promise<void>((resolve, reject) => {
  publisher.on("error", reject);
  publisher.once("message", () => resolve()); // its welcome
});
let sent = 0;
let answered = 0;
const next = (): void => {
  if (sent >= pushes) return;
  sent += 1;
  publisher.send(JSON.stringify({ id: sent, task: "say", data: { room: "r", text: `p${sent}` } }));
};
publisher.on("message", () => {
  answered += 1;
  next();
});
for (let k = 0; k < 8; k++) next();
const timeout = setTimeout(() => {
  say({ ev: "timeout", delivered, total, answered, complete });
  process.exit(1);
}, 120_000);
await finished;
clearTimeout(timeout);
say({ ev: "done", delivered, extra });
for (const ws of [...sockets, publisher]) ws.terminate();
process.exit(0);
