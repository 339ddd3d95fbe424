/**
 * /console.html in headless Chromium (playwright-core): the standalone CLI serves the page,
 * the page lists the server's endpoints, connects to /echo, sends text, shows the echo, and
 * logs the close code with its meaning. switchboard.v1 mode: console-page-app.test.ts.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { chromiumPath, launchBrowser, missing } from "../helpers/browser.ts";
import { startCli } from "../helpers/cli.ts";

const EXAMPLES = fileURLToPath(new URL("../../examples/handlers", import.meta.url));
const chromium = chromiumPath();
const WAIT = { timeout: 10_000 };

test("console page: connect to /echo, send, see the echo, close with a code", { skip: chromium ? false : missing("chromium", "chromium") }, async (t) => {
  const cli = await startCli(["serve", EXAMPLES, "--port", "0"]);
  t.after(() => cli.stop());
  const browser = await launchBrowser(chromium!);
  t.after(() => browser.close());
  const page = await browser.newPage();

  const response = await page.goto(`http://127.0.0.1:${cli.port}/console.html`);
  assert.equal(response?.status(), 200);
  assert.match(response?.headers()["content-type"] ?? "", /^text\/html/);

  // The endpoints of the served folder, from /healthz.
  for (const path of ["/echo", "/room", "/subprotocol", "/origin"]) await page.locator(`#endpoints button[data-path="${path}"]`).waitFor(WAIT);

  await page.fill("#path", "/echo");
  await page.click("#connect");
  await page.locator("#log .event", { hasText: "open" }).waitFor(WAIT);
  assert.equal(await page.textContent("#state"), "open");

  await page.fill("#message", "hello from chromium");
  await page.click("#send");
  await page.locator("#log .sent", { hasText: "hello from chromium" }).waitFor(WAIT);
  await page.locator("#log .received", { hasText: "hello from chromium" }).waitFor(WAIT);

  await page.fill("#close-code", "4321");
  await page.fill("#close-reason", "done");
  await page.click("#disconnect");
  await page.locator("#log .event", { hasText: "closed: code 4321 Application: application-defined" }).waitFor(WAIT);
  assert.equal(await page.textContent("#state"), "closed");

  // A subprotocol is offered and the chosen one is shown.
  await page.fill("#path", "/subprotocol");
  await page.fill("#protocols", "chat.v1, chat.v2");
  await page.click("#connect");
  await page.locator("#log .event", { hasText: 'protocol "chat.v2"' }).waitFor(WAIT);
  await page.locator("#log .received", { hasText: "hello, speaking chat.v2" }).waitFor(WAIT);

  // The origin example accepts the page's own origin.
  await page.click("#disconnect");
  await page.locator("#state", { hasText: "closed" }).waitFor(WAIT);
  await page.fill("#path", "/origin");
  await page.fill("#protocols", "");
  await page.click("#connect");
  await page.locator("#log .received", { hasText: `welcome, page from http://127.0.0.1:${cli.port}` }).waitFor(WAIT);

  // A path with no endpoint: refused, and the log says so with 1006.
  await page.click("#disconnect");
  await page.locator("#state", { hasText: "closed" }).waitFor(WAIT);
  await page.fill("#path", "/nowhere");
  await page.click("#connect");
  await page.locator("#log .event", { hasText: "closed: code 1006" }).waitFor(WAIT);
  await page.locator("#log .refusal", { hasText: "/nowhere is not an endpoint of this server" }).waitFor(WAIT);
});
