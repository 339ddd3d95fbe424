/**
 * Tests of the app layer: startApp() mounts an app on a fresh server; ProtoClient speaks the
 * protocol by hand (raw frames, no client library) and waits for messages by predicate,
 * every wait bounded.
 */
import WebSocket from "ws";
import type { App, AppOptions, Server } from "../../src/index.ts";
import { startServer } from "./server.ts";
import { ClosableClient, withTimeout, WAIT_MS } from "./ws-client.ts";

export async function startApp(options: AppOptions = {}, setup?: (app: App, server: Server) => void, path = "/app"): Promise<{ server: Server; app: App; url: string }> {
  let app!: App;
  const server = await startServer({}, (s) => {
    app = s.app(path, options);
    setup?.(app, s);
  });
  return { server, app, url: server.url(path) };
}

// Protocol frames are checked by the tests themselves: keep the shape loose here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Frame = any;

export class ProtoClient extends ClosableClient {
  readonly frames: Frame[] = [];
  #nextId = 1;
  readonly #waiters: Array<{ match: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];

  private constructor(url: string, protocols: string[], headers: Record<string, string>) {
    super(new WebSocket(url, protocols, { headers }));
    this.ws.on("message", (data: Buffer) => {
      const frame = JSON.parse(data.toString());
      const i = this.#waiters.findIndex((w) => w.match(frame));
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(frame);
      else this.frames.push(frame);
    });
  }

  /** Connect and wait for the welcome push. */
  static async open(url: string, options: { query?: Record<string, string | string[]>; headers?: Record<string, string>; protocols?: string[] } = {}): Promise<ProtoClient & { welcome: Frame }> {
    const u = new URL(url);
    for (const [key, value] of Object.entries(options.query ?? {})) for (const v of [value].flat()) u.searchParams.append(key, v);
    const client = new ProtoClient(u.toString(), options.protocols ?? ["switchboard.v1"], options.headers ?? {});
    const welcome = await client.next((f) => f.task === "switchboard.welcome");
    return Object.assign(client, { welcome });
  }

  /** The next frame matching `match` (frames that arrived before are searched first). */
  next(match: (f: Frame) => boolean = () => true, timeoutMs = WAIT_MS): Promise<Frame> {
    const i = this.frames.findIndex(match);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]);
    return withTimeout(new Promise<Frame>((resolve) => this.#waiters.push({ match, resolve })), timeoutMs, "no matching frame arrived");
  }

  sendRaw(text: string | Buffer): void {
    this.ws.send(text, { binary: typeof text !== "string" });
  }

  send(task: string, data: unknown): void {
    this.sendRaw(JSON.stringify({ task, data }));
  }

  /** A request with an id; resolves with its reply or error reply frame. */
  call(task: string, data: unknown, timeoutMs = WAIT_MS): Promise<Frame> {
    const id = this.#nextId++;
    this.sendRaw(JSON.stringify({ task, data, id }));
    return this.next((f) => f.id === id && f.task === undefined, timeoutMs);
  }
}
