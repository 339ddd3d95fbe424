/**
 * Hostile handshakes over raw `net` sockets, and the server they are aimed at.
 *
 * As a module: request builders for every stage of a handshake, `resetBurst()` (many sockets
 * that send something, optionally read the answer, then end with a TCP RST), `statusOf()`,
 * and `watchServerSockets()` (to know when the server has seen a reset).
 *
 * As a program (`node --conditions=source --import tsx test/abuse/helpers/handshake.ts`): a
 * server with one endpoint per kind of refusal, run in a child process so that a crash (an
 * unhandled 'error' event) shows as an exit, not as a dead test runner. It installs NO
 * uncaughtException handler on purpose. It speaks test/helpers/node-process.ts's JSON lines:
 *   out: { ev: "listening", port }   { ev: "hook", n }   { ev: "result", id, value }
 *   in:  { id, op: "stats" | "release" | "hold" }
 * Env: HANDSHAKE_TIMEOUT_MS, MAX_PENDING_HANDSHAKES.
 */
import { randomBytes } from "node:crypto";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { Socket } from "node:net";
import { pathToFileURL } from "node:url";
import { createInterface } from "node:readline";
import { RawSocket } from "../../helpers/raw-socket.ts";
import { deferred } from "../../helpers/until.ts";

/** A valid upgrade request for `path`, with headers added or replaced. */
export function upgradeRequest(path: string, headers: Record<string, string> = {}): string {
  const all: Record<string, string> = {
    Host: "127.0.0.1",
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
    "Sec-WebSocket-Version": "13",
    ...headers,
  };
  return `GET ${path} HTTP/1.1\r\n${Object.entries(all).map(([name, value]) => `${name}: ${value}\r\n`).join("")}\r\n`;
}

/** A plain keep-alive GET (no upgrade). */
export function plainGet(path: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n`;
}

/** The status code of the response head the server sent on `raw` (waits for its first line). */
export async function statusOf(raw: RawSocket): Promise<number> {
  const line = await raw.readUntil("\r\n");
  const match = /^HTTP\/1\.1 (\d{3}) /.exec(line);
  if (match === null) throw new Error(`not an HTTP status line: ${JSON.stringify(line)}`);
  return Number(match[1]);
}

export interface BurstOptions {
  /** Read the status line before the reset (else reset right after writing). */
  awaitAnswer: boolean;
}

/**
 * `count` sockets at once, each writes `request()` and ends with a TCP RST: right after the
 * write, or once the status line has arrived. Resolves with the statuses read (empty when
 * not awaited). Bounded: `count` sockets, each wait bounded by RawSocket's own deadline.
 */
export async function resetBurst(port: number, count: number, request: () => string, options: BurstOptions): Promise<number[]> {
  const sockets = await Promise.all(Array.from({ length: count }, () => RawSocket.open(port)));
  try {
    return await Promise.all(sockets.map(async (raw) => {
      raw.socket.write(request());
      const status = options.awaitAnswer ? await statusOf(raw) : undefined;
      raw.socket.resetAndDestroy();
      return status;
    })).then((statuses) => statuses.filter((s): s is number => s !== undefined));
  } finally {
    for (const raw of sockets) if (!raw.socket.destroyed) raw.socket.resetAndDestroy();
  }
}

/**
 * The server side of raw test connections, seen through Node's `net.server.socket` channel
 * (no server internals): `closed(clientPort)` resolves once the server's socket for the client
 * on that local port has emitted 'close', i.e. once the server has seen its reset. Read the
 * port before the reset (a destroyed socket has none). Call `stop()` when done.
 */
export function watchServerSockets(): { closed(clientPort: number | undefined): Promise<void>; stop(): void } {
  const byClientPort = new Map<number, { socket: Socket; closed: Promise<unknown> }>();
  const onSocket = (message: unknown): void => {
    const socket = (message as { socket: Socket }).socket;
    // Not events.once(): it would reject on the 'error' that a reset also emits.
    if (socket.remotePort !== undefined) byClientPort.set(socket.remotePort, { socket, closed: new Promise((resolve) => socket.once("close", resolve)) });
  };
  subscribe("net.server.socket", onSocket);
  return {
    async closed(port) {
      const entry = port === undefined ? undefined : byClientPort.get(port);
      if (entry === undefined) throw new Error(`no server socket seen for client port ${String(port)}`);
      await entry.closed;
    },
    stop: () => void unsubscribe("net.server.socket", onSocket),
  };
}

/** What the fixture's "stats" op answers: the server's counters that must return to 0. */
export interface FixtureStats {
  pendingHandshakes: number;
  connections: number;
  endpoints: Array<{ path: string; connections: number; reserved: number }>;
}

/** The fixture server: one endpoint per way an upgrade can be refused, and one held-open async hook. */
async function runFixture(): Promise<void> {
  const { createServer, reject } = await import("../../../src/index.ts");
  const report = (event: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(event) + "\n");
  let hooks = 0;
  let open = false;
  let gate = deferred();
  const server = createServer({
    port: 0,
    host: "127.0.0.1",
    logger: { level: process.env.LOG_LEVEL ?? "silent" },
    handshakeTimeoutMs: Number(process.env.HANDSHAKE_TIMEOUT_MS ?? 2_000),
    maxPendingHandshakes: Number(process.env.MAX_PENDING_HANDSHAKES ?? 50),
  });
  server.endpoint("/echo", { message: (conn, data, isBinary) => void conn.send(data, isBinary) });
  server.endpoint("/disabled", { enabled: false });
  server.endpoint("/full", { maxConnections: 0 });
  server.endpoint("/proto", { protocols: ["v1"] });
  server.endpoint("/reject", { handshake: () => reject(403, "not you") });
  server.endpoint("/slow", {
    handshake: async () => {
      report({ ev: "hook", n: ++hooks });
      if (!open) await gate.promise;
    },
  });
  await server.start();
  const ops: Record<string, () => unknown> = {
    stats: (): FixtureStats => {
      const stats = server.stats();
      return {
        pendingHandshakes: stats.pendingHandshakes,
        connections: stats.connections,
        endpoints: stats.endpoints.map((e) => ({ path: e.path, connections: e.connections, reserved: e.reserved })),
      };
    },
    /** Let every held hook (and every later one) finish. */
    release: () => {
      open = true;
      gate.resolve();
      return true;
    },
    /** Hold the hooks that start from now on. */
    hold: () => {
      open = false;
      gate = deferred();
      hooks = 0;
      return true;
    },
  };
  createInterface({ input: process.stdin }).on("line", (line) => {
    const cmd = JSON.parse(line) as { id: number; op: string };
    const op = ops[cmd.op];
    if (op === undefined) report({ ev: "failed", id: cmd.id, error: `unknown op ${cmd.op}` });
    else report({ ev: "result", id: cmd.id, value: op() });
  });
  report({ ev: "listening", port: server.port });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runFixture();
}
