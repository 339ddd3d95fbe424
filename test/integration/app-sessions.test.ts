/**
 * Sessions: anonymous by default; signed tokens (JWT) from ?session=, the session cookie or
 * Authorization: Bearer; bad or missing tokens refused with 401 before the upgrade.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { reject, signSessionToken, tokenSession } from "../../src/index.ts";
import { ProtoClient, startApp } from "../helpers/app-client.ts";
import { refusedStatus } from "../helpers/ws-client.ts";

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

test("token session: missing, forged, expired → 401; optional tokens fall back to anonymous", async (t) => {
  const strict = await startApp({ session: tokenSession({ secret: SECRET }) });
  const lax = await startApp({ session: tokenSession({ secret: SECRET, required: false }) });
  t.after(async () => {
    await strict.server.stop();
    await lax.server.stop();
  });
  const forged = await signSessionToken("another secret that is also long enough!!", { id: "u1" });
  const expired = await signSessionToken(SECRET, { id: "u1" }, { expiresIn: Math.floor(Date.now() / 1000) - 60 });
  assert.equal(await refusedStatus(strict.url, "switchboard.v1"), 401);
  assert.equal(await refusedStatus(`${strict.url}?session=${forged}`, "switchboard.v1"), 401);
  assert.equal(await refusedStatus(`${strict.url}?session=${expired}`, "switchboard.v1"), 401);
  assert.equal(await refusedStatus(`${strict.url}?session=not.a.jwt`, "switchboard.v1"), 401);
  const anon = await ProtoClient.open(lax.url);
  assert.match(anon.welcome.data.user.id, /^anon-/);
  await anon.close();
});

test("a custom session may reject; one that returns garbage is a 500 (logged)", async (t) => {
  const picky = await startApp({ session: (req) => (req.query.get("name") ? { id: req.query.get("name")!, name: req.query.get("name")! } : reject(403, "name required")) });
  const broken = await startApp({ session: () => ({ nope: true }) as never });
  t.after(async () => {
    await picky.server.stop();
    await broken.server.stop();
  });
  assert.equal(await refusedStatus(picky.url, "switchboard.v1"), 403);
  const c = await ProtoClient.open(picky.url, { query: { name: "bob" } });
  assert.deepEqual(c.welcome.data.user, { id: "bob", name: "bob" });
  await c.close();
  assert.equal(await refusedStatus(broken.url, "switchboard.v1"), 500);
});

test("a secret shorter than 32 bytes is refused up front", () => {
  assert.throws(() => tokenSession({ secret: "short" }), /session\.secret/);
});
