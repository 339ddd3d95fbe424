/**
 * /console.html in headless Chromium speaking switchboard.v1 (issue 17), on the demo's wiring
 * (mountChat + mountConsole, an /echo endpoint): it lists the server's endpoints (from
 * /healthz), connects to the chat's app, shows the welcome, calls a task with JSON data and
 * shows the reply, joins a room and shows a push another client caused, shows error replies,
 * refuses to send data that is not JSON, and shows close codes with their meaning — a refusal
 * (44xx) with its reason, and a path that is no endpoint. SCREENSHOTS=1 saves
 * docs/images/console-app.png.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CHAT_APP, mountChat } from "../../examples/demo/chat.ts";
import { CONSOLE_PAGE, mountConsole } from "../../examples/demo/console.ts";
import type { App } from "../../src/index.ts";
import { ProtoClient } from "../helpers/app-client.ts";
import { chromiumPath, launchBrowser, missing } from "../helpers/browser.ts";
import { startServer } from "../helpers/server.ts";

const chromium = chromiumPath();
const WAIT = { timeout: 20_000 };
const IMAGES = fileURLToPath(new URL("../../docs/images/", import.meta.url));

test("console page: switchboard.v1 — endpoints, a task call and its reply, a room push, errors, close codes with their meaning", { skip: chromium ? false : missing("chromium", "chromium") }, async (t) => {
  let app!: App;
  const server = await startServer({}, (s) => {
    s.endpoint("/echo", { message: (conn, data, isBinary) => void conn.send(data, isBinary) });
    app = mountChat(s);
    mountConsole(s);
  });
  t.after(() => server.stop());
  const browser = await launchBrowser(chromium!);
  t.after(() => browser.close());
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  const problems: string[] = [];
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("response", (res) => {
    if (res.status() >= 400) problems.push(`${res.status()} ${res.url()}`);
  });

  await page.goto(server.url(`${CONSOLE_PAGE}?path=${CHAT_APP}&mode=app`, "http"));
  // The server's endpoints, from /healthz.
  await page.locator(`#endpoints button[data-path="${CHAT_APP}"]`).waitFor(WAIT);
  await page.locator('#endpoints button[data-path="/echo"]').waitFor(WAIT);
  assert.equal(await page.isChecked("#mode-app"), true);
  assert.equal(await page.locator("#app-panel").isVisible(), true);

  await page.fill("#query", "name=console");
  await page.click("#connect");
  await page.locator("#log .event", { hasText: 'protocol "switchboard.v1"' }).waitFor(WAIT);
  await page.locator("#log .push", { hasText: "welcome: protocol 1" }).waitFor(WAIT);
  await page.locator("#log .push", { hasText: '"name":"console"' }).waitFor(WAIT);

  // Subscribe: join a room; the reply lists the members.
  await page.fill("#room", "lobby");
  await page.click("#join");
  await page.locator("#log .reply", { hasText: "(room.join," }).waitFor(WAIT);
  await page.locator("#log .reply", { hasText: '"room":"lobby"' }).waitFor(WAIT);

  // Another client in the room: its joining and its message arrive as pushes.
  const other = await ProtoClient.open(server.url(CHAT_APP), { query: { name: "node", key: "n".repeat(32) } });
  t.after(() => other.close());
  assert.equal((await other.call("room.join", { room: "lobby" })).error, undefined);
  await page.locator("#log .push", { hasText: "room.joined" }).filter({ hasText: '"name":"node"' }).waitFor(WAIT);
  assert.equal((await other.call("chat.say", { text: "hello from node" })).data?.ok, true);
  await page.locator("#log .push", { hasText: "chat.message" }).filter({ hasText: "hello from node" }).waitFor(WAIT);

  // Call a task with JSON data: the reply, matched to its id, with the task's name.
  await page.fill("#task", "chat.say");
  await page.fill("#data", '{"text": "hello from the console"}');
  await page.click("#call");
  await page.locator("#log .sent", { hasText: '{"task":"chat.say","data":{"text":"hello from the console"},"id":2}' }).waitFor(WAIT);
  await page.locator("#log .reply", { hasText: '#2 (chat.say,' }).filter({ hasText: '{"ok":true}' }).waitFor(WAIT);
  assert.equal((await other.next((f) => f.task === "chat.message" && f.data.text === "hello from the console")).data.from, "console");

  // An error reply shows its code and message; data that is not JSON is not sent at all.
  await page.fill("#data", '{"text": 5}');
  await page.click("#call");
  await page.locator("#log .error", { hasText: "#3 (chat.say," }).filter({ hasText: "bad_request" }).waitFor(WAIT);
  await page.fill("#data", "{text: oops}");
  await page.click("#call");
  await page.locator("#log .error", { hasText: "the data is not JSON" }).waitFor(WAIT);
  assert.equal(await page.locator("#log .sent", { hasText: "oops" }).count(), 0);

  if (process.env.SCREENSHOTS === "1") {
    mkdirSync(IMAGES, { recursive: true });
    await page.screenshot({ path: `${IMAGES}console-app.png` });
  }

  // A close by the server: the code, its name and meaning, and the reason.
  const mine = [...app.connections.values()].find((c) => c.user.name === "console");
  assert.ok(mine, "the console's connection is on the server");
  mine.close(4001, "bye for now");
  await page.locator("#log .event[data-code='4001']", { hasText: 'closed: code 4001 Kicked: kicked by an operator, reason "bye for now"' }).waitFor(WAIT);
  assert.equal(await page.textContent("#state"), "closed");

  // A code of the refusal block (4400–4499: the app accepted, then closed at once) is marked
  // as a refusal, also one the registry does not name.
  await page.click("#connect");
  await page.locator("#state", { hasText: "open" }).waitFor(WAIT);
  const again = [...app.connections.values()].find((c) => c.user.name === "console");
  assert.ok(again);
  again.close(4418, "short and stout");
  await page.locator("#log .refusal[data-code='4418']", { hasText: 'closed: code 4418 Refused: refused by the app (HTTP 418), reason "short and stout"' }).waitFor(WAIT);

  // A real refusal by the app: the room policy refuses "console" at connect in a room where
  // another user has that name (the node client takes it first). The app accepts, then closes
  // with 4403 and its reason, which the page shows (a browser cannot read an HTTP status).
  const taker = await ProtoClient.open(server.url(CHAT_APP), { query: { name: "taken", key: "t".repeat(32) } });
  t.after(() => taker.close());
  assert.equal((await taker.call("room.join", { room: "lobby" })).error, undefined);
  await page.fill("#query", "name=taken&room=lobby");
  await page.click("#connect");
  await page.locator("#log .refusal[data-code='4403']", { hasText: "Forbidden: refused by the app" }).filter({ hasText: 'reason "may not join room lobby"' }).waitFor(WAIT);
  await page.fill("#query", "name=console");

  // A path with no endpoint: the browser sees 1006; the page says the path is not one of this server's.
  await page.fill("#path", "/nowhere");
  await page.click("#connect");
  await page.locator("#log .event[data-code='1006']", { hasText: "closed: code 1006 Abnormal" }).waitFor(WAIT);
  await page.locator("#log .refusal", { hasText: "/nowhere is not an endpoint of this server" }).waitFor(WAIT);

  // The close-code table is on the page.
  assert.match((await page.locator("#codes").textContent()) ?? "", /4000SlowConsumer/);
  // 404 for /nowhere's upgrade is not a page request: nothing the page loaded failed.
  assert.deepEqual(problems, []);
});
