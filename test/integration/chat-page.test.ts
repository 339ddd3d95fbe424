/**
 * The demo chat page in headless Chromium (issue 17): two pages chat at 390 px with nothing
 * wider than the screen and no request for a favicon (nor any failed request); a name already
 * in the room is refused, the reason shown next to the name field (and the refusal is the
 * protocol's `forbidden` for any client); a reconnect, or the same user back on a second
 * connection while the server still holds the first, shows no second "joined" line.
 * SCREENSHOTS=1 saves docs/images/chat-page-1280.png, chat-page-390.png and chat-name-taken.png.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { CHAT_APP, mountChat } from "../../examples/demo/chat.ts";
import type { App, Server } from "../../src/index.ts";
import { ProtoClient } from "../helpers/app-client.ts";
import { chromiumPath, launchBrowser, missing } from "../helpers/browser.ts";
import { startServer } from "../helpers/server.ts";

const chromium = chromiumPath();
const skip = chromium ? false : missing("chromium", "chromium");
const ROOM = "lobby";
const WAIT = { timeout: 20_000 };
const IMAGES = fileURLToPath(new URL("../../docs/images/", import.meta.url));
const screenshots = process.env.SCREENSHOTS === "1";

/** The demo's chat on a server of its own; `missed` lists the plain requests no route answered (404s). */
async function startChat(): Promise<{ server: Server; app: App; missed: string[] }> {
  let app!: App;
  const missed: string[] = [];
  const server = await startServer({}, (s) => {
    app = mountChat(s);
    s.use((req) => {
      missed.push(req.url ?? "");
      return false; // still answered 404
    });
  });
  return { server, app, missed };
}

interface Opened {
  page: Page;
  /** Every response of 400 or more and every failed request the page made. */
  problems: string[];
  /** Every URL the page requested. */
  requests: string[];
}

/** A page in a context of its own (own storage), `width` px wide; `key` fixes its tab key. */
async function openPage(browser: Browser, url: string, width: number, key?: string): Promise<Opened> {
  const context = await browser.newContext({ viewport: { width, height: 760 } });
  if (key !== undefined) await context.addInitScript((k) => sessionStorage.setItem("chat.key", k), key);
  const page = await context.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("request", (req) => requests.push(req.url()));
  page.on("response", (res) => {
    if (res.status() >= 400) problems.push(`${res.status()} ${res.url()}`);
  });
  page.on("requestfailed", (req) => problems.push(`failed ${req.url()}: ${req.failure()?.errorText}`));
  await page.goto(url);
  return { page, problems, requests };
}

async function openChat(browser: Browser, server: Server, name: string, width = 390, key?: string): Promise<Opened> {
  const opened = await openPage(browser, server.url(`/chat?room=${ROOM}&name=${encodeURIComponent(name)}`, "http"), width, key);
  await opened.page.locator("#status", { hasText: "open" }).waitFor(WAIT);
  await opened.page.locator("#members li", { hasText: name }).waitFor(WAIT);
  return opened;
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill("#text", text);
  await page.click("#form button");
}

function lines(page: Page, text: string): Promise<number> {
  return page.locator(".info", { hasText: text }).count();
}

function noHorizontalScroll(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
}

test("chat page: two pages chat at 390 px; nothing is wider than the screen; no favicon request, nothing fails", { skip }, async (t) => {
  const { server, missed } = await startChat();
  t.after(() => server.stop());
  const browser = await launchBrowser(chromium!);
  t.after(() => browser.close());

  const ada = await openChat(browser, server, "Ada");
  const bob = await openChat(browser, server, "Bob");
  await ada.page.locator("#members li", { hasText: "Bob" }).waitFor(WAIT);
  await ada.page.locator(".info", { hasText: "Bob joined" }).waitFor(WAIT);

  await say(ada.page, "Hi Bob! Names, times and presence, on a phone too.");
  await bob.page.locator(".message .text", { hasText: "Hi Bob!" }).waitFor(WAIT);
  await say(bob.page, "Hello Ada, it fits on my phone.");
  await ada.page.locator(".message .text", { hasText: "it fits" }).waitFor(WAIT);
  if (screenshots) {
    mkdirSync(IMAGES, { recursive: true });
    await bob.page.screenshot({ path: `${IMAGES}chat-page-390.png` });
    const wide = await openChat(browser, server, "Cleo", 1280);
    await ada.page.locator(".info", { hasText: "Cleo joined" }).waitFor(WAIT);
    await say(wide.page, "Hi both! I joined late and still see what you said.");
    await wide.page.locator(".message .text", { hasText: "joined late" }).waitFor(WAIT);
    await wide.page.screenshot({ path: `${IMAGES}chat-page-1280.png` });
    await wide.page.context().close();
  }
  // One long unbroken word: it wraps inside the message list instead of widening the page.
  const long = "x".repeat(300);
  await say(bob.page, long);
  await ada.page.locator(".message .text", { hasText: long }).waitFor(WAIT);
  await bob.page.locator(".message .text", { hasText: long }).waitFor(WAIT);

  for (const { page } of [ada, bob]) {
    assert.equal(await noHorizontalScroll(page), true, "no horizontal scroll at 390 px");
    assert.equal(await page.locator("#form").isVisible(), true);
    // Every message shows its time, as a machine-readable <time>.
    const times = await page.locator(".message time").evaluateAll((els) => els.map((el) => el.getAttribute("datetime")));
    assert.equal(times.length, screenshots ? 4 : 3);
    for (const at of times) assert.ok(at !== null && !Number.isNaN(Date.parse(at)), `a datetime: ${at}`);
  }
  // The sender's own message is marked as such; the other's is not.
  assert.equal(await bob.page.locator(".message.mine .text", { hasText: long }).count(), 1);
  assert.equal(await bob.page.locator(".message.mine .text", { hasText: "Hi Bob!" }).count(), 0);
  assert.equal(await ada.page.getAttribute("#status", "data-state"), "open");

  for (const opened of [ada, bob]) {
    assert.deepEqual(opened.problems, [], "no failed request, no page error");
    assert.equal(opened.requests.filter((url) => new URL(url).pathname.includes("favicon")).length, 0, "no favicon request");
    // The icon is inline, so no browser (headless or not) asks for /favicon.ico.
    const icon = await opened.page.evaluate(() => document.querySelector<HTMLLinkElement>("link[rel=icon]")?.href ?? "");
    assert.match(icon, /^data:image\/svg\+xml,/);
  }
  assert.deepEqual(missed, [], "the server answered every request of the pages");
});

test("chat page: a name already in the room is refused next to the name field; another name joins; a name taken while away is explained", { skip }, async (t) => {
  const { server, app } = await startChat();
  t.after(() => server.stop());
  const browser = await launchBrowser(chromium!);
  t.after(() => browser.close());

  const ada = await openChat(browser, server, "Ada");
  // Names compare without case: "ada" is Ada's name.
  const other = await openPage(browser, server.url(`/chat?room=${ROOM}&name=ada`, "http"), 390);
  await other.page.locator("#name-error", { hasText: "“ada” is already taken in #lobby" }).waitFor(WAIT);
  assert.equal(await other.page.locator("#name-card").isVisible(), true);
  assert.equal(await other.page.locator("#chat").isVisible(), false, "the chat stays hidden");
  assert.equal(await other.page.inputValue("#name-input"), "ada", "the field keeps the name to edit");
  assert.equal(await other.page.getAttribute("#name-input", "aria-invalid"), "true");
  assert.equal(await noHorizontalScroll(other.page), true);
  if (screenshots) await other.page.screenshot({ path: `${IMAGES}chat-name-taken.png` });

  await other.page.fill("#name-input", "Ada Lovelace");
  await other.page.click("#name-form button");
  await other.page.locator("#status", { hasText: "open" }).waitFor(WAIT);
  await ada.page.locator("#members li", { hasText: "Ada Lovelace" }).waitFor(WAIT);
  assert.equal(await other.page.locator("#name-error").isVisible(), false);
  // Ada's page saw one newcomer, never the refused one.
  assert.equal(await lines(ada.page, "joined"), 1);
  assert.equal(await lines(ada.page, "Ada Lovelace joined"), 1);
  assert.deepEqual(ada.problems, []);

  // "change" goes back to the name field (with the name to edit); an empty name is explained.
  await other.page.click("#rename");
  assert.equal(await other.page.inputValue("#name-input"), "Ada Lovelace");
  await other.page.fill("#name-input", "   ");
  await other.page.click("#name-form button");
  await other.page.locator("#name-error", { hasText: "Type a name first" }).waitFor(WAIT);
  await other.page.fill("#name-input", "Grace");
  await other.page.click("#name-form button");
  await ada.page.locator(".info", { hasText: "Grace joined" }).waitFor(WAIT);
  await ada.page.locator(".info", { hasText: "Ada Lovelace left" }).waitFor(WAIT);
  assert.deepEqual(await ada.page.locator("#members li").allTextContents(), ["Ada", "Grace"]);

  // A message the task's schema refuses is explained in words, not in the schema's text.
  await ada.page.evaluate(() => document.getElementById("text")!.removeAttribute("maxlength"));
  await say(ada.page, "y".repeat(501));
  await ada.page.locator(".problem", { hasText: "Not sent: A message is 1 to 500 characters." }).waitFor(WAIT);
  assert.equal(await ada.page.locator(".problem", { hasText: "data.text" }).count(), 0);

  // Someone takes Ada's name while her page is offline: her reconnect (which rejoins the room
  // at connect) is refused with 4403, and the page asks for another name and says why.
  await ada.page.context().setOffline(true);
  const first = await ada.page.locator("#me").getAttribute("data-connection");
  (app.connections.get(first!) as unknown as { raw: { terminate(): void } }).raw.terminate();
  await ada.page.locator("#status", { hasText: "reconnecting" }).waitFor(WAIT);
  const thief = await ProtoClient.open(server.url(CHAT_APP), { query: { name: "Ada", key: "x".repeat(32) } });
  t.after(() => thief.close());
  assert.equal((await thief.call("room.join", { room: ROOM })).error, undefined, "the name is free once Ada's connection is gone");
  await ada.page.context().setOffline(false);
  await ada.page.locator("#name-error", { hasText: "While you were away someone else took “Ada” in #lobby" }).waitFor(WAIT);
  assert.equal(await ada.page.locator("#chat").isVisible(), false);

  // The same refusal for any client of the protocol: room.join answers `forbidden`.
  const raw = await ProtoClient.open(server.url(CHAT_APP), { query: { name: "ADA", key: "k".repeat(32) } });
  t.after(() => raw.close());
  const refused = await raw.call("room.join", { room: ROOM });
  assert.equal(refused.error?.code, "forbidden");
  const elsewhere = await raw.call("room.join", { room: "kitchen" });
  assert.equal(elsewhere.error, undefined, "the name is free in another room");
});

test("chat page: a reconnect, or the same user on a second connection, shows no second joined line", { skip }, async (t) => {
  const { server, app } = await startChat();
  t.after(() => server.stop());
  const browser = await launchBrowser(chromium!);
  t.after(() => browser.close());

  const ada = await openChat(browser, server, "Ada", 900);
  const bob = await openChat(browser, server, "Bob", 900, "bob-key-0123456789abcdef");
  await ada.page.locator(".info", { hasText: "Bob joined" }).waitFor(WAIT);

  // 1. The server cuts Bob's connection (no close frame): his page reconnects and rejoins.
  const first = await bob.page.locator("#me").getAttribute("data-connection");
  assert.ok(first);
  const conn = app.connections.get(first) as unknown as { raw: { terminate(): void } } | undefined;
  assert.ok(conn, "Bob's connection is on the server");
  conn.raw.terminate();
  await bob.page.waitForFunction((old) => {
    const me = document.getElementById("me");
    return me?.dataset.connection !== old && document.getElementById("status")?.dataset.state === "open";
  }, first, WAIT);
  // Rejoined: Bob's list is rebuilt from the server (both there), and a message goes through.
  await bob.page.locator("#members li", { hasText: "Ada" }).waitFor(WAIT);
  await say(bob.page, "back again");
  await ada.page.locator(".message .text", { hasText: "back again" }).waitFor(WAIT);

  // 2. The same user (same tab key) on a second connection while the first is still in the
  //    room, as when the server has not yet noticed a dropped network: allowed (it is his
  //    name), and not announced again; the old connection going is not a "left" either.
  const tab = await ProtoClient.open(server.url(CHAT_APP), { query: { name: "Bob", key: "bob-key-0123456789abcdef" } });
  const joined = await tab.call("room.join", { room: ROOM });
  assert.equal(joined.error, undefined, "the same user may hold his name twice");
  await tab.close();
  await say(bob.page, "still here");
  await ada.page.locator(".message .text", { hasText: "still here" }).waitFor(WAIT);

  assert.equal(await lines(ada.page, "Bob joined"), 1, "one 'Bob joined' line");
  assert.equal(await lines(ada.page, "Bob left"), 0, "no 'Bob left' line");
  assert.equal(await lines(bob.page, "Ada joined"), 0, "Ada was there before Bob came");
  assert.deepEqual(await ada.page.locator("#members li").allTextContents(), ["Ada", "Bob"]);

  // 3. Bob leaves for good: now, once the grace has passed, exactly one "left" line.
  await bob.page.context().close();
  await ada.page.locator(".info", { hasText: "Bob left" }).waitFor(WAIT);
  assert.equal(await lines(ada.page, "Bob left"), 1);
  assert.deepEqual(await ada.page.locator("#members li").allTextContents(), ["Ada"]);
  assert.deepEqual(ada.problems, []);
});
