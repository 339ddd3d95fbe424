// Contender: Bun's built-in server (uWebSockets inside), run by the `bun` binary from npm.
// /echo echoes; /fanout uses Bun's native topic publish (its idiomatic fan-out).
declare const Bun: {
  serve(opts: unknown): { port: number; upgrade(req: Request, o: unknown): boolean; publish(topic: string, data: unknown): number };
};
interface BunWs { data: { path: string }; send(d: unknown): number; subscribe(t: string): void }

const server = Bun.serve({
  port: Number(process.env.PORT ?? 0),
  hostname: "127.0.0.1",
  fetch(req: Request, srv: { upgrade(req: Request, o: unknown): boolean }) {
    const path = new URL(req.url).pathname;
    if ((path === "/echo" || path === "/fanout") && srv.upgrade(req, { data: { path } })) return undefined;
    return new Response("not found", { status: 404 });
  },
  websocket: {
    perMessageDeflate: false,
    open(ws: BunWs) { if (ws.data.path === "/fanout") ws.subscribe("fanout"); },
    message(ws: BunWs, msg: string | Uint8Array) {
      if (ws.data.path === "/echo") ws.send(msg);
      else server.publish("fanout", msg);
    },
  },
});
console.log(`READY ${server.port}`);
