/**
 * The demo chat's room history and recovery in headless Chromium (issues 15 and 17): a late
 * joiner sees the earlier messages; a connection cut by the server recovers the messages sent
 * meanwhile, exactly once, with no repeated "joined" line; a server restarted under the pages
 * (a new epoch) makes them refetch the history and say so, with no duplicated line.
 * SCREENSHOTS=1 saves docs/images/chat-demo.png.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { mountChat } from "../../examples/demo/chat.ts";
import type { App, Server } from "../../src/index.ts";
import { chromiumPath, launchBrowser, missing } from "../helpers/browser.ts";
import { startServer } from "../helpers/server.ts";

const chromium = chromiumPath();
const skip = chromium ? false : missing("chromium", "chromium");
const ROOM = "lobby";
const WAIT = { timeout: 20_000 };
const SCREENSHOT = fileURLToPath(new URL("../../docs/images/chat-demo.png", import.meta.url));

async function startChat(port?: number): Promise<{ server: Server; app: App }> {
  let app!: App;
  const server = await startServer(port === undefined ? {} : { port }, (s) => {
    app = mountChat(s);
  });
  return { server, app };
}

/** A page of its own (own storage) in ROOM as `name`, once its status says open. */
async function openChat(browser: Browser, server: Server, name: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 900, height: 640 } });
  const page = await context.newPage();
  page.on("pageerror", (err) => assert.fail(`page error in ${name}: ${err.message}`));
  await page.goto(server.url(`/chat?room=${ROOM}&name=${name}`, "http"));
  await page.locator("#status", { hasText: "open" }).waitFor(WAIT);
  return page;
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill("#text", text);
  await page.click("#form button");
}

/** The texts of the page's message lines, in the order shown. */
function shown(page: Page): Promise<string[]> {
  return page.locator(".message .text").allTextContents();
}

async function sees(page: Page, text: string): Promise<void> {
  await page.locator(".message .text", { hasText: text }).waitFor(WAIT);
}

function infoLines(page: Page, text: string): Promise<number> {
  return page.locator(".info", { hasText: text }).count();
}

test("chat: a late joiner sees the earlier messages; a cut connection recovers what it missed, once, without a repeated joined line", { skip }, async (t) => {
  const { server, app } = await startChat();
  t.after(() => server.stop());
  const browser = await launchBrowser(chromium!);
  t.after(() => browser.close());

  const alice = await openChat(browser, server, "alice");
  const bob = await openChat(browser, server, "bob");
  await alice.locator("#members li", { hasText: "bob" }).waitFor(WAIT);
  await say(alice, "one");
  await sees(bob, "one");
  await say(bob, "two");
  await sees(alice, "two");

  // The late joiner gets the conversation from the room's history.
  const carol = await openChat(browser, server, "carol");
  await sees(carol, "two");
  assert.deepEqual(await shown(carol), ["one", "two"]);

  // Cut carol's connection on the server (no close frame) and publish while she is away: the
  // pushes go out before her reconnect can exist (it waits its backoff first).
  const connection = await carol.locator("#me").getAttribute("data-connection");
  assert.ok(connection, "the page shows its connection id");
  const conn = app.connections.get(connection) as unknown as { raw: { terminate(): void } } | undefined;
  assert.ok(conn, "carol's connection is on the server");
  conn.raw.terminate();
  for (const text of ["away 1", "away 2", "away 3"]) {
    app.rooms.push(ROOM, "chat.message", { id: randomUUID(), from: "server", connection: "-", text, at: Date.now() });
  }
  await sees(carol, "away 3");
  await carol.locator("#status", { hasText: "open" }).waitFor(WAIT);

  // Still serving: a fresh message after the recovery reaches the others; by then every
  // presence push of carol's reconnect reached them (it went out before she could send).
  await say(carol, "back");
  await sees(alice, "back");
  await sees(bob, "back");
  const all = ["one", "two", "away 1", "away 2", "away 3", "back"];
  for (const page of [alice, bob, carol]) assert.deepEqual(await shown(page), all);
  assert.equal(await carol.locator(".notice").count(), 0, "recovered: no refetch notice");
  for (const page of [alice, bob]) {
    assert.equal(await infoLines(page, "carol joined"), 1, "one 'carol joined' line");
    assert.equal(await infoLines(page, "carol left"), 0, "no 'carol left' line");
  }

  if (process.env.SCREENSHOTS === "1") {
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await alice.screenshot({ path: SCREENSHOT });
  }
});

test("chat: a server restarted under the pages makes them refetch and say so, with no duplicated line", { skip }, async (t) => {
  const first = await startChat();
  t.after(() => first.server.stop());
  const browser = await launchBrowser(chromium!);
  t.after(() => browser.close());

  const alice = await openChat(browser, first.server, "alice");
  const bob = await openChat(browser, first.server, "bob");
  await alice.locator("#members li", { hasText: "bob" }).waitFor(WAIT);
  await say(alice, "before the restart");
  await sees(bob, "before the restart");

  // A new server on the same port: a new memory engine, so a new epoch for the room.
  const port = first.server.port;
  await first.server.stop();
  const second = await startChat(port);
  t.after(() => second.server.stop());

  // Each page reconnects, cannot recover (epoch changed), refetches and says so.
  for (const page of [alice, bob]) {
    await page.locator(".notice", { hasText: "refetched" }).waitFor(WAIT);
    await page.locator("#status", { hasText: "open" }).waitFor(WAIT);
  }
  assert.equal(await alice.locator(".notice").getAttribute("data-reason"), "epoch");

  await say(bob, "after the restart");
  await sees(alice, "after the restart");
  await sees(bob, "after the restart");
  for (const page of [alice, bob]) {
    assert.deepEqual(await shown(page), ["before the restart", "after the restart"]);
    assert.equal(await page.locator(".notice").count(), 1);
  }
  // Presence is not replayed, and a member back within the grace is not announced again.
  assert.equal(await infoLines(alice, "bob joined"), 1);
  assert.equal(await infoLines(alice, "bob left"), 0);
  assert.equal(await infoLines(bob, "alice joined"), 0, "alice was there before bob came");
  assert.equal(await infoLines(bob, "alice left"), 0);
});
