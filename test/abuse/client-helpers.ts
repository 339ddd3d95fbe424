/**
 * Hostile servers for the client abuse tests, and the checks every such test makes: nothing
 * reached the process as an unhandled rejection or uncaught exception, and a closed client
 * leaves no timer behind. All servers listen on 127.0.0.1, port 0.
 */
import { once } from "node:events";
import http from "node:http";
import net from "node:net";
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { WebSocketServer, type WebSocket } from "ws";
import type { CallError } from "../../client/index.ts";

export interface Hostile {
  readonly url: string;
  /** Upgrade requests (or TCP connections, for a net server) seen so far. */
  readonly attempts: () => number;
  close(): Promise<void>;
}

/**
 * Records unhandled rejections and uncaught exceptions while a test runs; `assertNone()` fails
 * the test if there was one. (node:test reports them too, but against whichever test happens
 * to be running when they surface; this asserts it in the test that caused them.)
 */
export function trapProcessErrors(t: TestContext): { assertNone(): void } {
  const seen: string[] = [];
  const onRejection = (reason: unknown): void => void seen.push(`unhandledRejection: ${describeThrown(reason)}`);
  const onException = (err: unknown): void => void seen.push(`uncaughtException: ${describeThrown(err)}`);
  process.on("unhandledRejection", onRejection);
  process.on("uncaughtException", onException);
  t.after(() => {
    process.off("unhandledRejection", onRejection);
    process.off("uncaughtException", onException);
  });
  return {
    assertNone() {
      assert.deepEqual(seen, [], "the client let an error reach the process");
    },
  };
}

function describeThrown(value: unknown): string {
  return value instanceof Error ? `${value.name}: ${value.message}` : String(value);
}

/** Timers alive in this process (a closed client must not leave one: no reconnect, no call timeout). */
export function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length;
}

/** Lets pending microtasks and ready I/O callbacks run (an unhandled rejection is reported then). */
export function settled(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The CallError a call rejects with (a resolved call fails the test). */
export function failure(p: Promise<unknown>): Promise<CallError> {
  return p.then(() => assert.fail("expected the call to fail"), (e: CallError) => e);
}

/** Answers every WebSocket upgrade with this HTTP status (404, 403, 503, 500, …). */
export async function statusServer(status: number): Promise<Hostile> {
  let attempts = 0;
  const server = http.createServer((_req, res) => res.writeHead(status).end());
  server.on("upgrade", (_req, socket: net.Socket) => {
    attempts += 1;
    // The client may reset the connection as soon as it reads the status.
    socket.on("error", (err) => console.error("status server socket:", err.message));
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? "Status"}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  return listenHttp(server, () => attempts, "/app");
}

/** A raw TCP server that runs `onSocket` for each connection (garbage, silence, a reset). */
export async function tcpServer(onSocket: (socket: net.Socket) => void): Promise<Hostile> {
  let attempts = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    attempts += 1;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", (err) => console.error("tcp server socket:", err.message));
    onSocket(socket);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/app`,
    attempts: () => attempts,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

/**
 * A real WebSocket server (plain `ws`, speaking switchboard.v1) whose behaviour the test
 * scripts: every accepted socket gets a welcome (the client sends nothing before it), then
 * `onConnection` runs for it, and `onMessage` for every frame.
 */
export async function wsServer(script: {
  onConnection?: (ws: WebSocket, attempt: number) => void;
  onMessage?: (ws: WebSocket, message: { task: string; data: unknown; id?: number }) => void;
  /** false: accept the WebSocket and never welcome it (a stuck or foreign server). */
  welcome?: boolean;
}): Promise<Hostile> {
  let attempts = 0;
  const wss = new WebSocketServer({
    port: 0,
    host: "127.0.0.1",
    handleProtocols: (offered) => (offered.has("switchboard.v1") ? "switchboard.v1" : false),
  });
  wss.on("connection", (ws) => {
    attempts += 1;
    ws.on("error", (err) => console.error("ws server socket:", err.message));
    ws.on("message", (raw) => script.onMessage?.(ws, JSON.parse(String(raw))));
    if (script.welcome !== false) ws.send(welcomeFrame(`hostile-${attempts}`));
    script.onConnection?.(ws, attempts);
  });
  await once(wss, "listening");
  const { port } = wss.address() as net.AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/app`,
    attempts: () => attempts,
    async close() {
      // Stop listening first, so a reconnect that is already due is refused, not accepted.
      const closed = new Promise<void>((resolve) => wss.close(() => resolve()));
      for (const ws of wss.clients) ws.terminate();
      await closed;
    },
  };
}

/** The first frame of every switchboard.v1 connection (docs/protocol.md, "Built-in tasks and pushes"). */
export function welcomeFrame(connection: string): string {
  return JSON.stringify({ task: "switchboard.welcome", data: { protocol: 1, connection, user: { id: "u", name: "u" }, rooms: [] } });
}

/** A well-behaved server: every call is answered with its own data (the "still works" check). */
export function echoServer(): Promise<Hostile> {
  return wsServer({
    onMessage: (ws, msg) => {
      if (msg.id !== undefined) ws.send(JSON.stringify({ id: msg.id, data: msg.data }));
    },
  });
}

/** A URL nobody listens on: a port that was free a moment ago (connections are refused). */
export async function refusedUrl(): Promise<string> {
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, "close");
  return `ws://127.0.0.1:${port}/app`;
}

async function listenHttp(server: http.Server, attempts: () => number, path: string): Promise<Hostile> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}${path}`,
    attempts,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}
