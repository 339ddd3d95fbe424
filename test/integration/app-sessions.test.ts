/**
 * Sessions: anonymous by default; signed tokens (JWT) from ?session=, the session cookie or
 * Authorization: Bearer; bad or missing tokens refused: accepted, then closed at once with 4401
 * (a browser can read a close code, not an HTTP status; docs/protocol.md, "Refusals").
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { reject, signSessionToken, tokenSession } from "../../src/index.ts";
import { ProtoClient, startApp } from "../helpers/app-client.ts";
import { captureLogs } from "../helpers/logs.ts";
import { startServer } from "../helpers/server.ts";
import { refusedClose } from "./client-refusal-helpers.ts";

const SECRET = "a test secret that is long enough for HS256!";

test("token session: the token's claims become the user, from query, cookie or header", async (t) => {
  const { server, url } = await startApp({ session: tokenSession({ secret: SECRET }) }, (app) => app.task("whoami", ({ user }) => user));
  t.after(() => server.stop());
  const token = await signSessionToken(SECRET, { id: "u1", name: "Ada", role: "admin" }, { expiresIn: "1h" });
  const viaQuery = await ProtoClient.open(url, { query: { session: token } });
  assert.deepEqual(viaQuery.welcome.data.user, { id: "u1", name: "Ada", role: "admin" });
  assert.deepEqual((await viaQuery.call("whoami", null)).data, { id: "u1", name: "Ada", role: "admin" });
  const viaCookie = await ProtoClient.open(url, { headers: { Cookie: `theme=dark; session=${token}` } });
  assert.equal(viaCookie.welcome.data.user.id, "u1");
  const viaHeader = await ProtoClient.open(url, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(viaHeader.welcome.data.user.name, "Ada");
  await Promise.all([viaQuery, viaCookie, viaHeader].map((c) => c.close()));
});

test("token session: missing, forged, expired → closed with 4401 and the reason; optional tokens fall back to anonymous", async (t) => {
  const strict = await startApp({ session: tokenSession({ secret: SECRET }) });
  const lax = await startApp({ session: tokenSession({ secret: SECRET, required: false }) });
  t.after(async () => {
    await strict.server.stop();
    await lax.server.stop();
  });
  const forged = await signSessionToken("another secret that is also long enough!!", { id: "u1" });
  const expired = await signSessionToken(SECRET, { id: "u1" }, { expiresIn: Math.floor(Date.now() / 1000) - 60 });
  assert.deepEqual(await refusedClose(strict.url), { code: 4401, reason: "session token required", protocol: "switchboard.v1", frames: 0 });
  assert.deepEqual(await refusedClose(`${strict.url}?session=${forged}`), { code: 4401, reason: "bad session token: ERR_JWS_SIGNATURE_VERIFICATION_FAILED", protocol: "switchboard.v1", frames: 0 });
  assert.deepEqual(await refusedClose(`${strict.url}?session=${expired}`), { code: 4401, reason: "bad session token: ERR_JWT_EXPIRED", protocol: "switchboard.v1", frames: 0 });
  assert.equal((await refusedClose(`${strict.url}?session=not.a.jwt`)).code, 4401);
  const anon = await ProtoClient.open(lax.url);
  assert.match(anon.welcome.data.user.id, /^anon-/);
  await anon.close();
});

test("a custom session may reject (403 → 4403); one that returns garbage is a 1011 close (logged)", async (t) => {
  const logs = captureLogs("error");
  const picky = await startApp({ session: (req) => (req.query.get("name") ? { id: req.query.get("name")!, name: req.query.get("name")! } : reject(403, "name required")) });
  const brokenServer = await startServer({ logger: logs.logger }, (s) => void s.app("/app", { session: () => ({ nope: true }) as never }));
  const broken = { server: brokenServer, url: brokenServer.url("/app") };
  t.after(async () => {
    await picky.server.stop();
    await broken.server.stop();
  });
  assert.deepEqual(await refusedClose(picky.url), { code: 4403, reason: "name required", protocol: "switchboard.v1", frames: 0 });
  const c = await ProtoClient.open(picky.url, { query: { name: "bob" } });
  assert.deepEqual(c.welcome.data.user, { id: "bob", name: "bob" });
  await c.close();
  assert.deepEqual(await refusedClose(broken.url), { code: 1011, reason: "internal error", protocol: "switchboard.v1", frames: 0 });
  assert.ok(logs.lines.some((line) => /session\(\) must return/.test(line.err?.message ?? "")), "the bad session is logged");
});

test("a secret shorter than 32 bytes is refused up front", () => {
  assert.throws(() => tokenSession({ secret: "short" }), /session\.secret/);
});

test("without a session: anon-1, anon-2, …, the same user in the welcome, in tasks, to the room policy and in presence", async (t) => {
  const policySaw: string[] = [];
  const { server, app, url } = await startApp({
    presence: true,
    rooms: (user, room) => {
      policySaw.push(`${user.id} ${room}`);
      return true;
    },
  }, (a) => a.task("whoami", ({ user }) => user));
  t.after(() => server.stop());
  const a = await ProtoClient.open(url);
  const b = await ProtoClient.open(url, { query: { room: "lobby" } });
  t.after(() => { a.close(); b.close(); });
  assert.deepEqual(a.welcome.data.user, { id: "anon-1", name: "anon-1" });
  assert.deepEqual(b.welcome.data.user, { id: "anon-2", name: "anon-2" });
  assert.deepEqual(policySaw, ["anon-2 lobby"], "the policy at connect saw the user the welcome names");
  // Read on the server: the welcome's user, one object on every read.
  const connA = app.connections.get(a.welcome.data.connection)!;
  assert.deepEqual(connA.user, { id: "anon-1", name: "anon-1" });
  assert.equal(connA.user, connA.user);
  assert.deepEqual((await a.call("whoami", null)).data, { id: "anon-1", name: "anon-1" });
  // Presence lists members by user: a's join names anon-1 to b, and the members list both.
  const joined = await a.call("room.join", { room: "lobby" });
  assert.deepEqual(joined.data.members.map((m: { user: { id: string } }) => m.user.id).sort(), ["anon-1", "anon-2"]);
  const seen = await b.next((f) => f.task === "room.joined" && f.data.member.connection === a.welcome.data.connection);
  assert.equal(seen.data.member.user.id, "anon-1");
});
