/**
 * The bundled client (/switchboard.js) in headless Chromium: the URL rules it documents are
 * the browser WebSocket's own (relative URLs resolve against the page, http(s) means ws(s), a
 * bare host:port is a SyntaxError thrown by the constructor), and close() with a code a
 * browser refuses throws a RangeError before touching the socket. No page error throughout.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mountChat } from "../../examples/demo/chat.ts";
import { chromiumPath, launchBrowser, missing } from "../helpers/browser.ts";
import { startServer } from "../helpers/server.ts";

const chromium = chromiumPath();

test("in a browser: bad URLs throw at construction, relative and http URLs work, close() checks its code", { skip: chromium ? false : missing("chromium", "chromium") }, async (t) => {
  const server = await startServer({}, (s) => mountChat(s));
  t.after(() => server.stop());
  const browser = await launchBrowser(chromium!);
  t.after(() => browser.close());
  const page = await (await browser.newContext()).newPage();
  const pageErrors: string[] = [];
  page.on("pageerror", (err) => pageErrors.push(err.message));
  await page.goto(server.url("/chat?room=abuse&name=probe", "http"));
  const result = await page.evaluate(async () => {
    const { Client } = (await import("/switchboard.js" as string)) as typeof import("../../client/index.ts");
    let bad = "accepted";
    try {
      new Client("localhost:8080/app", { room: null });
    } catch (err) {
      bad = `${(err as Error).name}: ${(err as Error).message}`;
    }
    const relative = new Client("/chat/ws", { room: "abuse", reconnect: false });
    const opened = await new Promise<boolean | string>((resolve) => {
      relative.on("open", () => resolve(true));
      relative.on("close", () => resolve(false));
      setTimeout(() => resolve("no open or close within 10 s"), 10_000); // a deadline, not a wait for the outcome
    });
    let refusedClose = "accepted";
    try {
      void relative.close(1001);
    } catch (err) {
      refusedClose = (err as Error).name;
    }
    const stillOpen = relative.connected;
    await relative.close();
    const http = new Client(location.origin + "/chat/ws", { room: "abuse" });
    const httpUrl = http.url;
    await http.close();
    return { bad, relativeUrl: relative.url, opened, refusedClose, stillOpen, closedAfter: relative.connected, httpUrl, origin: location.host };
  });
  assert.match(result.bad, /^SyntaxError: .*"localhost:8080\/app".*ws:\/\/host:port\/path/);
  assert.equal(result.relativeUrl, `ws://${result.origin}/chat/ws`);
  assert.equal(result.opened, true);
  assert.equal(result.refusedClose, "RangeError");
  assert.equal(result.stillOpen, true);
  assert.equal(result.closedAfter, false);
  assert.equal(result.httpUrl, `ws://${result.origin}/chat/ws`);
  assert.deepEqual(pageErrors, []);
});
