/**
 * The app layer across WORKER processes of one machine without Redis (issue 18's in-machine
 * cluster): this test process is the primary, running the IPC engine hub and the IPC bus hub;
 * two app servers (test/fixtures/app-node.ts with IPC=1) are its workers, each on its own port
 * (the shared port of `serve --workers` is not built yet). A room push and app.broadcast from
 * either worker reach every member on both workers exactly once, offsets are shared, members
 * span the workers, and a SIGKILLed worker's members vanish at once.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { createLogger } from "../../src/log.ts";
import { IpcEngineHub } from "../../src/engine/ipc-hub.ts";
import { IpcBusHub } from "../../src/cluster/index.ts";
import { childPort } from "../../src/cluster/ipc-port.ts";
import { NodeProcess } from "../helpers/node-process.ts";
import { stopNodes } from "../helpers/cluster-nodes.ts";
import { ProtoClient, type Frame } from "../helpers/app-client.ts";
import { eventually } from "../helpers/until.ts";

const logger = createLogger({ level: "silent" });
const clients: ProtoClient[] = [];
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

async function startWorkers(n: number) {
  const engineHub = new IpcEngineHub({ logger, maxRoomLength: 4096, maxPayloadBytes: 1 << 20 });
  const busHub = new IpcBusHub({ logger });
  const workers = Array.from({ length: n }, (_, i) => {
    const worker = new NodeProcess("test/fixtures/app-node.ts", { IPC: "1", NODE_ID: `w${i}`, LOG_LEVEL: "warn" }, { ipc: true });
    const port = childPort(worker.child);
    engineHub.add(port);
    busHub.add(port);
    return worker;
  });
  await Promise.all(workers.map((w) => w.waitFor((e) => e.ev === "started", "worker start", 0, 30_000)));
  return { workers, engineHub, busHub };
}

async function connect(worker: NodeProcess, query = ""): Promise<ProtoClient & { welcome: Frame }> {
  const client = await ProtoClient.open(`ws://127.0.0.1:${worker.all("started")[0]!.port as number}/app${query}`);
  clients.push(client);
  return client;
}

async function ok(client: ProtoClient, task: string, data: unknown): Promise<Frame> {
  const reply = await client.call(task, data);
  assert.equal(reply.error, undefined, `${task}: ${JSON.stringify(reply.error)}`);
  return reply;
}

test("two workers over IPC: room pushes and broadcasts reach every member once, members span the workers, a killed worker's members vanish", async () => {
  const { workers, engineHub, busHub } = await startWorkers(2);
  try {
    const [a0, b0, c1] = [await connect(workers[0]!, "?streams=1"), await connect(workers[0]!, "?streams=1"), await connect(workers[1]!, "?streams=1")];
    assert.notEqual(a0.welcome.data.connection, c1.welcome.data.connection, "connection ids are unique across workers");
    for (const client of [a0, b0, c1]) await ok(client, "room.join", { room: "hall" });

    // 10 pushes from each worker, alternating: every member sees offsets 1..20 once, in order.
    for (let n = 0; n < 20; n++) await ok(n % 2 === 0 ? a0 : c1, "say", { room: "hall", text: `t${n}` });
    for (const client of [a0, b0, c1]) {
      for (let n = 0; n < 20; n++) await client.next((f) => f.task === "said" && f.data?.text === `t${n}`);
      const said = client.frames.filter((f) => f.task === "said");
      assert.deepEqual(said, [], "no push twice");
    }

    // app.broadcast crosses the bus: each client once.
    await ok(c1, "shout", { text: "hello all" });
    for (const client of [a0, b0, c1]) await client.next((f) => f.task === "shouted" && f.data?.text === "hello all");

    const members = await ok(a0, "room.members", { room: "hall" });
    const ids = (members.data.members as Array<{ connection: string }>).map((m) => m.connection).sort();
    assert.deepEqual(ids, [a0, b0, c1].map((c) => c.welcome.data.connection as string).sort(), "members of both workers");
    assert.equal(engineHub.stats.workers, 2);
    assert.equal(busHub.stats.workers, 2);

    await workers[1]!.kill("SIGKILL");
    await eventually("the hubs saw the worker go", () => engineHub.stats.workers === 1 && busHub.stats.workers === 1);
    const left = await ok(a0, "room.members", { room: "hall" });
    assert.deepEqual((left.data.members as Array<{ connection: string }>).map((m) => m.connection).sort(),
      [a0, b0].map((c) => c.welcome.data.connection as string).sort(), "the dead worker's member is gone");
    await ok(a0, "say", { room: "hall", text: "after" });
    const after = await b0.next((f) => f.task === "said" && f.data?.text === "after");
    assert.equal(after.offset, 21, "the offset sequence goes on in the primary");
  } finally {
    await stopNodes(workers);
  }
});
