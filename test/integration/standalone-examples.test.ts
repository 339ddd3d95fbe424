/**
 * examples/handlers served through the loader: echo, the broadcast room, subprotocol
 * negotiation, origin checks; plus what a handshake hook sees and the closing handshake.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { createServer, type Server } from "../../src/index.ts";
import { loadHandlerDirectory } from "../../src/loader/directory.ts";
import { connect, refusedStatus } from "../helpers/ws-client.ts";
import { makeTree } from "../helpers/tree.ts";

const EXAMPLES = fileURLToPath(new URL("../../examples/handlers", import.meta.url));
const INDEX = fileURLToPath(new URL("../../src/index.ts", import.meta.url));

async function serveDir(t: { after(fn: () => Promise<void>): void }, dir: string, perMessageDeflate = false): Promise<Server> {
  const server = createServer({ port: 0, host: "127.0.0.1", logger: { level: "silent" }, perMessageDeflate });
  await loadHandlerDirectory(server, dir);
  await server.start();
  t.after(() => server.stop({ timeoutMs: 2000 }));
  return server;
}

test("examples: echo, room, subprotocol, origin", async (t) => {
  const server = await serveDir(t, EXAMPLES);
  const local = { origin: `http://127.0.0.1:${server.port}` };

  const echo = await connect(server.url("/echo"));
  echo.send("text");
  assert.equal((await echo.next()).text, "text");
  echo.send(Buffer.from([1, 2, 3]), true);
  const bin = await echo.next();
  assert.equal(bin.isBinary, true);
  assert.deepEqual([...bin.data], [1, 2, 3]);
  await echo.close();

  const alice = await connect(server.url("/room"));
  assert.match((await alice.next()).text, /joined \(1 here\)/);
  const bob = await connect(server.url("/room"));
  assert.match((await alice.next()).text, /joined \(2 here\)/);
  assert.match((await bob.next()).text, /joined \(2 here\)/);
  bob.send("hi all");
  assert.match((await alice.next()).text, /: hi all$/);
  assert.match((await bob.next()).text, /: hi all$/);
  await bob.close();
  assert.match((await alice.next()).text, /left \(1 here\)/);
  await alice.close();

  const v2 = await connect(server.url("/subprotocol"), ["chat.v1", "chat.v2"]);
  assert.equal(v2.ws.protocol, "chat.v2");
  assert.equal((await v2.next()).text, "hello, speaking chat.v2");
  v2.send("x");
  assert.deepEqual(JSON.parse((await v2.next()).text), { v: 2, echo: "x" });
  await v2.close();
  const legacy = await connect(server.url("/subprotocol") + "?legacy=1", ["chat.v2", "chat.v1"]);
  assert.equal(legacy.ws.protocol, "chat.v1");
  await legacy.close();
  const none = await connect(server.url("/subprotocol"));
  assert.equal((await none.next()).text, "hello (no subprotocol)");
  await none.close();
  assert.equal(await refusedStatus(server.url("/subprotocol"), ["chat.v3"]), 400);

  const good = await connect(server.url("/origin"), undefined, local);
  assert.equal((await good.next()).text, `welcome, page from ${local.origin}`);
  await good.close();
  assert.equal(await refusedStatus(server.url("/origin"), undefined, { origin: "https://evil.example" }), 403);
  assert.equal(await refusedStatus(server.url("/origin")), 403);
});

test("the handshake hook sees resource, origin, version, extensions, deflate, protocols and the chosen protocol", async (t) => {
  const dir = makeTree(t, {
    "inspect.ts": `import { defineEndpoint } from ${JSON.stringify(INDEX)};
export default defineEndpoint({
  protocols: ["b", "a"],
  handshake(req) {
    const seen = { path: req.path, origin: req.origin, version: req.version, extensions: req.extensions,
      deflate: req.deflate, protocols: req.protocols, protocol: req.protocol };
    return { data: { seen } };
  },
  open(conn) { conn.send(JSON.stringify(conn.data.seen)); },
});\n`,
  });
  const server = await serveDir(t, dir, true);
  const client = await connect(server.url("/inspect") + "?q=1", ["a", "b"], { origin: "http://example.test", perMessageDeflate: true });
  const seen = JSON.parse((await client.next()).text);
  assert.equal(seen.path, "/inspect");
  assert.equal(seen.origin, "http://example.test");
  assert.equal(seen.version, 13);
  assert.equal(seen.deflate, true);
  assert.match(seen.extensions[0], /^permessage-deflate/);
  assert.deepEqual(seen.protocols, ["a", "b"]);
  assert.equal(seen.protocol, "b");
  await client.close();
});

test("closing handshake: ws answers the client's close with the client's own code (the hook cannot change it)", async (t) => {
  const dir = makeTree(t, {
    "closer.ts": `export default { close(conn, code, reason) { conn.close(4100, "handler's own"); } };\n`,
  });
  const server = await serveDir(t, dir);
  const client = await connect(server.url("/closer"));
  client.ws.close(4000, "client bye");
  const { code, reason } = await client.waitClosed();
  // Documented limit (docs/standalone.md): ws echoes the close frame before any hook runs.
  assert.equal(code, 4000);
  assert.equal(reason, "client bye");
});
