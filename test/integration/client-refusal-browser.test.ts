/**
 * Refusals in a real browser (headless Chromium, the bundled /switchboard.js): a browser cannot
 * read the HTTP status of a refused upgrade, so an app refuses by accepting and closing with a
 * 44xx code. The page's client hears the code and reason as an `error` event, does not retry,
 * and fails its pending call at once; `client.welcome` is set when `open` fires. An unknown
 * path (404 before any WebSocket) is only a 1006 to a browser: retried like a network failure,
 * as docs/protocol.md says.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { tokenSession } from "../../src/index.ts";
import { chromiumPath, launchBrowser, missing } from "../helpers/browser.ts";
import { startServer } from "../helpers/server.ts";

const chromium = chromiumPath();
const SECRET = "a-test-secret-of-at-least-32-bytes!!";

test("in a browser: a bad token reaches the page as a 4401 refusal; no retry; the pending call fails at once", { skip: chromium ? false : missing("chromium", "chromium") }, async (t) => {
  let upgrades = 0;
  const session = tokenSession({ secret: SECRET });
  const server = await startServer({}, (s) => {
    s.app("/locked", { session: (req) => (upgrades++, session(req)) });
    s.app("/open");
    // A page of this origin to run the client in (relative URLs, same origin as the app).
    s.get("/page", (_req, res) => void res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>refusal</title>"));
  });
  t.after(() => server.stop());
  const browser = await launchBrowser(chromium!);
  t.after(() => browser.close());
  const page = await (await browser.newContext()).newPage();
  const pageErrors: string[] = [];
  page.on("pageerror", (err) => pageErrors.push(err.message));
  await page.goto(server.url("/page", "http"));

  const result = await page.evaluate(async () => {
    const { Client } = (await import("/switchboard.js" as string)) as typeof import("../../client/index.ts");
    // No named inner functions: tsx would wrap them in __name(), which the page does not have.
    const outcomes: Array<Record<string, unknown>> = [];
    for (const [url, options] of [["/locked", { session: "forged.token.value" }], ["/nowhere", {}]] as const) {
      // Each client runs until its final close (the timer is a deadline, not a wait for the outcome).
      outcomes.push(await new Promise<Record<string, unknown>>((resolve) => {
        const client = new Client(url, { room: null, reconnect: { initialDelayMs: 5, maxDelayMs: 10, jitter: 0, maxAttempts: 1 }, ...options });
        const errors: Array<Record<string, unknown>> = [];
        const closes: Array<[number, string, boolean]> = [];
        let opened = false;
        client.on("open", () => (opened = true));
        client.on("error", (err) => void errors.push({ kind: err.kind, code: err.code, reason: err.reason, permanent: err.permanent, status: err.status ?? null }));
        const call = client.call("anything", null, { timeoutMs: 600_000 }).then(
          () => "resolved",
          (err: { code: string; message: string }) => `${err.code}: ${err.message}`,
        );
        client.on("close", (code, reason, again) => {
          closes.push([code, reason, again]);
          if (!again) void call.then((callOutcome) => resolve({ errors, closes, opened, state: client.state, failure: client.failure?.code ?? null, call: callOutcome }));
        });
        setTimeout(() => resolve({ timedOut: true, errors, closes }), 10_000);
      }));
    }
    const [refused, unknownPath] = outcomes;
    const welcomeAtOpen = await new Promise<string>((resolve) => {
      const client = new Client("/open", { room: "lobby" });
      client.on("open", () => {
        resolve(`${client.welcome?.connection ?? "no welcome"} ${client.welcome?.rooms.join(",")}`);
        void client.close();
      });
      setTimeout(() => resolve("no open within 10 s"), 10_000);
    });
    return { refused, unknownPath, welcomeAtOpen };
  });

  const refused = result.refused as Record<string, any>;
  assert.equal(refused.timedOut, undefined, JSON.stringify(refused));
  assert.deepEqual(refused.errors, [{ kind: "refused", code: 4401, reason: "bad session token: ERR_JWS_INVALID", permanent: true, status: null }]);
  assert.deepEqual(refused.closes, [[4401, "bad session token: ERR_JWS_INVALID", false]]);
  assert.equal(refused.opened, false);
  assert.equal(refused.state, "failed");
  assert.equal(refused.failure, 4401);
  assert.match(refused.call, /^refused: .*4401.*bad session token/);
  assert.equal(upgrades, 1, "no reconnect after a permanent refusal");

  // The documented limit of browsers: a 404 before the upgrade is a 1006, retried (maxAttempts 1).
  const unknownPath = result.unknownPath as Record<string, any>;
  assert.deepEqual(unknownPath.closes, [[1006, "", true], [1006, "", false]]);
  assert.ok(unknownPath.errors.every((e: { kind: string }) => e.kind === "connect"), JSON.stringify(unknownPath.errors));
  assert.equal(unknownPath.state, "failed");
  assert.match(unknownPath.call, /^disconnected: /);

  assert.match(result.welcomeAtOpen, /^open-\d+ lobby$/);
  assert.deepEqual(pageErrors, []);
});
