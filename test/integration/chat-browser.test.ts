/**
 * The demo chat in headless Chromium: two pages in one room see each other's messages and
 * each other in the presence list; a third page in another room sees none of it; a page with
 * no name asks for one in a form (and fits 390 px). Also the /switchboard.js bundle that the
 * page imports. History and recovery: chat-recovery-browser.test.ts; 390 px, favicon, unique
 * names and no repeated "joined" line: chat-page.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mountChat } from "../../examples/demo/chat.ts";
import { chromiumPath, launchBrowser, missing } from "../helpers/browser.ts";
import { startServer } from "../helpers/server.ts";

const chromium = chromiumPath();

test("/switchboard.js is an ES module bundle of the client, with an ETag", async (t) => {
  const server = await startServer({}, (s) => mountChat(s));
  t.after(() => server.stop());
  const res = await fetch(server.url("/switchboard.js", "http"));
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/javascript/);
  const code = await res.text();
  assert.match(code, /switchboard\.v1/);
  assert.match(code, /export\s*\{/);
  const etag = res.headers.get("etag")!;
  const again = await fetch(server.url("/switchboard.js", "http"), { headers: { "If-None-Match": etag } });
  assert.equal(again.status, 304);
});

test("chat: two pages in one room see each other's messages; a third in another room does not", { skip: chromium ? false : missing("chromium", "chromium") }, async (t) => {
  const server = await startServer({}, (s) => mountChat(s));
  t.after(() => server.stop());
  const browser = await launchBrowser(chromium!);
  t.after(() => browser.close());
  const open = async (room: string, name: string) => {
    const page = await (await browser.newContext()).newPage();
    page.on("pageerror", (err) => assert.fail(`page error in ${name}: ${err.message}`));
    await page.goto(server.url(`/chat?room=${room}&name=${name}`, "http"));
    await page.locator("#status", { hasText: "open" }).waitFor({ timeout: 20_000 });
    return page;
  };
  const alice = await open("a", "alice");
  const bob = await open("a", "bob");
  const carol = await open("b", "carol");

  // Presence: each of the two sees the other; carol sees only herself.
  await alice.locator("#members li", { hasText: "bob" }).waitFor();
  await bob.locator("#members li", { hasText: "alice" }).waitFor();
  assert.deepEqual(await carol.locator("#members li").allTextContents(), ["carol"]);

  await alice.fill("#text", "hello from alice");
  await alice.click("#form button");
  await bob.locator(".message", { hasText: "hello from alice" }).waitFor();
  await alice.locator(".message", { hasText: "hello from alice" }).waitFor();
  await bob.fill("#text", "hi alice");
  await bob.click("#form button");
  await alice.locator(".message", { hasText: "hi alice" }).waitFor();

  // Carol's own message arrives after anything the server could have pushed to her before.
  await carol.fill("#text", "anyone?");
  await carol.click("#form button");
  await carol.locator(".message", { hasText: "anyone?" }).waitFor();
  assert.deepEqual(await carol.locator(".message .text").allTextContents(), ["anyone?"]);
  assert.equal(await alice.locator(".message", { hasText: "anyone?" }).count(), 0);

  // Leaving shows up in the other page's presence list at once, and as a line once bob stayed
  // away for the page's grace (a reconnect within it is not announced).
  await bob.close();
  await alice.locator("#members li", { hasText: "bob" }).waitFor({ state: "detached" });
  await alice.locator(".info", { hasText: "bob left" }).waitFor();
  assert.deepEqual(await alice.locator("#members li").allTextContents(), ["alice"]);
});

test("chat: a page without a name asks for one in a form, then joins under it", { skip: chromium ? false : missing("chromium", "chromium") }, async (t) => {
  const server = await startServer({}, (s) => mountChat(s));
  t.after(() => server.stop());
  const browser = await launchBrowser(chromium!);
  t.after(() => browser.close());
  const page = await (await browser.newContext({ viewport: { width: 390, height: 700 } })).newPage();
  page.on("pageerror", (err) => assert.fail(`page error: ${err.message}`));
  await page.goto(server.url("/chat?room=a", "http"));
  await page.locator("#status", { hasText: "choose a name" }).waitFor({ timeout: 20_000 });
  assert.equal(await page.locator("#form").isVisible(), false, "no chat form before the name");
  await page.fill("#name-form input[name=name]", "dora");
  await page.click("#name-form button");
  await page.locator("#status", { hasText: "open" }).waitFor({ timeout: 20_000 });
  assert.equal(await page.locator("#name-form").isVisible(), false);
  await page.locator("#members li", { hasText: "dora" }).waitFor();
  await page.fill("#text", "hi");
  await page.click("#form button");
  await page.locator(".message .text", { hasText: "hi" }).waitFor();
  // At 390 px wide nothing is wider than the page.
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true);
});
