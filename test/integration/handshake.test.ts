import { test } from "node:test";
import assert from "node:assert/strict";
import { reject, type HandshakeRequest } from "../../src/index.ts";
import { startServer } from "../helpers/server.ts";
import { connect, refusedStatus, TestClient, HttpRefusal } from "../helpers/ws-client.ts";

const protocolServer = (protocolMismatch?: "reject" | "accept") =>
  startServer({}, (s) => s.endpoint("/p", { protocols: ["chat.v2", "chat.v1"], protocolMismatch, message: (conn) => void conn.send(conn.protocol) }));

test("subprotocol: the server's first choice among those the client offered", async (t) => {
  const server = await protocolServer();
  t.after(() => server.stop());
  const client = await connect(server.url("/p"), ["chat.v1", "chat.v2"]);
  assert.equal(client.ws.protocol, "chat.v2");
  client.send("?");
  assert.equal((await client.next()).text, "chat.v2");
  await client.close();
  const onlyV1 = await connect(server.url("/p"), ["other", "chat.v1"]);
  assert.equal(onlyV1.ws.protocol, "chat.v1");
  await onlyV1.close();
});

test("subprotocol: none offered → none chosen", async (t) => {
  const server = await protocolServer();
  t.after(() => server.stop());
  const client = await connect(server.url("/p"));
  assert.equal(client.ws.protocol, "");
  await client.close();
});

test("subprotocol: offered but no match → 400 by default, accepted without one when configured", async (t) => {
  const strict = await protocolServer();
  t.after(() => strict.stop());
  assert.equal(await refusedStatus(strict.url("/p"), ["nope"]), 400);
  const lenient = await protocolServer("accept");
  t.after(() => lenient.stop());
  // The ws client itself fails a handshake that answers none of its protocols, as browsers do:
  // so "accept" is for clients that tolerate it. Check the server's answer on the raw response.
  const client = new TestClient(lenient.url("/p"), ["nope"]);
  await assert.rejects(client.opened, (err: Error) => !(err instanceof HttpRefusal) && /protocol/i.test(err.message));
});

test("handshake hook sees the request and can reject with a status and reason", async (t) => {
  let seen: HandshakeRequest | undefined;
  let remote: string | undefined;
  const server = await startServer({}, (s) =>
    s.endpoint("/guarded", {
      protocols: ["v1"],
      handshake(req) {
        seen = req;
        remote = req.remoteAddress; // read while the handshake runs: the socket may be gone later
        if (req.origin !== "https://good.example") return reject(403, "origin not allowed");
      },
    }),
  );
  t.after(() => server.stop());
  const bad = new TestClient(server.url("/guarded") + "?room=lobby&x=1", ["v1"], { origin: "https://evil.example" });
  await assert.rejects(bad.opened, (err: unknown) => err instanceof HttpRefusal && err.status === 403);
  assert.ok(seen);
  assert.equal(seen.path, "/guarded");
  assert.equal(seen.url, "/guarded?room=lobby&x=1");
  assert.equal(seen.query.get("room"), "lobby");
  assert.equal(seen.origin, "https://evil.example");
  assert.equal(seen.version, 13);
  assert.deepEqual(seen.protocols, ["v1"]);
  assert.equal(seen.protocol, "v1");
  assert.equal(remote, "127.0.0.1");
  assert.equal(typeof seen.headers["sec-websocket-key"], "string");
  const good = await connect(server.url("/guarded"), ["v1"], { origin: "https://good.example" });
  await good.close();
});

test("the rejection reason is the response body", async (t) => {
  const server = await startServer({}, (s) => s.endpoint("/r", { handshake: () => reject(401, "token expired") }));
  t.after(() => server.stop());
  const { request } = await import("node:http");
  const body = await new Promise<{ status: number; body: string }>((resolve, rejectPromise) => {
    const req = request(server.url("/r", "http"), { headers: { Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==" } });
    req.on("response", (res) => {
      let text = "";
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on("error", rejectPromise);
    req.end();
  });
  assert.deepEqual(body, { status: 401, body: "token expired" });
});

test("a hook may throw a rejection, may be async, and may attach data and choose the protocol", async (t) => {
  const server = await startServer({}, (s) =>
    s.endpoint<{ user: string; role: string }>("/h", {
      defaultData: () => ({ user: "anonymous", role: "guest" }),
      async handshake(req) {
        await Promise.resolve();
        if (req.query.get("deny") === "1") throw reject(429, "slow down");
        return { data: { user: req.query.get("user") ?? "?" }, protocol: req.protocols.at(-1) };
      },
      message: (conn) => void conn.send(`${conn.data.user}/${conn.data.role}/${conn.protocol}`),
    }),
  );
  t.after(() => server.stop());
  assert.equal(await refusedStatus(server.url("/h") + "?deny=1"), 429);
  const client = await connect(server.url("/h") + "?user=ada", ["first", "last"]);
  client.send("?");
  assert.equal((await client.next()).text, "ada/guest/last");
  await client.close();
});

test("without defaultData the hook's data is the connection's data itself (no copy); with it, merged into a new object", async (t) => {
  const given: object[] = [];
  const seen: Array<{ kept: boolean; data: unknown }> = [];
  const hook = () => {
    const data = { user: "ada" };
    given.push(data);
    return { data };
  };
  const server = await startServer({}, (s) => {
    s.endpoint("/plain", { handshake: hook, open: (conn) => void seen.push({ kept: given.includes(conn.data), data: conn.data }) });
    s.endpoint<Record<string, unknown>>("/merged", { defaultData: () => ({ role: "guest" }), handshake: hook, open: (conn) => void seen.push({ kept: given.includes(conn.data), data: conn.data }) });
  });
  t.after(() => server.stop());
  const plain = await connect(server.url("/plain"));
  const merged = await connect(server.url("/merged"));
  await Promise.all([plain.close(), merged.close()]);
  assert.deepEqual(seen, [{ kept: true, data: { user: "ada" } }, { kept: false, data: { role: "guest", user: "ada" } }]);
});

test("a handshake hook that throws an ordinary error → 500, and the server goes on", async (t) => {
  const server = await startServer({}, (s) => {
    s.endpoint("/broken", {
      handshake() {
        throw new Error("bug in hook");
      },
    });
    s.endpoint("/fine");
  });
  t.after(() => server.stop());
  assert.equal(await refusedStatus(server.url("/broken")), 500);
  const fine = await connect(server.url("/fine"));
  await fine.close();
});

test("a hook choosing a protocol the client did not offer is a server error (500)", async (t) => {
  const server = await startServer({}, (s) => s.endpoint("/bad", { handshake: () => ({ protocol: "made-up" }) }));
  t.after(() => server.stop());
  assert.equal(await refusedStatus(server.url("/bad"), ["real"]), 500);
});

test("permessage-deflate: off by default; when on it is negotiated and the hook sees it", async (t) => {
  let deflateSeen: boolean | undefined;
  const server = await startServer({}, (s) => {
    s.endpoint("/plain", { handshake: (req) => void (deflateSeen = req.deflate) });
    s.endpoint("/zip", { perMessageDeflate: { threshold: 0 }, handshake: (req) => void (deflateSeen = req.deflate), message: (c, d, b) => void c.send(d, b) });
  });
  t.after(() => server.stop());
  const plain = await connect(server.url("/plain"), undefined, { perMessageDeflate: true });
  assert.equal(plain.ws.extensions, "");
  assert.equal(deflateSeen, false);
  const zip = await connect(server.url("/zip"), undefined, { perMessageDeflate: true });
  assert.match(zip.ws.extensions, /permessage-deflate/);
  assert.equal(deflateSeen, true);
  zip.send("x".repeat(10_000));
  assert.equal((await zip.next()).text, "x".repeat(10_000));
  await Promise.all([plain.close(), zip.close()]);
});
