/**
 * `switchboard status` on a node of a two-node cluster (two standalone server processes,
 * test/fixtures/runtime-server.ts, on one private redis-server): the table and the JSON show
 * both nodes with their ids and connection counts, and a node that stops leaves the list.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { REDIS_MISSING, redisServerPath, startRedis, type RedisHandle } from "../helpers/redis.ts";
import { startTsProcess } from "../helpers/process.ts";
import { connect } from "../helpers/ws-client.ts";
import { runCli } from "../helpers/control-cli.ts";
import { tempDir } from "../helpers/tempdir.ts";
import { eventually } from "../helpers/until.ts";

const FIXTURE = "test/fixtures/runtime-server.ts";
const redisBin = redisServerPath();
let redis: RedisHandle | undefined;

before(async () => {
  if (redisBin) redis = await startRedis(redisBin);
});
after(async () => {
  await redis?.stop();
});

type Status = { nodeId: string; cluster: { status: string; nodes: { nodeId: string; connections: number }[] } };

test("switchboard status shows every node of the cluster with its connection count", { skip: redisBin ? false : REDIS_MISSING }, async (t) => {
  const dir = tempDir(t, "sb-cl-");
  const nodes = ["a", "b"].map((id) => {
    const cluster = { redis: redis!.url, prefix: "status:", nodeId: `node-${id}`, presenceHeartbeatMs: 100, presenceTtlMs: 1_000 };
    const socket = join(dir, `${id}.sock`);
    const proc = startTsProcess(FIXTURE, [], { SB_SOCKET: socket, SB_LOCK: join(dir, `${id}.lock`), SB_CLUSTER: JSON.stringify(cluster), LOG_LEVEL: "info" });
    t.after(() => proc.stop("SIGKILL"));
    return { proc, socket };
  });
  const ports = await Promise.all(nodes.map(async ({ proc }) => Number((await proc.waitForLine(/READY port=(\d+)/))[1])));
  const clients = [await connect(`ws://127.0.0.1:${ports[0]}/echo`), await connect(`ws://127.0.0.1:${ports[0]}/echo`), await connect(`ws://127.0.0.1:${ports[1]}/echo`)];
  t.after(() => { for (const c of clients) c.ws.terminate(); });

  const statusOf = async (socket: string): Promise<Status> => JSON.parse((await runCli(["status", "--json", "--socket", socket])).out) as Status;
  const counts = (s: Status) => s.cluster.nodes.map((n) => `${n.nodeId}:${n.connections}`).sort().join(" ");
  // The other node's count is what it wrote at its last presence beat.
  await eventually("node-a's status lists both nodes with their counts", async () => counts(await statusOf(nodes[0]!.socket)) === "node-a:2 node-b:1");
  const status = await statusOf(nodes[0]!.socket);
  assert.equal(status.nodeId, "node-a");
  assert.equal(status.cluster.status, "up");

  await eventually("node-b's status lists both nodes with their counts", async () => counts(await statusOf(nodes[1]!.socket)) === "node-a:2 node-b:1");
  const table = await runCli(["status", "--socket", nodes[1]!.socket]);
  assert.equal(table.code, 0, table.err);
  assert.match(table.out, /^Switchboard  pid \d+  up \d+s  node node-b/);
  assert.match(table.out, /cluster +redis, up +2 nodes/);
  assert.match(table.out, /node-a +2 /);
  assert.match(table.out, /node-b \(this\) +1 /);

  const stopped = await runCli(["stop", "--socket", nodes[1]!.socket]);
  assert.equal(stopped.code, 0, stopped.err);
  await eventually("node-b leaves node-a's list", async () => counts(await statusOf(nodes[0]!.socket)) === "node-a:2");
});
