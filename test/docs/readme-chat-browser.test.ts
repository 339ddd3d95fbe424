/**
 * The chat that opens the README, exactly as printed there: its two blocks (server.ts and
 * chat.html) are written into a scratch project where `switchboard` is this package, the
 * server is started as a process (PORT=0), and two Chromium pages in one room chat while a
 * third, in another room, sees none of it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { makeProject, startFile, writeNamedBlocks } from "../../scripts/check-docs.ts";
import { chromiumPath, launchBrowser, missing } from "../helpers/browser.ts";

const chromium = chromiumPath();

test("README chat: two pages in one room see each other's messages; a page in another room does not", { skip: chromium ? false : missing("chromium", "chromium") }, async (t) => {
  const project = makeProject();
  t.after(() => rmSync(project, { recursive: true, force: true }));
  const folder = writeNamedBlocks(project, "README.md");
  const server = await startFile(join(folder, "server.ts"), /^chat at (http:\/\/\S+?)\?room=/);
  t.after(async () => {
    await server.stop();
  });
  const base = server.match[1]!;

  const browser = await launchBrowser(chromium!);
  t.after(() => browser.close());
  const open = async (room: string) => {
    const page = await (await browser.newContext()).newPage();
    page.on("pageerror", (err) => assert.fail(`page error in room ${room}: ${err.message}`));
    page.on("dialog", (dialog) => assert.fail(`the page alerted: ${dialog.message()}`));
    await page.goto(`${base}?room=${room}`);
    return page;
  };
  const say = async (page: Awaited<ReturnType<typeof open>>, text: string) => {
    await page.fill("input[name=text]", text);
    await page.click("form button");
  };
  const alice = await open("lobby");
  const bob = await open("lobby");
  const carol = await open("kitchen");

  // A call made before the socket is open waits in the client's offline queue, so no wait
  // for "open" is needed: the README page does not show one.
  await say(alice, "hello from alice");
  await bob.locator("#messages li", { hasText: "hello from alice" }).waitFor();
  await alice.locator("#messages li", { hasText: "hello from alice" }).waitFor();
  await say(bob, "hi alice");
  await alice.locator("#messages li", { hasText: "hi alice" }).waitFor();
  // The form is reset after the reply.
  assert.equal(await bob.inputValue("input[name=text]"), "");

  // Carol's own message comes after anything the server pushed to her before it.
  await say(carol, "anyone?");
  await carol.locator("#messages li", { hasText: "anyone?" }).waitFor();
  assert.deepEqual(await carol.locator("#messages li").allTextContents(), ["anyone?"]);
  assert.deepEqual(await alice.locator("#messages li").allTextContents(), ["hello from alice", "hi alice"]);
});
