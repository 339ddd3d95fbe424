/**
 * End to end: a Node program that uses the client against hostile servers and against bad
 * URLs is neither killed by it (no unhandled rejection, no uncaught exception) nor kept
 * alive by it after close(): it exits by itself with code 0.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { startTsProcess } from "../helpers/process.ts";
import { within } from "../helpers/until.ts";
import { refusedUrl, statusServer, tcpServer, wsServer, type Hostile } from "./client-helpers.ts";

const FIXTURE = fileURLToPath(new URL("./client-process.fixture.ts", import.meta.url));

test("a program using the client against hostile servers is not killed and exits by itself", async (t) => {
  const http404 = await statusServer(404);
  const garbage = await tcpServer((s) => s.end("garbage\r\n\r\n"));
  const retryForever = await wsServer({ onConnection: (ws) => ws.close(1011, "again") });
  const policy = await wsServer({ onConnection: (ws) => ws.close(1008, "no") });
  // Vanishes at the first call: stops listening and drops its sockets (reconnects are refused).
  const vanish: Hostile = await wsServer({ onMessage: () => void vanish.close() });
  t.after(() => Promise.all([http404, garbage, retryForever, policy, vanish].map((s) => s.close())));
  const cases = [
    ["http 404", http404.url], ["garbage", garbage.url], ["1011", retryForever.url], ["1008", policy.url],
    ["vanish", vanish.url], ["refused", await refusedUrl()],
  ];
  const child = startTsProcess(FIXTURE, [], { CLIENT_CASES: JSON.stringify(cases) });
  t.after(() => child.stop("SIGKILL"));
  const exit = await within(child.exited, 30_000, "the program to exit by itself");
  const output = child.output.join("\n");
  assert.deepEqual(exit, { code: 0, signal: null }, output);
  assert.match(output, /bad url localhost:8080\/app: SyntaxError/);
  assert.match(output, /bad url example\.com:80: SyntaxError/);
  // Node reads the 404 of the refused upgrade: a permanent refusal, so no retry (docs/protocol.md, "Refusals").
  assert.match(output, /case http 404: closes 1006; call refused/);
  assert.match(output, /case 1008: closes 1008; call disconnected/);
  assert.match(output, /case vanish: closes 1006,1006; call disconnected/);
  assert.match(output, /case refused: closes 1006,1006; call /);
  assert.match(output, /case throwing session: closed/);
  assert.match(output, /^done$/m);
  assert.doesNotMatch(output, /unhandled|uncaught/i);
});
