/**
 * Rooms on Redis cost O(1) Redis work per join (issue 14, defect 11). With a real redis-server
 * and MONITOR on a connection of its own, rooms are joined one by one on node A and
 * `room.members` is asked for each; the SUBSCRIBE / UNSUBSCRIBE commands Redis receives are
 * counted between markers (an ECHO from a probe connection: MONITOR reports commands in the
 * order Redis ran them, so once the marker is seen, everything before it has been too):
 * - a room's first local member: exactly one SUBSCRIBE, naming that one channel;
 * - a second member of an open room, and every room.members: no SUBSCRIBE at all;
 * - the room's last local member leaving: exactly one UNSUBSCRIBE of that one channel;
 * - the fence still holds: a push from node B reaches a member right after its join reply,
 *   and right after room.members for a room joined at connect (`?room=`).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { redisForFile } from "../helpers/redis.ts";
import { startServer } from "../helpers/server.ts";
import { ProtoClient, type Frame } from "../helpers/app-client.ts";
import { deferred, within } from "../helpers/until.ts";
import type { Server } from "../../src/index.ts";

const PREFIX = "subs:";
const WAIT_MS = 10_000;

interface Seen {
  command: string;
  args: string[];
}

/** The SUBSCRIBE / UNSUBSCRIBE commands Redis ran, up to markers sent by `mark()`. */
class Monitor {
  readonly #seen: Seen[] = [];
  readonly #markers = new Map<string, () => void>();
  #n = 0;

  constructor(private readonly monitor: Redis, private readonly probe: Redis) {
    monitor.on("monitor", (_time: string, args: string[]) => {
      const command = String(args[0]).toUpperCase();
      if (command === "ECHO" && this.#markers.has(String(args[1]))) {
        this.#markers.get(String(args[1]))!();
        return;
      }
      if (command === "SUBSCRIBE" || command === "UNSUBSCRIBE" || command === "PSUBSCRIBE") {
        this.#seen.push({ command, args: args.slice(1).map(String) });
      }
    });
  }

  /** Every (un)subscribe Redis ran before now, taken off the list. */
  async take(): Promise<Seen[]> {
    const marker = `marker-${++this.#n}`;
    const seen = deferred();
    this.#markers.set(marker, seen.resolve);
    await this.probe.echo(marker);
    await within(seen.promise, WAIT_MS, `MONITOR to show ${marker}`);
    this.#markers.delete(marker);
    return this.#seen.splice(0);
  }
}

let monitor: Monitor;
let feed: Redis | undefined;
let probe: Redis | undefined;
let a: Server | undefined;
let b: Server | undefined;
const clients: ProtoClient[] = [];

// Node runs a file's top-level hooks concurrently: set-up and tear-down go through redisForFile.
const shared = redisForFile({
  async started(redis) {
    // monitor() opens a connection of its own, in MONITOR mode; the probe sends the markers.
    const base = new Redis(redis.url, { lazyConnect: true });
    feed = await base.monitor();
    probe = new Redis(redis.url);
    monitor = new Monitor(feed, probe);
    [a, b] = await Promise.all([node(redis.url), node(redis.url)]);
    await monitor.take(); // the nodes' own start-up subscriptions
  },
  async stopping() {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all([a?.stop({ timeoutMs: 2_000 }), b?.stop({ timeoutMs: 2_000 })]);
    probe?.disconnect();
    feed?.disconnect();
  },
});
const skip = shared.skip;

function node(url: string): Promise<Server> {
  return startServer({ cluster: { redis: url, prefix: PREFIX } }, (server) => {
    const app = server.app("/app", { presence: true, maxRoomsPerConnection: 1_000 });
    app.task("say", ({ data, rooms }) => {
      const { room, text } = data as { room: string; text: string };
      return rooms.push(room, "said", { text });
    });
  });
}

async function open(server: Server | undefined, query: Record<string, string> = {}): Promise<ProtoClient & { welcome: Frame }> {
  const client = await ProtoClient.open(server!.url("/app"), { query });
  clients.push(client);
  return client;
}

async function ok(client: ProtoClient, task: string, data: unknown): Promise<Frame> {
  const reply = await client.call(task, data, WAIT_MS);
  assert.equal(reply.error, undefined, `${task}: ${JSON.stringify(reply.error)}`);
  return reply;
}

// The engine's channel for a room: its key carries a Redis Cluster hash tag {<length>:<name>}.
const channelOf = (room: string): string => `${PREFIX}r{${`/app:room:${room}`.length}:/app:room:${room}}`;

/** Join `rooms` one by one, asking room.members after each; what Redis was told each time. */
async function joinEach(client: ProtoClient, rooms: string[]): Promise<{ joins: Seen[][]; members: Seen[][] }> {
  const joins: Seen[][] = [];
  const members: Seen[][] = [];
  for (const room of rooms) {
    await ok(client, "room.join", { room });
    joins.push(await monitor.take());
    await ok(client, "room.members", { room });
    members.push(await monitor.take());
  }
  return { joins, members };
}

function channelArguments(steps: Seen[][]): number {
  return steps.flat().filter((s) => s.command === "SUBSCRIBE").reduce((n, s) => n + s.args.length, 0);
}

test("100 then 400 rooms: one SUBSCRIBE of one channel per new room, none from room.members", { skip }, async () => {
  const client = await open(a);
  for (const [from, to] of [[1, 100], [101, 400]] as const) {
    const rooms = Array.from({ length: to - from + 1 }, (_, i) => `r${from + i}`);
    const { joins, members } = await joinEach(client, rooms);
    const summary = {
      channelArguments: channelArguments(joins) + channelArguments(members),
      joinsNotOneSubscribe: joins.filter((seen, i) => !(seen.length === 1 && seen[0]!.command === "SUBSCRIBE" && seen[0]!.args.length === 1 && seen[0]!.args[0] === channelOf(rooms[i]!))).length,
      membersWithSubscribe: members.filter((seen) => seen.length > 0).length,
    };
    assert.deepEqual(summary, { channelArguments: rooms.length, joinsNotOneSubscribe: 0, membersWithSubscribe: 0 },
      `rooms ${from}-${to}: first join step sent ${JSON.stringify(joins[0])}, first members step ${JSON.stringify(members[0])}`);
  }

  // A second member of an open room: nothing for Redis.
  const second = await open(a);
  await ok(second, "room.join", { room: "r7" });
  assert.deepEqual(await monitor.take(), [], "a join of an already-open room sent (un)subscribes");
  await ok(second, "room.members", { room: "r7" });
  assert.deepEqual(await monitor.take(), []);

  // The last local member leaving: one UNSUBSCRIBE of that channel (one member left: none).
  await ok(second, "room.leave", { room: "r7" });
  assert.deepEqual(await monitor.take(), [], "r7 still has a member on this node");
  await ok(client, "room.leave", { room: "r7" });
  assert.deepEqual(await monitor.take(), [{ command: "UNSUBSCRIBE", args: [channelOf("r7")] }]);

  // Still serving: a push from the other node reaches a member of one of those rooms.
  const other = await open(b);
  await ok(other, "say", { room: "r400", text: "after-400" });
  await client.next((f) => f.task === "said" && f.data?.text === "after-400", WAIT_MS);
});

test("the fence holds: a push from another node reaches a member right after its join reply", { skip }, async () => {
  const [member, speaker] = [await open(a), await open(b)];
  for (let i = 0; i < 20; i++) {
    const room = `fence-${i}`;
    await ok(member, "room.join", { room });
    await ok(speaker, "say", { room, text: `t${i}` });
    await member.next((f) => f.task === "said" && f.data?.text === `t${i}`, WAIT_MS);
  }
  await monitor.take();

  // Rooms joined at connect: room.members is the fence.
  const atConnect = await open(a, { room: "fence-connect" });
  await ok(atConnect, "room.members", { room: "fence-connect" });
  await ok(speaker, "say", { room: "fence-connect", text: "hello" });
  await atConnect.next((f) => f.task === "said" && f.data?.text === "hello", WAIT_MS);
  const seen = await monitor.take();
  assert.deepEqual(seen, [{ command: "SUBSCRIBE", args: [channelOf("fence-connect")] }]);
});
