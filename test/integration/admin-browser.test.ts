/**
 * /admin in headless Chromium: sign in with the token (form and #token= fragment), the tables
 * render from the server API, and the page's actions have their real effects: a kick closes
 * a real client with the chosen code, the push form reaches a room member, the restart
 * button restarts a service, the endpoint button disables an endpoint, the log level select
 * changes the server's level. Screenshots go to docs/images/admin-*.png.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { chromiumPath, launchBrowser, missing } from "../helpers/browser.ts";
import { startServer } from "../helpers/server.ts";
import { ProtoClient } from "../helpers/app-client.ts";
import { deferred } from "../helpers/until.ts";
import { ADMIN_TOKEN, KEY, apiRequest } from "./api-helpers.ts";

const chromium = chromiumPath();
const WAIT = { timeout: 10_000 };
const IMAGES = fileURLToPath(new URL("../../docs/images/", import.meta.url));

test("admin page: sign in, tables, kick, push, restart, endpoint, log level", { skip: chromium ? false : missing("chromium", "chromium") }, async (t) => {
  let starts = 0;
  const restarted = deferred();
  const server = await startServer({ admin: { token: ADMIN_TOKEN } }, (s) => {
    s.app("/chat", {
      presence: true,
      session: (req) => {
        const id = req.query.get("user") ?? "nobody";
        return { id, name: id[0]!.toUpperCase() + id.slice(1) };
      },
    });
    s.endpoint("/echo", { message: (conn, data) => void conn.send(data) });
    s.service("ticker", {
      start: () => {
        starts++;
        if (starts === 2) restarted.resolve();
      },
    });
  });
  t.after(() => server.stop());
  const clients = await Promise.all([
    ProtoClient.open(server.url("/chat"), { query: { room: ["lobby", "news"], user: "ann" } }),
    ProtoClient.open(server.url("/chat"), { query: { room: "lobby", user: "bob" } }),
    ProtoClient.open(server.url("/chat"), { query: { room: "support", user: "cy" } }),
  ]);
  t.after(() => clients.forEach((c) => c.ws.terminate()));
  const [ann, bob, cy] = clients as Array<ProtoClient & { welcome: any }> as [ProtoClient & { welcome: any }, ProtoClient & { welcome: any }, ProtoClient & { welcome: any }];

  // The API key is not the admin token's business: with admin only, the token is the one credential.
  assert.equal((await apiRequest(server.port, "/api/stats", { key: KEY })).status, 401);

  const browser = await launchBrowser(chromium!);
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const problems: string[] = [];
  page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console: ${msg.text()}`);
  });

  const response = await page.goto(server.url("/admin"));
  assert.equal(response?.status(), 200);
  assert.match(response?.headers()["content-security-policy"] ?? "", /default-src 'self'/);

  // A wrong token: back to the form, with the reason.
  await page.locator("#login").waitFor(WAIT);
  await page.fill("#token", "not-the-token-not-the-token");
  await page.click("#login button[type=submit]");
  await page.locator("#login-error", { hasText: "refused" }).waitFor(WAIT);
  problems.length = 0; // the 401 above is logged by Chromium as a failed resource: expected

  await page.fill("#token", ADMIN_TOKEN);
  await page.click("#login button[type=submit]");
  await page.locator("body[data-ready='1']").waitFor(WAIT);
  assert.equal(await page.textContent("#f-connections"), "3");
  await page.locator("#endpoints tbody tr", { hasText: "/chat" }).waitFor(WAIT);
  await page.locator("#endpoints tbody tr", { hasText: "/echo" }).waitFor(WAIT);
  assert.equal(await page.locator("#connections tbody tr").count(), 3);
  await page.locator("#rooms tbody tr", { hasText: "lobby" }).locator("td", { hasText: /^2$/ }).waitFor(WAIT);
  await page.locator("#services tbody tr", { hasText: "ticker" }).waitFor(WAIT);
  await page.locator("#nodes tbody tr").first().waitFor(WAIT);
  await page.locator("#chart canvas").waitFor(WAIT);

  // Search by user, then by room.
  await page.fill("#conn-search input[name=user]", "bob");
  await page.click("#conn-search button[type=submit]");
  await page.locator("#conn-total", { hasText: "(1)" }).waitFor(WAIT);
  await page.fill("#conn-search input[name=user]", "");
  await page.fill("#conn-search input[name=room]", "lobby");
  await page.click("#conn-search button[type=submit]");
  await page.locator("#conn-total", { hasText: "(2)" }).waitFor(WAIT);
  await page.fill("#conn-search input[name=room]", "");
  await page.click("#conn-search button[type=submit]");
  await page.locator("#conn-total", { hasText: "(3)" }).waitFor(WAIT);

  // Presence of a room.
  await page.locator("#rooms tbody tr", { hasText: "lobby" }).locator("button").click();
  await page.locator("#presence-list li", { hasText: "Bob (bob)" }).waitFor(WAIT);

  // Some traffic (a bounded loop of pushes through the API) over a few polls, so the chart has
  // something to show in the screenshot; nothing is asserted on it.
  let traffic = true;
  const pushes = (async () => {
    for (let i = 0; i < 400 && traffic; i++) {
      await apiRequest(server.port, "/api/publish", { key: ADMIN_TOKEN, body: { room: "lobby", task: "demo.tick", data: i } });
    }
  })();
  await page.waitForFunction(() => (window as unknown as { __admin: { updates: unknown[] } }).__admin.updates.length >= 5, undefined, WAIT);
  traffic = false;
  await pushes;
  // SCREENSHOTS=1 refreshes the one in the docs (a test run must not change the tree).
  if (process.env.SCREENSHOTS === "1") await page.screenshot({ path: `${IMAGES}admin-dashboard.png`, fullPage: true });

  // Push form → a room member gets it.
  await page.selectOption("#push select[name=app]", "/chat");
  await page.fill("#push input[name=room]", "support");
  await page.fill("#push input[name=task]", "support.note");
  await page.fill("#push textarea[name=data]", '{"text":"from the admin page"}');
  await page.click("#push button[type=submit]");
  const push = await cy.next((f) => f.task === "support.note");
  assert.deepEqual(push.data, { text: "from the admin page" });
  await page.locator("#push-result", { hasText: "pushed to support" }).waitFor(WAIT);
  await page.fill("#push textarea[name=data]", "{not json");
  await page.click("#push button[type=submit]");
  await page.locator("#push-result", { hasText: "not JSON" }).waitFor(WAIT);

  // Kick with a chosen code.
  await page.fill("#kick-code", "4002");
  await page.locator(`#connections button[data-id="${bob.welcome.data.connection}"]`).click();
  assert.equal((await bob.waitClosed()).code, 4002);
  await page.locator("#conn-total", { hasText: "(2)" }).waitFor(WAIT);

  // Restart button.
  await page.locator("#services tbody tr", { hasText: "ticker" }).locator("button").click();
  await restarted.promise;
  await page.locator("#last-action", { hasText: "restart ticker: done" }).waitFor(WAIT);

  // Disable an endpoint, then enable it again.
  await page.locator("#endpoints tbody tr", { hasText: "/echo" }).locator("button", { hasText: "Disable" }).click();
  await page.locator("#endpoints tbody tr", { hasText: "/echo" }).locator("td", { hasText: "disabled" }).waitFor(WAIT);
  assert.equal(server.endpoints.get("/echo")!.enabled, false);
  await page.locator("#endpoints tbody tr", { hasText: "/echo" }).locator("button", { hasText: "Enable" }).click();
  await page.locator("#endpoints tbody tr", { hasText: "/echo" }).locator("td", { hasText: /^enabled$/ }).waitFor(WAIT);

  // Log level.
  await page.selectOption("#log-level", "debug");
  await page.locator("#last-action", { hasText: "log level debug: done" }).waitFor(WAIT);
  assert.equal(server.logLevel, "debug");
  server.setLogLevel("silent");

  assert.deepEqual(problems, []);
  assert.equal(ann.ws.readyState, ann.ws.OPEN, "only the kicked client was closed");
});

test("admin page: the token from the #token= fragment, which then leaves the address bar", { skip: chromium ? false : missing("chromium", "chromium") }, async (t) => {
  const server = await startServer({ admin: { token: ADMIN_TOKEN } }, (s) => s.app("/chat"));
  t.after(() => server.stop());
  const browser = await launchBrowser(chromium!);
  t.after(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`${server.url("/admin")}#token=${encodeURIComponent(ADMIN_TOKEN)}`);
  await page.locator("body[data-ready='1']").waitFor(WAIT);
  assert.equal(new URL(page.url()).hash, "");
  assert.equal(await page.locator("#login").isHidden(), true);
  // Signing out forgets it.
  await page.click("#logout");
  await page.locator("#login").waitFor(WAIT);
  assert.equal(await page.evaluate(() => sessionStorage.getItem("switchboard.admin.token")), null);
});
