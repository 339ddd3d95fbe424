/**
 * Issue 15's reconnect storm: N clients of one room (joined with room.join) on node A (two nodes over a private
 * redis-server, bench/servers/switchboard-app.ts, room streams in Redis) hold a position; node A
 * is killed with SIGKILL; M pushes are published on node B; then all N clients reconnect to B at
 * once and rejoin with `since`. Measured from the first reconnect to the last complete replay:
 * the time, node B's and Redis's CPU (from /proc) per recovered push, and Redis commands per
 * recovering client (INFO commandstats before/after; commands run inside a Lua script are
 * counted by Redis too, so the script calls are listed apart: they are the round trips).
 * Every client must get exactly the M missed pushes, in order, with recovered: true.
 *   taskset -c 1 node --conditions=source --import tsx bench/recovery-storm.ts [clients=2000] [missed=100] [inFlight=500]
 * Servers and redis-server are pinned to core 0 (as in bench/run.ts), stopped by PID.
 * Bounded: at most 10,000 clients and 1,000 pushes, every wait has a deadline.
 */
import net from "node:net";
import type { ChildProcess } from "node:child_process";
import { compileServers, contender, startServer, stopServer } from "./lib/contenders.ts";
import { startRedis, hasRedis } from "./lib/redis.ts";
import { treeCpuMicros } from "./lib/proc.ts";
import { maskedFrame } from "./lib/frames.ts";
import { connect, type RawConn } from "./lib/wsclient.ts";

const N = Math.max(1, Math.min(Number(process.argv[2] ?? 2_000), 10_000));
const MISSED = Math.max(1, Math.min(Number(process.argv[3] ?? 100), 1_000));
const IN_FLIGHT = Math.max(1, Math.min(Number(process.argv[4] ?? 500), 10_000));
const BEFORE = 5; // pushes every client sees on node A, so each holds a position
const DEADLINE_MS = 120_000;
const SRC_ADDRS = Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 1}`);
const WELCOME = [{ expect: '{"task":"switchboard.welcome"' }];

function log(msg: string): void { process.stderr.write(`[storm ${new Date().toISOString().slice(11, 19)}] ${msg}\n`); }
const text = (s: string): Buffer => maskedFrame(1, Buffer.from(s)).frame;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
}

/** Resolves when check() is true (polled on each event the caller signals), rejects at the deadline. */
function until(what: string, check: () => boolean, signal: { fire: () => void }, ms = DEADLINE_MS): Promise<void> {
  return new Promise((resolve, reject) => {
    if (check()) return resolve();
    const timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    signal.fire = () => { if (check()) { clearTimeout(timer); signal.fire = () => {}; resolve(); } };
  });
}

/** Minimal RESP client for INFO (no library: one request, one bulk reply). */
function redisInfo(port: number, section: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port });
    let buf = "";
    const timer = setTimeout(() => { s.destroy(); reject(new Error("INFO: no reply")); }, 10_000);
    s.on("error", (err) => { clearTimeout(timer); reject(err); });
    s.on("connect", () => s.write(`INFO ${section}\r\n`));
    s.on("data", (d) => {
      buf += d.toString();
      const m = /^\$(\d+)\r\n/.exec(buf);
      if (m && Buffer.byteLength(buf) >= m[0].length + Number(m[1]) + 2) { clearTimeout(timer); s.end(); resolve(buf.slice(m[0].length)); }
    });
  });
}
async function commandCalls(port: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const m of (await redisInfo(port, "commandstats")).matchAll(/cmdstat_([^:]+):calls=(\d+)/g)) out.set(m[1]!, Number(m[2]));
  return out;
}

interface Client { conn: RawConn | null; offset: number; epoch: string; closed: boolean; recovered: boolean; bad: string | null }

async function main(): Promise<void> {
  if (!hasRedis()) { console.log(JSON.stringify({ skipped: "redis-server not found" })); return; }
  compileServers();
  const live: ChildProcess[] = [];
  const sockets: RawConn[] = [];
  try {
    const redisPort = await freePort();
    const redis = await startRedis(redisPort);
    live.push(redis);
    const app = contender("switchboard-app-cluster");
    const env = { REDIS_URL: `redis://127.0.0.1:${redisPort}` };
    const a = await startServer(app, await freePort(), { ...env, NODE_INDEX: "0" });
    live.push(a.proc);
    const b = await startServer(app, await freePort(), { ...env, NODE_INDEX: "1" });
    live.push(b.proc);
    const signal = { fire: () => {} };

    // The publisher on B, outside the room; its replies pace it.
    const pub = await connect({ host: "127.0.0.1", port: b.port, path: "/fanout?streams=1", steps: WELCOME });
    sockets.push(pub);
    let replies = 0;
    pub.onMessage = () => { replies++; signal.fire(); };
    let sent = 0;
    async function publish(k: number): Promise<void> {
      const goal = replies + k;
      for (let i = 0; i < k; i++) pub.sock.write(text(`{"task":"fanout","data":"m${++sent}","id":${sent}}`));
      await until(`${k} publish replies`, () => replies >= goal, signal);
    }

    // N clients on A, in room "all", each tracking the last position it delivered.
    let joined = 0;
    const clients: Client[] = Array.from({ length: N }, () => ({ conn: null, offset: 0, epoch: "", closed: false, recovered: false, bad: null }));
    const onLive = (c: Client) => (buf: Buffer, start: number, end: number) => {
      const msg = JSON.parse(buf.toString("utf8", start, end)) as { id?: number; offset?: number; epoch?: string; data?: { offset: number; epoch: string } };
      if (msg.id === 1) { c.offset = msg.data!.offset; c.epoch = msg.data!.epoch; joined++; signal.fire(); return; }
      if (msg.offset === undefined) return; // presence: not part of the stream
      if (msg.offset !== c.offset + 1) c.bad ??= `live push ${msg.offset} after ${c.offset}`;
      c.offset = msg.offset; c.epoch = msg.epoch!;
      signal.fire();
    };
    log(`connecting ${N} clients to node A`);
    for (let i = 0; i < N; i += IN_FLIGHT) {
      await Promise.all(clients.slice(i, i + IN_FLIGHT).map(async (c, j) => {
        const conn = await connect({ host: "127.0.0.1", port: a.port, path: "/fanout?streams=1", steps: WELCOME, localAddress: SRC_ADDRS[(i + j) % 16] }, 30_000);
        c.conn = conn; sockets.push(conn);
        conn.onMessage = onLive(c);
        conn.sock.on("close", () => { c.closed = true; signal.fire(); });
        // An explicit room.join, not ?room=: its reply says the join is in force, with the
        // position (a connect-time room is joined after the welcome, with no position sent).
        conn.sock.write(text(JSON.stringify({ task: "room.join", data: { room: "all" }, id: 1 })));
      }));
      await until(`joins ${i}..${i + IN_FLIGHT} answered`, () => joined >= Math.min(N, i + IN_FLIGHT), signal);
    }
    await publish(BEFORE);
    await until("every client on A has the first pushes", () => clients.every((c) => c.offset === BEFORE), signal);

    log("SIGKILL node A");
    a.proc.kill("SIGKILL");
    await until("every client saw A go", () => clients.every((c) => c.closed), signal);
    await publish(MISSED);

    const calls0 = await commandCalls(redisPort);
    const cpuB0 = treeCpuMicros(b.pid), cpuR0 = treeCpuMicros(redis.pid!);
    const t0 = performance.now();
    let done = 0, lastAt = 0, replayed = 0;
    log(`${N} clients reconnect to node B at once (at most ${IN_FLIGHT} handshakes in flight), each missing ${MISSED}`);
    const reconnect = async (c: Client, i: number) => {
      const conn = await connect({ host: "127.0.0.1", port: b.port, path: "/fanout?streams=1", steps: WELCOME, localAddress: SRC_ADDRS[i % 16] }, 60_000);
      sockets.push(conn);
      const since = c.offset;
      conn.onMessage = (buf, start, end) => {
        const msg = JSON.parse(buf.toString("utf8", start, end)) as { id?: number; offset?: number; epoch?: string;
          data?: { recovered?: boolean; epoch?: string; pushes?: { offset: number }[] } };
        if (msg.id === 1) {
          const d = msg.data ?? {};
          const offsets = (d.pushes ?? []).map((p) => p.offset);
          const want = Array.from({ length: MISSED }, (_, k) => since + 1 + k);
          if (d.recovered !== true) c.bad ??= `recovered: ${String(d.recovered)}`;
          else if (offsets.join() !== want.join()) c.bad ??= `replay ${offsets[0]}..${offsets.at(-1)} (${offsets.length}), wanted ${want[0]}..${want.at(-1)}`;
          c.offset = offsets.at(-1) ?? c.offset; c.recovered = true;
          replayed += offsets.length; done++; lastAt = performance.now();
          signal.fire();
        } else if (msg.offset !== undefined && msg.offset <= c.offset) c.bad ??= `duplicate live push ${msg.offset}`;
      };
      conn.sock.write(text(JSON.stringify({ task: "room.join", data: { room: "all", since: { offset: since, epoch: c.epoch } }, id: 1 })));
    };
    // A pool of IN_FLIGHT handshakes (the kernel's accept backlog would drop a burst of 10k SYNs).
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, N) }, async () => {
      while (next < N) { const i = next++; await reconnect(clients[i]!, i); }
    }));
    await until("every client recovered", () => done === N, signal);
    const ms = lastAt - t0;
    const cpuB = treeCpuMicros(b.pid) - cpuB0, cpuR = treeCpuMicros(redis.pid!) - cpuR0;
    const calls1 = await commandCalls(redisPort);
    const perClient: Record<string, number> = {};
    for (const [cmd, n] of calls1) {
      const d = n - (calls0.get(cmd) ?? 0) - (cmd === "info" ? 1 : 0); // our own second INFO
      if (d > 0) perClient[cmd] = Number((d / N).toFixed(3));
    }
    const bad = clients.filter((c) => c.bad !== null);
    console.log(JSON.stringify({
      clients: N, missed: MISSED, handshakesInFlight: IN_FLIGHT, recovered: done, failures: bad.length,
      firstFailure: bad[0]?.bad ?? null, replayedPushes: replayed,
      msUntilAllRecovered: Math.round(ms),
      nodeBCpuMs: Math.round(cpuB / 1000), redisCpuMs: Math.round(cpuR / 1000),
      nodeBCpuMicrosPerRecoveredPush: Number((cpuB / replayed).toFixed(2)),
      nodeBAndRedisCpuMicrosPerRecoveredPush: Number(((cpuB + cpuR) / replayed).toFixed(2)),
      nodeBCpuMicrosPerClient: Math.round(cpuB / N),
      redisCommandsPerClient: perClient,
    }));
  } finally {
    for (const s of sockets) s.sock.destroy();
    for (const p of live.reverse()) await stopServer(p);
  }
}

main().then(() => process.exit(0), (err) => { log(`error: ${(err as Error).stack ?? err}`); process.exit(1); });
