/**
 * One default Redis prefix for the CLI and the library (issue 14, defect 12): a node started
 * with `switchboard serve` and a node embedded with createServer(), both with default
 * settings and only the Redis URL given, are one cluster: each hears the other's room pushes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { redisForFile } from "../helpers/redis.ts";
import { startCli } from "../helpers/cli.ts";
import { makeTree } from "../helpers/tree.ts";
import { startServer } from "../helpers/server.ts";
import { ProtoClient, type Frame } from "../helpers/app-client.ts";

const shared = redisForFile();
const WAIT_MS = 10_000;

const SAY = `export default {
  handler: ({ data, rooms }) => rooms.push(data.room, "said", { text: data.text }),
};
`;

async function ok(client: ProtoClient, task: string, data: unknown): Promise<Frame> {
  const reply = await client.call(task, data, WAIT_MS);
  assert.equal(reply.error, undefined, `${task}: ${JSON.stringify(reply.error)}`);
  return reply;
}

test("a CLI node and an embedded node with default settings hear each other's room pushes", { skip: shared.skip }, async (t) => {
  const dir = makeTree(t, { "tasks/say.ts": SAY }, "sb-prefix-");
  const cli = await startCli(["serve", dir, "--port", "0"], { env: { SWITCHBOARD_CLUSTER_REDIS: shared.redis.url } });
  t.after(() => cli.stop());
  const embedded = await startServer({ cluster: { redis: shared.redis.url } }, (server) => {
    server.app("/app").task("say", ({ data, rooms }) => {
      const { room, text } = data as { room: string; text: string };
      return rooms.push(room, "said", { text });
    });
  });
  t.after(() => embedded.stop({ timeoutMs: 2_000 }));

  const fromCli = await ProtoClient.open(`ws://127.0.0.1:${cli.port}/app`);
  const fromLib = await ProtoClient.open(embedded.url("/app"));
  t.after(async () => {
    await fromCli.close();
    await fromLib.close();
  });
  await ok(fromCli, "room.join", { room: "lobby" });
  await ok(fromLib, "room.join", { room: "lobby" });

  await ok(fromLib, "say", { room: "lobby", text: "from the library node" });
  await fromCli.next((f) => f.task === "said" && f.data?.text === "from the library node", WAIT_MS);
  await ok(fromCli, "say", { room: "lobby", text: "from the CLI node" });
  await fromLib.next((f) => f.task === "said" && f.data?.text === "from the CLI node", WAIT_MS);

  // Both still serve their own members too (each got its own push locally).
  await fromLib.next((f) => f.task === "said" && f.data?.text === "from the library node", WAIT_MS);
  await fromCli.next((f) => f.task === "said" && f.data?.text === "from the CLI node", WAIT_MS);
  assert.equal(await cli.stop(), 0);
});
