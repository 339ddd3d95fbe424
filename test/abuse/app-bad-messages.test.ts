/**
 * A peer over its bad-message budget is closed with 1008; one that ignores our close frame and
 * keeps sending bad frames until closeTimeoutMs cannot grow the budget's record or the close
 * count: each connection is counted once, and the budget keeps at most `maxBadMessages + 1`
 * times.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { BadMessageBudget } from "../../src/app/bad-messages.ts";
import { ProtoClient, startApp } from "../helpers/app-client.ts";
import { RawSocket } from "../helpers/raw-socket.ts";
import { eventually } from "../helpers/until.ts";

const BAD_FRAMES = 50;

test("a peer that ignores the 1008 close and keeps sending bad frames is counted once; the server keeps serving", async (t) => {
  const { server, app, url } = await startApp({ maxBadMessages: 2 }, (a) => a.task("echo", ({ data }) => data));
  t.after(() => server.stop({ timeoutMs: 100 }));
  const raw = await RawSocket.open(server.port);
  t.after(() => raw.destroy());
  await raw.upgrade("/app");
  // Never answers the close frame: the server goes on reading until closeTimeoutMs.
  for (let i = 0; i < BAD_FRAMES; i++) raw.sendFrame(0x1, Buffer.from("not json"));
  assert.equal(await raw.readCloseCode(), 1008);
  await eventually("every bad frame handled", () => app.stats().badMessages === BAD_FRAMES, 10_000, 10);
  assert.equal(app.stats().closedForBadMessages, 1);

  const fresh = await ProtoClient.open(url);
  assert.equal((await fresh.call("echo", "ok")).data, "ok");
  await fresh.close();
});

test("the bad-message budget keeps at most max + 1 times, however many bad messages come", () => {
  const budget = new BadMessageBudget(3, 60_000, () => 0);
  for (let i = 0; i < 10_000; i++) budget.spend();
  const times = (budget as unknown as { times: number[] }).times;
  assert.ok(times.length <= 4, `kept ${times.length} times`);
  assert.equal(budget.spend(), true, "still over the budget");
});
