// A fixed amount of fan-out work against a running server, for profiling and instruction
// counts (not a benchmark table): N C subscribers (bench/loadgen/subscriber.c), one Node
// publisher keeping W messages in flight until M messages have come back to it. With --pid,
// the server's CPU (its process tree, from /proc) is read around the publishing only; with
// --callgrind, `callgrind_control --instr=on/off` brackets it too (start the server under
// `valgrind --tool=callgrind --instr-atstart=no`), so connecting is left out of the counts.
//
//   taskset -c 1 node --conditions=source --import tsx bench/loadgen/fanout-drive.ts \
//     --port=P --subs=10000 --publishes=200 --window=4 [--warmup=50] [--pid=SERVER_PID] [--callgrind]
// --warmup publishes first, unmeasured (the JIT has compiled the hot path by the measured part).
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { buildBatch, nowMicros, readStamp, stamp } from "../lib/frames.ts";
import { buildSubscriber } from "../lib/native.ts";
import { treeCpuMicros } from "../lib/proc.ts";
import { connect } from "../lib/wsclient.ts";

const arg = (name: string, dflt?: string): string => {
  const v = process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt;
  if (v === undefined) throw new Error(`--${name}= is required`);
  return v;
};
const port = Number(arg("port"));
const subs = Number(arg("subs", "10000"));
const publishes = Number(arg("publishes", "200"));
const window = Number(arg("window", "4"));
const warmup = Number(arg("warmup", "0"));
const path = arg("path", "/fanout");
const pid = process.argv.some((a) => a.startsWith("--pid=")) ? Number(arg("pid")) : undefined;
const callgrind = process.argv.includes("--callgrind");
const TIMEOUT_MS = 10 * 60_000; // every loop is bounded
const SRC = Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 1}`).join(",");

const built = buildSubscriber();
if ("missing" in built) throw new Error(`no C subscriber: ${built.missing}`);
const sub = spawn(built.path, ["127.0.0.1", String(port), path, SRC], { stdio: ["pipe", "pipe", "inherit"] });
const lines = createInterface({ input: sub.stdout });
const replies: Array<(line: string) => void> = [];
let ready!: () => void;
const readyP = new Promise<void>((r) => { ready = r; });
lines.on("line", (l) => { if (l === "READY") ready(); else replies.shift()?.(l); });
const ask = <T>(cmd: string): Promise<T> => new Promise((resolve) => { replies.push((l) => resolve(JSON.parse(l) as T)); sub.stdin.write(`${cmd}\n`); });
const hardStop = setTimeout(() => { process.stderr.write("fanout-drive: timeout\n"); sub.kill("SIGKILL"); process.exit(1); }, TIMEOUT_MS);

await readyP;
const pub = await connect({ host: "127.0.0.1", port, path, steps: [] });
const connected = await ask<{ connected: number; failures: number; failure: string }>(`connect ${subs - 1}`);
if (connected.failures) process.stderr.write(`fanout-drive: ${connected.failures} failed (${connected.failure})\n`);

const batch = buildBatch([{ opcode: 1, text: "fanout ~000000000000000 abcdefgh" }], window);
let target = 0;
let sent = 0;
let back = 0;
let done: () => void = () => {};
/** Publishes n messages, W in flight; resolves when all n have come back to the publisher. */
const publish = (n: number): Promise<void> => {
  target = n; sent = 0; back = 0;
  const finished = new Promise<void>((r) => { done = r; });
  send(window);
  return finished;
};
const send = (k: number): void => {
  const units = Math.min(k, target - sent);
  if (units <= 0) return;
  stamp(batch, units, nowMicros());
  pub.sock.write(batch.buf.subarray(0, units * batch.unitLen));
  sent += units;
};
let n = 0;
pub.onMessage = (buf, start, end) => { if (readStamp(buf, start, end) >= 0) n++; };
pub.onRead = () => {
  if (n === 0) return;
  back += n;
  const k = n;
  n = 0;
  if (back >= target) done();
  else send(k);
};

if (warmup > 0) {
  await publish(warmup);
  await new Promise((r) => setTimeout(r, 500)); // the warm-up's last deliveries reach the slowest subscribers
}
sub.stdin.write("mark\n"); // no answer
/** The server's write system calls so far (write, writev: `syscw` of /proc/PID/io), or 0 where it cannot be read. */
const writeCalls = (): number => {
  if (pid === undefined) return 0;
  try { return Number(/syscw: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1] ?? 0); }
  catch (err) { process.stderr.write(`fanout-drive: /proc/${pid}/io: ${(err as Error).message}\n`); return 0; }
};
const cpu0 = pid === undefined ? 0 : treeCpuMicros(pid);
const writes0 = writeCalls();
if (callgrind && pid !== undefined) spawnSync("callgrind_control", ["--instr=on", String(pid)], { stdio: "inherit" });
const t0 = performance.now();
await publish(publishes);
const wallMs = performance.now() - t0;
if (callgrind && pid !== undefined) spawnSync("callgrind_control", ["--instr=off", String(pid)], { stdio: "inherit" });
const cpu1 = pid === undefined ? 0 : treeCpuMicros(pid);
const writes1 = writeCalls();
// Let the last messages reach the slowest subscribers before counting.
await new Promise((r) => setTimeout(r, 500));
const rep = await ask<{ count: number; errors: number; cpuMicros: number }>("report");
const deliveries = rep.count + back;
console.log(JSON.stringify({
  subscribers: connected.connected + 1, publishes, window, deliveries, errors: rep.errors, wallMs: Math.round(wallMs),
  deliveriesPerSec: Math.round(deliveries / (wallMs / 1000)),
  ...(pid !== undefined ? { serverCpuMicros: cpu1 - cpu0, serverMicrosPerDelivery: (cpu1 - cpu0) / deliveries, deliveriesPerWriteCall: deliveries / (writes1 - writes0) } : {}),
  subscriberCpuMicros: rep.cpuMicros,
}));
clearTimeout(hardStop);
sub.stdin.end("stop\n");
pub.sock.destroy();
