import { test } from "node:test";
import assert from "node:assert/strict";
import { startTsProcess } from "../helpers/process.ts";
import { chromiumPath, launchBrowser, missing } from "../helpers/browser.ts";
import { connect } from "../helpers/ws-client.ts";

const chromium = chromiumPath();

test("npm start's demo serves /echo and a page; it stops cleanly on SIGTERM", async (t) => {
  const demo = startTsProcess("examples/demo/server.ts", [], { PORT: "0", LOG_LEVEL: "warn" });
  t.after(() => demo.stop());
  const [, endpointUrl] = await demo.waitForLine(/endpoint:\s+(\S+)/);
  const client = await connect(endpointUrl!);
  client.send("ping");
  assert.equal((await client.next()).text, "ping");
  await client.close();
  await demo.stop("SIGTERM");
  assert.deepEqual(await demo.exited, { code: 0, signal: null });
});

test("the demo page shows an echo round trip in a real browser", { skip: chromium ? false : missing("chromium", "chromium") }, async (t) => {
  const demo = startTsProcess("examples/demo/server.ts", [], { PORT: "0", LOG_LEVEL: "warn" });
  t.after(() => demo.stop());
  const [, pageUrl] = await demo.waitForLine(/echo page:\s+(\S+)/);
  const browser = await launchBrowser(chromium!);
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.goto(pageUrl!);
  await page.locator("#status", { hasText: "open" }).waitFor();
  await page.fill("#text", "round trip from Chromium");
  await page.click("button");
  const received = page.locator(".recv", { hasText: "← round trip from Chromium" });
  await received.waitFor();
  assert.match((await received.textContent()) ?? "", /\(\d+\.\d+ ms\)/);
});

test("the demo serves the chat at /", { skip: chromium ? false : missing("chromium", "chromium") }, async (t) => {
  const demo = startTsProcess("examples/demo/server.ts", [], { PORT: "0", LOG_LEVEL: "warn" });
  t.after(() => demo.stop());
  const [, chatUrl] = await demo.waitForLine(/chat:\s+(\S+)/);
  const browser = await launchBrowser(chromium!);
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`${chatUrl}&name=ada`);
  await page.locator("#status", { hasText: "open" }).waitFor();
  await page.fill("#text", "hello from the demo");
  await page.click("#form button");
  await page.locator(".message", { hasText: "hello from the demo" }).waitFor();
});
