// One load-generator process, driven by the runner over IPC. Holds raw connections, writes
// pre-built frames in batches (one write per batch per socket), counts stamped messages and
// records their latency. Every loop is bounded: by the runner's stop command and by `deadline`.
import { spawn, type ChildProcessByStdio } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { createInterface } from "node:readline";
import { buildBatch, nowMicros, readStamp, stamp, type FramePart } from "../lib/frames.ts";
import { newHist, record, toSparse } from "../lib/hist.ts";
import { connect, CLOSE_FRAME, type RawConn, type Step } from "../lib/wsclient.ts";

type Batch = ReturnType<typeof buildBatch>;
interface Conn extends RawConn { batch?: Batch; inflight: number; /** we closed it */ ours?: boolean }

export type Cmd =
  | { t: "connect"; host: string; port: number; path: string; steps: Step[]; count: number; srcAddrs: string[] }
  | { t: "echo"; parts: FramePart[]; window: number }
  | { t: "publish"; parts: FramePart[]; window?: number; rate?: number }
  | { t: "handshakes"; host: string; port: number; path: string; steps: Step[]; concurrency: number; srcAddrs: string[]; native?: string }
  | { t: "mark" } | { t: "report" } | { t: "count" } | { t: "pause" } | { t: "stop" } | { t: "exit" };

const conns: Conn[] = [];
let count = 0;
let errors = 0;
let hist = newHist();
let cpuMark = process.cpuUsage();
let wallMark = Date.now();
let running = false;
let timers: NodeJS.Timeout[] = [];
const HARD_DEADLINE_MS = 10 * 60_000; // no load loop outlives this, whatever the runner does
let deadline = 0;

function onStamped(buf: Buffer, start: number, end: number): boolean {
  const ts = readStamp(buf, start, end);
  if (ts < 0) return false;
  count++;
  record(hist, nowMicros() - ts);
  return true;
}

function listen(c: Conn, onDone?: (c: Conn, n: number) => void): void {
  // Count the stamped messages of one read, then react once per read (batching).
  let n = 0;
  c.onMessage = (buf, start, end) => { if (onStamped(buf, start, end)) n++; };
  c.onRead = () => { if (n > 0) { const k = n; n = 0; onDone?.(c, k); } };
}

function send(c: Conn, k: number): void {
  if (!running || Date.now() > deadline || !c.batch) return;
  const units = Math.min(k, c.batch.buf.length / c.batch.unitLen);
  stamp(c.batch, units, nowMicros());
  c.sock.write(c.batch.buf.subarray(0, units * c.batch.unitLen));
}

async function doConnect(cmd: Extract<Cmd, { t: "connect" }>): Promise<object> {
  const start = conns.length;
  const par = 50;
  let next = 0;
  const failures: string[] = [];
  const one = async (): Promise<void> => {
    while (next < cmd.count) {
      const i = next++;
      const localAddress = cmd.srcAddrs[(start + i) % cmd.srcAddrs.length];
      try {
        const c = (await connect({ ...cmd, ...(localAddress ? { localAddress } : {}) })) as Conn;
        c.inflight = 0;
        c.sock.on("error", () => { errors++; });
        c.sock.on("close", () => { if (!c.ours) errors++; }); // the server closed it (e.g. slow consumer)
        conns.push(c);
        listen(c);
      } catch (err) { errors++; if (failures.length < 3) failures.push(String((err as Error).message)); }
    }
  };
  await Promise.all(Array.from({ length: par }, one));
  return { connected: conns.length, failures };
}

function doEcho(cmd: Extract<Cmd, { t: "echo" }>): object {
  running = true;
  deadline = Date.now() + HARD_DEADLINE_MS;
  for (const c of conns) {
    c.batch = buildBatch(cmd.parts, cmd.window);
    listen(c, (cc, n) => send(cc, n)); // closed loop: every reply releases one new message
    send(c, cmd.window);
  }
  return { conns: conns.length };
}

function doPublish(cmd: Extract<Cmd, { t: "publish" }>): object {
  running = true;
  deadline = Date.now() + HARD_DEADLINE_MS;
  const pub = conns[0];
  for (const c of conns) listen(c);
  if (!pub) return { conns: 0 };
  if (cmd.window) {
    pub.batch = buildBatch(cmd.parts, cmd.window);
    listen(pub, (cc, n) => send(cc, n));
    send(pub, cmd.window);
  } else if (cmd.rate) {
    // Fixed rate: a 10 ms tick sends what is due (carrying the fraction), at most one batch.
    pub.batch = buildBatch(cmd.parts, 64);
    const perTick = cmd.rate / 100;
    let due = 0;
    timers.push(setInterval(() => { due += perTick; const k = Math.min(64, Math.floor(due)); if (k > 0) { due -= k; send(pub, k); } }, 10));
  }
  return { conns: conns.length };
}

/**
 * The C handshaker, when the runner built one: it runs the handshake loop, this process only
 * relays mark and report to it (its stdin/stdout) and adds its CPU to the report.
 */
let native: { proc: ChildProcessByStdio<Writable, Readable, null>; replies: Array<(line: string) => void> } | null = null;

function startNative(cmd: Extract<Cmd, { t: "handshakes" }>, binary: string): Promise<object> {
  const args = [cmd.host, String(cmd.port), cmd.path, String(cmd.concurrency), cmd.srcAddrs.join(",")];
  for (const s of cmd.steps) {
    if (s.send !== undefined) args.push(`S:${s.send}`);
    if (s.expect !== undefined) args.push(`E:${s.expect}`);
  }
  const proc = spawn(binary, args, { stdio: ["pipe", "pipe", "inherit"] });
  const replies: Array<(line: string) => void> = [];
  native = { proc, replies };
  return new Promise((resolve, reject) => {
    proc.once("error", reject);
    createInterface({ input: proc.stdout }).on("line", (line) => {
      if (line === "READY") resolve({ native: true });
      else replies.shift()?.(line);
    });
  });
}

function nativeReport(): Promise<{ count: number; errors: number; cpuMicros: number; hist: number[] }> {
  const n = native!;
  return new Promise((resolve) => {
    n.replies.push((line) => resolve(JSON.parse(line)));
    n.proc.stdin.write("report\n");
  });
}

function stopNative(): void {
  if (!native) return;
  native.proc.stdin.end("stop\n"); // it exits on "stop"; killed by PID if it has not by then
  const proc = native.proc;
  setTimeout(() => { if (proc.exitCode === null) proc.kill("SIGKILL"); }, 2000).unref();
  native = null;
}

function doHandshakes(cmd: Extract<Cmd, { t: "handshakes" }>): object | Promise<object> {
  if (cmd.native) return startNative(cmd, cmd.native);
  running = true;
  deadline = Date.now() + HARD_DEADLINE_MS;
  let i = 0;
  const loop = async (): Promise<void> => {
    while (running && Date.now() < deadline) {
      const localAddress = cmd.srcAddrs[i++ % cmd.srcAddrs.length];
      const t0 = nowMicros();
      try {
        const c = await connect({ ...cmd, ...(localAddress ? { localAddress } : {}) });
        count++;
        record(hist, nowMicros() - t0);
        // Close handshake: our close frame, the server answers and closes TCP first.
        await new Promise<void>((resolve) => {
          c.sock.once("close", () => resolve());
          c.sock.on("error", () => {});
          c.sock.write(CLOSE_FRAME);
          setTimeout(() => { c.sock.destroy(); }, 2000).unref();
        });
      } catch { errors++; }
    }
  };
  for (let k = 0; k < cmd.concurrency; k++) void loop();
  return {};
}

/** Stops sending (timers, closed loops) but keeps the connections open. */
function pause(): void {
  running = false;
  stopNative();
  for (const t of timers) clearInterval(t);
  timers = [];
}

async function handle(cmd: Cmd): Promise<object> {
  switch (cmd.t) {
    case "connect": return doConnect(cmd);
    case "echo": return doEcho(cmd);
    case "publish": return doPublish(cmd);
    case "handshakes": return doHandshakes(cmd);
    case "mark":
      count = 0; errors = 0; hist = newHist(); cpuMark = process.cpuUsage(); wallMark = Date.now();
      native?.proc.stdin.write("mark\n");
      return {};
    case "report": {
      const cpu = process.cpuUsage(cpuMark);
      const own = { count, errors, hist: toSparse(hist), cpuMicros: cpu.user + cpu.system, wallMs: Date.now() - wallMark };
      if (!native) return own;
      const n = await nativeReport();
      return { ...own, count: n.count, errors: n.errors, hist: n.hist, cpuMicros: own.cpuMicros + n.cpuMicros };
    }
    case "count": return { conns: conns.length };
    case "pause": pause(); return {};
    case "stop": {
      pause();
      const n = conns.length;
      for (const c of conns.splice(0)) { c.ours = true; c.sock.destroy(); }
      return { closed: n };
    }
    case "exit": setImmediate(() => process.exit(0)); return {};
  }
}

process.on("message", (msg: { id: number; cmd: Cmd }) => {
  handle(msg.cmd).then(
    (res) => process.send?.({ id: msg.id, ok: true, res }),
    (err: Error) => process.send?.({ id: msg.id, ok: false, error: err.message }),
  );
});
process.on("disconnect", () => process.exit(0)); // the runner died: never linger
